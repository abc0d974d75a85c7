"""The training material's "Even humans are odd" workflow (EvenOddworkflow.py):
a ProducerPE returns numbers, one output feeds two filters of the same class,
and a GenericPE overriding ``_process`` pairs what arrives on its two inputs,
logging and writing the left-overs in ``_postprocess``. The producer counts
instead of drawing random numbers, so that the results can be compared.
Run: dispel4py simple even_odd.py -i 9 (or multi -n 4)."""

from dispel4py.base import IterativePE, ProducerPE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class NumberProducer(ProducerPE):
    def __init__(self):
        ProducerPE.__init__(self)
        self.n = 0

    def _process(self, inputs):
        self.n += 1
        return self.n * self.n


class Divideby2(IterativePE):
    def __init__(self, compare):
        IterativePE.__init__(self)
        self.compare = compare

    def _process(self, data):
        if data % 2 == self.compare:
            return data


class PairProducer(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("odd")
        self._add_input("even")
        self._add_output("output")
        self._add_output("left")
        self.list_odd = []
        self.list_even = []

    def _process(self, inputs):
        if "odd" in inputs:
            self.list_odd.append(inputs["odd"])
        if "even" in inputs:
            self.list_even.append(inputs["even"])
        while self.list_odd and self.list_even:
            self.write("output", (self.list_odd.pop(0) % 10, self.list_even.pop(0) % 10))

    def _postprocess(self):
        self.log(f"We are left behind: odd: {self.list_odd}, even: {self.list_even}")
        self.write("left", len(self.list_odd) + len(self.list_even))
        self.list_odd = []
        self.list_even = []


def build(iterations=9):
    producer = NumberProducer()
    filter_even = Divideby2(0)
    filter_odd = Divideby2(1)
    pair = PairProducer()
    graph = WorkflowGraph()
    graph.connect(producer, "output", filter_even, "input")
    graph.connect(producer, "output", filter_odd, "input")
    graph.connect(filter_even, "output", pair, "even")
    graph.connect(filter_odd, "output", pair, "odd")
    return graph, {producer: iterations}


graph, _ = build()
