"""Start-up of the command line: what a short development run costs (issue 20).

``python bench/startup.py [--repeat 5]`` times, as wall time of the whole
command:

- ``d4p run wf.py`` of a 10-unit pipeline (producer → doubler → summer, the
  PEs of ``workloads.py``, which imports NumPy only for the cpu workload) against dispel4py 1.2.1's ``dispel4py simple wf.py``
  of the very same file, run alternately, median of ``--repeat``;
- ``d4p mappings`` (every installed plugin's mappings), median of ``--repeat``;
- with ``--baseline-tree DIR`` (another checkout, e.g. the main branch),
  ``d4p mappings`` with that tree's package sources first on ``PYTHONPATH``
  against this tree's, alternately: what a change to the plugins' start-up
  gained, as a ratio measured in the same run.

Each run's output is checked (the sum 90), so a failing command cannot pass
for a fast one. Results go to stdout as Markdown.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKFLOW = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
from workloads import pipeline

graph, _ = pipeline(10)
"""


def _d4p() -> list[str]:
    found = shutil.which("d4p")
    return [found] if found else [sys.executable, "-m", "d4p"]


CPU: dict[str, list[float]] = {}
"""CPU seconds (user + system) of each command's runs: less sensitive to a loaded host."""


def _time(cmd: list[str], expect: str | None, record: bool = True,
          env: dict[str, str] | None = None) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or (expect is not None and expect not in done.stdout):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")
    if record:
        CPU.setdefault(" ".join(cmd[:2]), []).append(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return seconds


TREES: dict[str, list[float]] = {}
"""``d4p mappings`` CPU seconds per source tree (``--baseline-tree``)."""


def _time_in(tree: Path, label: str) -> None:
    paths = sorted(str(p) for p in tree.glob("packages/*/src"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "d4p", "mappings"], env=env,
                          capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "simple" not in done.stdout:
        raise SystemExit(f"d4p mappings from {tree} failed:\n{done.stdout}{done.stderr}")
    TREES.setdefault(f"{label} ({tree})", []).append(
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="a checkout whose d4p mappings is timed against this one's")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from dispel4py_env import ensure, environment

    load = os.getloadavg()
    dispel4py = ensure(log=lambda m: print(m, file=sys.stderr)).parent / "dispel4py"
    with tempfile.TemporaryDirectory() as tmp:
        wf = Path(tmp) / "wf10.py"
        wf.write_text(WORKFLOW)
        ours = [*_d4p(), "run", str(wf)]
        theirs = [str(dispel4py), "simple", str(wf), "-i", "1"]
        print("$ " + " ".join(ours), "\n$ " + " ".join(theirs), file=sys.stderr)
        _time(ours, "90", record=False)  # warm the caches
        _time(theirs, "90", record=False, env=environment())
        d4p_s, dispel4py_s = [], []
        for _ in range(args.repeat):
            d4p_s.append(_time(ours, "90"))
            dispel4py_s.append(_time(theirs, "90", env=environment()))
        listing = [_time([*_d4p(), "mappings"], "simple") for _ in range(args.repeat)]
        if args.baseline_tree is not None:
            trees = {"baseline": args.baseline_tree.resolve(), "this tree": HERE.parent}
            for _ in range(args.repeat):
                for label, tree in trees.items():
                    _time_in(tree, label)
    cpu = [statistics.median(runs) for runs in CPU.values()]
    d4p_m, dispel4py_m = statistics.median(d4p_s), statistics.median(dispel4py_s)
    print(f"load average before: {load[0]:.1f}, after: {os.getloadavg()[0]:.1f}\n")
    print("| command | median wall time (s) | runs (s) | median CPU time (s) |")
    print("| --- | ---: | --- | ---: |")
    for (name, runs), cpu_s in zip((("d4p run wf.py (10 units, simple)", d4p_s),
                                    ("dispel4py simple wf.py (dispel4py 1.2.1)", dispel4py_s),
                                    ("d4p mappings", listing)), cpu, strict=True):
        print(f"| `{name}` | {statistics.median(runs):.3f} | "
              f"{', '.join(f'{s:.3f}' for s in runs)} | {cpu_s:.3f} |")
    print(f"\nd4p / dispel4py: **{d4p_m / dispel4py_m:.2f}×** wall, "
          f"**{cpu[0] / cpu[1]:.2f}×** CPU (target ≤ 0.6×); "
          f"d4p mappings: **{statistics.median(listing):.3f} s** (target ≤ 0.1 s)")
    if TREES:
        (base, base_s), (ours, ours_s) = TREES.items()
        print("\n| `d4p mappings` from | median CPU time (s) | runs (s) |\n| --- | ---: | --- |")
        for name, runs in TREES.items():
            print(f"| {name} | {statistics.median(runs):.3f} | "
                  f"{', '.join(f'{s:.3f}' for s in runs)} |")
        print(f"\nthis tree / baseline: **{statistics.median(ours_s) / statistics.median(base_s):.2f}×**"
              " CPU")


if __name__ == "__main__":
    main()
