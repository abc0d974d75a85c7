"""``dispel4py.new.aggregate``: aggregations that run in parallel, as
composites of a partial PE (one result per instance, written at the end of
the stream) and a merging PE that receives every partial (``'global'``).

Data units are lists or tuples; ``indexes`` pick the positions aggregated.
Each aggregate writes one list at the end, as in dispel4py:
``parallelSum() -> [sum]``, ``parallelCount() -> [count]``, ``parallelMin()``
/ ``parallelMax() -> [value]``, ``parallelAvg() -> [average, count, sum]``,
``parallelStdDev() -> (stddev, count, sum, sum of squares)``.

dispel4py bugs not reproduced (d4p follows the documented intent):
``MaxPE`` started from 0 (the maximum of negative numbers was 0); sums,
minima and maxima over ``indexes`` other than ``[0]`` read the wrong
positions; ``parallelAvg(index)`` ignored ``index``; an average or standard
deviation of no data raised ``ZeroDivisionError``; the standard deviation's
merge read the partials' fields shifted by one (it wrote the partials' count
as the sum and their standard deviation as the count); ``ContinuousReducePE``
wrote the same list object every time, so earlier outputs changed later.
"""

from __future__ import annotations

import math

from ..core import GenericPE
from ..workflow_graph import WorkflowGraph

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


def parallelCount() -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """Counts the data units: writes ``[count]``."""
    merge = SumPE([0])
    merge.name = "CountReduce"
    return parallel_aggregate(CountPE(), merge)


def parallelSum(indexes=(0,)) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """Sums positions ``indexes`` of the units: writes ``[sum, ...]``."""
    return parallel_aggregate(SumPE(indexes), SumPE(range(len(indexes))))


def parallelMin(indexes=(0,)) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """The minimum at positions ``indexes``: writes ``[min, ...]``."""
    return parallel_aggregate(MinPE(indexes), MinPE(range(len(indexes))))


def parallelMax(indexes=(0,)) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """The maximum at positions ``indexes``: writes ``[max, ...]``."""
    return parallel_aggregate(MaxPE(indexes), MaxPE(range(len(indexes))))


def parallelAvg(index=0) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """The average at position ``index``: writes ``[average, count, sum]``."""
    return parallel_aggregate(AverageParallelPE(index), AverageReducePE())


def parallelStdDev(index=0) -> WorkflowGraph:  # noqa: N802 (dispel4py API)
    """The sample standard deviation at position ``index``: writes
    ``(stddev, count, sum, sum of squares)``."""
    return parallel_aggregate(StdDevPE(index), StdDevReducePE())
