"""PEs that fill inputconnections / outputconnections directly (as older
dispel4py code does), override process() with several outputs in one returned
dict, group by two indices and broadcast with 'all'."""

from dispel4py.core import GROUPING, NAME, GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class Readings(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self.outputconnections["output"] = {NAME: "output"}
        self.outputconnections["config"] = {NAME: "config"}

    def process(self, inputs):
        for i in range(12):
            self.write("output", (f"st{i % 3}", "HH" + "ZNE"[i % 2], i))
        return {"config": {"threshold": 5}}


class Split(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self.inputconnections["input"] = {NAME: "input", GROUPING: [0, 1]}
        self.inputconnections["config"] = {NAME: "config", GROUPING: "all"}
        self.outputconnections["high"] = {NAME: "high"}
        self.outputconnections["low"] = {NAME: "low"}
        self.outputconnections["count"] = {NAME: "count"}
        self.threshold = None
        self.pending = []
        self.seen = 0

    def process(self, inputs):
        if "config" in inputs:
            self.threshold = inputs["config"]["threshold"]
            return None
        self.pending.append(inputs["input"])
        self.seen += 1

    def postprocess(self):
        out = {"high": [], "low": []}
        for station, channel, value in self.pending:
            key = "high" if value > self.threshold else "low"
            out[key].append((station, channel, value))
        for key in ("high", "low"):
            for unit in out[key]:
                self.write(key, unit)
        self.write("count", self.seen)


def build():
    readings, split = Readings(), Split()
    split.numprocesses = 3
    graph = WorkflowGraph()
    graph.connect(readings, "output", split, "input")
    graph.connect(readings, "config", split, "config")
    return graph, {readings: 1}


graph, _ = build()
