"""Word count: a word producer feeding three instances of a group-by counter."""

from dispel4py.workflow_graph import WorkflowGraph
from testing_pes import WordCounter, WordProducer


def build(iterations=20):
    words = WordProducer()
    words.numprocesses = 1
    counter = WordCounter()
    counter.numprocesses = 3
    graph = WorkflowGraph()
    graph.connect(words, "output", counter, "input")
    return graph, {words: iterations}


graph, _ = build()
