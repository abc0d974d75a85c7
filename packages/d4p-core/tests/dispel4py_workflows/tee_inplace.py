"""dispel4py's seismo preprocess example's shape: one output feeds an archive
and a whitening PE that, as ObsPy's processing does, changes its input in
place (numpy traces), and an 'all' input of 2 instances of a PE that also
changes them in place. Every PE must see the data as it was written."""

import numpy as np
from dispel4py.base import IterativePE, ProducerPE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class Traces(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)

    def _process(self, inputs):
        for i in range(4):
            self.write("output", {"station": f"ST{i}", "data": np.arange(4.0) * (i + 1)})


class Whiten(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, trace):
        trace["data"] /= np.abs(trace["data"]).max()  # in place, like Stream.normalize()
        return [trace["station"], trace["data"].round(3).tolist()]


class Archive(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, trace):
        return [trace["station"], trace["data"].tolist()]


class Demean(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping="all")
        self._add_output("output")
        self.sums = []

    def _process(self, inputs):
        trace = inputs["input"]
        trace["data"] -= trace["data"].mean()  # in place
        self.sums.append(float(np.abs(trace["data"]).sum()))

    def _postprocess(self):
        self.write("output", sorted(self.sums))


def build():
    traces, whiten, archive, demean = Traces(), Whiten(), Archive(), Demean()
    demean.numprocesses = 2
    graph = WorkflowGraph()
    graph.connect(traces, "output", whiten, "input")
    graph.connect(traces, "output", archive, "input")
    graph.connect(traces, "output", demean, "input")
    return graph, {traces: 1}


graph, _ = build()
