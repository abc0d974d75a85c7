"""d4p on Spark vs hand-written PySpark: the same work, the same SparkContext.

Three workloads:

* word count: ``d4p.examples.wordcount_plain`` (seeded words from one source,
  group-by counters of plain PEs, a global top-10) against two RDD jobs that draw the same
  words in one partition: the idiomatic one (``reduceByKey`` into as many
  partitions as d4p has counters, which combines counts before the shuffle,
  then ``takeOrdered(10)``) and d4p's own dataflow by hand (``partitionBy``
  the word, count per partition, ``takeOrdered(10)``);
* aggregate word count: ``d4p.examples.wordcount`` (the same
  words, ``d4p.aggregate.count(by=0)`` then ``top(10)``: partial counts next
  to the source, merged by ``reduceByKey``) against the ``reduceByKey`` job;
* xcorr: N seeded random signals of 72,000 samples, FFT of each, cross
  correlation of every pair (peak lag and value). d4p: source → spectrum
  (parallel) → xcorr ('all' grouping: every instance sees every spectrum and
  correlates the pairs assigned to it). PySpark: spectra with ``map``,
  collected and broadcast, pairs with ``map``.

Both check that they computed the same answer. Session start-up is excluded:
the context starts and every job runs ``--warmup`` times before any timing;
then d4p and PySpark runs alternate, so that a shared machine's changing load
weighs on both alike. Usage::

    python packages/d4p-spark/benchmarks/spark_bench.py [--repeat 3] [--words 200000]
        [--signals 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import operator
import random
import statistics
import time

import d4p
import d4p_spark
import numpy as np
from d4p.examples import wordcount, wordcount_plain

SAMPLES = 72_000


# -- word count ------------------------------------------------------------------------

def wordcount_d4p(words: int, counters: int):
    graph, inputs = wordcount_plain(words=words, counters=counters)
    (out,) = d4p.run(graph, inputs, mapping="spark").values()
    return out["output"]


def wordcount_aggregate_d4p(words: int, counters: int):
    """The same word count with d4p.aggregate: count(by=0) then top(10)."""
    graph, inputs = wordcount(words=words, counters=counters)
    (out,) = d4p.run(graph, inputs, mapping="spark").values()
    (top,) = out["output"]
    return top


def wordcount_rdd(sc, words: int, counters: int, vocabulary: int = 1000, seed: int = 1):
    def draw(_):
        rng = random.Random(seed)
        vocab = [f"w{i:04d}" for i in range(vocabulary)]
        for _ in range(words):
            yield rng.choice(vocab), 1

    pairs = sc.parallelize([0], 1).flatMap(draw)
    counts = pairs.reduceByKey(operator.add, counters)
    return counts.takeOrdered(10, key=lambda wc: (-wc[1], wc[0]))


def wordcount_rdd_dataflow(sc, words: int, counters: int, vocabulary: int = 1000,
                           seed: int = 1):
    """d4p's dataflow by hand: every word to its counter partition, no
    map-side combining; partial counts to the driver."""
    def draw(_):
        rng = random.Random(seed)
        vocab = [f"w{i:04d}" for i in range(vocabulary)]
        for _ in range(words):
            yield rng.choice(vocab), None

    def count(pairs):
        counts = {}
        for word, _ in pairs:
            counts[word] = counts.get(word, 0) + 1
        return counts.items()

    partial = sc.parallelize([0], 1).flatMap(draw).partitionBy(counters).mapPartitions(count)
    return partial.takeOrdered(10, key=lambda wc: (-wc[1], wc[0]))


# -- xcorr-like ------------------------------------------------------------------------

def signal(i: int) -> np.ndarray:
    return np.random.default_rng(i).standard_normal(SAMPLES)


def spectrum(i: int) -> tuple[int, np.ndarray]:
    return i, np.fft.rfft(signal(i), 2 * SAMPLES)


def correlate(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    cc = np.fft.irfft(a * np.conj(b), 2 * SAMPLES)
    k = int(np.argmax(np.abs(cc)))
    return (k if k < SAMPLES else k - 2 * SAMPLES), float(cc[k])


class Signals(d4p.ProducerPE):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def _process(self, inputs):
        for i in range(self.n):
            self.write("output", i)


class Spectrum(d4p.IterativePE):
    def _process(self, i):
        return spectrum(i)


class XCorr(d4p.GenericPE):
    """Sees every spectrum ('all'); correlates the pairs (i, j), i < j, whose
    number modulo the instance count is this instance's index."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input", grouping="all")
        self._add_output("output")

    def preprocess(self):
        self.spectra = {}

    def process(self, inputs):
        j, b = inputs["input"]
        for i, a in self.spectra.items():
            lo, hi = min(i, j), max(i, j)
            if (lo * 100_003 + hi) % self.numprocesses == self.instance:
                first, second = (a, b) if i < j else (b, a)
                self.write("output", (lo, hi, *correlate(first, second)))
        self.spectra[j] = b


def xcorr_d4p(n: int, parallel: int):
    graph = d4p.WorkflowGraph()
    source, spec, xcorr = Signals(n), Spectrum(), XCorr()
    spec.numprocesses = parallel
    xcorr.numprocesses = parallel
    graph.connect(source, "output", spec, "input")
    graph.connect(spec, "output", xcorr, "input")
    (out,) = d4p.run(graph, {source: 1}, mapping="spark").values()
    return sorted(out["output"])


def xcorr_rdd(sc, n: int, parallel: int):
    spectra = dict(sc.parallelize(range(n), parallel).map(spectrum).collect())
    shared = sc.broadcast(spectra)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]

    def one(pair):
        i, j = pair
        return (i, j, *correlate(shared.value[i], shared.value[j]))

    try:
        return sorted(sc.parallelize(pairs, parallel).map(one).collect())
    finally:
        shared.unpersist()


# -- harness -----------------------------------------------------------------------------

def interleaved(ours, theirs, repeat: int) -> tuple[list[float], list[float]]:
    """Times of ``repeat`` runs of each, alternating, so that a machine's
    changing load weighs on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((ours, times[0]), (theirs, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return times


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--signals", type=int, default=60)
    parser.add_argument("--parallel", type=int, default=2,
                        help="instances of the parallel PEs = partitions of the RDD jobs")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--only", choices=("wordcount", "aggregate", "xcorr"),
                        help="run one workload")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed rounds of every workload first (checked to agree)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    sc = d4p_spark.get_context(args.master)
    startup = time.perf_counter() - start
    workloads = {
        f"wordcount ({args.words:,} words, {args.parallel} counters) vs reduceByKey": (
            lambda: wordcount_d4p(args.words, args.parallel),
            lambda: wordcount_rdd(sc, args.words, args.parallel)),
        f"aggregate wordcount ({args.words:,} words, {args.parallel} counters) vs "
        "reduceByKey": (
            lambda: wordcount_aggregate_d4p(args.words, args.parallel),
            lambda: wordcount_rdd(sc, args.words, args.parallel)),
        f"wordcount ({args.words:,} words, {args.parallel} counters) vs partitionBy": (
            lambda: wordcount_d4p(args.words, args.parallel),
            lambda: wordcount_rdd_dataflow(sc, args.words, args.parallel)),
        f"xcorr ({args.signals} x {SAMPLES:,} samples, "
        f"{args.signals * (args.signals - 1) // 2} pairs)": (
            lambda: xcorr_d4p(args.signals, args.parallel),
            lambda: xcorr_rdd(sc, args.signals, args.parallel)),
    }
    report = {"master": sc.master, "startup_seconds": round(startup, 2), "workloads": {}}
    print(f"Spark {sc.version}, master {sc.master}, context start {startup:.1f} s (excluded)")
    if args.only:
        workloads = {k: v for k, v in workloads.items() if k.startswith(args.only)}
    for _ in range(args.warmup):  # Python workers, the JVM's JIT: before any timing
        for name, (ours, theirs) in workloads.items():
            a, b = ours(), theirs()
            if a != b:
                raise SystemExit(f"{name}: d4p and PySpark disagree:\n{a[:5]}\n{b[:5]}")
    for name, (ours, theirs) in workloads.items():
        all_ours, all_theirs = interleaved(ours, theirs, args.repeat)
        t_ours, t_theirs = statistics.median(all_ours), statistics.median(all_theirs)
        ratio, best = t_ours / t_theirs, min(all_ours) / min(all_theirs)
        report["workloads"][name] = {
            "d4p_spark_seconds": round(t_ours, 3), "pyspark_seconds": round(t_theirs, 3),
            "ratio": round(ratio, 2), "ratio_of_bests": round(best, 2), "runs": args.repeat,
            "d4p_all": [round(t, 3) for t in all_ours],
            "pyspark_all": [round(t, 3) for t in all_theirs]}
        print(f"{name}: d4p spark {t_ours:.3f} s, hand-written PySpark {t_theirs:.3f} s, "
              f"ratio {ratio:.2f} (medians of {args.repeat}; of the best runs: {best:.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
