"""A counting ProducerPE run with -i N (iterations), a filter IterativePE
returning None for odd numbers, a stateful running-sum PE with 'global'
grouping declared on the class's __init__, and a ConsumerPE printing."""

from dispel4py.base import ConsumerPE, IterativePE, ProducerPE
from dispel4py.core import GROUPING
from dispel4py.workflow_graph import WorkflowGraph


class Counter(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)
        self.n = 0

    def _process(self, inputs):
        self.n += 1
        return self.n


class Even(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        if data % 2 == 0:
            return data


class RunningSum(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)
        self.inputconnections["input"][GROUPING] = "global"
        self.total = 0

    def _process(self, data):
        self.total += data
        self.seen = getattr(self, "seen", 0) + 1

    def _postprocess(self):
        self.write("output", [self.seen, self.total])


class Show(ConsumerPE):
    def __init__(self):
        ConsumerPE.__init__(self)

    def _process(self, data):
        print(f"running sum {data}")


def build(iterations=8):
    counter, even, running = Counter(), Even(), RunningSum()
    even.numprocesses = 3
    graph = WorkflowGraph()
    graph.connect(counter, "output", even, "input")
    graph.connect(even, "output", running, "input")
    return graph, {counter: iterations}


graph, _ = build()
