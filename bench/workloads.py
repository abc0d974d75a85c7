"""The benchmark workflows, written once against the dispel4py API that d4p
keeps, so that d4p and dispel4py 1.2.1 run the very same PE code.

Imported under d4p's interpreter it uses d4p; under the dispel4py venv's
interpreter (where d4p is not installed) it uses dispel4py. Each builder
returns ``(graph, inputs)``; every workflow ends in one PE that writes one
summary unit in ``postprocess``, which the harness checks.
"""

from __future__ import annotations

import random
import time

try:
    from d4p import ConsumerPE, GenericPE, IterativePE, ProducerPE, WorkflowGraph

    ENGINE = "d4p"
except ImportError:  # the dispel4py venv
    from dispel4py.base import ConsumerPE, IterativePE, ProducerPE
    from dispel4py.core import GenericPE
    from dispel4py.workflow_graph import WorkflowGraph

    ENGINE = "dispel4py"


# -- pipeline: producer -> doubler -> summer ---------------------------------------


class NumberProducer(ProducerPE):
    def __init__(self, n):
        ProducerPE.__init__(self)
        self.n = n

    def _process(self, inputs):
        for i in range(self.n):
            self.write("output", i)


class Doubler(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        return 2 * data


class Summer(ConsumerPE):
    """Sums its input; writes the total at the end of the stream."""

    def __init__(self):
        ConsumerPE.__init__(self)
        self._add_output("output")
        self.total = 0

    def _process(self, data):
        self.total += data

    def _postprocess(self):
        self.write("output", self.total)


def pipeline(n=200_000):
    graph = WorkflowGraph()
    producer, doubler, summer = NumberProducer(n), Doubler(), Summer()
    graph.connect(producer, "output", doubler, "input")
    graph.connect(doubler, "output", summer, "input")
    return graph, {producer: 1}


def pipeline_expected(n=200_000):
    return [n * (n - 1)]


def bare_pipeline(n=200_000):
    """The pipeline's calls in plain Python, no mapping: the producer's loop,
    whose ``write`` calls the doubler's ``_process`` and hands the result to
    the summer's ``_process``. The floor for any mapping."""
    producer, doubler, summer = NumberProducer(n), Doubler(), Summer()
    double, add = doubler._process, summer._process

    def write(name, data):
        add(double(data))

    producer.write = write
    producer._process({})
    return [summer.total]


def tight_pipeline(n=200_000):
    """Even less than the bare loop: ``add(double(i))`` for i in range(n)."""
    doubler, summer = Doubler(), Summer()
    double, add = doubler._process, summer._process
    for i in range(n):
        add(double(i))
    return [summer.total]


# -- word count: words -> counter (group-by, 2 instances) -> global collector ---------


class WordProducer(ProducerPE):
    def __init__(self, words, vocabulary, seed=1):
        ProducerPE.__init__(self)
        self.words, self.vocabulary, self.seed = words, vocabulary, seed

    def _process(self, inputs):
        rng = random.Random(self.seed)
        vocab = [f"w{i:04d}" for i in range(self.vocabulary)]
        for word in rng.choices(vocab, k=self.words):
            self.write("output", (word,))


class WordCounter(GenericPE):
    """Counts the words it is given (grouped by word); writes partial counts
    in postprocess."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.counts = {}

    def process(self, inputs):
        word = inputs["input"][0]
        self.counts[word] = self.counts.get(word, 0) + 1

    def postprocess(self):
        for word, count in self.counts.items():
            self.write("output", (word, count))


class CountCollector(GenericPE):
    """'global': adds the partial counts; writes (total words, distinct words,
    the ten most frequent words)."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.counts = {}

    def process(self, inputs):
        word, count = inputs["input"]
        self.counts[word] = self.counts.get(word, 0) + count

    def postprocess(self):
        top = sorted(self.counts.items(), key=lambda wc: (-wc[1], wc[0]))[:10]
        self.write("output", [sum(self.counts.values()), len(self.counts), top])


def wordcount(words=200_000, vocabulary=1000, counters=2):
    graph = WorkflowGraph()
    producer, counter, collector = WordProducer(words, vocabulary), WordCounter(), CountCollector()
    counter.numprocesses = counters
    graph.connect(producer, "output", counter, "input")
    graph.connect(counter, "output", collector, "input")
    return graph, {producer: 1}


def wordcount_aggregate(words=200_000, vocabulary=1000, counters=2):
    """The same word count with ``d4p.aggregate.count(by=0)`` as the counter
    (d4p only): the plan counts words next to the producer, so per-word
    partial counts cross processes, not words."""
    from d4p import aggregate

    graph = WorkflowGraph()
    producer, collector = WordProducer(words, vocabulary), CountCollector()
    counter = aggregate.count(by=0, numprocesses=counters)
    graph.connect(producer, "output", counter, "input")
    graph.connect(counter, "output", collector, "input")
    return graph, {producer: 1}


def wordcount_expected(words=200_000, vocabulary=1000):
    rng = random.Random(1)
    vocab = [f"w{i:04d}" for i in range(vocabulary)]
    counts = {}
    for word in rng.choices(vocab, k=words):
        counts[word] = counts.get(word, 0) + 1
    top = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:10]
    return [[words, len(counts), [list(wc) for wc in top]]]


# -- CPU-bound: about 2 ms of NumPy work per unit, 2 instances -------------------------

FFT_SIZE = 32_768


class FFTWork(IterativePE):
    """A forward and inverse real FFT of a 32,768-sample signal per unit."""

    def __init__(self):
        IterativePE.__init__(self)
        import numpy  # noqa: F401  (loaded before the clock starts; not at the top: the
        # dispel4py venv has none, and bench/startup.py imports this module for its pipeline)

    def _process(self, seed):
        import numpy as np

        x = np.random.default_rng(seed).standard_normal(FFT_SIZE)
        y = np.fft.irfft(np.fft.rfft(x) * 0.5, FFT_SIZE)
        return round(float(np.abs(y).sum()) / FFT_SIZE, 6)


class Counter(ConsumerPE):
    """Counts its units; writes the count at the end of the stream."""

    def __init__(self):
        ConsumerPE.__init__(self)
        self._add_output("output")
        self.count = 0

    def _process(self, data):
        self.count += 1

    def _postprocess(self):
        self.write("output", self.count)


def cpu(n=600, workers=2):
    graph = WorkflowGraph()
    producer, work, counter = NumberProducer(n), FFTWork(), Counter()
    work.numprocesses = workers
    graph.connect(producer, "output", work, "input")
    graph.connect(work, "output", counter, "input")
    return graph, {producer: 1}


def cpu_expected(n=600):
    return [n]


# -- memory: many small units into a consumer 10x slower than the producer ------------

CONSUMER_SECONDS = 4e-6
"""Busy time per unit of the slow consumer: about 10x what the producer spends
writing one unit (see bench/README.md)."""


class SlowCounter(Counter):
    def _process(self, data):
        end = time.perf_counter() + CONSUMER_SECONDS
        while time.perf_counter() < end:
            pass
        self.count += 1


def memory(n=5_000_000):
    graph = WorkflowGraph()
    producer, consumer = NumberProducer(n), SlowCounter()
    graph.connect(producer, "output", consumer, "input")
    graph.partitions = [[producer], [consumer]]  # never fused: units cross processes
    return graph, {producer: 1}


def memory_expected(n=5_000_000):
    return [n]


WORKLOADS = {
    "pipeline": (pipeline, pipeline_expected),
    "wordcount": (wordcount, wordcount_expected),
    "wordcount_aggregate": (wordcount_aggregate, wordcount_expected),
    "cpu": (cpu, cpu_expected),
    "memory": (memory, memory_expected),
}
