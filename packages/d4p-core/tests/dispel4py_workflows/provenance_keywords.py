"""A workflow written for dispel4py's provenance-aware PEs, run without a
provenance recorder: ``self.write`` takes the keywords the recorder reads
(``metadata``, ``location``, ``format``, ``dep``, ``control``), which
dispel4py 1.2.1's ``write(name, data, **kwargs)`` ignores. A PE of 2
instances grouped by station keeps the peak and writes in postprocess.
Run: dispel4py simple provenance_keywords.py (or multi -n 4)."""

from dispel4py.base import IterativePE, ProducerPE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph

TRACES = {"ST0.HHZ": [3, -1, 4], "ST0.HHN": [1, 5], "ST1.HHZ": [9, -2, 6, 5], "ST2.HHE": [3]}


class ListTraces(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)

    def _process(self, inputs):
        for name in sorted(TRACES):
            self.write("output", name, location="file:///data/" + name + ".mseed",
                       format="application/octet-stream")


class Amplitude(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        samples = TRACES[data]
        peak = max(abs(s) for s in samples)
        self.write("output", (data.split(".")[0], peak), metadata={"trace": data, "n": len(samples)},
                   dep=[data], control={"con:skip": peak < 4})


class StationPeak(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.numprocesses = 2
        self.peaks = {}

    def process(self, inputs):
        station, peak = inputs["input"]
        self.peaks[station] = max(peak, self.peaks.get(station, 0))

    def postprocess(self):
        for station in sorted(self.peaks):
            self.write("output", (station, self.peaks[station]), metadata={"kind": "peak"},
                       format="text/plain")


def build():
    traces, amplitude, peaks = ListTraces(), Amplitude(), StationPeak()
    graph = WorkflowGraph()
    graph.connect(traces, "output", amplitude, "input")
    graph.connect(amplitude, "output", peaks, "input")
    return graph, {traces: 1}


graph, _ = build()
