"""A root PE that declares an input for optional parameters, as dispel4py's
PageRank reader and the training's readers do: given a station list with
-d it reads that, run with -i N (or nothing: dispel4py's default is -i 1) it
uses its default stations, once per iteration. dispel4py's -i N runs every
PE that nothing feeds N times, whatever inputs it declares.
Run: dispel4py simple station_defaults.py -i 2
     dispel4py simple station_defaults.py -d '{"ReadStations": [{"input": ["ST9 3 4"]}]}'"""

import math

from dispel4py.base import IterativePE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph

DEFAULT_STATIONS = ["ST1 0 1", "ST2 3 4", "ST3 6 8"]


class ReadStations(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")
        self.iteration = 0

    def process(self, inputs):
        self.iteration += 1
        for line in inputs.get("input", DEFAULT_STATIONS):
            name, x, y = line.split()
            self.write("output", (self.iteration, name, float(x), float(y)))


class Distance(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        iteration, name, x, y = data
        return f"{iteration}:{name}:{math.hypot(x, y):.1f}"


graph = WorkflowGraph()
graph.connect(ReadStations(), "output", Distance(), "input")
