"""``dispel4py.new.aggregate``: aggregations that run in parallel.

``parallelSum``, ``parallelCount``, ``parallelMin``, ``parallelMax``,
``parallelAvg`` and ``parallelStdDev`` are composites holding one
:mod:`d4p.aggregate` PE, so the plan counts next to the PEs that feed them
(partial states cross processes, not units; Spark merges them natively) and
one instance merges the partials. Data units are lists or tuples; ``indexes``
pick the positions aggregated. Each writes one value at the end, as in
dispel4py: ``parallelSum() -> [sum, ...]``, ``parallelCount() -> [count]``,
``parallelMin()`` / ``parallelMax() -> [value, ...]``, ``parallelAvg() ->
[average, count, sum]``, ``parallelStdDev() -> (stddev, count, sum, sum of
squares)``; the result is keyed by dispel4py's id of its merging PE
(``SumPE1``, ``CountReduce1``, ``MinPE1``, ``MaxPE1``, ``AverageReducePE1``,
``StdDevReducePE1``: the partial PE of dispel4py's composite takes the
number before it).

dispel4py's PE classes (``SumPE``, ``AverageParallelPE``, …) and
``parallel_aggregate(instPE, reducePE)`` remain for composites built by hand.

dispel4py bugs not reproduced (d4p follows the documented intent):
``MaxPE`` started from 0 (the maximum of negative numbers was 0); sums,
minima and maxima over ``indexes`` other than ``[0]`` read the wrong
positions; ``parallelAvg(index)`` ignored ``index``; an average or standard
deviation of no data raised ``ZeroDivisionError``; the standard deviation's
merge read the partials' fields shifted by one (it wrote the partials' count
as the sum and their standard deviation as the count); ``ContinuousReducePE``
wrote the same list object every time, so earlier outputs changed later.
The minimum, maximum and sum of no data are ``[None]``, ``[None]`` and
``[0]``; the average and standard deviation of no data write nothing.
"""

from __future__ import annotations

import math
import operator

from d4p import aggregate as d4p_aggregate

from ..core import GenericPE
from ..workflow_graph import WorkflowGraph, WorkflowNode

INPUT_NAME = "input"
OUTPUT_NAME = "output"


class _IndexedPE(GenericPE):
    INPUT_NAME = INPUT_NAME
    OUTPUT_NAME = OUTPUT_NAME
    start = 0

    def __init__(self, indexes=(0,)):
        GenericPE.__init__(self)
        self._add_input(INPUT_NAME)
        self._add_output(OUTPUT_NAME)
        self.indexes = list(indexes)
        self.value = [self.start for _ in self.indexes]


class AggregatePE(_IndexedPE):
    """Keeps ``self.value`` (one entry per index) and writes it at the end."""

    def _process(self, inputs):
        unit = inputs[INPUT_NAME]
        self.value = [self.combine(old, unit[i]) for old, i in zip(self.value, self.indexes,
                                                                    strict=True)]

    def combine(self, old, new):
        raise NotImplementedError

    def _postprocess(self):
        self.write(OUTPUT_NAME, list(self.value))


class ContinuousReducePE(_IndexedPE):
    """Writes ``self.value`` after every data unit; subclasses update it in
    ``_process(data)``."""

    def process(self, inputs):
        self._process(inputs[INPUT_NAME])
        self.write(OUTPUT_NAME, list(self.value))


class CountPE(AggregatePE):
    def __init__(self):
        AggregatePE.__init__(self, [0])

    def _process(self, inputs):
        self.value = [self.value[0] + 1]


class SumPE(AggregatePE):
    def combine(self, old, new):
        return old + new


class _ExtremePE(AggregatePE):
    start = None
    pick = staticmethod(min)

    def combine(self, old, new):
        if new is None:
            return old
        return new if old is None else self.pick(old, new)


class MinPE(_ExtremePE):
    pick = staticmethod(min)


class MaxPE(_ExtremePE):
    pick = staticmethod(max)


class _MomentsPE(GenericPE):
    """Count, sum and sum of squares of the values at ``self.index`` (a
    partial), or of the partials it receives (a merge: ``'global'``)."""

    INPUT_NAME = INPUT_NAME
    OUTPUT_NAME = OUTPUT_NAME
    merge = False

    def __init__(self, index=0):
        GenericPE.__init__(self)
        self._add_input(INPUT_NAME, grouping="global" if self.merge else None)
        self._add_output(OUTPUT_NAME)
        self.index = index
        self.sum = 0
        self.sum_squared = 0
        self.count = 0

    def _process(self, inputs):
        unit = inputs[INPUT_NAME]
        if self.merge:
            count, total, squares = self.moments_of(unit)
        else:
            v = unit[self.index]
            count, total, squares = 1, v, v * v
        self.count += count
        self.sum += total
        self.sum_squared += squares

    def _postprocess(self):
        if self.count:
            self.write(OUTPUT_NAME, self.result())


class AverageParallelPE(_MomentsPE):
    """The partial of an average: ``[average, count, sum]`` of its units."""

    def result(self):
        return [self.sum / self.count, self.count, self.sum]


class AverageReducePE(AverageParallelPE):
    """Merges ``[average, count, sum]`` partials."""

    merge = True

    def __init__(self):
        AverageParallelPE.__init__(self)

    @staticmethod
    def moments_of(partial):
        return partial[1], partial[2], 0


class StdDevPE(_MomentsPE):
    """The partial of a sample standard deviation:
    ``(stddev, count, sum, sum of squares)`` of its units."""

    def result(self):
        n, total, squares = self.count, self.sum, self.sum_squared
        stddev = None if n < 2 else math.sqrt(max(0.0, (n * squares - total * total)
                                                  / (n * (n - 1))))
        return (stddev, n, total, squares)


class StdDevReducePE(StdDevPE):
    """Merges ``(stddev, count, sum, sum of squares)`` partials."""

    merge = True

    def __init__(self):
        StdDevPE.__init__(self)

    @staticmethod
    def moments_of(partial):
        return partial[1], partial[2], partial[3]


def parallel_aggregate(instPE, reducePE) -> WorkflowGraph:  # noqa: N803 (dispel4py API)
    """A composite: ``instPE`` computes partials, ``reducePE`` (one instance,
    ``'global'`` grouping) merges them; input ``'input'``, output ``'output'``."""
    composite = WorkflowGraph()
    reducePE.inputconnections[INPUT_NAME]["grouping"] = "global"
    reducePE.numprocesses = 1
    composite.connect(instPE, OUTPUT_NAME, reducePE, INPUT_NAME)
    composite.inputmappings = {"input": (instPE, INPUT_NAME)}
    composite.outputmappings = {"output": (reducePE, OUTPUT_NAME)}
    return composite


class _Parts:
    """The monoid of several :mod:`d4p.aggregate` combiners side by side: a
    state is the list of theirs; ``picks[j]`` takes part *j*'s value from a
    unit (unused when the combiner adds a constant, as count does);
    ``result`` makes the output from the parts' results."""

    def __init__(self, makes, picks, result) -> None:
        self.combiners = [make().combiner for make in makes]
        self.picks = list(picks)
        self.result = result

    def create(self) -> list:
        return [c.create() for c in self.combiners]

    def add(self, state: list, unit) -> list:
        for j, (c, pick) in enumerate(zip(self.combiners, self.picks, strict=True)):
            state[j] = c.add(state[j], c.each if c.each is not None else pick(unit))
        return state

    def merge(self, a: list, b: list) -> list:
        return [c.merge(x, y) for c, x, y in zip(self.combiners, a, b, strict=True)]

    def finish(self, state: list):
        return self.result([c.result(s) for c, s in zip(self.combiners, state, strict=True)])


class _Square:
    """The square of position ``index`` of a unit."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, unit):
        v = unit[self.index]
        return v * v


def _average(parts: list) -> list:
    count, total = parts
    return [total / count, count, total]


def _std_dev(parts: list) -> tuple:
    return tuple(parts)


def _composite(name: str, parts: _Parts, empty: bool = True) -> WorkflowGraph:
    """A dispel4py composite (input ``'input'``, output ``'output'``) of one
    global d4p aggregate named ``name`` that computes ``parts``."""
    pe = d4p_aggregate.custom(parts.create, parts.add, parts.merge, parts.finish, empty=empty,
                              name=name)
    WorkflowNode.node_counter += 1  # the number of dispel4py's partial PE
    composite = WorkflowGraph()
    composite.add(pe)
    composite.inputmappings = {"input": (pe, INPUT_NAME)}
    composite.outputmappings = {"output": (pe, OUTPUT_NAME)}
    return composite


def _each(make, indexes) -> _Parts:
    indexes = list(indexes)
    return _Parts([make] * len(indexes), [operator.itemgetter(i) for i in indexes], list)


def parallelCount() -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """Counts the data units: writes ``[count]``."""
    return _composite("CountReduce", _Parts([d4p_aggregate.count], [None], list))


def parallelSum(indexes=(0,)) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """Sums positions ``indexes`` of the units: writes ``[sum, ...]``."""
    return _composite("SumPE", _each(d4p_aggregate.sum, indexes))


def parallelMin(indexes=(0,)) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """The minimum at positions ``indexes``: writes ``[min, ...]``."""
    return _composite("MinPE", _each(d4p_aggregate.min, indexes))


def parallelMax(indexes=(0,)) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """The maximum at positions ``indexes``: writes ``[max, ...]``."""
    return _composite("MaxPE", _each(d4p_aggregate.max, indexes))


def parallelAvg(index=0) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """The average at position ``index``: writes ``[average, count, sum]``."""
    return _composite("AverageReducePE", _Parts(
        [d4p_aggregate.count, d4p_aggregate.sum], [None, operator.itemgetter(index)],
        _average), empty=False)


def parallelStdDev(index=0) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """The sample standard deviation at position ``index`` (``None`` for one
    value): writes ``(stddev, count, sum, sum of squares)``."""
    value = operator.itemgetter(index)
    return _composite("StdDevReducePE", _Parts(
        [_sample_std, d4p_aggregate.count, d4p_aggregate.sum, d4p_aggregate.sum],
        [value, None, value, _Square(index)], _std_dev), empty=False)


def _sample_std():
    return d4p_aggregate.std(ddof=1)
