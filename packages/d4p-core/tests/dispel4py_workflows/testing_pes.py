"""PEs shared by the dispel4py-style workflows of this folder.

dispel4py's own test PEs (``examples/graph_testing/testing_PEs.py``; once
ported, d4p.compat's) and two of this folder's, written against the
dispel4py 1.2.1 API: a word producer that needs no random numbers and a
collector. The compatibility test runs them with d4p after changing the
import lines only.
"""

from dispel4py.base import ConsumerPE
from dispel4py.core import GenericPE
from dispel4py.examples.graph_testing.testing_PEs import (  # noqa: F401 (used by the workflows)
    IntegerProducer,
    TestIterative,
    TestMultiProducer,
    TestOneInOneOut,
    TestOneInOneOutWriter,
    TestProducer,
    TestTwoInOneOut,
    WordCounter,
)


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
