"""Start-up of the command line: what a short development run costs (issue 20).

``python bench/startup.py [--repeat 5]`` times, as wall time of the whole
command:

- ``d4p run wf.py`` of a 10-unit pipeline (producer → doubler → summer, the
  PEs of ``workloads.py``, which imports NumPy only for the cpu workload) against dispel4py 1.2.1's ``dispel4py simple wf.py``
  of the very same file, run alternately, median of ``--repeat``;
- ``d4p mappings`` (every installed plugin's mappings), median of ``--repeat``;
- with ``--baseline-tree DIR`` (another checkout, e.g. the main branch),
  ``d4p run wf.py`` and ``d4p mappings`` with that tree's package sources
  first on ``PYTHONPATH`` against this tree's, alternately: what a change to
  start-up gained, as ratios measured in the same run.

``--bytecode`` runs d4p with a bytecode cache (``PYTHONPYCACHEPREFIX`` in a
temporary folder, filled by the warm-up runs), as a d4p installed by pip
runs (pip compiles every module at install, as it did dispel4py's); without
it d4p runs as the environment says, and under ``PYTHONDONTWRITEBYTECODE=1``
an editable checkout compiles every module it imports at every start.

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


def _bytecode_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(cache)}


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


TREES: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
"""(command, tree label) → (wall seconds, CPU seconds) of each run (``--baseline-tree``)."""


def _time_in(tree: Path, label: str, command: str, args: list[str], expect: str,
             env: dict[str, str] | None) -> None:
    paths = sorted(str(p) for p in tree.glob("packages/*/src"))
    env = {**(env or os.environ), "PYTHONPATH": os.pathsep.join(paths)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "d4p", *args], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or expect not in done.stdout:
        raise SystemExit(f"d4p {' '.join(args)} from {tree} failed:\n{done.stdout}{done.stderr}")
    wall, cpu = TREES.setdefault((command, f"{label} ({tree})"), ([], []))
    wall.append(seconds)
    cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="a checkout whose d4p run and d4p mappings are timed against "
                             "this one's")
    parser.add_argument("--bytecode", action="store_true",
                        help="run d4p with a bytecode cache, as a d4p installed by pip runs")
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
        env = _bytecode_env(Path(tmp) / "pycache") if args.bytecode else None
        print("$ " + " ".join(ours), "\n$ " + " ".join(theirs), file=sys.stderr)
        _time(ours, "90", record=False, env=env)  # warm the caches
        _time([*_d4p(), "mappings"], "simple", record=False, env=env)
        _time(theirs, "90", record=False, env=environment())
        d4p_s, dispel4py_s = [], []
        for _ in range(args.repeat):
            d4p_s.append(_time(ours, "90", env=env))
            dispel4py_s.append(_time(theirs, "90", env=environment()))
        listing = [_time([*_d4p(), "mappings"], "simple", env=env) for _ in range(args.repeat)]
        if args.baseline_tree is not None:
            trees = {"baseline": args.baseline_tree.resolve(), "this tree": HERE.parent}
            commands = {"d4p run wf.py": (["run", str(wf)], "90"),
                        "d4p mappings": (["mappings"], "simple")}
            for label, tree in trees.items():  # warm the caches
                for command, (cmd_args, expect) in commands.items():
                    _time_in(tree, label, command, cmd_args, expect, env)
            TREES.clear()
            for _ in range(args.repeat):
                for command, (cmd_args, expect) in commands.items():
                    for label, tree in trees.items():
                        _time_in(tree, label, command, cmd_args, expect, env)
    cpu = [statistics.median(runs) for runs in CPU.values()]
    d4p_m, dispel4py_m = statistics.median(d4p_s), statistics.median(dispel4py_s)
    print(f"load average before: {load[0]:.1f}, after: {os.getloadavg()[0]:.1f}; d4p "
          + ("with a bytecode cache" if args.bytecode else
             f"as the environment runs it (PYTHONDONTWRITEBYTECODE="
             f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})") + "\n")
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
        print("\n| command | from | median wall time (s) | median CPU time (s) | CPU runs (s) |")
        print("| --- | --- | ---: | ---: | --- |")
        for (command, tree), (wall, cpu_runs) in TREES.items():
            print(f"| `{command}` | {tree} | {statistics.median(wall):.3f} | "
                  f"{statistics.median(cpu_runs):.3f} | "
                  f"{', '.join(f'{s:.3f}' for s in cpu_runs)} |")
        for command in dict.fromkeys(c for c, _ in TREES):
            (base_wall, base_cpu), (our_wall, our_cpu) = (
                runs for (c, _), runs in TREES.items() if c == command)
            print(f"\n`{command}`, this tree / baseline: "
                  f"**{statistics.median(our_wall) / statistics.median(base_wall):.2f}×** wall, "
                  f"**{statistics.median(our_cpu) / statistics.median(base_cpu):.2f}×** CPU")

if __name__ == "__main__":
    main()
