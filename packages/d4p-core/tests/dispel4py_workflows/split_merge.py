"""Split a producer's two outputs over two PEs and merge them into one PE."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestOneInOneOut, TestOneInOneOutWriter, TestProducer, TestTwoInOneOut


def build(iterations=3):
    graph = WorkflowGraph()
    prod = TestProducer(2)
    cons1 = TestOneInOneOut()
    cons2 = TestOneInOneOutWriter()
    last = TestTwoInOneOut()
    graph.connect(prod, "output0", cons1, "input")
    graph.connect(prod, "output1", cons2, "input")
    graph.connect(cons1, "output", last, "input0")
    graph.connect(cons2, "output", last, "input1")
    return graph, {prod: iterations}


graph, _ = build()
