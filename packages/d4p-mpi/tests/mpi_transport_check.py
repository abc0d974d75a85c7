"""Run under ``mpiexec -n 2``: both ranks send to each other with a window of
one message, from a loop that hands messages on only while a send waits (as
the driver does for a PE writing inside ``process``), then receive the rest.
Prints one JSON line per rank."""

import json
import sys

import numpy as np
from d4p.driver import Data, EndOfStream
from d4p_mpi.transport import MPI, MPITransport

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
other = 1 - rank
transport = MPITransport(comm, window=1)


class Sink:
    def __init__(self):
        self.units, self.ended = [], []

    def absorb(self):
        for message, size in transport.receive(0):
            if type(message) is Data:
                for _, _, units in message.batches:
                    self.units.append(units)
            else:
                self.ended.append(tuple(message))
            transport.release(size)


sink = Sink()
transport.start(sink.absorb)
for k in range(N):
    transport.send(other, Data([(other, "input", [k, np.full(20_000, k, dtype=np.float64)])]))
transport.send(other, EndOfStream(rank, other))
while not sink.ended:
    sink.absorb()
transport.close()
report = json.dumps({
    "rank": rank,
    "in_order": [k for k, _ in sink.units] == list(range(N)),
    "arrays_intact": all(a.shape == (20_000,) and (a == k).all() for k, a in sink.units),
    "writeable": all(a.flags.writeable for _, a in sink.units),
    "ended": sink.ended,
    "slot_waits": transport.slot_waits,
    "sent_buffers": transport.sent_buffers,
})
for turn in range(2):  # one rank after the other, so that the lines never mix
    comm.Barrier()
    if turn == rank:
        print(report, flush=True)
