"""A producer feeding a chain of five pass-through PEs (dispel4py's pipeline_test)."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestOneInOneOut, TestProducer


def build(iterations=5):
    graph = WorkflowGraph()
    prod = TestProducer()
    prev = prod
    for _ in range(5):
        cons = TestOneInOneOut()
        graph.connect(prev, "output", cons, "input")
        prev = cons
    return graph, {prod: iterations}


graph, _ = build()
