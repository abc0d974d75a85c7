"""Windows over streams that may never end: count windows and event-time
windows, global or per key.

A window PE collects the units of its input and writes them a window at a
time, so that what follows (a stack, an average, a cross-correlation of one
window) runs on finite pieces of an endless stream::

    every_100 = d4p.window.count(100)                    # lists of 100 units
    per_min = d4p.window.time(60, time=lambda u: u[0])   # (start, end, units)
    per_key = d4p.window.time(60, time=lambda u: u[1], by=0, slide=30)

Count windows write ``[units]`` (``(key, [units])`` with ``by``). Event-time
windows write ``(start, end, [units])`` (``(key, start, end, [units])``)
once the stream's time has passed ``end`` by ``lateness`` (a window that no
unit falls in is not written): the watermark is
the largest time seen less ``lateness``; a unit older than a window already
written is late, counted in ``late`` and left out. At the end of the stream
(or a graceful stop) every open window is written, so nothing is lost.
Windows are in order of their start (per key); with a shared watermark,
the windows of all keys are written in the order of their ends.

With ``by``, the watermark is shared by the keys of an instance (the
default, ``watermark="shared"``: a key that lags the others by more than
``lateness`` loses its units as late, and a quiet key's windows are written
as the others advance) or kept per key (``watermark="key"``: each key's
windows close on its own time only, so keys may lag each other by any
amount, and a key that goes quiet keeps its last window open until it
speaks again or the stream ends). Per key, the outputs do not depend on
how the keys are spread over instances::

    per_station = d4p.window.time(600, time=start, by=station, watermark="key")
"""

from __future__ import annotations

import heapq
import math
import sys
from collections.abc import Callable, Hashable
from typing import Any

from .errors import UsageError
from .grouping import GLOBAL, group_by, misfit, one_key
from .pe import GenericPE

__all__ = ["CountWindow", "TimeWindow", "count", "time"]


def _number(value: Any) -> bool:
    """A real number (NumPy's too), not a bool."""
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _grouping_of(by):
    if by is None:
        return GLOBAL, None
    if callable(by):
        return group_by(key=by), by
    if not isinstance(by, int | str | tuple | list):
        raise UsageError(f"by= must be a tuple index, a tuple of indices or a key function (the "
                         f"forms d4p.group_by takes), not {by!r}")
    indices = (by,) if isinstance(by, int | str) else tuple(by)
    grouping = group_by(*indices)
    return grouping, grouping.key_function()


class _Window(GenericPE):
    def __init__(self, by) -> None:
        super().__init__()
        grouping, self._key = _grouping_of(by)
        self._fields = None if callable(by) else by
        self._add_input("input", grouping=grouping)
        self._add_output("output")

    def _key_of(self, unit) -> Hashable:
        try:
            return one_key(self._key(unit)) if self._key is not None else None
        except Exception as exc:
            if self._fields is None:
                raise  # the user's key function failed: its traceback says where
            raise misfit("by", self._fields, unit, exc) from None

    def _out(self, key, *fields) -> None:
        self.write("output", (key, *fields) if self._key is not None else
                   (fields[0] if len(fields) == 1 else fields))


class CountWindow(_Window):
    """Every ``size`` units (per key with ``by``), slid by ``slide`` units
    (``None``: tumbling, ``slide = size``; at most ``size``); ``partial`` writes the last,
    shorter window at the end of the stream."""

    def __init__(self, size: int, slide: int | None = None, by=None,
                 partial: bool = True) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise UsageError(f"a count window needs a positive size, not {size!r}")
        slide = size if slide is None else slide
        if isinstance(slide, bool) or not isinstance(slide, int) or not 1 <= slide <= size:
            raise UsageError(f"a count window slides by a positive number of units, at "
                             f"most its size ({size}), not {slide!r}")
        super().__init__(by)
        self.size, self.slide, self.partial = size, slide, partial
        self.pending: dict[Any, list] = {}

    def process(self, inputs):
        unit = inputs["input"]
        key = self._key_of(unit)
        held = self.pending.setdefault(key, [[], 0])  # units, how many not written yet
        units = held[0]
        units.append(unit)
        held[1] += 1
        if len(units) == self.size:
            self._out(key, list(units))
            del units[:self.slide]
            held[1] = 0

    def postprocess(self):
        for key, (units, fresh) in self.pending.items():
            if fresh and self.partial:
                self._out(key, list(units))
        self.pending.clear()


_WATERMARKS = ("shared", "key")


class TimeWindow(_Window):
    """Windows of ``length`` in the units' own time (``time(unit)``: seconds,
    or any number), starting at multiples of ``slide`` (``None``: tumbling),
    written once the watermark passes their end: the instance's watermark
    (``watermark="shared"``) or, with ``by``, the unit's key's own
    (``watermark="key"``)."""

    def __init__(self, length: float, time: Callable[[Any], float], slide: float | None = None,
                 by=None, lateness: float = 0.0, watermark: str = "shared") -> None:
        if not _number(length) or not length > 0:
            raise UsageError(f"a time window needs a positive length, not {length!r}")
        if not callable(time):
            raise UsageError(f"time= must be a function giving a unit's time, such as "
                             f"lambda unit: unit[0], not {time!r}")
        slide = length if slide is None else slide
        if not _number(slide) or not 0 < slide <= length:
            raise UsageError(f"a time window slides by more than 0 and at most its length "
                             f"({length}), not {slide!r}")
        if not _number(lateness) or lateness < 0:
            raise UsageError(f"lateness must be a number not below 0, not {lateness!r}")
        if watermark not in _WATERMARKS:
            raise UsageError(f"watermark is 'shared' (one for all keys) or 'key' (one per "
                             f"key), not {watermark!r}")
        if watermark == "key" and by is None:
            raise UsageError("watermark='key' needs the key: give by= as well")
        super().__init__(by)
        self.length, self.slide, self.lateness, self.time = length, slide, lateness, time
        self.per_key = watermark == "key"
        self.open: dict[Any, dict[float, list]] = {}  # key -> window start -> units
        self.closed: dict[Any, float] = {}  # key -> end of the last window written
        self.watermark = -math.inf  # the shared one
        self.watermarks: dict[Any, float] = {}  # key -> its own (watermark="key")
        self.ends: list[tuple[float, int, Any, float]] = []  # heap: (end, n, key, start)
        self.made = 0  # windows opened: n, so that keys, which need not compare, never are
        self.late = 0

    def process(self, inputs):
        unit = inputs["input"]
        t = self.time(unit)
        key = self._key_of(unit)
        done = self.closed.get(key, -math.inf)
        windows = self.open.setdefault(key, {})
        placed = False
        k = math.floor((t - self.length) / self.slide)  # maybe one too early: checked below
        start = k * self.slide  # a multiple, never a sum: equal starts stay equal floats
        while start <= t:
            end = start + self.length
            if end > t and end > done:
                held = windows.get(start)
                if held is None:
                    held = windows[start] = []
                    if not self.per_key:
                        self.made += 1
                        heapq.heappush(self.ends, (end, self.made, key, start))
                held.append(unit)
                placed = True
            k += 1
            start = k * self.slide
        if not placed:
            self.late += 1
        mark = t - self.lateness
        if self.per_key:
            if mark > self.watermarks.get(key, -math.inf):
                self.watermarks[key] = mark
                self._emit(key, windows, mark)
        elif mark > self.watermark:
            self.watermark = mark
            self._emit_ended(mark)

    def _emit_ended(self, watermark: float) -> None:
        """Write the windows of every key that end at or before ``watermark``,
        in the order of their ends (each key's oldest first): a heap of the
        open windows' ends, so that a watermark that moves costs nothing per
        key (it did: 360 µs a unit with 1,000 keys)."""
        ends = self.ends
        while ends and ends[0][0] <= watermark:
            end, _, key, start = heapq.heappop(ends)
            units = self.open[key].pop(start, None)
            if units is not None:  # else written already (a subclass may drop windows)
                self._out(key, start, end, units)
                self.closed[key] = max(self.closed.get(key, -math.inf), end)

    def _emit(self, key, windows: dict[float, list], watermark: float) -> None:
        """Write ``key``'s windows that end at or before ``watermark``, oldest first."""
        for start in sorted(windows):
            end = start + self.length
            if end > watermark:
                break
            self._out(key, start, end, windows.pop(start))
            self.closed[key] = max(self.closed.get(key, -math.inf), end)

    def postprocess(self):
        for key, windows in self.open.items():
            self._emit(key, windows, math.inf)
        self.ends.clear()
        if self.late:  # a warning: on stderr, apart from the results
            print(f"{self.id}: {self.late} unit(s) arrived after their window was written "
                  f"(more than lateness={self.lateness:g} behind) and were left out; raise "
                  "lateness to keep them", file=sys.stderr, flush=True)


def count(size: int, slide: int | None = None, *, by=None, partial: bool = True) -> CountWindow:
    """A PE writing every ``size`` units as a list (see :class:`CountWindow`)."""
    return CountWindow(size, slide, by, partial)


def time(length: float, *, time: Callable[[Any], float], slide: float | None = None,
         by=None, lateness: float = 0.0, watermark: str = "shared") -> TimeWindow:
    """A PE writing event-time windows ``(start, end, units)`` (see :class:`TimeWindow`)."""
    return TimeWindow(length, time, slide, by, lateness, watermark)
