"""Seismo-style: numpy traces through create_iterative_chain with (fn, kwargs)
steps and a SimpleFunctionPE with params; a ProducerPE returns one trace per
iteration (run it with -i)."""

import numpy as np
from dispel4py.base import ProducerPE, SimpleFunctionPE, create_iterative_chain
from dispel4py.workflow_graph import WorkflowGraph


class Traces(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)
        self.counter = 0

    def _process(self, inputs):
        self.counter += 1
        t = np.arange(16, dtype=float)
        return {"station": f"ST{self.counter:02d}", "data": np.sin(t * self.counter) * 10}


def decimate(trace, factor):
    return {"station": trace["station"], "data": trace["data"][::factor]}


def detrend(trace):
    d = trace["data"]
    return {"station": trace["station"], "data": d - d.mean()}


def clip(trace, limit=5.0):
    return {"station": trace["station"], "data": np.clip(trace["data"], -limit, limit)}


def summarise(trace, digits):
    d = trace["data"]
    return [trace["station"], len(d), round(float(np.abs(d).max()), digits),
            round(float(d.sum()), digits)]


def build(iterations=4):
    traces = Traces()
    chain = create_iterative_chain([(decimate, {"factor": 2}), detrend,
                                    (clip, {"limit": 4.0})])
    summary = SimpleFunctionPE(summarise, {"digits": 4})
    summary.numprocesses = 2
    graph = WorkflowGraph()
    graph.connect(traces, "output", chain, "input")
    graph.connect(chain, "output", summary, "input")
    return graph, {traces: iterations}


graph, _ = build()
