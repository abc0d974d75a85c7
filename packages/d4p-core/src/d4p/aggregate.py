"""Aggregations as PEs: count, sum, min, max, mean, variance, std, top-k,
distinct count, and :func:`custom` from ``(create, add, merge[, finish])``.

An aggregate is an ordinary PE (input ``'input'``, output ``'output'``) that
you connect, draw and monitor like any other::

    import d4p
    from d4p import aggregate

    graph = d4p.WorkflowGraph()
    counts = aggregate.count(by=0)          # (word,) units → (word, n)
    counts.numprocesses = 2
    graph.connect(words, "output", counts, "input")

It is *global* (one instance, writes one result at the end of the stream) or
*keyed* with ``by=`` in the forms :func:`d4p.group_by` takes: a tuple index,
a tuple of indices or a key function; a keyed aggregate writes ``(key,
result)`` per key at the end of the stream. Keys compare as in a dict, but
all NaN keys (alone or in a tuple) are one key, ``math.nan``. ``value=`` (an index or a
function) picks what is aggregated from each unit; by default the unit.

**Combining.** Every aggregate is a monoid (its *combiner*): ``create()``
makes an empty state, ``add(state, value)`` folds one value in,
``merge(a, b)`` joins two states and ``finish(state)`` gives the result.
Before a run, :func:`split_aggregates` (called by the plan) puts a *partial*
aggregate behind every PE that feeds one: it runs in the same process as that
PE (fused, no communication), folds units into per-key states and writes
``(key, state)`` pairs, which the aggregate itself merges after the group-by
(or 'global') exchange. So partial states cross process boundaries, not
units. A partial holds at most ``partial_size`` keys (global: folds at most
``partial_size`` units) before it writes what it holds and starts again, so
its memory stays bounded whatever the stream; it also writes at the end of
the stream. A mapping may merge the states natively (Spark: ``reduceByKey``).

**Same result everywhere.** ``simple`` gives the reference; every mapping
gives the same result, exactly for integers (sums, means and variances of
ints are computed on exact integers). Floating-point sums (sum, mean,
variance, std) are added in a different order when states are merged, so they
agree within 1e-12 relative, not bit for bit. ``top`` keeps the first of
equal-ranked units it sees: give it a ranking without ties (add a
tie-breaker) for the same units in every mapping.
"""

from __future__ import annotations

import functools
import heapq
import math
import operator
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import D4PError, UsageError
from .graph import WorkflowGraph
from .grouping import GLOBAL, group_by, misfit, normalise, one_key
from .pe import GROUPING, GenericPE, IterativePE, UnitFailed

__all__ = [
    "PARTIAL", "AggregateError", "AggregatePE", "Combiner", "PartialAggregatePE", "count",
    "custom", "distinct", "max", "mean", "min", "split_aggregates", "std", "sum", "top",
    "variance",
]

PARTIAL = "partial"
"""Input port of an aggregate that receives partial states: ``(key, state)``
pairs when keyed, states when global. The plan connects it; users need not."""

PARTIAL_SIZE = 65_536
"""Default bound of a partial aggregate: keys held (keyed) or units folded (global)."""


class AggregateError(D4PError):
    """An aggregate's ``add`` or ``merge`` raised: the message names the key."""


@dataclass(frozen=True)
class Combiner:
    """The monoid of an aggregate. ``add`` and ``merge`` return the new state
    (they may update and return their first argument). ``empty``: whether a
    global aggregate writes ``finish(create())`` on an empty stream (count: 0)
    or nothing (min, mean: no value). ``each``: the value every unit adds, when
    it does not depend on the unit (count: 1, added with ``operator.add``)."""

    create: Callable[[], Any]
    add: Callable[[Any, Any], Any]
    merge: Callable[[Any, Any], Any]
    finish: Callable[[Any], Any] | None = None
    empty: bool = True
    each: Any = None
    """What every unit adds, when that does not depend on the unit (count: 1)."""

    def result(self, state: Any) -> Any:
        return state if self.finish is None else self.finish(state)


class AggregatePE(GenericPE):
    """A PE that aggregates its input with a :class:`Combiner`, globally or by
    key. Make one with the functions of this module (:func:`count`, …). It
    merges the partial states it receives a batch at a time
    (:meth:`process_batch`)."""

    batch_inputs = frozenset({PARTIAL})

    def __init__(self, combiner: Combiner, by: Any = None, value: Any = None, *,
                 name: str = "aggregate", partial_size: int = PARTIAL_SIZE,
                 numprocesses: int = 1) -> None:
        super().__init__(numprocesses)
        self.name = self.id = name
        self.combiner = combiner
        self.key = _key_function(name, by)
        self.value = _value_function(name, value)
        self.fields = {what: given for what, given in (("by", by), ("value", value))
                       if given is not None and not callable(given)}
        if combiner.each is not None:
            self.value = functools.partial(_constant, combiner.each)
        if isinstance(partial_size, bool) or not isinstance(partial_size, int) \
                or partial_size < 1:
            raise UsageError(f"{name}: partial_size must be a positive integer, "
                             f"not {partial_size!r}")
        self.partial_size = partial_size
        if by is None:
            self._add_input("input", grouping=GLOBAL)
            self._add_input(PARTIAL, grouping=GLOBAL)
        else:
            keys = (by,) if isinstance(by, int) else tuple(by) if not callable(by) else ()
            self._add_input("input", grouping=group_by(*keys) if keys else group_by(key=by))
            self._add_input(PARTIAL, grouping=group_by(0))
        self._add_output("output")
        self.states: dict[Any, Any] = {}

    @property
    def keyed(self) -> bool:
        return self.key is not None

    def merge(self, a: Any, b: Any) -> Any:
        """Merge two partial states (what Spark's ``reduceByKey`` calls)."""
        return self.combiner.merge(a, b)

    def partial(self, numprocesses: int = 1) -> PartialAggregatePE:
        """A partial aggregate to run behind a PE with ``numprocesses`` instances."""
        return PartialAggregatePE(self, numprocesses)

    def process(self, inputs):
        if PARTIAL in inputs:
            try:
                self.process_batch(PARTIAL, (inputs[PARTIAL],))
            except UnitFailed as exc:
                raise exc.error from None
            return
        c, states = self.combiner, self.states
        data = inputs["input"]
        try:
            key = None if self.key is None else one_key(self.key(data))
            value = data if self.value is None else self.value(data)
        except Exception as exc:
            raise _misread(self, data, exc) from None
        old = states.get(key, _MISSING)
        states[key] = _guard(key, "add", c.add, c.create() if old is _MISSING else old, value)

    def process_batch(self, port: str, units: Sequence) -> None:
        """Merge the partial states ``units`` (``(key, state)`` pairs when keyed)."""
        if port != PARTIAL:
            return super().process_batch(port, units)
        states, merge, keyed = self.states, self.combiner.merge, self.key is not None
        for unit in units:
            try:
                key, state = unit if keyed else (None, unit)
            except Exception as exc:
                raise UnitFailed(unit, exc) from None
            key = one_key(key)
            old = states.get(key, _MISSING)
            if old is _MISSING:
                states[key] = state
                continue
            try:
                states[key] = merge(old, state)
            except Exception as exc:
                raise UnitFailed(unit, _failed("merge", key, exc)) from exc

    def postprocess(self):
        c = self.combiner
        if self.key is None:
            if None in self.states:
                self.write("output", c.result(self.states.pop(None)))
            elif c.empty:
                self.write("output", c.result(c.create()))
            return
        for key, state in self.states.items():
            self.write("output", (key, c.result(state)))
        self.states.clear()


class PartialAggregatePE(IterativePE):
    """Folds units into bounded partial states for an :class:`AggregatePE`;
    the plan places one behind each PE that feeds an aggregate. The executor
    hands it lists of units (:meth:`process_batch`), not one call per unit."""

    batch_inputs = frozenset({"input"})

    def __init__(self, final: AggregatePE, numprocesses: int = 1) -> None:
        super().__init__()
        self.name = self.id = final.name
        self.numprocesses = numprocesses
        self.create, self.add = final.combiner.create, final.combiner.add
        self.key = final.key
        self.value = final.value
        self.fields = final.fields
        self.each = final.combiner.each
        self.bound = final.partial_size
        # a count by key: every unit adds 1 to an int, so a Counter counts them (in C)
        self.counting = self.key is not None and self.each == 1 \
            and self.add is operator.add and self.create is _zero
        self.states: dict[Any, Any] = Counter() if self.counting else {}
        self.folded = 0

    def _process(self, data):
        try:
            self.process_batch("input", (data,))
        except UnitFailed as exc:
            raise exc.error from None

    def process_batch(self, port: str, units: Sequence) -> None:
        """Fold ``units`` in order, writing the states held whenever the bound
        is reached. A unit that fails raises :class:`d4p.pe.UnitFailed` naming it."""
        states = self.states
        if self.counting and len(states) + len(units) < self.bound:
            try:
                states.update(map(self.key, units))
            except Exception:
                for data in units:  # the first unit whose key fails
                    try:
                        self.key(data)
                    except Exception as exc:
                        raise UnitFailed(data, _misread(self, data, exc)) from None
                raise
        elif self.key is None:
            self._fold_global(units)
        else:
            self._fold_keyed(units)

    def _fold_keyed(self, units: Sequence) -> None:
        states, bound, key, value, each = self.states, self.bound, self.key, self.value, self.each
        add, create = self.add, self.create
        for data in units:
            try:
                k = key(data)
                old = states.get(k, _MISSING)
                v = each if each is not None else data if value is None else value(data)
            except Exception as exc:
                raise UnitFailed(data, _misread(self, data, exc)) from None
            try:
                states[k] = add(create() if old is _MISSING else old, v)
            except Exception as exc:
                raise UnitFailed(data, _failed("add", k, exc)) from exc
            if old is _MISSING and len(states) >= bound:
                self.flush()

    def _fold_global(self, units: Sequence) -> None:
        states, bound, value, each, add = self.states, self.bound, self.value, self.each, self.add
        state = states.pop(None, _MISSING)
        for data in units:
            try:
                v = each if each is not None else data if value is None else value(data)
            except Exception as exc:
                raise UnitFailed(data, _misread(self, data, exc)) from None
            try:
                state = add(self.create() if state is _MISSING else state, v)
            except Exception as exc:
                raise UnitFailed(data, _failed("add", None, exc)) from exc
            self.folded += 1
            if self.folded >= bound:
                states[None], state = state, _MISSING
                self.flush()
        if state is not _MISSING:
            states[None] = state

    def flush(self) -> None:
        """Write every partial state held, then hold none."""
        if not self.states:
            return
        write = self.write
        if self.key is None:
            write("output", self.states.pop(None))
        else:
            for pair in self.states.items():
                write("output", pair)
            self.states.clear()
        self.folded = 0

    def postprocess(self):
        self.flush()


_MISSING = object()  # never leaves the process that compares with it


def _misread(pe: AggregatePE | PartialAggregatePE, data: Any, exc: Exception) -> Exception:
    """What to raise when ``pe`` could not take the key or value of ``data``:
    a :class:`~d4p.UsageError` when ``by=`` or ``value=`` names fields that
    ``data`` lacks, else ``exc`` (the user's function failed)."""
    for what, get in (("by", pe.key), ("value", pe.value)):
        if what in pe.fields:
            try:
                get(data)
            except Exception as err:
                return misfit(what, pe.fields[what], data, err)
    return exc


def _guard(key: Any, step: str, fn: Callable, state: Any, value: Any) -> Any:
    try:
        return fn(state, value)
    except Exception as exc:
        raise _failed(step, key, exc) from exc


def _failed(step: str, key: Any, exc: Exception) -> AggregateError:
    """The error of a failing add or merge names the step and the key (the
    executor adds the PE, instance, port and data unit)."""
    of = "" if key is None else f" of key {_short(key)}"
    return AggregateError(f"{step}{of} failed: {type(exc).__name__}: {exc}")


def _short(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 80 else text[:77] + "..."


def _key_function(name: str, by: Any) -> Callable[[Any], Hashable] | None:
    if by is None:
        return None
    if callable(by):
        return by
    if isinstance(by, int) and not isinstance(by, bool):
        return operator.itemgetter(by)
    if isinstance(by, Sequence) and not isinstance(by, str) and by \
            and all(isinstance(i, int) and not isinstance(i, bool) for i in by):
        return operator.itemgetter(*by)
    raise UsageError(f"{name}: by= must be a tuple index, a tuple of indices or a key "
                     f"function (the forms d4p.group_by takes), not {by!r}")


def _value_function(name: str, value: Any) -> Callable[[Any], Any] | None:
    if value is None or callable(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return operator.itemgetter(value)
    raise UsageError(f"{name}: value= must be a tuple index or a function, not {value!r}")


# -- the combiners -------------------------------------------------------------------


def _zero() -> int:
    return 0


def _none() -> None:
    return None


def _constant(value: Any, data: Any) -> Any:
    return value


def _min(state: Any, value: Any) -> Any:
    return value if state is None or (value is not None and value < state) else state


def _max(state: Any, value: Any) -> Any:
    return value if state is None or (value is not None and value > state) else state


def _moments() -> list:
    return [0, 0, 0]


def _moments_add(state: list, value: Any) -> list:
    """``[n, sum, sum of squares]`` while the values are ints (exact), then
    ``[n, mean, M2]`` as floats (Welford), marked by a float ``n``."""
    if type(state[0]) is int and isinstance(value, int):
        state[0] += 1
        state[1] += value
        state[2] += value * value
        return state
    n, mean, m2 = _as_float_moments(state)
    n += 1.0
    delta = value - mean
    mean += delta / n
    m2 += delta * (value - mean)
    state[:] = [n, mean, m2]
    return state


def _as_float_moments(state: list) -> tuple[float, float, float]:
    n, s, ss = state
    if type(n) is not int:
        return n, s, ss
    if n == 0:
        return 0.0, 0.0, 0.0
    return float(n), s / n, (n * ss - s * s) / n


def _moments_merge(a: list, b: list) -> list:
    if type(a[0]) is int and type(b[0]) is int:
        return [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
    (na, ma, qa), (nb, mb, qb) = _as_float_moments(a), _as_float_moments(b)
    n = na + nb
    if n == 0:
        return [0.0, 0.0, 0.0]
    delta = mb - ma
    return [n, ma + delta * nb / n, qa + qb + delta * delta * na * nb / n]


def _mean_of(state: list) -> float | None:
    n, s, _ = state
    if not n:
        return None
    return s / n if type(n) is int else s


def _variance_of(state: list, ddof: int = 0) -> float | None:
    n, s, ss = state
    if n - ddof <= 0:
        return None
    if type(n) is int:  # exact: (n·Σx² − (Σx)²) / (n·(n − ddof)), one rounding
        return (n * ss - s * s) / (n * (n - ddof))
    return ss / (n - ddof)


def _std_of(state: list, ddof: int = 0) -> float | None:
    v = _variance_of(state, ddof)
    return None if v is None else math.sqrt(v)


def _set() -> set:
    return set()


def _set_add(state: set, value: Any) -> set:
    state.add(value)
    return state


def _set_merge(a: set, b: set) -> set:
    if len(a) < len(b):
        a, b = b, a
    a |= b
    return a


def _list() -> list:
    return []


class _Top:
    """State: a list of ``(rank, unit)``, trimmed to the best ``k`` when it
    doubles (amortised constant work per unit)."""

    def __init__(self, k: int, rank: Callable | None, smallest: bool) -> None:
        self.k, self.rank, self.smallest = k, rank, smallest

    def best(self, pairs: list) -> list:
        pick = heapq.nsmallest if self.smallest else heapq.nlargest
        return pick(self.k, pairs, key=operator.itemgetter(0))

    def add(self, state: list, value: Any) -> list:
        state.append((value if self.rank is None else self.rank(value), value))
        if len(state) >= 2 * self.k:
            state[:] = self.best(state)
        return state

    def merge(self, a: list, b: list) -> list:
        return self.best(a + b)

    def finish(self, state: list) -> list:
        return [unit for _, unit in self.best(state)]


# -- the public constructors ---------------------------------------------------------


def count(by: Any = None, **options: Any) -> AggregatePE:
    """The number of units (per key, with ``by``)."""
    return AggregatePE(Combiner(_zero, operator.add, operator.add, each=1), by, name="count", **options)


def sum(by: Any = None, value: Any = None, **options: Any) -> AggregatePE:
    """The sum of the values (exact for ints; floats: see the module notes)."""
    return AggregatePE(Combiner(_zero, operator.add, operator.add), by, value, name="sum", **options)


def min(by: Any = None, value: Any = None, **options: Any) -> AggregatePE:
    """The smallest value; a global min of an empty stream writes nothing."""
    return AggregatePE(Combiner(_none, _min, _min, empty=False), by, value, name="min",
                       **options)


def max(by: Any = None, value: Any = None, **options: Any) -> AggregatePE:
    """The largest value; a global max of an empty stream writes nothing."""
    return AggregatePE(Combiner(_none, _max, _max, empty=False), by, value, name="max",
                       **options)


def mean(by: Any = None, value: Any = None, **options: Any) -> AggregatePE:
    """The arithmetic mean (exactly rounded for ints)."""
    return AggregatePE(Combiner(_moments, _moments_add, _moments_merge, _mean_of, empty=False),
                       by, value, name="mean", **options)


def variance(by: Any = None, value: Any = None, ddof: int = 0, **options: Any) -> AggregatePE:
    """The variance (``ddof=1``: the sample variance); ``None`` for a key with
    too few values. Exactly rounded for ints; Welford/Chan for floats."""
    return AggregatePE(Combiner(_moments, _moments_add, _moments_merge,
                                functools.partial(_variance_of, ddof=ddof), empty=False),
                       by, value, name="variance", **options)


def std(by: Any = None, value: Any = None, ddof: int = 0, **options: Any) -> AggregatePE:
    """The standard deviation, the square root of :func:`variance`."""
    return AggregatePE(Combiner(_moments, _moments_add, _moments_merge,
                                functools.partial(_std_of, ddof=ddof), empty=False),
                       by, value, name="std", **options)


def top(k: int, by: Any = None, rank: Any = None, smallest: bool = False,
        **options: Any) -> AggregatePE:
    """The ``k`` units with the largest ``rank(unit)`` (an index or a function;
    by default the unit), best first; ``smallest=True``: the smallest. The
    result is a list of units. Word count's top ten, most frequent first and
    ties by word: ``top(10, rank=lambda wc: (-wc[1], wc[0]), smallest=True)``."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise UsageError(f"top: k must be a positive integer, not {k!r}")
    best = _Top(k, _value_function("top", rank), smallest)
    return AggregatePE(Combiner(_list, best.add, best.merge, best.finish), by, name="top",
                       **options)


def distinct(by: Any = None, value: Any = None, **options: Any) -> AggregatePE:
    """The number of distinct values (exact: the states are sets of values)."""
    return AggregatePE(Combiner(_set, _set_add, _set_merge, len), by, value, name="distinct",
                       **options)


def custom(create: Callable[[], Any], add: Callable[[Any, Any], Any],
           merge: Callable[[Any, Any], Any], finish: Callable[[Any], Any] | None = None, *,
           by: Any = None, value: Any = None, empty: bool = True, name: str = "aggregate",
           **options: Any) -> AggregatePE:
    """An aggregate from its monoid: ``create()`` an empty state, ``add(state,
    value)`` and ``merge(a, b)`` return the new state, ``finish(state)`` the
    result (default: the state). ``merge`` must be associative and
    commutative, with ``create()`` as identity: states are merged in any
    order. ``empty=False``: a global aggregate of an empty stream writes
    nothing instead of ``finish(create())``."""
    for what, fn in (("create", create), ("add", add), ("merge", merge)):
        if not callable(fn):
            raise UsageError(f"{name}: {what} must be a function, not {fn!r}")
    if finish is not None and not callable(finish):
        raise UsageError(f"{name}: finish must be a function, not {finish!r}")
    return AggregatePE(Combiner(create, add, merge, finish, empty), by, value, name=name,
                       **options)


# -- the plan rewrite ----------------------------------------------------------------


def split_aggregates(graph: WorkflowGraph) -> WorkflowGraph:
    """A copy of the flat ``graph`` where every edge into the ``'input'`` of an
    aggregate goes through a partial aggregate instead: ``U → A.input``
    becomes ``U → A.partial → A.partial(port)``, the partial with as many
    instances as ``U`` (so the plan fuses it into ``U``'s processes) and in
    ``U``'s partition. ``graph`` itself is returned when it holds no
    aggregate with an upstream PE."""
    flat = graph.flattened()  # a copy with the same PE objects and ids
    feeding = [(a, pa, b) for a, pa, b, pb in flat.edges()
               if isinstance(b, AggregatePE) and pb == "input"]
    if not feeding:
        return graph
    partitions = [list(part) for part in graph.partitions] if graph.partitions else None
    numbered: dict[str, int] = {}
    for a, pa, b in feeding:
        flat.disconnect(a, pa, b, "input")
        partial = b.partial(_instances(flat, a))
        flat.connect(a, pa, partial, "input")
        n = numbered[b.id] = numbered.get(b.id, -1) + 1
        partial.id = f"{b.id}.partial" + (str(n) if n else "")
        flat.connect(partial, "output", b, PARTIAL)
        for part in partitions or ():
            if any(pe is a for pe in part):
                part.append(partial)
    flat.partitions = partitions
    return flat


def _instances(graph: WorkflowGraph, pe: GenericPE) -> int:
    """The instances the plan gives ``pe``: one for a source or a PE whose
    inputs are all 'global', else ``numprocesses``."""
    fed = [pb for _, _, b, pb in graph.edges() if b is pe]
    if not fed:
        return 1
    try:
        groupings = [normalise(port.get(GROUPING)) for port in pe.inputconnections.values()]
    except ValueError:
        return pe.numprocesses  # the plan reports the bad grouping
    if groupings and all(g == GLOBAL for g in groupings):
        return 1
    return pe.numprocesses
