"""The final merge of d4p.aggregate, this tree against another (issue 14).

A keyed aggregate's final merge receives one partial state per key from each
partial. ``distinct``: ``d4p.testing.aggregates.distinct_keys`` on multi
-n 2 (a source writes ``--keys`` distinct keys into ``count(by=0)``; its
process holds the source and the partial, the other process the final count,
which merges one state per key); ``wordcount``: ``d4p.examples.wordcount``
(200,000 words, 1,000 keys: few states to merge, a check that the partials'
path did not get slower). Each run is a fresh interpreter with the tree's
``packages/*/src`` first on ``sys.path``; runs alternate between the trees
(baseline, this tree, baseline, ...), so that a shared machine's changing
load weighs on both alike. The clock and the CPU seconds (the run's process
and every worker it waited for) cover ``d4p.run`` only. Usage::

    git archive main packages | tar -x -C /tmp/main-tree
    python bench/aggregate_merge.py --baseline-tree /tmp/main-tree [--keys 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_ONE_RUN = """
import json, resource, sys, time
import d4p
kind, size = sys.argv[1], int(sys.argv[2])
if kind == "distinct":
    from d4p.testing.aggregates import distinct_keys
    graph, inputs, pes = distinct_keys(size)
    check = lambda r: r[pes["keys"].id]["output"] == r[pes["total"].id]["output"] == [size]
else:
    from d4p.examples import wordcount
    graph, inputs = wordcount(words=size)
    check = lambda r: len(r[next(iter(r))]["output"][0]) == 10
before = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
start = time.perf_counter()
result = d4p.run(graph, inputs, mapping="multi", processes=2)
wall = time.perf_counter() - start
after = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
cpu = sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before))
assert check(result), "wrong result"
print(json.dumps({"wall": wall, "cpu": cpu}))
"""


def one_run(tree: Path, kind: str, size: int) -> dict:
    paths = [str(p) for p in sorted((tree / "packages").glob("*/src"))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run([sys.executable, "-c", _ONE_RUN, kind, str(size)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"{tree}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-tree", type=Path, required=True)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    trees = {"baseline": args.baseline_tree.resolve(),
             "this tree": Path(__file__).resolve().parents[1]}
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    for kind, size in (("distinct", args.keys), ("wordcount", args.words)):
        got: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.repeat):
            for name, tree in trees.items():
                got[name].append(one_run(tree, kind, size))
        medians = {name: {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu")}
                   for name, runs in got.items()}
        base, this = medians["baseline"], medians["this tree"]
        print(f"{kind} ({size:,}), multi -n 2, medians of {args.repeat}: "
              f"baseline {base['wall']:.2f} s wall / {base['cpu']:.2f} s CPU; "
              f"this tree {this['wall']:.2f} s / {this['cpu']:.2f} s; "
              f"ratio {this['wall'] / base['wall']:.2f} wall, {this['cpu'] / base['cpu']:.2f} CPU")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
