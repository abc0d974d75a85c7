"""prod -> double -> cons; the input file also gives data to 'double' (not a root)."""

from dispel4py.base import IterativePE
from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestOneInOneOut, TestProducer


class Double(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        return 2 * data


def build(iterations=3):
    prod = TestProducer()
    double = Double()
    cons = TestOneInOneOut()
    graph = WorkflowGraph()
    graph.connect(prod, "output", double, "input")
    graph.connect(double, "output", cons, "input")
    return graph, {prod: iterations}


graph, _ = build()
