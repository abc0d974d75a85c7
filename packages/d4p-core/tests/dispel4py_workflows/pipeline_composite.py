"""A producer feeding a composite PE made by create_iterative_chain."""

from dispel4py.base import create_iterative_chain
from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import TestProducer


def addTwo(data):
    return 2 + data


def multiplyByFour(data):
    return 4 * data


def divideByTwo(data):
    return data / 2


def subtract(data, n):
    return data - n


def build(iterations=3):
    composite = create_iterative_chain(
        [addTwo, multiplyByFour, divideByTwo, (subtract, {"n": 1})])
    producer = TestProducer()
    graph = WorkflowGraph()
    graph.connect(producer, "output", composite, "input")
    return graph, {producer: iterations}


graph, _ = build()
