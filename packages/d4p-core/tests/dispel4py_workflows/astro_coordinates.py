"""Astro-style: the root PE has an input port and is given its data with
-d '{"ReadRaDec": [{"input": "..."}]}' (as dispel4py's internal-extinction
example does); it writes one unit per coordinate line."""

from dispel4py.base import IterativePE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class ReadRaDec(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")
        self.count = 0

    def _process(self, inputs):
        text = inputs["input"]
        for line in text.split(";"):
            ra, dec = (float(x) for x in line.split(","))
            self.write("output", [self.count, ra, dec])
            self.count += 1


class Extinction(IterativePE):
    def __init__(self, factor):
        IterativePE.__init__(self)
        self.factor = factor

    def _process(self, data):
        count, ra, dec = data
        return [count, round(ra * self.factor - dec, 3)]


class Collect(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.values = {}

    def process(self, inputs):
        count, value = inputs["input"]
        self.values[count] = value

    def postprocess(self):
        self.write("output", [self.values[k] for k in sorted(self.values)])


def build():
    read = ReadRaDec()
    ext = Extinction(0.5)
    ext.numprocesses = 3
    collect = Collect()
    graph = WorkflowGraph()
    graph.connect(read, "output", ext, "input")
    graph.connect(ext, "output", collect, "input")
    return graph, {read: [{"input": "10.0,1.0;20.5,2.25;30.0,-3.5;40.0,4.0"},
                          {"input": "50.0,5.0"}]}


graph, _ = build()
