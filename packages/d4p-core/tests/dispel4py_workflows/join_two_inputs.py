"""A GenericPE with two inputs, both grouped by the station key (index 0 and
dict key 'station'), joining metadata with measurements; a BasePE with
num_inputs/num_outputs; IterativePE overriding process() not _process()."""

from dispel4py.base import BasePE, IterativePE, ProducerPE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class Stations(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)

    def _process(self, inputs):
        for name, lat in [("AAA", 10), ("BBB", 20), ("CCC", 30), ("DDD", 40)]:
            self.write("output", {"station": name, "lat": lat})


class Measures(BasePE):
    def __init__(self):
        BasePE.__init__(self, num_outputs=2)

    def _process(self, inputs):
        for i, name in enumerate(["AAA", "BBB", "CCC", "DDD", "AAA", "CCC", "EEE"]):
            self.write(f"output{i % 2}", (name, i * 1.5))


class Join(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("meta", grouping=["station"])
        self._add_input("values", grouping=[0])
        self._add_output("output")
        self._add_output("orphans")
        self.meta = {}
        self.values = {}

    def _process(self, inputs):
        if "meta" in inputs:
            m = inputs["meta"]
            self.meta[m["station"]] = m["lat"]
        if "values" in inputs:
            name, v = inputs["values"]
            self.values.setdefault(name, []).append(v)

    def _postprocess(self):
        for name in sorted(self.values):
            if name in self.meta:
                self.write("output", [name, self.meta[name], sorted(self.values[name])])
            else:
                self.write("orphans", name)


class Label(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def process(self, inputs):
        name, lat, values = inputs["input"]
        return {"output": f"{name}@{lat}:" + ",".join(f"{v:.1f}" for v in values)}


def build():
    stations, measures, join, label = Stations(), Measures(), Join(), Label()
    join.numprocesses = 2
    graph = WorkflowGraph()
    graph.connect(stations, "output", join, "meta")
    graph.connect(measures, "output0", join, "values")
    graph.connect(measures, "output1", join, "values")
    graph.connect(join, "output", label, "input")
    return graph, {stations: 1, measures: 1}


graph, _ = build()
