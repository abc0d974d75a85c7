"""One to all: every one of the two instances of cons receives every unit."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestOneInOneOut, TestProducer


def build(iterations=5):
    graph = WorkflowGraph()
    prod = TestProducer()
    cons = TestOneInOneOut()
    cons.numprocesses = 2
    cons.inputconnections["input"]["grouping"] = "all"
    graph.connect(prod, "output", cons, "input")
    return graph, {prod: iterations}


graph, _ = build()
