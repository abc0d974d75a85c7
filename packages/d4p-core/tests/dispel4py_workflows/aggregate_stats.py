"""Statistics with dispel4py's ``new.aggregate``: a SimpleFunctionPE scales
the numbers (numprocesses 2), then one output feeds parallelSum,
parallelCount, parallelAvg and parallelMax composites and a running maximum
written on every unit (a ContinuousReducePE subclass).
Run: dispel4py simple aggregate_stats.py -i 1 (or multi -n 8)."""

from dispel4py.base import ProducerPE, SimpleFunctionPE
from dispel4py.new.aggregate import (
    ContinuousReducePE,
    parallelAvg,
    parallelCount,
    parallelMax,
    parallelSum,
)
from dispel4py.workflow_graph import WorkflowGraph


class Numbers(ProducerPE):
    def __init__(self, count):
        ProducerPE.__init__(self)
        self.count = count

    def _process(self, inputs):
        for i in range(1, self.count + 1):
            self.write("output", [i])


class RunningMax(ContinuousReducePE):
    def __init__(self):
        ContinuousReducePE.__init__(self)
        self._add_input("input", grouping="global")

    def _process(self, data):
        self.value = [max(self.value[0], data[0])]


def scale(data, factor=1):
    return [data[0] * factor]


def build(count=12):
    numbers = Numbers(count)
    double = SimpleFunctionPE(scale, {"factor": 2})
    double.numprocesses = 2
    graph = WorkflowGraph()
    graph.connect(numbers, "output", double, "input")
    for composite in (parallelSum(), parallelCount(), parallelAvg(), parallelMax()):
        graph.connect(double, "output", composite, "input")
    graph.connect(double, "output", RunningMax(), "input")
    return graph, {numbers: 1}


graph, _ = build()
