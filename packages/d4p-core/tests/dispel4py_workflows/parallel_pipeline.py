"""prod -> cons1, then cons1 -> cons2 and cons1 -> cons3: four PEs."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestOneInOneOut, TestProducer


def build(iterations=10, partitioned=False):
    graph = WorkflowGraph()
    prod = TestProducer()
    cons1 = TestOneInOneOut()
    cons2 = TestOneInOneOut()
    cons3 = TestOneInOneOut()
    graph.connect(prod, "output", cons1, "input")
    graph.connect(cons1, "output", cons2, "input")
    graph.connect(cons1, "output", cons3, "input")
    if partitioned:
        graph.partitions = [[prod, cons1, cons2], [cons3]]
    return graph, {prod: iterations}


graph, _ = build()
