"""One producer output copied to two different PEs (a tee)."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestOneInOneOut, TestProducer


def build(iterations=4):
    graph = WorkflowGraph()
    prod = TestProducer()
    cons1 = TestOneInOneOut()
    cons2 = TestOneInOneOut()
    graph.connect(prod, "output", cons1, "input")
    graph.connect(prod, "output", cons2, "input")
    return graph, {prod: iterations}


graph, _ = build()
