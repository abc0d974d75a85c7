"""The example workflows and their PEs (registered by name in
:mod:`d4p.examples`)."""

from __future__ import annotations

import random

from .. import aggregate
from ..graph import WorkflowGraph
from ..pe import GenericPE, IterativePE, ProducerPE


class NumberProducer(ProducerPE):
    """Writes the integers 0 .. n-1."""

    def __init__(self, n: int = 1000) -> None:
        super().__init__()
        self.n = n

    def _process(self, inputs):
        for i in range(self.n):
            self.write("output", i)


class Doubler(IterativePE):
    def _process(self, data):
        return 2 * data


class Summer(GenericPE):
    """Sums its input and writes the total at the end of the stream."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input")
        self._add_output("output")
        self.total = 0

    def process(self, inputs):
        self.total += inputs["input"]

    def postprocess(self):
        self.write("output", self.total)


def _at_least(low: int, **values: int) -> None:
    """A ``ValueError`` (how builders reject a parameter) naming a value below ``low``."""
    for name, value in values.items():
        if value < low:
            raise ValueError(f"{name} must be at least {low}, not {value}")


def pipeline(n: int = 200_000) -> tuple[WorkflowGraph, dict]:
    """producer (n ints) → doubler → summer: the pipeline benchmark."""
    _at_least(0, n=n)
    graph = WorkflowGraph()
    producer, doubler, summer = NumberProducer(n), Doubler(), Summer()
    graph.connect(producer, "output", doubler, "input")
    graph.connect(doubler, "output", summer, "input")
    return graph, {producer: 1}


class WordProducer(ProducerPE):
    """Writes ``words`` words drawn (seeded) from a vocabulary of ``vocabulary`` words."""

    def __init__(self, words: int = 200_000, vocabulary: int = 1000, seed: int = 1) -> None:
        super().__init__()
        self.words, self.vocabulary, self.seed = words, vocabulary, seed

    def _process(self, inputs):
        rng = random.Random(self.seed)
        vocab = [f"w{i:04d}" for i in range(self.vocabulary)]
        for _ in range(self.words):
            self.write("output", (rng.choice(vocab),))


class WordCounter(GenericPE):
    """Counts words grouped by the word; writes partial counts at the end."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.counts: dict[str, int] = {}

    def process(self, inputs):
        word = inputs["input"][0]
        self.counts[word] = self.counts.get(word, 0) + 1

    def postprocess(self):
        for word, count in self.counts.items():
            self.write("output", (word, count))


class CountCollector(GenericPE):
    """Adds the partial counts ('global': one instance) and writes the top words."""

    def __init__(self, top: int = 10) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.top = top
        self.counts: dict[str, int] = {}

    def process(self, inputs):
        word, count = inputs["input"]
        self.counts[word] = self.counts.get(word, 0) + count

    def postprocess(self):
        ranked = sorted(self.counts.items(), key=lambda wc: (-wc[1], wc[0]))
        for word, count in ranked[: self.top]:
            self.write("output", (word, count))


def by_count(word_count: tuple[str, int]) -> tuple[int, str]:
    """Ranks (word, count) pairs: most frequent first, ties by word."""
    return -word_count[1], word_count[0]


def wordcount(words: int = 200_000, vocabulary: int = 1000, counters: int = 2, top: int = 10,
              seed: int = 1) -> tuple[WorkflowGraph, dict]:
    """Word count with :mod:`d4p.aggregate`: words → ``count(by=0)``
    (``counters`` instances) → global ``top``, which writes one list of the
    ``top`` (word, count) pairs. The plan counts words next to the producer
    and sends per-word partial counts, not words, to the counters."""
    _at_least(0, words=words)
    _at_least(1, vocabulary=vocabulary, counters=counters)
    graph = WorkflowGraph()
    producer = WordProducer(words, vocabulary, seed)
    counts = aggregate.count(by=0, numprocesses=counters)
    graph.connect(producer, "output", counts, "input")
    graph.connect(counts, "output", aggregate.top(top, rank=by_count, smallest=True), "input")
    return graph, {producer: 1}


def wordcount_plain(words: int = 200_000, vocabulary: int = 1000, counters: int = 2,
                    top: int = 10, seed: int = 1) -> tuple[WorkflowGraph, dict]:
    """Word count with plain PEs: words → :class:`WordCounter` (group-by word,
    ``counters`` instances) → a 'global' :class:`CountCollector`, which writes
    the ``top`` (word, count) pairs one by one. Every word crosses to a
    counter: the benchmarks compare it with :func:`wordcount`."""
    _at_least(0, words=words)
    _at_least(1, vocabulary=vocabulary, counters=counters)
    graph = WorkflowGraph()
    producer = WordProducer(words, vocabulary, seed)
    counter = WordCounter()
    counter.numprocesses = counters
    graph.connect(producer, "output", counter, "input")
    graph.connect(counter, "output", CountCollector(top), "input")
    return graph, {producer: 1}
