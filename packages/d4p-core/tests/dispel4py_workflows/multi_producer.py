"""A producer writing ten units in one iteration through two pass-through PEs."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestMultiProducer, TestOneInOneOut


def build(iterations=1):
    prod = TestMultiProducer()
    cons1 = TestOneInOneOut()
    cons2 = TestOneInOneOut()
    graph = WorkflowGraph()
    graph.connect(prod, "output", cons1, "input")
    graph.connect(cons1, "output", cons2, "input")
    return graph, {prod: iterations}


graph, _ = build()
