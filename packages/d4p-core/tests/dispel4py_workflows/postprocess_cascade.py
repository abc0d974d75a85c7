"""Every stage buffers and writes only in postprocess: end of stream must
reach each stage after its upstream stages' postprocess output (three levels,
two instances in the middle, preprocess initialising state)."""

from dispel4py.base import IterativePE, ProducerPE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class Source(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)

    def _preprocess(self):
        self.i = 0

    def _process(self, inputs):
        self.i += 1
        return self.i


class Batch(IterativePE):
    def __init__(self, size):
        IterativePE.__init__(self)
        self.size = size

    def preprocess(self):
        self.buffer = []

    def _process(self, data):
        self.buffer.append(data)
        if len(self.buffer) == self.size:
            out, self.buffer = self.buffer, []
            return sum(out)

    def postprocess(self):
        if self.buffer:
            self.write("output", sum(self.buffer))


class Hold(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)
        self.held = []

    def _process(self, data):
        self.held.append(data)

    def _postprocess(self):
        self.write("output", sorted(self.held))


class Final(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping="global")
        self._add_output("total")
        self._add_output("parts")
        self.parts = []

    def _process(self, inputs):
        self.parts.extend(inputs["input"])

    def _postprocess(self):
        self.write("parts", sorted(self.parts))
        self.write("total", sum(self.parts))


def build(iterations=10):
    src, batch, hold, final = Source(), Batch(3), Hold(), Final()
    batch.numprocesses = 2
    hold.numprocesses = 2
    graph = WorkflowGraph()
    graph.connect(src, "output", batch, "input")
    graph.connect(batch, "output", hold, "input")
    graph.connect(hold, "output", final, "input")
    return graph, {src: iterations}


graph, _ = build()
