"""Word count with d4p.aggregate against today's plain-PE word count.

Both are ``d4p.examples`` workflows over the same seeded words:
``wordcount`` (a counter PE grouped by word, 2 instances, every word crosses a
pipe to its counter, then a 'global' collector) and ``wordcount_aggregate``
(``aggregate.count(by=0)``, 2 instances, then ``aggregate.top(10)``: the plan
counts words next to the producer, so per-word partial counts cross the pipe,
not words). Runs alternate (plain, aggregate, plain, ...) in this one
process, so that a shared machine's changing load weighs on both alike; the
clock covers ``d4p.run`` (process start-up of multi/mpi included, for both).
CPU seconds are those of this process and of every process it started and
waited for (the workers; mpiexec and its ranks), a measure of the work done
that a loaded machine disturbs less than wall time. Both must give the same
top ten. Usage::

    python bench/aggregate.py [--mapping multi] [-n 2] [--words 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import d4p
from d4p.examples import wordcount, wordcount_aggregate


def plain(words: int, mapping: str, processes: int, **options) -> list:
    (out,) = d4p.run(*wordcount(words), mapping=mapping, processes=processes,
                     **options).values()
    return out["output"]


def aggregated(words: int, mapping: str, processes: int, **options) -> list:
    (out,) = d4p.run(*wordcount_aggregate(words), mapping=mapping, processes=processes,
                     **options).values()
    (top,) = out["output"]
    return top


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mapping", default="multi")
    parser.add_argument("-n", "--processes", type=int, default=2)
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    options = {"timeout": 120} if args.mapping == "mpi" else {}
    run = (args.words, args.mapping, args.processes)
    if plain(*run, **options) != aggregated(*run, **options):  # also the warm-up
        raise SystemExit("the two word counts disagree")
    times: tuple[list[float], list[float]] = ([], [])
    cpus: tuple[list[float], list[float]] = ([], [])
    for _ in range(args.repeat):
        for k, fn in enumerate((plain, aggregated)):
            cpu, start = _cpu(), time.perf_counter()
            fn(*run, **options)
            times[k].append(time.perf_counter() - start)
            cpus[k].append(_cpu() - cpu)
    t_plain, t_agg = statistics.median(times[0]), statistics.median(times[1])
    c_plain, c_agg = statistics.median(cpus[0]), statistics.median(cpus[1])
    print(f"word count, {args.words:,} words, {args.mapping} -n {args.processes}, "
          f"medians of {args.repeat}: plain PEs {t_plain:.3f} s ({c_plain:.3f} CPU s), "
          f"d4p.aggregate {t_agg:.3f} s ({c_agg:.3f} CPU s); throughput ratio "
          f"{t_plain / t_agg:.2f}x (best runs: {min(times[0]) / min(times[1]):.2f}x), "
          f"CPU ratio {c_plain / c_agg:.2f}x")
    for k, name in enumerate(("plain", "aggregate")):
        print(f"  {name}: " + ", ".join(f"{t:.3f} s/{c:.3f} CPU s"
                                         for t, c in zip(times[k], cpus[k], strict=True)))


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
