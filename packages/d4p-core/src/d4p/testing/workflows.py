"""The workflows of the conformance kit, one builder per case.

Every builder returns ``(graph, inputs)`` ready for :func:`d4p.run`. The PEs,
key functions and chain functions are defined at module level so that a plan
pickles: parallel mappings send plans to other processes and interpreters.

The outputs are chosen so that they do not depend on where or in which order
units are processed (only on the groupings' guarantees): per-unit transforms,
per-key aggregates behind ``group_by``, totals behind ``'all'`` and
``'global'``. Aggregates use integers, so that the order of additions cannot
change a result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import group_by, window
from ..errors import UsageError
from ..graph import CompositePE, WorkflowGraph, create_iterative_chain
from ..grouping import Grouping
from ..pe import ConsumerPE, GenericPE, IterativePE, ProducerPE, StopSource, iterative, producer

# -- sources --------------------------------------------------------------------------


class Numbers(ProducerPE):
    """Writes ``start .. start+n-1`` on each iteration; with input items, writes
    every integer of ``range(item)``."""

    def __init__(self, n: int = 10, start: int = 0) -> None:
        super().__init__()
        self.n, self.start = n, start

    def _process(self, inputs):
        if isinstance(inputs, int):
            for i in range(inputs):
                self.write("output", i)
            return
        for i in range(self.start, self.start + self.n):
            self.write("output", i)


class Pairs(ProducerPE):
    """Writes ``(key, i)`` tuples, keys ``k0 .. k{keys-1}`` cycling."""

    def __init__(self, n: int = 60, keys: int = 7, offset: int = 0) -> None:
        super().__init__()
        self.n, self.keys, self.offset = n, keys, offset

    def _process(self, inputs):
        for i in range(self.n):
            self.write("output", (f"k{(i + self.offset) % self.keys}", i))


class Counter(ProducerPE):
    """Writes the iteration number (0, 1, ...) once per iteration: its state
    lives in the one source instance."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _process(self, inputs):
        self.calls += 1
        return self.calls - 1


class MultiPortSource(GenericPE):
    """A source with three outputs: ``'even'``, ``'odd'`` and ``'info'``
    (left unconnected, so it is a result)."""

    def __init__(self, n: int = 20) -> None:
        super().__init__()
        self._add_output("even")
        self._add_output("odd")
        self._add_output("info")
        self.n = n

    def process(self, inputs):
        for i in range(self.n):
            self.write("even" if i % 2 == 0 else "odd", i)
        return {"info": f"wrote {self.n}"}


class Arrays(ProducerPE):
    """Writes ``count`` NumPy arrays of ``size`` float64 values (seeded)."""

    def __init__(self, count: int = 6, size: int = 100_000, seed: int = 7) -> None:
        super().__init__()
        self.count, self.size, self.seed = count, size, seed

    def _process(self, inputs):
        rng = np.random.default_rng(self.seed)
        for i in range(self.count):
            self.write("output", (i, rng.standard_normal(self.size)))


# -- transforms -------------------------------------------------------------------------


class Double(IterativePE):
    def _process(self, data):
        return 2 * data


class AddOne(IterativePE):
    def _process(self, data):
        return data + 1


class Square(IterativePE):
    def _process(self, data):
        return data * data


class Tag(IterativePE):
    """Writes ``(label, data)``."""

    def __init__(self, label: str = "") -> None:
        super().__init__()
        self.label = label

    def _process(self, data):
        return (self.label, data)


class Sink(ConsumerPE):
    """Takes units and writes nothing: only the run's counts show what it got."""

    def _process(self, data):
        pass


class Splitter(GenericPE):
    """Input ``'input'``; writes small numbers to ``'small'``, the rest to ``'large'``."""

    def __init__(self, limit: int = 10) -> None:
        super().__init__()
        self._add_input("input")
        self._add_output("small")
        self._add_output("large")
        self.limit = limit

    def process(self, inputs):
        x = inputs["input"]
        return {"small" if x < self.limit else "large": x}


class Merge(GenericPE):
    """Two inputs ``'a'`` and ``'b'``; writes ``(port, data)`` for each unit."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("a")
        self._add_input("b")
        self._add_output("output")

    def process(self, inputs):
        for port, data in inputs.items():
            self.write("output", (port, data))


class KeyCount(GenericPE):
    """Counts units per key; writes ``(key, count, total of values)`` at the end."""

    def __init__(self, grouping=None, numprocesses: int = 3) -> None:
        super().__init__(numprocesses=numprocesses)
        self._add_input("input", grouping=grouping if grouping is not None else [0])
        self._add_output("output")
        self.seen: dict = {}

    def process(self, inputs):
        key, value = inputs["input"]
        count, total = self.seen.get(key, (0, 0))
        self.seen[key] = (count + 1, total + value)

    def postprocess(self):
        for key, (count, total) in sorted(self.seen.items()):
            self.write("output", (key, count, total))


class Total(GenericPE):
    """Sums integer units and writes ``(count, total)`` in postprocess only."""

    def __init__(self, grouping=None, numprocesses: int = 1) -> None:
        super().__init__(numprocesses=numprocesses)
        self._add_input("input", grouping=grouping)
        self._add_output("output")
        self.count = self.total = 0

    def process(self, inputs):
        self.count += 1
        self.total += inputs["input"]

    def postprocess(self):
        self.write("output", (self.count, self.total))


class ScaleArray(GenericPE):
    """``(i, array)`` → ``(i, 2 * array + 1)`` on ``'output'`` and the scaled
    array alone on ``'scaled'``."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input")
        self._add_output("output")
        self._add_output("scaled")

    def process(self, inputs):
        i, array = inputs["input"]
        scaled = 2.0 * array + 1.0
        return {"output": (i, scaled), "scaled": scaled}


class Buffered(GenericPE):
    """Collects ``size`` units in a list it reuses: writes the list, then
    clears it (and a dict of the last unit, then clears that), as a PE that
    batches its input often does. ``'batch'`` is connected, ``'last'`` is a
    result."""

    def __init__(self, size: int = 3) -> None:
        super().__init__()
        self._add_input("input")
        self._add_output("batch")
        self._add_output("last")
        self.size, self.buf, self.last = size, [], {}

    def process(self, inputs):
        self.buf.append(inputs["input"])
        if len(self.buf) == self.size:
            self.last["unit"] = self.buf[-1]
            self.write("batch", self.buf)
            self.write("last", self.last)
            self.buf.clear()
            self.last.clear()


class BatchTotal(IterativePE):
    """A list of numbers → ``(len, sum)``."""

    def _process(self, numbers):
        return (len(numbers), sum(numbers))


class ArrayStats(IterativePE):
    """``(i, array)`` → ``(i, size, rounded mean)``."""

    def _process(self, data):
        i, array = data
        return (i, int(array.size), round(float(array.mean()), 9))


class Fragile(IterativePE):
    """Raises ``ValueError`` on the unit ``(5, 'five')``; passes the others on.
    Grouped by the number, so the failing instance is known in advance."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input", grouping=[0])

    def _process(self, data):
        if data == (5, "five"):
            raise ValueError(f"cannot handle {data[1]}")
        return data


class RateMismatch(UsageError):
    """What :class:`CheckRate` raises: a mistake in the data given, not a bug."""


class CheckRate(IterativePE):
    """Passes ``(number, name)`` on; raises :class:`RateMismatch` (a
    :class:`d4p.UsageError`) for station 7, sampled at 25 Hz. Grouped by the
    number, so the failing instance is known in advance."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input", grouping=[0])

    def _process(self, data):
        if data[0] == 7:
            raise RateMismatch(f"station {data[0]} is sampled at 25 Hz, the others at 20 Hz: "
                               "resample it to 20 Hz")
        return data


class Locked(IterativePE):
    """``i`` → ``{"n": i, "lock": a threading lock}``, which pickle cannot copy."""

    def _process(self, data):
        import threading

        return {"n": data, "lock": threading.Lock()}


class Unlocked(IterativePE):
    """``{"n": i, ...}`` → ``i``."""

    def _process(self, data):
        return data["n"]


class Gap(Exception):
    """An exception whose pickle does not rebuild it: ``__init__`` takes two
    arguments, pickle gives it the message alone."""

    def __init__(self, station: str, reason: str) -> None:
        super().__init__(f"{station}: {reason}")


class Gaps(IterativePE):
    """``i`` → ``Gap(f"ST{i}", "gap")``, which pickles but does not load."""

    def _process(self, data):
        return Gap(f"ST{data}", "gap")


class Spell(IterativePE):
    """``i`` → ``(i, english name)`` for small numbers."""

    WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

    def _process(self, data):
        return (data, self.WORDS[data % 10])


def first_letter(pair) -> str:
    """Key function of the group_by(key=...) case."""
    return pair[0][:2]


def plus(x, k=1):
    return x + k


def times(x, k=2):
    return x * k


@producer
def countdown(n=5):
    """Decorated generator source: n, n-1, ..., 1."""
    yield from range(n, 0, -1)


class Finite(ProducerPE):
    """Writes ``0 .. n-1``, ``per_call`` units a call, then ends itself
    (:class:`d4p.StopSource`, in the middle of a call unless ``per_call``
    divides ``n``), however many iterations it was given."""

    def __init__(self, n: int = 250, per_call: int = 40) -> None:
        super().__init__()
        self.n, self.per_call, self.next = n, per_call, 0

    def _process(self, inputs):
        for _ in range(self.per_call):
            if self.next == self.n:
                raise StopSource
            self.write("output", self.next)
            self.next += 1


@producer
def until_negative(item):
    """For each input item writes ``range(abs(item))``; after a negative one
    it ends itself (:class:`d4p.StopSource`), leaving the items after it."""
    yield from range(abs(item))
    if item < 0:
        raise StopSource


@iterative
def repeat(x, times=2):
    """Decorated generator transform: writes ``x`` ``times`` times."""
    for _ in range(times):
        yield x


@iterative
def halve(x):
    return x / 2


# -- composites -----------------------------------------------------------------------------


class DoubleThenAdd(CompositePE):
    """A composite: ``'input'`` → Double → AddOne → ``'output'``."""

    def __init__(self) -> None:
        super().__init__()
        double, add = Double(), AddOne()
        self.connect(double, "output", add, "input")
        self._map_input("input", double, "input")
        self._map_output("output", add, "output")


class Nested(CompositePE):
    """A composite holding a composite: ``'input'`` → DoubleThenAdd → Square (×2)."""

    def __init__(self) -> None:
        super().__init__()
        inner, square = DoubleThenAdd(), Square()
        square.numprocesses = 2
        self.connect(inner, "output", square, "input")
        self._map_input("input", inner, "input")
        self._map_output("output", square, "output")


# -- the cases' builders -------------------------------------------------------------------


def pipeline(n: int = 50):
    """numbers → double → add one → total (postprocess write), plus the
    per-unit outputs of add one through a tee."""
    graph = WorkflowGraph()
    src, double, add, total = Numbers(n), Double(), AddOne(), Total()
    graph.connect(src, "output", double, "input")
    graph.connect(double, "output", add, "input")
    graph.connect(add, "output", total, "input")
    return graph, {src: 1}


def parallel_chain(n: int = 60):
    """numbers → double ×3 → add one ×3 → square ×3: a chain the plan fuses."""
    graph = WorkflowGraph()
    src, double, add, square = Numbers(n), Double(), AddOne(), Square()
    for pe in (double, add, square):
        pe.numprocesses = 3
    graph.connect(src, "output", double, "input")
    graph.connect(double, "output", add, "input")
    graph.connect(add, "output", square, "input")
    return graph, {src: 1}


def split_merge(n: int = 30):
    """numbers → splitter (small / large) → double ×2 / add one ×2 → merge."""
    graph = WorkflowGraph()
    src, split, double, add, merge = Numbers(n), Splitter(10), Double(), AddOne(), Merge()
    double.numprocesses = add.numprocesses = 2
    graph.connect(src, "output", split, "input")
    graph.connect(split, "small", double, "input")
    graph.connect(split, "large", add, "input")
    graph.connect(double, "output", merge, "a")
    graph.connect(add, "output", merge, "b")
    return graph, {src: 1}


def tee(n: int = 25):
    """One output feeding three PEs: every unit reaches each of them (the
    consumer ×3 has no outputs; the units it processed are counted)."""
    graph = WorkflowGraph()
    src, left, right, sink = Numbers(n), Tag("left"), Tag("right"), Sink()
    right.numprocesses = 2
    sink.numprocesses = 3
    graph.connect(src, "output", left, "input")
    graph.connect(src, "output", right, "input")
    graph.connect(src, "output", sink, "input")
    return graph, {src: 1}


def fan_in(n: int = 40):
    """Two sources → one group-by input of a 3-instance PE (two edges into one
    input: a dispel4py hang)."""
    graph = WorkflowGraph()
    a, b, count = Pairs(n, keys=5), Pairs(n, keys=5, offset=2), KeyCount(numprocesses=3)
    graph.connect(a, "output", count, "input")
    graph.connect(b, "output", count, "input")
    return graph, {a: 1, b: 1}


def grouping_shuffle(n: int = 90):
    """numbers → square ×3 (shuffle) → total ('global')."""
    graph = WorkflowGraph()
    src, square, total = Numbers(n), Square(), Total("global")
    square.numprocesses = 3
    graph.connect(src, "output", square, "input")
    graph.connect(square, "output", total, "input")
    return graph, {src: 1}


def grouping_group_by(n: int = 70):
    """pairs → per-key counts ×3, grouped by tuple index 0."""
    graph = WorkflowGraph()
    src, count = Pairs(n, keys=7), KeyCount([0], numprocesses=3)
    graph.connect(src, "output", count, "input")
    return graph, {src: 1}


def grouping_group_by_key(n: int = 70):
    """pairs → per-key counts ×3, grouped by a key function (the first two letters)."""
    graph = WorkflowGraph()
    src, count = Pairs(n, keys=12), KeyCount(group_by(key=first_letter), numprocesses=3)
    graph.connect(src, "output", count, "input")
    return graph, {src: 1}


@dataclass(frozen=True)
class ByFirstLetter(Grouping):
    """A grouping defined outside core, as a third-party package would: units
    whose keys start with the same letter go to the same instance."""

    name = "by_first_letter"

    def instances(self, unit, n, sender):
        return (ord(unit[0][0]) % n,)


def grouping_custom(n: int = 70):
    """pairs → per-key counts ×3, routed by a grouping class of its own."""
    graph = WorkflowGraph()
    src, count = Pairs(n, keys=12), KeyCount(ByFirstLetter(), numprocesses=3)
    graph.connect(src, "output", count, "input")
    return graph, {src: 1}


def grouping_all(n: int = 30):
    """numbers → total ×3 ('all'): every instance sees every unit and writes
    the same total in postprocess."""
    graph = WorkflowGraph()
    src, total = Numbers(n), Total("all", numprocesses=3)
    graph.connect(src, "output", total, "input")
    return graph, {src: 1}


def grouping_global(n: int = 30):
    """numbers → double ×3 → total ('global', asked for 3 instances, gets one)."""
    graph = WorkflowGraph()
    src, double, total = Numbers(n), Double(), Total("global", numprocesses=3)
    double.numprocesses = 3
    graph.connect(src, "output", double, "input")
    graph.connect(double, "output", total, "input")
    return graph, {src: 1}


def composite(n: int = 20):
    """numbers → Nested (a composite holding a composite) → total."""
    graph = WorkflowGraph()
    src, nested, total = Numbers(n), Nested(), Total()
    graph.connect(src, "output", nested, "input")
    graph.connect(nested, "output", total, "input")
    return graph, {src: 1}


def iterative_chain(n: int = 20):
    """numbers → create_iterative_chain([plus, (times, {'k': 3}), (plus, {'k': -1})])."""
    graph = WorkflowGraph()
    src = Numbers(n)
    chain = create_iterative_chain([plus, (times, {"k": 3}), (plus, {"k": -1})])
    graph.connect(src, "output", chain, "input")
    return graph, {src: 1}


def partitions(n: int = 40):
    """Explicit partitions: [numbers, double] and [add one, total]."""
    graph = WorkflowGraph()
    src, double, add, total = Numbers(n), Double(), AddOne(), Total("global")
    double.numprocesses = add.numprocesses = 2
    graph.connect(src, "output", double, "input")
    graph.connect(double, "output", add, "input")
    graph.connect(add, "output", total, "input")
    graph.partitions = [[src, double], [add, total]]
    return graph, {src: 1}


def iterations(n: int = 12):
    """A source run ``n`` times (its state counts the iterations) → tag ×2."""
    graph = WorkflowGraph()
    src, tag = Counter(), Tag("it")
    tag.numprocesses = 2
    graph.connect(src, "output", tag, "input")
    return graph, {src: n}


def empty_stream():
    """A source run zero times: no data at all, yet every instance finishes and
    the totals ×2 ('all') still write (0, 0) in postprocess."""
    graph = WorkflowGraph()
    src, double, total = Numbers(5), Double(), Total("all", numprocesses=2)
    double.numprocesses = 3
    graph.connect(src, "output", double, "input")
    graph.connect(double, "output", total, "input")
    return graph, {src: 0}


def input_list_source():
    """A source given a list of input items: writes range(item) for each."""
    graph = WorkflowGraph()
    src, double = Numbers(), Double()
    graph.connect(src, "output", double, "input")
    return graph, {src: [3, 0, 4, 1, 5]}


def input_list_feed(n: int = 10):
    """Input items for a PE that also has an upstream PE (a dispel4py TypeError):
    numbers → add one, and add one also gets [{'input': 100}, {'input': 200}]."""
    graph = WorkflowGraph()
    src, add, total = Numbers(n), AddOne(), Total()
    graph.connect(src, "output", add, "input")
    graph.connect(add, "output", total, "input")
    return graph, {src: 1, add: [{"input": 100}, {"input": 200}]}


def multi_output_source(n: int = 20):
    """A source with three outputs: two feed different PEs, one is a result."""
    graph = WorkflowGraph()
    src, double, square = MultiPortSource(n), Double(), Square()
    square.numprocesses = 2
    graph.connect(src, "even", double, "input")
    graph.connect(src, "odd", square, "input")
    return graph, {src: 1}


def decorators(n: int = 6):
    """PEs made by @d4p.producer and @d4p.iterative (generators)."""
    graph = WorkflowGraph()
    src, rep, half = countdown(n=n), repeat(times=3), halve()
    rep.numprocesses = 2
    graph.connect(src, "output", rep, "input")
    graph.connect(rep, "output", half, "input")
    return graph, {src: 1}


class Readings(ProducerPE):
    """``n`` readings ``(station, time, value)`` of stations a, b, c in
    arrival order: b a little behind a, c 12 s behind, and every 10th
    reading of a 15 s late."""

    def __init__(self, n: int = 90) -> None:
        super().__init__()
        self.n = n

    def _process(self, inputs):
        for i in range(self.n):
            station = "abc"[i % 3]
            t = i + {"a": 0.0, "b": 0.5, "c": -12.0}[station]
            if station == "a" and i % 10 == 0:
                t -= 15.0
            self.write("output", (station, t, i))


def reading_time(reading) -> float:
    return reading[1]


def windows(n: int = 90):
    """Windows of one stream of readings (d4p.window): count windows sliding
    per station ×2; event-time windows per station with a shared watermark
    and lateness (the lagging station and the late readings are left out);
    sliding event-time windows with a watermark per station ×2 (only the
    late readings are left out)."""
    graph = WorkflowGraph()
    src = Readings(n)
    counted = window.count(4, 2, by=0)
    counted.numprocesses = 2
    shared = window.time(10, time=reading_time, by=0, lateness=2)
    per_key = window.time(10, time=reading_time, by=0, slide=5, watermark="key")
    per_key.numprocesses = 2
    for pe in (counted, shared, per_key):
        graph.connect(src, "output", pe, "input")
    return graph, {src: 1}


ENDLESS = 2**62
"""Iterations enough for a source that ends itself (:func:`source_ends_itself`)."""


def source_ends_itself(n: int = 250):
    """Sources that end themselves (d4p.StopSource) long before their inputs
    run out: one given 2**62 iterations stops in the middle of a call after
    ``n`` units → 'global' total; a generator over input items stops after
    the -4 (whose units count) → double ×2 → total. Everything written
    before the end is processed and every postprocess runs."""
    graph = WorkflowGraph()
    finite, items, double = Finite(n), until_negative(), Double()
    double.numprocesses = 2
    graph.connect(finite, "output", Total("global"), "input")
    graph.connect(items, "output", double, "input")
    graph.connect(double, "output", Total(), "input")
    return graph, {finite: ENDLESS, items: [3, 0, 5, -4, 7, 100]}


def numpy_arrays(count: int = 6, size: int = 100_000):
    """NumPy payloads: arrays of ``size`` floats through scale ×2 → stats; the
    scaled arrays themselves are results too."""
    graph = WorkflowGraph()
    src, scale, stats = Arrays(count, size), ScaleArray(), ArrayStats()
    scale.numprocesses = 2
    graph.connect(src, "output", scale, "input")
    graph.connect(scale, "output", stats, "input")
    return graph, {src: 1}


def reused_buffer(n: int = 12):
    """numbers → Buffered (writes its list of 3, then clears it) → BatchTotal ×2:
    each mapping sends what was written, not the list as it is later."""
    graph = WorkflowGraph()
    buffered, total = Buffered(), BatchTotal()
    total.numprocesses = 2
    graph.connect(Numbers(n), "output", buffered, "input")
    graph.connect(buffered, "batch", total, "input")
    return graph, 1


def wordcount():
    """The core's word count example, small: the words counted by d4p.aggregate.count
    (3 instances, partial counts next to the producer) → d4p.aggregate.top."""
    from ..examples import wordcount as build

    return build(words=3000, vocabulary=40, counters=3, top=40, seed=3)


def failure(n: int = 8):
    """numbers → spell → Fragile ×2 (group_by the number), which raises on (5, 'five')
    in instance 1."""
    return _spelled_into(Fragile, n)


def unpicklable(where: str, n: int = 3) -> WorkflowGraph:
    """numbers → Locked → Unlocked ×2: data pickle cannot copy travels
    ``"between"`` Locked and the other process's Unlocked, or is a
    ``"result"`` (Unlocked left out): in one process it runs, across
    processes the run fails naming the PE and output."""
    return _across(Locked(), Unlocked, where, n)


def unloadable(where: str, n: int = 3) -> WorkflowGraph:
    """numbers → Gaps → Tag ×2: data that pickles but does not load in
    another process, ``"between"`` Gaps and the other process's Tag or as a
    ``"result"`` (Tag left out), as :func:`unpicklable`."""
    return _across(Gaps(), Tag, where, n)


def _across(writer: GenericPE, reader: type, where: str, n: int) -> WorkflowGraph:
    graph = WorkflowGraph()
    numbers = Numbers(n)
    graph.connect(numbers, "output", writer, "input")
    if where == "between":
        pe = reader()
        pe.numprocesses = 2
        graph.connect(writer, "output", pe, "input")
    else:
        writer.numprocesses = 2
    return graph


def user_mistake(n: int = 10):
    """numbers → spell → CheckRate ×2 (group_by the number), which raises a
    d4p.UsageError on station 7: the run fails with the PE's one line."""
    return _spelled_into(CheckRate, n)


def _spelled_into(cls: type, n: int):
    graph = WorkflowGraph()
    src, spell, pe = Numbers(n), Spell(), cls()
    pe.numprocesses = 2
    graph.connect(src, "output", spell, "input")
    graph.connect(spell, "output", pe, "input")
    return graph, {src: 1}


# -- data-plane shapes (tests and bench/dataplane.py) -----------------------------------


class Ramp(ProducerPE):
    """Writes ``(i, array)`` for ``i < count``: ``elements`` float64 values, all ``i``."""

    def __init__(self, count: int, elements: int) -> None:
        super().__init__()
        self.count, self.elements = count, elements

    def _process(self, inputs):
        for i in range(self.count):
            self.write("output", (i, np.full(self.elements, float(i))))


class Twice(IterativePE):
    """``(i, array)`` → ``(i, 2 * array)``."""

    def _process(self, data):
        i, array = data
        return i, array * 2.0


class CheckTwice(GenericPE):
    """'global', ``pause`` seconds a unit (slower than the producer): counts
    the units and those whose array is intact; writes ``(seen, intact)``."""

    def __init__(self, elements: int, pause: float) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.elements, self.pause = elements, pause
        self.seen = self.intact = 0

    def process(self, inputs):
        import time

        i, array = inputs["input"]
        time.sleep(self.pause)
        self.seen += 1
        self.intact += int(array.shape == (self.elements,)
                           and float(array.sum()) == 2.0 * i * self.elements)

    def postprocess(self):
        self.write("output", (self.seen, self.intact))


def large_arrays(count: int, elements: int = 1 << 18, pause: float = 0.002) -> WorkflowGraph:
    """Large NumPy units through a slow end: Ramp → Twice (2 instances) →
    CheckTwice ('global'); writes ``[(count, count)]`` when every array arrived
    intact."""
    graph = WorkflowGraph()
    twice = Twice()
    twice.numprocesses = 2
    graph.connect(Ramp(count, elements), "output", twice, "input")
    graph.connect(twice, "output", CheckTwice(elements, pause), "input")
    return graph


class PeakMemory:
    """This process's peak resident memory from now on (Linux): made in a
    PE's ``preprocess``, it says in ``postprocess`` how much that grew."""

    def __init__(self) -> None:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # the peak (VmHWM) is now what is resident
        self.start = self._status("VmRSS")

    def growth(self) -> int:
        """Bytes by which the peak exceeds what was resident at the start."""
        return self._status("VmHWM") - self.start

    @staticmethod
    def _status(field: str) -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) << 10 for line in status if line.startswith(field))


def _sevenths(n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[::7] = True
    return mask


class MaskedAndStrided(ProducerPE):
    """Writes ``(i, array)`` for ``i < count``, ``nbytes`` of float64 values
    ``i`` each: masked arrays (every 7th value masked) and strided views (a
    column of a 2-column array) by turns."""

    def __init__(self, count: int, nbytes: int) -> None:
        super().__init__()
        self.count, self.nbytes = count, nbytes

    def _process(self, inputs):
        n = self.nbytes // 8
        for i in range(self.count):
            if i % 2:
                unit = np.ma.masked_array(np.full(n, float(i)), mask=_sevenths(n))
            else:
                unit = np.full((n, 2), float(i))[:, 1]
            self.write("output", (i, unit))


class ForwardAndGrowth(IterativePE):
    """Forwards units; at the end writes ``("grew", bytes)``: how much its
    process's peak resident memory grew during the run."""

    def preprocess(self):
        self.peak = PeakMemory()

    def _process(self, unit):
        return unit

    def postprocess(self):
        self.write("output", ("grew", self.peak.growth()))


class CheckAndGrowth(GenericPE):
    """'global': counts the units of :class:`MaskedAndStrided` that arrived
    as they were written; writes that count and the largest growth of peak
    resident memory of its own process and of those it heard of."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.good, self.grew = 0, []

    def preprocess(self):
        self.peak = PeakMemory()

    def process(self, inputs):
        i, unit = inputs["input"]
        if i == "grew":
            self.grew.append(unit)
        elif i % 2:
            self.good += int(type(unit) is np.ma.MaskedArray and bool((unit.data == i).all())
                             and np.array_equal(unit.mask, _sevenths(len(unit))))
        else:
            self.good += int(type(unit) is np.ndarray and bool((unit == i).all()))

    def postprocess(self):
        self.grew.append(self.peak.growth())
        self.write("output", (self.good, max(self.grew)))


def masked_and_strided(count: int, nbytes: int) -> WorkflowGraph:
    """Masked arrays and strided views of ``nbytes`` through memory-watching
    PEs (Linux): MaskedAndStrided → ForwardAndGrowth (2 instances) →
    CheckAndGrowth ('global'); writes ``[(count, grew)]`` when every array
    arrived intact, ``grew`` the largest growth of a worker's peak memory."""
    graph = WorkflowGraph()
    forward = ForwardAndGrowth()
    forward.numprocesses = 2
    graph.connect(MaskedAndStrided(count, nbytes), "output", forward, "input")
    graph.connect(forward, "output", CheckAndGrowth(), "input")
    return graph


class Keyed(ProducerPE):
    """Writes ``(i % keys, i)`` for ``offset <= i < offset + units``."""

    def __init__(self, units: int, offset: int = 0, keys: int = 97) -> None:
        super().__init__()
        self.units, self.offset, self.keys = units, offset, keys

    def _process(self, inputs):
        write, keys = self.write, self.keys
        for i in range(self.offset, self.offset + self.units):
            write("output", (i % keys, i))


class Value(GenericPE):
    """Grouped by key (``[0]``); writes the value of each ``(key, value)``."""

    def __init__(self, numprocesses: int = 3) -> None:
        super().__init__(numprocesses=numprocesses)
        self._add_input("input", grouping=[0])
        self._add_output("output")

    def process(self, inputs):
        return {"output": inputs["input"][1]}


def mutual(units: int, keys: int = 97) -> WorkflowGraph:
    """Processes that send to each other: two Keyed producers → Value (3
    instances, by key) → Total ('global'); writes ``[(n, n * (n - 1) // 2)]``
    with ``n = 2 * units``."""
    graph = WorkflowGraph()
    value = Value()
    graph.connect(Keyed(units, 0, keys), "output", value, "input")
    graph.connect(Keyed(units, units, keys), "output", value, "input")
    graph.connect(value, "output", Total("global"), "input")
    return graph


# -- endless streams (tests of stopping) -------------------------------------------------


class Endless(ProducerPE):
    """Writes 0, 1, 2, ... forever, in one iteration: only a stop ends it."""

    def _process(self, inputs):
        i = 0
        while True:
            self.write("output", i)
            i += 1


class Count(GenericPE):
    """Counts units ('global'); writes the count in postprocess, after
    sleeping ``pause_at_end`` seconds there."""

    def __init__(self, pause_at_end: float = 0.0) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.n = 0
        self.pause_at_end = pause_at_end

    def process(self, inputs):
        self.n += 1

    def postprocess(self):
        if self.pause_at_end:
            import time

            time.sleep(self.pause_at_end)
        self.write("output", self.n)


def endless(pause_at_end: float = 0.0) -> WorkflowGraph:
    """An endless source → a 'global' count, which writes ``[count]`` when the
    run is stopped (``Count1.output``)."""
    graph = WorkflowGraph()
    graph.connect(Endless(), "output", Count(pause_at_end), "input")
    return graph


class Tallied(ProducerPE):
    """Writes 1, 2, 3, ... forever, in one iteration, like :class:`Endless`;
    its ``postprocess`` writes on ``tally`` how many it began to write (a
    source that writes after a stop: the rest of a buffer, a summary)."""

    def __init__(self) -> None:
        super().__init__()
        self._add_output("tally")

    def preprocess(self):
        self.n = 0

    def _process(self, inputs):
        while True:
            self.n += 1
            self.write("output", self.n)

    def postprocess(self):
        self.write("tally", self.n)


def tallied() -> tuple[WorkflowGraph, Tallied, Count]:
    """:class:`Tallied` → a 'global' :class:`Count`, and those two PEs."""
    graph, source, count = WorkflowGraph(), Tallied(), Count()
    graph.connect(source, "output", count, "input")
    return graph, source, count


ENDLESS_FILE = "from d4p.testing.workflows import endless\n\ngraph = endless()\n"
"""A workflow file for ``d4p run``: :func:`endless`."""


class StdinLines(ProducerPE):
    """Writes each line of the run's standard input, stripped; between lines
    its one call waits for the next, as long as it takes."""

    def _process(self, inputs):
        import sys

        for line in sys.stdin:
            self.write("output", line.strip())


class Show(ConsumerPE):
    """Prints ``got UNIT`` as soon as a unit arrives."""

    def _process(self, data):
        print("got", data, flush=True)


def stdin_lines() -> WorkflowGraph:
    """:class:`StdinLines` → :class:`Show`: run with ``-n 2 --no-fuse``, the
    lines cross from one process to another."""
    graph = WorkflowGraph()
    graph.connect(StdinLines(), "output", Show(), "input")
    return graph


STDIN_FILE = "from d4p.testing.workflows import stdin_lines\n\ngraph = stdin_lines()\n"
"""A workflow file for ``d4p run``: :func:`stdin_lines`."""


def burst_while_waiting(proc) -> tuple[list[str], str, str]:
    """Drive ``d4p run`` of :data:`STDIN_FILE` (``proc``, a ``subprocess.Popen``
    with text pipes): write three lines at once, read the three lines it
    prints while its source waits for more, then write one more line and end
    its input. Returns the burst's lines, the rest of stdout and stderr. A
    burst that has not arrived after 30 s ends the run (lines are missing)."""
    import threading

    guard = threading.Timer(30, proc.kill)
    guard.start()
    try:
        proc.stdin.write("a\nb\nc\n")
        proc.stdin.flush()
        burst = [proc.stdout.readline() for _ in range(3)]
        out, err = proc.communicate("d\n")
    finally:
        guard.cancel()
        proc.kill()
    return burst, out, err


def stop_while_waiting(argv: list[str], signum: int | None = None) -> tuple[int | None, str, str]:
    """Run ``argv`` (``d4p run`` of :data:`STDIN_FILE`), write two lines to its
    stdin and keep it open, so that the source waits for a third; once both
    are printed, send ``signum`` (``None``: the run's ``--stop-after`` stops
    it). Returns the exit status (``None``: still running 30 s later, and
    killed), stdout and stderr."""
    import os
    import subprocess

    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write("a\nb\n")
        proc.stdin.flush()
        printed = proc.stdout.readline() + proc.stdout.readline()
        if signum is not None:
            os.kill(proc.pid, signum)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            code = None
        proc.kill()
        proc.stdin.close()
        return code, printed + proc.stdout.read(), proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


NOTEBOOK_CELL = """
import sys
import types

CELL = \'\'\'
from dataclasses import dataclass

import d4p

@dataclass
class Point:
    x: int
    y: int

class Points(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(5):
            self.write("output", Point(i, i * i))

class Move(d4p.IterativePE):
    def _process(self, p):
        return Point(p.x + 1, p.y)

graph = d4p.WorkflowGraph()
move = Move()
move.numprocesses = 2
graph.connect(Points(), "output", move, "input")
result = d4p.run(graph, mapping=MAPPING, processes=3, **OPTIONS)
print("RESULT", sorted((p.x, p.y) for p in result[move.id]["output"]))
\'\'\'

main = types.ModuleType("__main__")  # as in a Jupyter kernel: a __main__ of no file
sys.modules["__main__"] = main
main.MAPPING = sys.argv[1]
main.OPTIONS = dict(arg.split("=", 1) for arg in sys.argv[2:])
exec(compile(CELL, "<ipython-input-1>", "exec"), vars(main))
"""
"""A script (``python kernel.py MAPPING [OPTION=VALUE ...]``) that runs a
workflow as a Jupyter cell does: its classes, a dataclass of data units among
them, live in a ``__main__`` of no file. It prints ``RESULT [(1, 0), (2, 1),
(3, 4), (4, 9), (5, 16)]``."""


SETUP_WORKFLOW = """
import logging

import numpy as np

import d4p
from d4p.examples import NumberProducer

logging.basicConfig(level=logging.INFO, format="LOG %(levelname)s %(name)s: %(message)s")
logging.getLogger("quiet").setLevel(logging.WARNING)
np.seterr(divide="raise")


class Logs(d4p.IterativePE):
    def _process(self, x):
        logging.getLogger("wf").info("unit %s", x)
        logging.getLogger("quiet").info("not shown %s", x)
        try:
            np.float64(1.0) / np.float64(0.0)
        except FloatingPointError:
            return "raised"
        return "warned"


graph = d4p.WorkflowGraph()
graph.connect(NumberProducer(3), "output", Logs(), "input")
"""
"""A workflow file that sets up logging and NumPy's error handling at its top,
as a script does, and a PE that logs and divides by zero. On every mapping its
run's stderr has ``LOG INFO wf: unit 0`` (and 1, 2: :data:`LOGGED`) and no line
of logger ``quiet``, and its output is ``"raised"`` three times."""
LOGGED = ["LOG INFO wf: unit 0", "LOG INFO wf: unit 1", "LOG INFO wf: unit 2"]
"""The log lines of a run of :data:`SETUP_WORKFLOW`."""
