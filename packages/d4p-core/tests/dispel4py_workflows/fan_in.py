"""Two producers feed one input of a PE with two instances (two edges into one
input), collected by one PE."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import Collector, IntegerProducer, TestIterative


def build(iterations=1):
    low = IntegerProducer(0, 10)
    high = IntegerProducer(100, 110)
    merge = TestIterative()
    merge.numprocesses = 2
    collect = Collector()
    graph = WorkflowGraph()
    graph.connect(low, "output", merge, "input")
    graph.connect(high, "output", merge, "input")
    graph.connect(merge, "output", collect, "input")
    return graph, {low: iterations, high: iterations}


graph, _ = build()
