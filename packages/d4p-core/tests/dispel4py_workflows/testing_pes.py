"""PEs shared by the dispel4py-style workflows of this folder.

Written against the dispel4py 1.2.1 API (modelled on its
``examples/graph_testing/testing_PEs.py``): the compatibility test runs them
with d4p after changing the import lines only.
"""

from dispel4py.base import ConsumerPE, IterativePE, ProducerPE
from dispel4py.core import GenericPE


class TestProducer(GenericPE):
    """Writes 1, 2, 3, ... (one number per iteration) to every output."""

    def __init__(self, numOutputs=1):
        GenericPE.__init__(self)
        if numOutputs == 1:
            self._add_output("output", tuple_type=["number"])
        else:
            for i in range(numOutputs):
                self._add_output(f"output{i}", tuple_type=["number"])
        self.counter = 0
        self.outputnames = list(self.outputconnections.keys())

    def _process(self, inputs):
        self.counter += 1
        return {output: self.counter for output in self.outputnames}


class TestMultiProducer(GenericPE):
    """Writes 0 .. num_output-1 in one iteration."""

    def __init__(self, num_output=10):
        GenericPE.__init__(self)
        self._add_output("output")
        self.num_output = num_output

    def _process(self, inputs):
        for i in range(self.num_output):
            self.write("output", i)


class IntegerProducer(ProducerPE):
    """Writes start .. limit-1 in one iteration."""

    def __init__(self, start, limit):
        ProducerPE.__init__(self)
        self.start = start
        self.limit = limit

    def _process(self, inputs):
        for i in range(self.start, self.limit):
            self.write("output", i)


class TestOneInOneOut(GenericPE):
    """Returns its input unchanged."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")

    def process(self, inputs):
        return {"output": inputs["input"]}


class TestOneInOneOutWriter(GenericPE):
    """Copies its input to its output with write()."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output", tuple_type=["number"])

    def process(self, inputs):
        self.write("output", inputs["input"])


class TestIterative(IterativePE):
    """Returns its input unchanged (IterativePE)."""

    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        return data


class TestTwoInOneOut(GenericPE):
    """Writes whatever arrives on input0 or input1 as a string."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input0")
        self._add_input("input1")
        self._add_output("output", tuple_type=["result"])

    def process(self, inputs):
        result = ""
        for name in self.inputconnections:
            if name in inputs:
                result += str(inputs[name])
        if result:
            return {"output": result}


class WordProducer(GenericPE):
    """Writes one word per iteration, cycling through a fixed list."""

    words = ["dispel4py", "computing", "mpi", "processing", "simple", "analysis", "data"]

    def __init__(self):
        GenericPE.__init__(self)
        self._add_output("output", tuple_type=["word"])
        self.counter = 0

    def process(self, inputs=None):
        word = WordProducer.words[(self.counter * 3) % len(WordProducer.words)]
        self.counter += 1
        return {"output": [word]}


class WordCounter(GenericPE):
    """Counts each word (grouped by the word) and writes [word, count so far]."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output", tuple_type=["word", "count"])
        self.mywords = {}

    def _process(self, inputs):
        word = inputs["input"][0]
        self.mywords[word] = self.mywords.get(word, 0) + 1
        return {"output": [word, self.mywords[word]]}


class Collector(ConsumerPE):
    """Keeps what it receives and writes the sorted list in postprocess."""

    def __init__(self):
        ConsumerPE.__init__(self)
        self._add_output("output")
        self.seen = []

    def _process(self, data):
        self.seen.append(data)

    def _postprocess(self):
        self.write("output", sorted(self.seen))
