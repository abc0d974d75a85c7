"""``dispel4py.examples.graph_testing.testing_PEs``: the small PEs that
dispel4py's tutorial and many programs built on it import
(``from dispel4py.examples.graph_testing.testing_PEs import TestProducer``),
with the same names, ports and behaviour, so that such a program ports by
its import lines only."""

from __future__ import annotations

import random
import time
from collections import defaultdict

from ...base import ConsumerPE, IterativePE, ProducerPE
from ...core import GenericPE


class TestProducer(GenericPE):
    """Writes 1, 2, 3, ... (one number per iteration) to each of its
    ``numOutputs`` outputs (``output``, or ``output0``, ``output1``, ...)."""

    def __init__(self, numOutputs=1):  # noqa: N803 (dispel4py API)
        GenericPE.__init__(self)
        names = ["output"] if numOutputs == 1 else [f"output{i}" for i in range(numOutputs)]
        for name in names:
            self._add_output(name, tuple_type=["number"])
        self.counter = 0
        self.outputnames = names

    def _process(self, inputs):
        self.counter += 1
        return dict.fromkeys(self.outputnames, self.counter)


class NumberProducer(GenericPE):
    """In its k-th iteration (from 0) writes ``[k*i + i]`` for i below
    ``numIterations``."""

    def __init__(self, numIterations=1):  # noqa: N803 (dispel4py API)
        GenericPE.__init__(self)
        self._add_output("output", tuple_type=["number"])
        self.counter = 0
        self.numIterations = numIterations

    def _process(self, inputs):
        for i in range(self.numIterations):
            self.write("output", [(self.counter + 1) * i])
        self.counter += 1


class IntegerProducer(ProducerPE):
    """Writes ``start`` .. ``limit - 1`` in each iteration."""

    def __init__(self, start, limit):
        ProducerPE.__init__(self)
        self.start, self.limit = start, limit

    def _process(self, inputs):
        for i in range(self.start, self.limit):
            self.write("output", i)


class TestOneInOneOut(GenericPE):
    """Returns what it reads on ``input`` to ``output``; its output has the
    type of its input (``setInputTypes``)."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")

    def setInputTypes(self, inputtypes):  # noqa: N802 (dispel4py API)
        self.inputconnections["input"]["type"] = inputtypes["input"]
        self.outputconnections["output"]["type"] = inputtypes["input"]

    def process(self, inputs):
        return {"output": inputs["input"]}


class TestIterative(IterativePE):
    """An IterativePE that returns its input."""

    def _process(self, data):
        return data


class TestDelayOneInOneOut(GenericPE):
    """Returns its input after sleeping ``delay`` seconds."""

    def __init__(self, delay=1):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output", tuple_type=["number"])
        self.delay = delay

    def process(self, inputs):
        time.sleep(self.delay)
        return {"output": inputs["input"]}


class TestOneInOneOutWriter(GenericPE):
    """Copies its input to ``output`` with :meth:`write`."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output", tuple_type=["number"])

    def process(self, inputs):
        self.write("output", inputs["input"])


class TestTwoInOneOut(GenericPE):
    """Writes the text of what arrives on ``input0`` and ``input1`` (those
    present, in that order) to ``output``."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input0")
        self._add_input("input1")
        self._add_output("output", tuple_type=["result"])

    def process(self, inputs):
        text = "".join(str(inputs[name]) for name in self.inputconnections if name in inputs)
        return {"output": text} if text else None


class TestMultiProducer(GenericPE):
    """Writes 0 .. ``num_output - 1`` in each iteration."""

    def __init__(self, num_output=10):
        GenericPE.__init__(self)
        self._add_output("output")
        self.num_output = num_output

    def _process(self, inputs):
        for i in range(self.num_output):
            self.write("output", i)


class PrintDataConsumer(ConsumerPE):
    """Prints each data unit."""

    def _process(self, data):
        print(data)


class RandomFilter(GenericPE):
    """Passes each input on with probability 1/2."""

    input_name = "input"
    output_name = "output"

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output", tuple_type=["word"])

    def process(self, inputs):
        return {"output": inputs["input"]} if random.choice([True, False]) else None


class WordCounter(GenericPE):
    """Grouped by word (``[0]``): writes ``[word, times seen so far]``."""

    input_name = "input"
    output_name = "output"

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output", tuple_type=["word", "count"])
        self.mywords = defaultdict(int)

    def _process(self, inputs):
        word = inputs["input"][0]
        self.mywords[word] += 1
        return {"output": [word, self.mywords[word]]}


class RandomWordProducer(GenericPE):
    """Writes ``[word]``, a word drawn from :attr:`words`, per iteration."""

    words = ["dispel4py", "computing", "mpi", "processing", "simple", "analysis", "data"]

    def __init__(self):
        GenericPE.__init__(self)
        self._add_output("output", tuple_type=["word"])

    def process(self, inputs=None):
        return {"output": [random.choice(RandomWordProducer.words)]}
