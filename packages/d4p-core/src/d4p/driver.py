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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from .errors import Aborted

__all__ = ["Aborted", "Control", "Data", "EndOfStream", "Message", "Report", "Transport", "drive"]


class Data(NamedTuple):
    """Data units for instances of the receiving worker:
    ``[(instance id, input port, [units]), ...]``."""

    batches: list


class EndOfStream(NamedTuple):
    """Instance ``source`` has finished feeding instance ``target``."""

    source: int
    target: int


Message = Data | EndOfStream


class Control:
    """Stops or aborts the workers of a run; safe to call from any thread or
    a signal handler."""

    def __init__(self, max_units: int | None = None) -> None:
        self.max_units = max_units
        """A source stops by itself after writing this many units."""
        self.stopping = False
        self.aborted = False
        self.reason = ""  # why the sources were stopped
        self.abort_reason = ""
        self._woken = threading.Event()
        self._on_stop: list[Callable[[], None]] = []

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the run is stopped (at once if it is)."""
        self._on_stop.append(callback)
        if self.stopping:
            callback()

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


Report = Callable[[dict[str, int], list[dict]], None]
"""Hears a worker's progress: units processed per PE so far, and the
tracing events since the last report."""


def drive(executor, transport: Transport | None = None, *, control: Control | None = None,
          report: Report | None = None, report_every: float = 0.5) -> None:
    """Run ``executor``'s instances to the end: preprocess, sources, what
    arrives through ``transport`` until every local instance has finished,
    postprocess. ``report`` is called every ``report_every`` seconds and once
    at the end."""
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
        got = transport.receive(0.0 if waiting else wait)
        if not got and not waiting:
            return False
        read_s = time.perf_counter() - start
        executor.deliver(got, read_s, transport.release)
        return True

    def tick() -> None:
        nonlocal last_report
        if report is not None and time.monotonic() - last_report > report_every:
            report(executor.counts(), executor.take_events())
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

    if transport is not None:
        transport.start(absorb)
    executor.preprocess()
    executor.run_sources(between=between, stop=control, max_units=control.max_units)
    executor.flush()
    while not executor.done:
        if not absorb(0.0):
            executor.flush()
            absorb(min(report_every, 0.5) if report is not None else 0.5)
        tick()
    executor.flush()
    if transport is not None:
        transport.close()
    if report is not None:
        report(executor.counts(), executor.take_events())
