"""Before/after in one command: the pipeline and word count of
``bench/workloads.py`` on two source trees, alternating, each run in a fresh
interpreter with that tree's ``packages/*/src`` first on ``PYTHONPATH``.

    git worktree add --detach /tmp/base REV
    python bench/ab.py /tmp/base . --rounds 15

Times are those of ``d4p.run`` alone (imports and start-up outside the
clock); prints the median of each and the ratio new/base.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import sys, time, json
sys.path.insert(0, sys.argv[4])
import d4p
from workloads import pipeline, wordcount
make, mapping, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
graph, inputs = {"pipeline": pipeline, "wordcount": wordcount}[make]()
start = time.perf_counter()
d4p.run(graph, inputs, mapping=mapping, processes=n if mapping != "simple" else None)
print(json.dumps(time.perf_counter() - start))
"""

CASES = [("pipeline", "multi", 4), ("wordcount", "multi", 4), ("pipeline", "simple", 1),
         ("wordcount", "simple", 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", nargs="*", default=(), metavar="CASE",
                        help="cases to run, as workload-mapping (wordcount-multi)")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.only or f"{c[0]}-{c[1]}" in args.only]
    trees = {"base": args.base.resolve(), "new": args.new.resolve()}
    bench = str(Path(__file__).resolve().parent)
    times: dict[tuple, list[float]] = {(c, t): [] for c in cases for t in trees}
    for round_ in range(args.rounds):
        order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
        for case in cases:
            for name, tree in order:
                env = dict(os.environ, PYTHONPATH=":".join(glob.glob(f"{tree}/packages/*/src")))
                done = subprocess.run([sys.executable, "-c", CHILD, *map(str, case), bench],
                                      env=env, capture_output=True, text=True, timeout=300,
                                      check=True)
                times[(case, name)].append(json.loads(done.stdout.splitlines()[-1]))
    for case in cases:
        base, new = (statistics.median(times[(case, t)]) for t in trees)
        print(f"{case[0]:10s} {case[1]:6s} -n {case[2]}: base {base * 1000:7.1f} ms  "
              f"new {new * 1000:7.1f} ms  ratio {new / base:.3f}")


if __name__ == "__main__":
    main()
