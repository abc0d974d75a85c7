"""The MPI transport: carries the executor's messages between ranks.

* A message (``("data", batches)`` or ``("eos", src, dst)``) is encoded by
  :mod:`d4p_mpi.codec`: large buffers (NumPy arrays) are sent as raw MPI
  messages of their own after the pickle; the pickle's tag tells how many follow.
* Sends are non-blocking and synchronous (``Issend``): a send completes only
  when the receiver has taken the message, so the bound of ``window``
  messages in flight per destination is real backpressure.
* While waiting for a send slot the transport keeps receiving into a local
  queue (never calling PE code from inside a PE's ``write``), so two ranks
  that send to each other with full windows cannot deadlock.
* Waiting polls with a short back-off sleep rather than a busy MPI wait, so
  idle ranks leave the CPU to busy ones when ranks outnumber cores.
"""

from __future__ import annotations

import pickle
import time
from collections import deque

from d4p import WorkflowFailed
from d4p.executor import DATA

from .codec import OUT_OF_BAND, decode, encode
from .environment import load_mpi

MPI = load_mpi()

TAG_FAIL = 1
"""A pickled :class:`d4p.WorkflowFailed` from the rank that failed."""
TAG_BUF = 2
"""An out-of-band buffer of the last header from the same rank."""
TAG_MSG = 16
"""A pickled message; ``tag - TAG_MSG`` out-of-band buffers follow it."""


SPINS = 64
"""Polls of a waiting rank before it starts sleeping between polls."""
FIRST_PAUSE = 20e-6
LONGEST_PAUSE = 1e-3
"""Sleeps between polls double from FIRST_PAUSE up to LONGEST_PAUSE seconds."""


class TimedOut(WorkflowFailed):
    """The run exceeded its ``timeout``."""


class MPITransport:
    """The executor's :class:`~d4p.executor.Transport` over an MPI communicator.

    ``window`` bounds the messages in flight to each destination;
    ``deadline`` (a ``time.monotonic()`` value or ``None``) ends every wait
    with :class:`TimedOut`.
    """

    def __init__(self, comm, window: int = 8, deadline: float | None = None,
                 out_of_band: int = OUT_OF_BAND) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.comm = comm
        self.rank = comm.Get_rank()
        self.window = window
        self.deadline = deadline
        self.out_of_band = out_of_band
        self.inbox: deque = deque()
        self._waited = 0.0  # seconds spent waiting for input since the last delivery
        self._flight: list[deque] = [deque() for _ in range(comm.Get_size())]
        self._status = MPI.Status()
        self.sent_messages = 0
        self.sent_buffers = 0
        self.slot_waits = 0

    # -- sending ------------------------------------------------------------------
    def send(self, process: int, message: tuple) -> None:
        flight = self._flight[process]
        _reap(flight)
        if len(flight) >= self.window:
            self.slot_waits += 1
            self._wait(lambda: _reap(flight) or len(flight) < self.window)
        payload, buffers = encode(message, self.out_of_band)
        comm = self.comm
        requests = [comm.Issend([payload, MPI.BYTE], process, TAG_MSG + len(buffers))]
        for buf in buffers:
            requests.append(comm.Issend([buf, MPI.BYTE], process, TAG_BUF))
        flight.append((requests, payload, buffers))
        self.sent_messages += 1
        self.sent_buffers += len(buffers)

    def in_flight(self) -> int:
        """Messages sent and not yet taken by their receiver."""
        for flight in self._flight:
            _reap(flight)
        return sum(len(f) for f in self._flight)

    def drain(self) -> None:
        """Wait until every message sent has been taken, receiving meanwhile."""
        self._wait(lambda: self.in_flight() == 0)

    # -- receiving ----------------------------------------------------------------
    def take_incoming(self) -> int:
        """Receive every message that has arrived into :attr:`inbox`, without
        calling PE code; a failure announced by another rank is raised."""
        comm, status = self.comm, self._status
        taken = 0
        while comm.Iprobe(MPI.ANY_SOURCE, MPI.ANY_TAG, status):
            source, tag = status.Get_source(), status.Get_tag()
            payload = bytearray(status.Get_count(MPI.BYTE))
            comm.Recv([payload, MPI.BYTE], source, tag)
            if tag == TAG_FAIL:
                failure = pickle.loads(payload)
                failure.announced = True
                raise failure
            buffers = []
            for _ in range(tag - TAG_MSG):
                comm.Probe(source, TAG_BUF, status)
                buf = bytearray(status.Get_count(MPI.BYTE))
                comm.Recv([buf, MPI.BYTE], source, TAG_BUF)
                buffers.append(buf)
            self.inbox.append(decode(payload, buffers))
            taken += 1
        return taken

    def deliver(self, executor) -> bool:
        """Hand every message received so far to ``executor``; True if there was one."""
        self.take_incoming()
        inbox = self.inbox
        if not inbox:
            return False
        while inbox:
            message = inbox.popleft()
            if message[0] == DATA:
                executor.receive(message[1], self._waited)  # waiting counts as read time
                self._waited = 0.0
            else:
                executor.end_of_stream(message[1], message[2])
            if not inbox:
                self.take_incoming()
        return True

    def wait_for_message(self) -> None:
        """Block (politely) until a message is waiting in :attr:`inbox`."""
        start = time.perf_counter()
        self._wait(lambda: bool(self.inbox))
        self._waited += time.perf_counter() - start

    def wait_request(self, request) -> None:
        """Wait for a non-blocking collective, still watching for failures."""
        self._wait(request.Test)

    # -- failure ------------------------------------------------------------------
    def announce(self, failure: BaseException, grace: float = 2.0) -> None:
        """Tell every other rank that the run failed (they raise ``failure``)."""
        failure.announced = True
        data = pickle.dumps(failure)
        requests = [self.comm.Isend([data, MPI.BYTE], r, TAG_FAIL)
                    for r in range(self.comm.Get_size()) if r != self.rank]
        end = time.monotonic() + grace
        while not MPI.Request.Testall(requests) and time.monotonic() < end:
            time.sleep(0.001)

    # -- waiting ------------------------------------------------------------------
    def _wait(self, ready) -> None:
        spins = 0
        pause = FIRST_PAUSE
        while True:
            self.take_incoming()
            if ready():
                return
            spins += 1
            if spins > SPINS:
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
                if self.deadline is not None and time.monotonic() > self.deadline:
                    raise TimedOut("the mpi run exceeded its timeout while waiting for other "
                                   "ranks; raise the 'timeout' option or look for a PE that "
                                   "never finishes")


def _reap(flight: deque) -> None:
    while flight and MPI.Request.Testall(flight[0][0]):
        flight.popleft()
