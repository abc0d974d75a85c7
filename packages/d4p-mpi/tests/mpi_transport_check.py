"""Run under ``mpiexec -n 2``: both ranks send to each other with a window of
one message, from a loop that never hands messages on (as a PE writing inside
``process`` does), then receive everything. Prints one JSON line per rank."""

import json
import sys

import numpy as np
from d4p_mpi.transport import MPI, MPITransport

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
other = 1 - rank
transport = MPITransport(comm, window=1)
for k in range(N):
    transport.send(other, ("data", [(other, "input", [k, np.full(20_000, k, dtype=np.float64)])]))
transport.send(other, ("eos", rank, other))


class Sink:
    def __init__(self):
        self.units, self.ended = [], []

    def receive(self, batches, read_s=0.0):
        for _, _, units in batches:
            self.units.append(units)

    def end_of_stream(self, source, target):
        self.ended.append((source, target))


sink = Sink()
while not sink.ended:
    if not transport.deliver(sink):
        transport.wait_for_message()
transport.drain()
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
