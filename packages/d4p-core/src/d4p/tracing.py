"""Timing events for monitoring, collected by the executor when a run is traced.

Nothing here runs unless a tracer was asked for (``d4p.run(..., monitor=...)``).
Costs stay low by sampling the times of calls (counts stay exact) and by
aggregating: one ``instance`` event per instance per ``every`` calls (and at
its end), one ``edge`` event per pair of PEs each time the events are taken. The event dicts are the contract with tracers:

* ``{"kind": "instance", "pe", "instance", "process", "t0", "t1", "calls",
  "process_s", "read_s", "write_s"}``: ``process_s`` is time inside the PE's
  own code, ``write_s`` time spent handing its writes on (to PEs in the same
  process and to the transport), ``read_s`` time spent receiving its input.
* ``{"kind": "edge", "src_pe", "dst_pe", "units", "bytes", "send_s", "t1"}``:
  ``bytes`` and ``send_s`` count data that crossed a process boundary.
* ``{"kind": "error", "pe", "instance", "message", "t"}``.
"""

from __future__ import annotations

import pickle
import random
import time
from collections.abc import Callable
from typing import Any

_clock = time.perf_counter


class _Window:
    __slots__ = ("pe", "instance", "process", "t0", "calls", "process_s", "read_s", "write_s")

    def __init__(self, pe: str, instance: int, process: int) -> None:
        self.pe, self.instance, self.process = pe, instance, process
        self.reset()

    def reset(self) -> None:
        self.t0 = time.time()
        self.calls = 0
        self.process_s = self.read_s = self.write_s = 0.0

    def event(self) -> dict[str, Any]:
        return {"kind": "instance", "pe": self.pe, "instance": self.instance,
                "process": self.process, "t0": self.t0, "t1": time.time(), "calls": self.calls,
                "process_s": max(self.process_s, 0.0), "read_s": self.read_s,
                "write_s": self.write_s}


class _Sampler:
    """Sampling state of one wrapped function: ``countdown`` calls to the next
    timed call, which stands for the ``weight`` calls since the previous one.
    Every call is timed until the function proves cheap (see :class:`Trace`)."""

    __slots__ = ("win", "units", "countdown", "weight", "timed", "timed_s", "sampling")

    def __init__(self, win: _Window, units: list) -> None:
        self.win, self.units = win, units
        self.countdown = self.weight = 1  # the next call is timed and stands for itself
        self.timed, self.timed_s = 0, 0.0  # timed calls so far and their plain durations
        self.sampling = False

    def commit(self, calls: int) -> None:
        self.win.calls += calls
        self.units[0] += calls


class Trace:
    """Per-process collector of timing events (used by :class:`d4p.executor.Executor`).

    Every call of a PE instance is timed until its first ``probe`` calls show
    that it is cheap (under ``cheap`` seconds on average: timing would cost a
    large share of it); from then on about one call in ``period`` (at random
    spacing, so that periodic data cannot fool it) is timed and stands for
    the calls since the previous one, and the others cost a counter. Counts
    are exact; times of expensive PEs are exact, times of cheap PEs are
    unbiased estimates (called often, so the estimate is close). A timed
    call's own time is its duration less what the calls it made to other PEs
    report (their duration, times their weight).
    """

    def __init__(self, process: int, every: int = 1000, period: int = 32, probe: int = 64,
                 cheap: float = 20e-6) -> None:
        self.probe = probe
        self.cheap = cheap
        self.process = process
        self.every = every
        self.period = period
        self.events: list[dict[str, Any]] = []
        self.windows: dict[int, _Window] = {}
        self.edges: dict[tuple[str, str], list[float]] = {}
        self.samplers: list[_Sampler] = []
        self._nested = 0.0
        self._spacing = random.Random(process).randint

    def window(self, iid: int, pe: str, instance: int) -> _Window:
        win = self.windows.get(iid)
        if win is None:
            win = self.windows[iid] = _Window(pe, instance, self.process)
        return win

    def timed(self, win: _Window, fn: Callable[[Any], Any], count: bool = True,
              edge: tuple[str, str] | None = None, leaf: bool = False):
        """Wrap ``fn``, a call of ``win``'s PE, so that it is counted and sampled;
        ``count=False`` (postprocess) times every call and counts none. Each
        call is also a unit of ``edge`` (source PE, this PE), if given. ``leaf``
        says that ``fn`` calls no other PE in this process."""
        trace, every, period, spacing = self, self.every, self.period, self._spacing
        units = self.edges.setdefault(edge, [0, 0, 0.0]) if edge else [0]
        sampler = _Sampler(win, units)

        def timed_call(data, weight):
            start = _clock()
            outer, trace._nested = trace._nested, 0.0
            try:
                return fn(data)
            finally:
                elapsed = _clock() - start
                if count:
                    if sampler.timed > 3 and elapsed > 8 * sampler.timed_s / sampler.timed:
                        weight = 1  # an outlier (preempted, a GC pause) stands for itself
                    sampler.timed += 1
                    sampler.timed_s += elapsed
                inner = trace._nested  # may exceed elapsed now and then: unbiased on average
                win.process_s += (elapsed - inner) * weight
                win.write_s += inner * weight
                trace._nested = outer + elapsed * weight

        if not count:
            return lambda data: timed_call(data, 1)
        self.samplers.append(sampler)

        def sample(data):
            weight = sampler.weight
            if not sampler.sampling and sampler.timed >= trace.probe \
                    and sampler.timed_s < trace.cheap * sampler.timed:
                sampler.sampling = True
            if sampler.sampling:
                sampler.countdown = sampler.weight = spacing(1, 2 * period - 1)
            else:
                sampler.countdown = sampler.weight = 1
            sampler.commit(weight)
            if win.calls >= every:
                trace.events.append(win.event())
                win.reset()
            return timed_call(data, weight)

        if leaf:
            def call(data):
                sampler.countdown -= 1
                if sampler.countdown:
                    return fn(data)
                return sample(data)
        else:
            def call(data):
                sampler.countdown -= 1
                if sampler.countdown:  # not timed: hide what nested samples report
                    saved = trace._nested
                    result = fn(data)
                    trace._nested = saved
                    return result
                return sample(data)

        return call

    def counted(self, src: str, dst: str, deliver: Callable[[Any], None]):
        """Wrap a delivery from PE ``src`` to PE ``dst`` so that units are counted."""
        edge = self.edges.setdefault((src, dst), [0, 0, 0.0])

        def call(data):
            edge[0] += 1
            deliver(data)

        return call

    def sent(self, edges: list[tuple[str, str]], weights: list[int], nbytes: int,
             seconds: float) -> None:
        """Attribute a message of ``nbytes`` that took ``seconds`` to send."""
        self._nested += seconds
        total = sum(weights) or 1
        for key, w in zip(edges, weights, strict=True):
            edge = self.edges.setdefault(key, [0, 0, 0.0])
            edge[1] += nbytes * w // total
            edge[2] += seconds * w / total

    def read(self, win: _Window, seconds: float) -> None:
        win.read_s += seconds

    def take(self, final: bool = False) -> list[dict[str, Any]]:
        """The events so far; with ``final``, also the partial windows."""
        if final:
            for sampler in self.samplers:  # calls since each last sample
                sampler.commit(sampler.weight - sampler.countdown)
                sampler.weight = sampler.countdown
            for win in self.windows.values():
                if win.calls or win.process_s or win.write_s or win.read_s:
                    self.events.append(win.event())
                    win.reset()
        now = time.time()
        for (src, dst), edge in self.edges.items():
            if edge[0] or edge[1]:
                self.events.append({"kind": "edge", "src_pe": src, "dst_pe": dst,
                                    "units": edge[0], "bytes": edge[1], "send_s": edge[2],
                                    "t1": now})
                edge[0], edge[1], edge[2] = 0, 0, 0.0
        events, self.events = self.events, []
        return events


def pickled_size(units: list) -> int:
    """Bytes a batch takes on the wire (NumPy buffers counted, not copied)."""
    size = 0

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        nonlocal size
        size += buf.raw().nbytes
        return False

    size += len(pickle.dumps(units, protocol=5, buffer_callback=out_of_band))
    return size
