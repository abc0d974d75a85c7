"""A composite made as dispel4py's own create_iterative_chain makes one: a
plain WorkflowGraph given inputmappings and outputmappings, connected inside
another WorkflowGraph; its inner PE has 2 instances and a group-by input."""

from dispel4py.base import IterativePE, ProducerPE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class Readings(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)

    def _process(self, inputs):
        for i in range(10):
            self.write("output", ["abc"[i % 3], i])


class Normalise(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        return [data[0].upper(), data[1] * 10]


class SumByKey(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.sums = {}

    def _process(self, inputs):
        key, value = inputs["input"]
        self.sums[key] = self.sums.get(key, 0) + value

    def _postprocess(self):
        for key in sorted(self.sums):
            self.write("output", [key, self.sums[key]])


def summarise():
    sub = WorkflowGraph()
    normalise, total = Normalise(), SumByKey()
    total.numprocesses = 2
    sub.connect(normalise, "output", total, "input")
    sub.inputmappings = {"input": (normalise, "input")}
    sub.outputmappings = {"output": (total, "output")}
    return sub


def build():
    readings = Readings()
    graph = WorkflowGraph()
    graph.connect(readings, "output", summarise(), "input")
    return graph, {readings: 1}


graph, _ = build()
