"""The loop that every worker of every mapping runs.

A mapping supplies a :class:`Transport` (how messages reach other workers)
and calls :func:`drive`; core does the rest: ``preprocess``, the sources,
delivering what arrives, end of stream, ``postprocess``, progress reports,
stopping and aborting. A mapping keeps no receive loop of its own.

Messages are :class:`Data` (batches of data units for instances of the
receiving worker) and :class:`EndOfStream` (an upstream instance has
finished feeding a local one).

A :class:`Control` stops a run from outside: :meth:`Control.stop` ends the
sources (everything already produced is still processed, ``postprocess``
runs, outputs are returned: a graceful drain); :meth:`Control.abort` ends
the worker at once, raising :class:`Aborted` from :func:`drive`.

A :class:`Handoff` serves an engine that pulls results (a Spark partition's
iterator, a Storm spout's ``next``): it runs the executor in a helper thread
and hands what it writes over through a bounded queue.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from .codec import Unloadable
from .errors import Aborted

__all__ = ["Aborted", "Control", "Data", "EndOfStream", "Handoff", "Message", "Report", "Transport",
           "drive"]


class Data(NamedTuple):
    """Data units for instances of the receiving worker:
    ``[(instance id, input port, [units]), ...]``."""

    batches: list


class EndOfStream(NamedTuple):
    """Instance ``source`` has finished feeding instance ``target``."""

    source: int
    target: int


Message = Data | EndOfStream

ENDED = "the run ended"
"""The reason a launcher stops its :class:`Control` with once the run is over
(which ends its timers and watches): not a reason the run stopped early."""


class Control:
    """Stops or aborts the workers of a run; safe to call from any thread or
    a signal handler."""

    def __init__(self, max_units: int | None = None) -> None:
        self.max_units = max_units
        """A source stops by itself after writing this many units."""
        self.limited = False
        """Whether a source stopped at ``max_units`` (:meth:`limit_reached`)."""
        self.stopping = False
        self.aborted = False
        self.reason = ""  # why the sources were stopped
        self.abort_reason = ""
        self._woken = threading.Event()
        self._on_stop: list[Callable[[], None]] = []
        self._on_limit: list[Callable[[], None]] = []

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the run is stopped (at once if it is)."""
        self._on_stop.append(callback)
        if self.stopping:
            callback()

    def on_limit(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when a source reaches ``max_units`` (at once if
        one has): a worker tells its launcher, whose summary says so."""
        self._on_limit.append(callback)
        if self.limited:
            callback()

    def limit_reached(self) -> None:
        """A source has written ``max_units`` units and stopped (the others go on)."""
        if self.limited:
            return
        self.limited = True
        for callback in self._on_limit:
            callback()

    def why(self) -> str | None:
        """Why the run's sources stopped early: the reason of :meth:`stop`, else
        ``max_units=N`` when a source reached it, else ``None``."""
        if self.stopping and self.reason != ENDED:
            return self.reason
        return f"max_units={self.max_units}" if self.limited else None

    def stop(self, reason: str = "stopped") -> None:
        """End the sources; what they produced is still processed."""
        if self.stopping:
            return
        self.reason = reason
        self.stopping = True
        self._woken.set()
        for callback in self._on_stop:
            callback()

    def abort(self, reason: str = "aborted") -> None:
        """End at once: :func:`drive` raises :class:`Aborted`."""
        self.stop(reason)
        self.abort_reason = reason
        self.aborted = True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until stopped or aborted (True) or ``timeout`` seconds (False)."""
        return self._woken.wait(timeout)

    def is_set(self) -> bool:
        """True once the sources should stop (the executor asks between calls)."""
        return self.stopping

    def check(self) -> None:
        """Raise :class:`Aborted` if the run was aborted."""
        if self.aborted:
            raise Aborted(f"the run was aborted ({self.abort_reason})")


class Transport:
    """What a mapping gives :func:`drive` to reach the other workers: a
    subclass overrides what it needs (a worker that only sends, ``send``).

    ``send`` may block for backpressure; while it waits it must keep taking
    incoming messages and hand them to the ``absorb`` callable it was given
    by :meth:`start` (so that two workers sending to each other never wait
    on each other). ``receive`` returns the messages that have arrived,
    waiting at most ``timeout`` seconds for the first; it may return early
    with none. ``release(nbytes)`` is called once the messages of that many
    received bytes have been processed (a transport that bounds what it
    buffers counts with it; ``receive`` reports each message's bytes)."""

    def start(self, absorb: Callable[[], None]) -> None:
        """Called once, before anything is sent."""

    def send(self, worker: int, message: Message) -> int | None:
        """Deliver ``message``; returns its size in bytes when known."""
        raise NotImplementedError(f"{type(self).__name__} cannot send to worker {worker}")

    def receive(self, timeout: float | None) -> list[tuple[Message, int]]:
        """``(message, bytes)`` for what has arrived (nothing, by default)."""
        return []

    def release(self, nbytes: int) -> None:
        """``nbytes`` of received messages have been processed."""

    def close(self) -> None:
        """Everything sent has been handed over (called once, at the end)."""


class Handoff:
    """Runs ``work(put)`` in a helper thread and hands every item it puts to
    the thread that reads them (:meth:`take`, or iteration), through a queue
    of at most ``bound`` items. A full queue makes ``put`` wait, so the PEs
    wait for the engine and memory stays bounded; once the reader has called
    :meth:`close`, a waiting ``put`` ends the work. An exception of ``work``
    is raised to the reader, after the items put before it."""

    def __init__(self, work: Callable[[Callable[[Any], None]], None], bound: int,
                 name: str = "d4p-handoff") -> None:
        self._queue: queue.Queue = queue.Queue(bound)
        self._closed = threading.Event()
        self._end: _End | None = None
        threading.Thread(target=self._run, args=(work,), name=name, daemon=True).start()

    @property
    def ended(self) -> bool:
        """True once every item was taken and the work has returned (or raised)."""
        return self._end is not None

    def take(self, most: int = 1, wait: float | None = None) -> list:
        """Up to ``most`` items, waiting at most ``wait`` seconds (``None``: as
        long as it takes) for the first; ``[]`` when none came in time or the
        work has ended."""
        items: list = []
        if self._end is None:
            try:
                item = self._queue.get(timeout=wait)
                while type(item) is not _End:
                    items.append(item)
                    if len(items) >= most:
                        return items
                    item = self._queue.get_nowait()
            except queue.Empty:
                return items
            self._end = item
        if not items and self._end.error is not None:
            error, self._end = self._end.error, _End(None)
            raise error
        return items

    def __iter__(self) -> Iterator:
        while items := self.take():
            yield items[0]

    def close(self) -> None:
        """The reader stops: a ``put`` that waits, or comes later, ends the work."""
        self._closed.set()

    def _run(self, work: Callable[[Callable[[Any], None]], None]) -> None:
        try:
            work(self._put)
            end = _End(None)
        except _Closed:
            return
        except BaseException as exc:  # the reader raises it
            end = _End(exc)
        try:
            self._put(end)
        except _Closed:
            pass

    def _put(self, item: Any) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._closed.is_set():
                    raise _Closed from None


class _End(NamedTuple):
    error: BaseException | None


class _Closed(Exception):
    """The reader of a :class:`Handoff` has closed it: the work ends."""


Report = Callable[[dict[str, int], list[dict]], None]
"""Hears a worker's progress: units processed per PE so far, and the
tracing events since the last report."""


def drive(executor, transport: Transport | None = None, *, control: Control | None = None,
          report: Report | None = None, report_every: float = 0.5) -> None:
    """Run ``executor``'s instances to the end: preprocess, sources, what
    arrives through ``transport`` until every local instance has finished,
    postprocess. ``report`` is called every ``report_every`` seconds, once
    at the end (before ``transport.close()``, which may wait long for the
    receivers) and once more if the worker fails, each time with every
    instance's events so far (partial windows too): a worker ended by
    another's failure has reported all but its last ``report_every`` seconds."""
    control = control or Control()
    last_report = time.monotonic()
    latency = executor.latency

    def absorb(wait: float | None = 0.0) -> bool:
        """Deliver what has arrived (waiting up to ``wait`` s); True if anything did."""
        control.check()
        if transport is None:
            return False
        waiting = executor.waiting  # parts kept while their instance was busy
        start = time.perf_counter()
        try:
            got = transport.receive(0.0 if waiting else wait)
        except Unloadable as exc:
            raise executor.unloadable(exc) from exc
        if not got and not waiting:
            return False
        read_s = time.perf_counter() - start
        executor.deliver(got, read_s, transport.release)
        return True

    def tick() -> None:
        nonlocal last_report
        if report is not None and time.monotonic() - last_report > report_every:
            report(executor.counts(), executor.take_events(final=True))
            last_report = time.monotonic()

    last_flush = time.monotonic()

    def between() -> None:
        nonlocal last_flush
        now = time.monotonic()
        if now - last_flush > latency:
            executor.flush()
            absorb()
            last_flush = now
            tick()
        elif control.aborted:
            control.check()

    try:
        if transport is not None:
            transport.start(executor.absorbing(absorb))
        executor.preprocess()
        executor.run_sources(between=between, stop=control, max_units=control.max_units)
        executor.flush()
        while not executor.done:
            if not absorb(0.0):
                executor.flush()
                absorb(min(report_every, 0.5) if report is not None else 0.5)
            tick()
        executor.flush()
        if report is not None:  # every instance has finished: nothing is processed after
            report(executor.counts(), executor.take_events(final=True))
    except BaseException:
        if report is not None:  # what the worker did before it failed
            with contextlib.suppress(Exception):
                report(executor.counts(), executor.take_events(final=True))
        raise
    if transport is not None:
        transport.close()
