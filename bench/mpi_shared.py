"""mpi with ranks that host several instances: a many-to-many graph of
large NumPy units on ``mpi -n 5`` (ranks shared) and ``mpi -n 13`` (one
instance a rank), against ``simple``, on two source trees in one run.

    git worktree add --detach /tmp/mpiperf-base main
    python bench/mpi_shared.py /tmp/mpiperf-base . --rounds 3

Two sources write ``--units`` arrays of ``--mb`` MB each (``(source, k,
array)``) to four PEs: 3 instances by shuffle, 4 by group-by, 3 with
``'all'`` and 1 ``'global'``. Every PE writes ``(units, checksum)`` per
instance in ``postprocess``; each run's results are checked against
``simple``'s (the same units, the same sums). Each run is a fresh
interpreter with the tree's ``packages/*/src`` first on ``PYTHONPATH``;
prints the median seconds of ``d4p.run`` and the ratios.
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

import d4p
import numpy as np


class Arrays(d4p.ProducerPE):
    """Writes ``(source, k, array)`` for k < units; the array is ``k + source``
    everywhere, of ``elements`` float64."""

    def __init__(self, source: int, units: int, elements: int) -> None:
        super().__init__()
        self.source, self.units, self.elements = source, units, elements

    def _process(self, inputs):
        for k in range(self.units):
            self.write("output", (self.source, k, np.full(self.elements, k + self.source, "f8")))


class Tally(d4p.GenericPE):
    """Counts and sums what it gets; writes ``(units, sum)`` at the end."""

    def __init__(self, grouping) -> None:
        super().__init__()
        self._add_input("input", grouping=grouping)
        self._add_output("output")
        self.units, self.total = 0, 0.0

    def process(self, inputs):
        source, k, array = inputs["input"]
        self.units += 1
        self.total += float(array[0]) * len(array) + source * 1000 + k

    def postprocess(self):
        self.write("output", (self.units, self.total))


def many_to_many(units: int, elements: int) -> d4p.WorkflowGraph:
    """2 sources → Tally ×3 shuffle, ×4 group-by, ×3 'all', ×1 'global'."""
    graph = d4p.WorkflowGraph()
    sources = [Arrays(s, units, elements) for s in (0, 1)]
    for count, grouping in ((3, "shuffle"), (4, d4p.group_by(1)), (3, "all"), (1, "global")):
        tally = Tally(grouping)
        tally.name = f"Tally_{grouping if isinstance(grouping, str) else 'group_by'}"
        tally.numprocesses = count
        for source in sources:
            graph.connect(source, "output", tally, "input")
    return graph


def outcome(result) -> dict:
    """Per PE: the units and the sum over all its instances."""
    return {pe: [sum(u for u, _ in out["output"]), round(sum(t for _, t in out["output"]), 3)]
            for pe, out in sorted(result.items())}


CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[5])
import d4p
from mpi_shared import many_to_many, outcome
mapping, n, units, elements = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
graph = many_to_many(units, elements)
start = time.perf_counter()
options = {"processes": n, "timeout": 600} if n else {}
result = d4p.run(graph, mapping=mapping, **options)
print(json.dumps([time.perf_counter() - start, outcome(result)]))
"""


def measure(tree: Path, mapping: str, n: int, units: int, elements: int) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONPATH=":".join(glob.glob(f"{tree}/packages/*/src")))
    bench = str(Path(__file__).resolve().parent)
    done = subprocess.run([sys.executable, "-c", CHILD, mapping, str(n), str(units),
                           str(elements), bench], env=env, capture_output=True, text=True,
                          timeout=900)
    if done.returncode:
        sys.exit(f"{tree} {mapping} -n {n} failed:\n{done.stderr}")
    seconds, result = json.loads(done.stdout.splitlines()[-1])
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--units", type=int, default=60, help="arrays per source")
    parser.add_argument("--mb", type=float, default=2.4, help="MB per array")
    parser.add_argument("-n", type=int, nargs="*", default=[5, 13], help="mpi ranks")
    args = parser.parse_args()
    elements = int(args.mb * 1e6 / 8)
    trees = {"base": args.base.resolve(), "new": args.new.resolve()}
    _, expected = measure(trees["new"], "simple", 0, args.units, elements)
    print(f"simple: {json.dumps(expected)}", file=sys.stderr)
    times: dict[tuple, list[float]] = {}
    for round_ in range(args.rounds):
        order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
        for n in [0, *args.n]:
            for name, tree in order:
                if n == 0 and name == "base":
                    continue
                seconds, result = measure(tree, "mpi" if n else "simple", n, args.units,
                                          elements)
                if result != expected:
                    sys.exit(f"{name} mpi -n {n}: wrong results {result} (simple: {expected})")
                times.setdefault((name, n), []).append(seconds)
                print(f"round {round_ + 1} {name} -n {n}: {seconds:.2f} s", file=sys.stderr)
    simple = statistics.median(times[("new", 0)])
    print(f"{args.units} x 2 arrays of {args.mb} MB; median of {args.rounds} rounds; "
          f"simple {simple:.2f} s (results equal everywhere)")
    print("| ranks | base s | new s | new/base | base/simple | new/simple |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in args.n:
        base, new = statistics.median(times[("base", n)]), statistics.median(times[("new", n)])
        print(f"| {n} | {base:.2f} | {new:.2f} | {new / base:.2f} | {base / simple:.2f} | "
              f"{new / simple:.2f} |")


if __name__ == "__main__":
    main()
