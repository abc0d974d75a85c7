"""The MPI transport: carries the driver's messages between ranks.

* A message is encoded by :mod:`d4p.codec`: large buffers (NumPy arrays) are
  sent as raw MPI messages of their own after the pickle; the pickle's tag
  tells how many follow.
* Sends are non-blocking and synchronous (``Issend``): a send completes only
  when the receiver has taken the message, so the bounds of ``window``
  messages in flight per destination and of half of ``budget`` bytes in
  flight in all are real backpressure.
* A rank receives while it holds less than half of ``budget`` bytes not yet
  processed; what it does not receive stays with its sender.
* While a send waits for room the transport hands what arrives to the
  driver's ``absorb`` (which processes it for instances not waiting to
  send), so ranks that send to each other never wait on each other.
* Waiting polls with a short back-off sleep rather than a busy MPI wait, so
  idle ranks leave the CPU to busy ones when ranks outnumber cores.
"""

from __future__ import annotations

import pickle
import time
from collections import deque

from d4p import WorkflowFailed, codec
from d4p.mapping import Transport

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
ESCAPE = 0.05
"""Seconds a blocked sender whose receive budget is full (of units for its
own waiting instances) waits without any send completing before it receives
past its budget until its send goes out: ranks that send to each other never
wait on each other for long."""


class MPITransport(Transport):
    """The driver's :class:`~d4p.driver.Transport` over an MPI communicator.

    ``window`` bounds the messages in flight to each destination, ``budget``
    the bytes a rank has in flight plus received and not yet processed;
    ``deadline`` (a ``time.monotonic()`` value or ``None``) ends every wait
    with :class:`d4p.WorkflowFailed`.
    """

    def __init__(self, comm, window: int = 8, budget: int = 64 << 20,
                 deadline: float | None = None, out_of_band: int = codec.OUT_OF_BAND) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.comm = comm
        self.rank = comm.Get_rank()
        self.window = window
        self.budget = max(budget // 2, 1)
        self.deadline = deadline
        self.out_of_band = out_of_band
        self.inbox: deque = deque()  # (payload, buffers, bytes)
        self.held = 0  # bytes received and not yet released
        self.flying = 0  # bytes sent and not yet taken
        self.overflow = False  # receive past the budget (see ESCAPE)
        self.absorb = None
        self._flight: list[deque] = [deque() for _ in range(comm.Get_size())]
        self._queued: list[deque] = [deque() for _ in range(comm.Get_size())]
        self._status = MPI.Status()
        self.sent_messages = 0
        self.sent_buffers = 0
        self.slot_waits = 0

    def start(self, absorb) -> None:
        self.absorb = absorb

    # -- sending ------------------------------------------------------------------
    def send(self, process: int, message) -> int:
        """Post ``message`` after those queued before it for ``process`` (a
        send made while this one waits goes behind it: order is kept)."""
        payload, buffers = codec.encode(message, self.out_of_band)
        size = codec.nbytes(payload, buffers)
        queued = self._queued[process]
        queued.append((payload, buffers, size))
        self._post(process)
        if queued:
            self.slot_waits += 1
            self._wait_for_room(process)
        return size

    def _post(self, process: int) -> None:
        """Post the queued messages for ``process`` while there is room."""
        flight, queued, comm = self._flight[process], self._queued[process], self.comm
        for each in self._flight:  # the byte budget counts messages to every rank
            self._reap(each)
        while queued and len(flight) < self.window and not (
                self.flying and self.flying + queued[0][2] > self.budget):
            payload, buffers, size = queued.popleft()
            requests = [comm.Issend([payload, MPI.BYTE], process, TAG_MSG + len(buffers))]
            for buf in buffers:
                requests.append(comm.Issend([buf, MPI.BYTE], process, TAG_BUF))
            flight.append((requests, payload, buffers, size))
            self.flying += size
            self.sent_messages += 1
            self.sent_buffers += len(buffers)

    def _wait_for_room(self, process: int) -> None:
        queued = self._queued[process]

        def room() -> bool:
            self._post(process)
            return not queued

        since, flying = time.monotonic(), self.flying
        while not room():
            if self.inbox and self.absorb is not None:
                self.absorb()
                continue
            until = since + ESCAPE
            self._pause(lambda: room() or bool(self.inbox) or time.monotonic() > until)  # noqa: B023
            if self.flying != flying:
                since, flying = time.monotonic(), self.flying
            elif not self.inbox and time.monotonic() - since > ESCAPE:
                if self.held >= self.budget:
                    self.overflow = True  # everything held waits for us: take more
                since = time.monotonic()
        self.overflow = False

    def _reap(self, flight: deque) -> None:
        while flight and MPI.Request.Testall(flight[0][0]):
            self.flying -= flight.popleft()[3]

    def close(self) -> None:
        """Wait until every message sent has been taken, receiving meanwhile."""
        def sent() -> bool:
            for process in range(len(self._flight)):
                self._post(process)
            return not self.flying and not any(self._queued)

        while not sent():
            if self.inbox and self.absorb is not None:
                self.absorb()
                continue
            self._pause(lambda: sent() or bool(self.inbox))

    # -- receiving ----------------------------------------------------------------
    def take_incoming(self) -> None:
        """Receive what has arrived while the budget allows; a failure
        announced by another rank is raised."""
        comm, status = self.comm, self._status
        if comm.Iprobe(MPI.ANY_SOURCE, TAG_FAIL, status):
            self._raise_failure(status)
        while (self.held < self.budget or self.overflow) and comm.Iprobe(
                MPI.ANY_SOURCE, MPI.ANY_TAG, status):
            source, tag = status.Get_source(), status.Get_tag()
            if tag == TAG_FAIL:
                self._raise_failure(status)
            payload = bytearray(status.Get_count(MPI.BYTE))
            comm.Recv([payload, MPI.BYTE], source, tag)
            buffers = []
            for _ in range(tag - TAG_MSG):
                comm.Probe(source, TAG_BUF, status)
                buf = bytearray(status.Get_count(MPI.BYTE))
                comm.Recv([buf, MPI.BYTE], source, TAG_BUF)
                buffers.append(buf)
            size = codec.nbytes(payload, buffers)
            self.held += size
            self.inbox.append((payload, buffers, size))  # loaded in receive

    def _raise_failure(self, status) -> None:
        payload = bytearray(status.Get_count(MPI.BYTE))
        self.comm.Recv([payload, MPI.BYTE], status.Get_source(), TAG_FAIL)
        failure = pickle.loads(payload)
        failure.announced = True
        raise failure

    def receive(self, timeout: float | None) -> list:
        """Loads what arrived here, where the driver names the PEs of data that fails."""
        self.take_incoming()
        if not self.inbox and timeout != 0:
            end = None if timeout is None else time.monotonic() + timeout
            self._pause(lambda: bool(self.inbox) or (end is not None and time.monotonic() > end))
        got = [(codec.decode(payload, buffers), size) for payload, buffers, size in self.inbox]
        self.inbox.clear()
        return got

    def release(self, nbytes: int) -> None:
        self.held -= nbytes

    def wait_request(self, request) -> None:
        """Wait for a non-blocking collective, still watching for failures."""
        self._pause(request.Test)

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
    def _pause(self, ready) -> None:
        """Receive and poll until ``ready()``."""
        def step() -> bool:
            self.take_incoming()
            return ready()

        poll(step, self.deadline)


def poll(ready, deadline: float | None = None) -> None:
    """Call ``ready()`` until it is true, sleeping between calls after the
    first :data:`SPINS` (MPI's own waits spin, and a rank that spins takes the
    CPU from ranks still starting up or busy); past ``deadline``, raise
    :class:`d4p.WorkflowFailed`."""
    spins, pause = 0, FIRST_PAUSE
    while not ready():
        spins += 1
        if spins > SPINS:
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
            if deadline is not None and time.monotonic() > deadline:
                raise WorkflowFailed("the mpi run exceeded its timeout while waiting for "
                                     "other ranks; raise the 'timeout' option or look for a "
                                     "PE that never finishes")
