"""Word count with d4p.aggregate against today's plain-PE word count.

Both are workflows of ``bench/workloads.py`` over the same seeded words (the
word count that ``bench/run.py`` measures against dispel4py): ``wordcount``
(a counter PE grouped by word, 2 instances, every word crosses a pipe to its
counter, then a 'global' collector) and ``wordcount_aggregate``
(``aggregate.count(by=0)``, 2 instances, then the same collector: the plan
counts words next to the producer, so per-word partial counts cross the pipe,
not words). ``--examples`` runs ``d4p.examples.wordcount_plain`` and
``wordcount`` (the named workflow, with d4p.aggregate) instead (their producer draws each word with
``random.choice``, 2.5x the cost of the benchmark's ``random.choices``, and
the aggregate one ends in ``aggregate.top``). Runs alternate (plain, aggregate, plain, ...) in this one
process, so that a shared machine's changing load weighs on both alike; the
clock covers ``d4p.run`` (process start-up of multi/mpi included, for both).
CPU seconds are those of this process and of every process it started and
waited for (the workers; mpiexec and its ranks), a measure of the work done
that a loaded machine disturbs less than wall time. Both must give the same
top ten. ``--dispel4py`` also times dispel4py 1.2.1's multi -n 4 on the
plain word count (``bench/measure.py`` in the venv of
``bench/dispel4py_env.py``; one run after each pair, its clock excludes
the interpreter's start as d4p's does). For mpi the ranks' enactment is
printed too: from every rank ready to the results gathered
(``d4p_mpi.launch.LAST_RUN``), without the start-up of mpiexec and its
interpreters. Usage::

    python bench/aggregate.py [--mapping multi] [-n 2] [--words 200000] [--repeat 5]
                              [--examples] [--dispel4py]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import d4p
from d4p import examples

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads  # noqa: E402


def word_count(build, words: int, mapping: str, processes: int, **options) -> list:
    """The top words of a run of the workflow ``build(words)``."""
    (out,) = d4p.run(*build(words), mapping=mapping, processes=processes, **options).values()
    top = out["output"]
    return top[0] if build is examples.wordcount else top  # one list of pairs


PAIRS = {  # (plain PEs, d4p.aggregate)
    "bench/workloads.py": (workloads.wordcount, workloads.wordcount_aggregate),
    "d4p.examples": (examples.wordcount_plain, examples.wordcount),
}


def dispel4py_multi(words: int) -> float:
    """Seconds of one run of dispel4py 1.2.1 multi -n 4 on the plain word count."""
    import dispel4py_env

    python = str(dispel4py_env.ensure())
    cmd = [python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "measure.py"),
           "wordcount", "--engine", "dispel4py", "--mapping", "multi", "-n", "4",
           "--size", str(words)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["outputs"] != workloads.wordcount_expected(words):
        raise SystemExit(f"dispel4py's word count gave {str(out['outputs'])[:200]}")
    return out["seconds"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mapping", default="multi")
    parser.add_argument("-n", "--processes", type=int, default=2)
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--examples", action="store_true",
                        help="the word counts of d4p.examples, not of bench/workloads.py")
    parser.add_argument("--dispel4py", action="store_true",
                        help="also time dispel4py 1.2.1 multi -n 4 on the plain word count")
    args = parser.parse_args(argv)
    options = {"timeout": 120} if args.mapping == "mpi" else {}
    which = "d4p.examples" if args.examples else "bench/workloads.py"
    pair = [functools.partial(word_count, build) for build in PAIRS[which]]
    run = (args.words, args.mapping, args.processes)
    if pair[0](*run, **options) != pair[1](*run, **options):  # also the warm-up
        raise SystemExit("the two word counts disagree")
    times: tuple[list[float], list[float]] = ([], [])
    cpus: tuple[list[float], list[float]] = ([], [])
    enacts: tuple[list[float], list[float]] = ([], [])
    theirs: list[float] = []
    for _ in range(args.repeat):
        for k, fn in enumerate(pair):
            cpu, start = _cpu(), time.perf_counter()
            fn(*run, **options)
            times[k].append(time.perf_counter() - start)
            cpus[k].append(_cpu() - cpu)
            if args.mapping == "mpi":
                from d4p_mpi.launch import LAST_RUN

                enacts[k].append(LAST_RUN["enact_seconds"])
        if args.dispel4py:
            theirs.append(dispel4py_multi(args.words))
    t_plain, t_agg = statistics.median(times[0]), statistics.median(times[1])
    c_plain, c_agg = statistics.median(cpus[0]), statistics.median(cpus[1])
    print(f"word count ({which}), {args.words:,} words, {args.mapping} -n {args.processes}, "
          f"medians of {args.repeat}: plain PEs {t_plain:.3f} s ({c_plain:.3f} CPU s), "
          f"d4p.aggregate {t_agg:.3f} s ({c_agg:.3f} CPU s); throughput ratio "
          f"{t_plain / t_agg:.2f}x (best runs: {min(times[0]) / min(times[1]):.2f}x), "
          f"CPU ratio {c_plain / c_agg:.2f}x")
    for k, name in enumerate(("plain", "aggregate")):
        print(f"  {name}: " + ", ".join(f"{t:.3f} s/{c:.3f} CPU s"
                                         for t, c in zip(times[k], cpus[k], strict=True)))
    if enacts[0]:
        e_plain, e_agg = statistics.median(enacts[0]), statistics.median(enacts[1])
        print(f"  enactment (every rank ready to results gathered: start-up of mpiexec and "
              f"the interpreters excluded): plain PEs {e_plain:.3f} s, d4p.aggregate "
              f"{e_agg:.3f} s; throughput ratio {e_plain / e_agg:.2f}x")
    if args.dispel4py:
        print(f"dispel4py 1.2.1 multi -n 4, plain word count: median {statistics.median(theirs):.3f}"
              f" s; d4p.aggregate {args.mapping} -n {args.processes} throughput "
              f"{statistics.median(theirs) / t_agg:.1f}x that (" +
              ", ".join(f"{t:.3f} s" for t in theirs) + ")")


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
