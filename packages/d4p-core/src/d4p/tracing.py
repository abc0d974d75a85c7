"""Timing events for monitoring, collected by the executor when a run is traced.

Nothing here runs unless a tracer was asked for (``d4p.run(..., monitor=...)``).
Costs stay low by sampling the times of calls (counts stay exact) and by
aggregating: one ``instance`` event per instance per ``every`` calls (and at
its end, and at each progress report of a worker process: see
:func:`d4p.driver.drive`), one ``edge`` event per pair of PEs each time the
events are taken. The event dicts are the contract with tracers:

* ``{"kind": "instance", "pe", "instance", "process", "t0", "t1", "calls",
  "process_s", "read_s", "write_s"}``: ``process_s`` is time inside the PE's
  own code, ``write_s`` time spent handing its writes on (to PEs in the same
  process and to the transport), ``read_s`` time spent receiving its input.
* ``{"kind": "edge", "src_pe", "dst_pe", "units", "bytes", "send_s", "t1"}``:
  ``bytes`` and ``send_s`` count data that crossed a process boundary.
* ``{"kind": "error", "pe", "instance", "message", "t"}``.
"""

from __future__ import annotations

import itertools
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
        self.process_s = 0.0
        self.reset()

    def reset(self) -> None:
        self.t0 = time.time()
        self.calls = 0
        self.read_s = self.write_s = 0.0
        self.process_s = min(self.process_s, 0.0)  # see event

    def event(self) -> dict[str, Any]:
        """The window's event (then :meth:`reset` starts the next window). An
        own time estimated below zero (the estimates of the calls inside this
        PE's timed calls exceeded what those took) is reported as 0 and taken
        from the next window's: cutting estimates at 0 would add up to more
        than the run took (a 54-PE chain: 103%)."""
        return {"kind": "instance", "pe": self.pe, "instance": self.instance,
                "process": self.process, "t0": self.t0, "t1": time.time(), "calls": self.calls,
                "process_s": max(self.process_s, 0.0), "read_s": self.read_s,
                "write_s": self.write_s}


class _Sampler:
    """Timing of one PE instance's calls (see :class:`Trace`).

    The executor counts the instance's calls in ``loc.calls`` and makes call
    number ``loc.due`` through :meth:`call`, which times it and sets the next
    ``loc.due``; a timed call stands for the calls since the previous one.
    ``inside`` are the samplers of the local instances this one's writes reach
    (directly or not): what they did during a timed call is not its own time.
    """

    __slots__ = ("trace", "loc", "win", "edge", "inside", "last", "timed", "timed_s", "own_s",
                 "measured", "measured_s", "period", "counted")

    def __init__(self, trace: Trace, loc: Any, win: _Window, edge: list | None) -> None:
        self.trace, self.loc, self.win, self.edge = trace, loc, win, edge
        self.inside: list[_Sampler] = []
        self.last = 0  # the call last timed
        self.timed, self.timed_s, self.own_s = 0, 0.0, 0.0  # timed calls (no outliers), times
        self.measured, self.measured_s = 0, 0.0  # every timed call and its own time
        self.period = 1  # mean calls per timed call
        self.counted = 0  # calls already in events
        loc.due = 1

    def call(self, fn: Callable[[Any], Any], data: Any) -> Any:
        """Call number ``loc.calls`` of the instance, made again as ``fn(data)``
        (which counts it again) and timed."""
        trace, loc, win = self.trace, self.loc, self.win
        n = loc.calls
        loc.calls = n - 1
        weight, self.last = n - self.last, n
        if self.timed >= trace.probe:
            own = max(self.own_s / self.timed, trace.budget / trace.max_period)
            self.period = max(round(trace.budget / own), 1)
        loc.due = n + 1 + int(trace.uniform() * (2 * self.period - 1)) if self.period > 1 \
            else n + 1
        if n - self.counted >= trace.every:
            self.commit()
            trace.events.append(win.event())
            win.reset()
        before = _state(self.inside)
        sent, start = trace.sent_s, _clock()
        try:
            return fn(data)
        finally:
            elapsed = max(_clock() - start - trace.bias, 0.0)
            inner = _inner(trace, sent, self.inside, before)
            own = elapsed - inner
            self.measured += 1
            self.measured_s += own
            if self.timed > 3 and elapsed > 8 * self.timed_s / self.timed:
                # an outlier (preempted, a GC pause) stands for itself, the other
                # calls for the mean, and stays out of the means
                mean = self.own_s / self.timed
                win.process_s += own + mean * (weight - 1)
                win.write_s += inner + (self.timed_s / self.timed - mean) * (weight - 1)
            else:
                win.process_s += own * weight
                win.write_s += inner * weight
                self.timed += 1
                self.timed_s += elapsed
                self.own_s += own

    def once(self, fn: Callable[[Any], Any], data: Any) -> Any:
        """``fn(data)`` timed, counted as no call (``postprocess``)."""
        before = _state(self.inside)
        sent, start = self.trace.sent_s, _clock()
        try:
            return fn(data)
        finally:
            elapsed = _clock() - start
            inner = _inner(self.trace, sent, self.inside, before)
            self.win.process_s += elapsed - inner
            self.win.write_s += inner

    def commit(self) -> None:
        """Count the calls made since the last commit in the window and the edge."""
        calls = self.loc.calls - self.counted
        self.counted += calls
        self.win.calls += calls
        if self.edge is not None:
            self.edge[0] += calls


def _timing_bias() -> float:
    """What timing an empty call adds to the time measured (the least of a few)."""

    def empty(data):
        return data

    best = 1.0
    for _ in range(200):
        start = _clock()
        empty(None)
        best = min(best, _clock() - start)
    return best


def _state(inside: list[_Sampler]) -> list[tuple[int, int, float]] | None:
    return [(s.loc.calls, s.measured, s.measured_s) for s in inside] if inside else None


def _inner(trace: Trace, sent: float, inside: list[_Sampler],
           before: list[tuple[int, int, float]] | None) -> float:
    """Seconds spent in the calls of ``inside`` and in sends since ``trace.sent_s``
    was ``sent`` and ``inside`` were in the state ``before``: timed calls at
    their own times, the others at their PE's mean own time per call."""
    inner = trace.sent_s - sent
    if not inside:
        return inner
    for s, (calls, measured, measured_s) in zip(inside, before, strict=True):
        if s.loc.calls != calls:
            inner += s.measured_s - measured_s
            untimed = s.loc.calls - calls - (s.measured - measured)
            if untimed:
                inner += untimed * s.own_s / max(s.timed, 1)
    return inner


class Trace:
    """Per-process collector of timing events (used by :class:`d4p.executor.Executor`).

    The first ``probe`` calls of a PE instance are timed; from then on one call
    in ``period`` on average (at random spacing, so that periodic data cannot
    fool it) is timed and stands for the calls since the previous one, where
    ``period`` is ``budget`` over the mean own time of a call (at most
    ``max_period``): calls of 20 µs or more are all timed, calls of 1 µs one
    in 20, so timing (about 1 µs a call) costs a few per cent. The other calls
    cost the executor one comparison. Counts are exact; times of expensive PEs
    are exact, times of cheap PEs are unbiased estimates (called often, so
    the estimate is close).

    A timed call's own time is its duration less the time of the calls it
    made, through its writes, to PEs in this process (timed ones at their own
    times, the others at their PE's mean own time per call, so untimed calls
    need no bookkeeping) and less the time the transport took to send batches.
    """

    def __init__(self, process: int, every: int = 1000, probe: int = 64, budget: float = 20e-6,
                 max_period: int = 256) -> None:
        self.probe = probe
        self.budget = budget
        self.max_period = max_period
        self.process = process
        self.every = every
        rng = random.Random(process)
        self.uniform = itertools.cycle([rng.random() for _ in range(4093)]).__next__
        self.events: list[dict[str, Any]] = []
        self.windows: dict[int, _Window] = {}
        self.edges: dict[tuple[str, str], list[float]] = {}
        self.samplers: dict[int, _Sampler] = {}
        self.sent_s = 0.0  # running total of the transport's send times
        self.bias = _timing_bias()

    def window(self, iid: int, pe: str, instance: int) -> _Window:
        win = self.windows.get(iid)
        if win is None:
            win = self.windows[iid] = _Window(pe, instance, self.process)
        return win

    def sampler(self, loc: Any, win: _Window, edge: tuple[str, str] | None) -> _Sampler:
        """The sampler of the instance ``loc`` (see :class:`_Sampler`), whose calls
        are also the units of ``edge`` (source PE, this PE), if given."""
        units = self.edges.setdefault(edge, [0, 0, 0.0]) if edge else None
        sampler = self.samplers[loc.iid] = _Sampler(self, loc, win, units)
        return sampler

    def reaches(self, iid: int, inside: list[int]) -> None:
        """Instance ``iid``'s writes reach the local instances ``inside``."""
        self.samplers[iid].inside = [self.samplers[i] for i in inside]

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
        self.sent_s += seconds
        total = sum(weights) or 1
        for key, w in zip(edges, weights, strict=True):
            edge = self.edges.setdefault(key, [0, 0, 0.0])
            edge[1] += nbytes * w // total
            edge[2] += seconds * w / total

    def read(self, win: _Window, seconds: float) -> None:
        win.read_s += seconds

    def take(self, final: bool = False) -> list[dict[str, Any]]:
        """The events so far; with ``final``, also the partial windows."""
        for sampler in self.samplers.values():
            sampler.commit()
        if final:
            for win in self.windows.values():
                if win.calls or win.process_s > 0 or win.write_s or win.read_s:
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
    """Bytes a batch takes on the wire: the pickle stream plus every
    out-of-band buffer (NumPy arrays), counted without being copied."""
    buffers = 0

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        nonlocal buffers
        with buf.raw() as view:
            buffers += view.nbytes
        return False

    stream = len(pickle.dumps(units, protocol=5, buffer_callback=out_of_band))
    return stream + buffers
