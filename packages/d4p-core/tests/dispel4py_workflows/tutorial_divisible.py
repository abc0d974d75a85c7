"""dispel4py's tutorial graph (myfirstgraph.py): TestProducer, taken from
dispel4py's examples, feeds a PE that keeps the numbers its divisor divides.
Run: dispel4py simple tutorial_divisible.py -i 20 (or multi -n 4)."""

from dispel4py.base import IterativePE
from dispel4py.examples.graph_testing.testing_PEs import TestProducer
from dispel4py.workflow_graph import WorkflowGraph


class MyFirstPE(IterativePE):
    def __init__(self, divisor):
        IterativePE.__init__(self)
        self.divisor = divisor

    def _process(self, data):
        if not data % self.divisor:
            return data


def build(iterations=20):
    producer = TestProducer()
    divide = MyFirstPE(3)
    graph = WorkflowGraph()
    graph.connect(producer, "output", divide, "input")
    return graph, {producer: iterations}


graph, _ = build()
