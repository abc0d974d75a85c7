"""dispel4py's graph_testing/test_exceptions.py: a PE raises on odd numbers.
dispel4py's simple mapping lets the PE's own exception out of
process_and_return; its multi mapping prints it in the worker and returns
what was produced."""

from dispel4py.base import IterativePE
from dispel4py.examples.graph_testing.testing_PEs import TestProducer
from dispel4py.workflow_graph import WorkflowGraph


class ExceptionRaiser(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        if data % 2:
            raise ValueError("Not an even number!")
        return data


def build(iterations=4):
    prod = TestProducer()
    cons = ExceptionRaiser()
    graph = WorkflowGraph()
    graph.connect(prod, "output", cons, "input")
    return graph, {prod: iterations}


graph, _ = build()
