"""Two sensors of one class (so both named "Sensor") feed a PE that joins
their readings by time (group-by on both inputs) and returns a dict with
one or two outputs. The program gives its inputs by PE name,
``process_and_return(graph, {"Sensor": 4})``, and dispel4py 1.2.1 runs every
PE of that name 4 iterations."""

from dispel4py.base import ProducerPE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class Sensor(ProducerPE):
    def __init__(self, station, offset, step):
        ProducerPE.__init__(self)
        self.station = station
        self.offset = offset
        self.step = step
        self.t = 0

    def _process(self, inputs):
        self.t += 1
        return (self.station, self.t, self.offset + (self.t * self.step) % 5)


class Difference(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("inside", grouping=[1])
        self._add_input("outside", grouping=[1])
        self._add_output("output")
        self._add_output("alarms")
        self.pending = {"inside": {}, "outside": {}}

    def process(self, inputs):
        ((side, (_, t, value)),) = inputs.items()
        self.pending[side][t] = value
        other = {"inside": "outside", "outside": "inside"}[side]
        if t in self.pending[other]:
            diff = self.pending["inside"].pop(t) - self.pending["outside"].pop(t)
            if diff > 21:
                return {"output": (t, diff), "alarms": f"t={t}: {diff} degrees"}
            return {"output": (t, diff)}


def build():
    inside, outside, difference = Sensor("lab", 20, 7), Sensor("roof", 0, 3), Difference()
    graph = WorkflowGraph()
    graph.connect(inside, "output", difference, "inside")
    graph.connect(outside, "output", difference, "outside")
    return graph, {"Sensor": 4}


graph, _ = build()
