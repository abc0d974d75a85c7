"""A graph whose PEs declare tuple types: ``graph.propagate_types()`` hands
each PE the types of what feeds it (``setInputTypes``), a PE derives its
output type from them (``getOutputTypes``) and writes with ``self._write``;
a ProcessTimingPE wraps one PE. The last PE writes what types it was given.
Run: dispel4py simple typed_graph.py -i 3."""

from dispel4py.base import IterativePE, ProducerPE
from dispel4py.core import GenericPE
from dispel4py.new.monitoring import ProcessTimingPE
from dispel4py.workflow_graph import WorkflowGraph


class Readings(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)
        self._add_output("output", tuple_type=["station", "value"])
        self.n = 0

    def _process(self, inputs):
        self.n += 1
        self._write("output", [f"ST{self.n % 2}", self.n * 10])


class Tag(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")

    def setInputTypes(self, types):
        self.seen_types = types

    def getOutputTypes(self):
        return {"output": list(self.seen_types["input"]) + ["tag"]}

    def process(self, inputs):
        return {"output": list(inputs["input"]) + ["t"]}


class Report(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)
        self.types = None

    def setInputTypes(self, types):
        self.types = types

    def _process(self, data):
        return [self.types["input"], data]


def build(iterations=3):
    readings, tag, report = Readings(), Tag(), Report()
    graph = WorkflowGraph()
    timed = ProcessTimingPE(tag)
    graph.connect(readings, "output", timed, "input")
    graph.connect(timed, "output", report, "input")
    graph.propagate_types()
    return graph, {readings: iterations}


graph, _ = build()
