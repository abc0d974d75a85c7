"""All to one: five instances of cons1 feed one instance ('global') of cons2."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestOneInOneOut, TestProducer


def build(iterations=10):
    graph = WorkflowGraph()
    prod = TestProducer()
    cons1 = TestOneInOneOut()
    cons2 = TestOneInOneOut()
    cons1.numprocesses = 5
    cons2.numprocesses = 5
    graph.connect(prod, "output", cons1, "input")
    cons2.inputconnections["input"]["grouping"] = "global"
    graph.connect(cons1, "output", cons2, "input")
    return graph, {prod: iterations}


graph, _ = build()
