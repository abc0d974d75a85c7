"""Throughput of the mpi mapping against multi, and the raw transport beneath it.

    python packages/d4p-mpi/benchmarks/mpi_bench.py [--units 200000 2000000] [--processes 3]
                                                    [--repeat 3] [--json FILE]

Runs the pipeline (fused, as planned by default, and unfused: one process
per PE) and word count benchmarks of :mod:`d4p.examples` on ``mpi -n P`` and
``multi -n P`` in the same run, at every size given, and prints units per
second and the mpi/multi throughput ratio (target: at least 0.7) twice:

* **end to end**: wall-clock time of ``d4p.run`` on both sides. For mpi it
  includes starting ``mpiexec`` and P fresh interpreters that import d4p and
  mpi4py and initialise MPI, and their finalisation at the end; multi forks
  its workers from the running interpreter, which costs far less.
* **enactment**: for mpi, from every rank ready to the results gathered on
  rank 0 (measured by the ranks); multi's time is still its end-to-end time.

Each column is its own best: seconds end to end, enactment seconds; the
start-up is that of the best end-to-end run (its seconds minus its
enactment), and is measured once more on its own with a 10-unit run. Use ``--repeat`` on a busy machine:
the best run of each is kept; runs of the two mappings are interleaved.

With ``--baseline-tree DIR`` (another checkout, e.g. the main branch) it
only compares the two trees' mpi mapping: a 10-unit pipeline (start-up) and
a 200,000-word count on ``mpi -n P``, each in a fresh interpreter with that
tree's package sources first on ``PYTHONPATH``, alternately, ``--repeat``
rounds: median wall seconds and CPU seconds of the launcher and every
process it waited for (mpiexec, ranks).

Then a raw mpi4py ping-pong of pickled batches between two ranks of the same
machine (``comm.send``/``comm.recv`` of ``--batch`` word tuples, the mapping's
default batch size), so the mapping's overhead over the transport is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import d4p
from d4p.examples import pipeline, wordcount_plain

WORKLOADS = {"pipeline": (pipeline, True), "pipeline-unfused": (pipeline, False),
             "wordcount": (wordcount_plain, True)}
"""name → (workflow, fuse). Fused, the pipeline runs in one process (no
communication); unfused, each of its three PEs has a process of its own. The
word count is the plain-PE one (every word crosses to a counter), which
measures the mapping's data plane; ``bench/aggregate.py`` measures the
``d4p.aggregate`` one."""

TARGET = 0.7


def run_workload(name: str, units: int, mapping: str, processes: int) -> dict:
    build, fuse = WORKLOADS[name]
    graph, inputs = build(units)
    start = time.perf_counter()
    result = d4p.run(graph, inputs, mapping=mapping, processes=processes, fuse=fuse)
    seconds = time.perf_counter() - start
    row = {"workload": name, "mapping": mapping, "processes": processes, "units": units,
           "seconds": seconds, "units_per_s": units / seconds, "result": repr(result)[:60]}
    if mapping == "mpi":
        from d4p_mpi.launch import LAST_RUN

        row["enact_seconds"] = LAST_RUN["enact_seconds"]
        row["startup_seconds"] = seconds - LAST_RUN["enact_seconds"]
    return row


def pingpong(seconds: float, batch: int) -> None:
    """Under ``mpiexec -n 2``: bounce pickled batches; rank 0 prints JSON."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    message = ("data", [(1, "input", [(f"w{i % 1000:04d}",) for i in range(batch)])])
    small = ("eos", 0, 1)
    out = {}
    for label, payload in (("batch", message), ("small", small)):
        comm.Barrier()
        rounds = 0
        start = time.perf_counter()
        if rank == 0:
            while True:
                comm.send(payload, 1)
                comm.recv(source=1)
                rounds += 1
                if rounds % 64 == 0 and time.perf_counter() - start > seconds:
                    comm.send(None, 1)
                    break
            elapsed = time.perf_counter() - start
            out[label] = {"round_trips": rounds, "seconds": elapsed,
                          "one_way_us": 1e6 * elapsed / (2 * rounds),
                          "messages_per_s": 2 * rounds / elapsed}
        else:
            while (got := comm.recv(source=0)) is not None:
                comm.send(got, 0)
    if rank == 0:
        out["batch"]["units_per_s"] = out["batch"]["messages_per_s"] * batch
        print(json.dumps(out), flush=True)


def run_pingpong(seconds: float, batch: int, repeat: int) -> dict:
    """Best of ``repeat`` ping-pongs (ranks started like the mapping's: same environment)."""
    from d4p_mpi.environment import mpiexec_command, rank_environment

    best = None
    for _ in range(repeat):
        done = subprocess.run([*mpiexec_command(), "-n", "2", sys.executable, __file__,
                               "--pingpong", "--seconds", str(seconds), "--batch", str(batch)],
                              capture_output=True, text=True, timeout=120, check=True,
                              env=rank_environment())
        pong = json.loads(done.stdout.strip().splitlines()[-1])
        if best is None or pong["batch"]["one_way_us"] < best["batch"]["one_way_us"]:
            best = pong
    return best


def startup(processes: int, repeat: int) -> dict:
    """Wall seconds of a 10-unit unfused pipeline: almost nothing but start-up."""
    best = {}
    for _ in range(max(repeat, 3)):
        for mapping in ("mpi", "multi"):
            row = run_workload("pipeline-unfused", 10, mapping, processes)
            best[mapping] = min(best.get(mapping, row["seconds"]), row["seconds"])
    return best


_ONE_RUN = """
import resource, sys, time, d4p
from d4p import examples
wordcount = getattr(examples, "wordcount_plain", None) or examples.wordcount  # older trees
graph, inputs = {"startup": examples.pipeline,
                 "wordcount": wordcount}[sys.argv[1]](int(sys.argv[2]))
start = time.perf_counter()
d4p.run(graph, inputs, mapping="mpi", processes=int(sys.argv[3]), timeout=300)
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.perf_counter() - start, me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime)
"""


def versus_tree(baseline: str, processes: int, repeat: int) -> None:
    """This tree's mpi mapping against ``baseline``'s, run alternately."""
    import statistics

    here = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    trees = {"baseline": os.path.abspath(baseline), "this tree": here}
    for name, units in (("startup", 10), ("wordcount", 200_000)):
        got: dict[str, list] = {tree: [] for tree in trees}
        for _ in range(repeat):
            for tree, root in trees.items():
                env = dict(os.environ, PYTHONPATH=os.pathsep.join(
                    f"{root}/packages/{p}/src" for p in ("d4p-core", "d4p-mpi")))
                out = subprocess.run([sys.executable, "-c", _ONE_RUN, name, str(units),
                                      str(processes)], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()
                got[tree].append((float(out[-2]), float(out[-1])))
        wall = {t: statistics.median(r[0] for r in rows) for t, rows in got.items()}
        cpu = {t: statistics.median(r[1] for r in rows) for t, rows in got.items()}
        print(f"  {name} ({units:,} units, mpi -n {processes}, median of {repeat}): "
              + "; ".join(f"{t} {wall[t]:.3f} s wall, {cpu[t]:.3f} s CPU" for t in trees)
              + f"; this/baseline wall {wall['this tree'] / wall['baseline']:.3f}, "
              f"CPU {cpu['this tree'] / cpu['baseline']:.3f}")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[200_000, 2_000_000])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", help="also write the measurements to this file")
    parser.add_argument("--baseline-tree", help="compare this tree's mpi mapping with the one "
                        "of this checkout (alternately) and stop")
    parser.add_argument("--pingpong", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pingpong:
        pingpong(args.seconds, args.batch)
        return 0
    if args.baseline_tree:
        print(f"d4p mpi: this tree vs {args.baseline_tree}; load average {load()}")
        versus_tree(args.baseline_tree, args.processes, args.repeat)
        print(f"  load average at the end {load()}")
        return 0
    if "multi" not in d4p.installed_mappings():
        parser.error("the multi mapping (d4p-core) is needed as the baseline")

    p = args.processes
    rows: list[dict] = [{"load_average_start": load(), "processes": p, "repeat": args.repeat,
                         "bytecode_cache": not os.environ.get("PYTHONDONTWRITEBYTECODE")}]
    print(f"d4p mpi benchmark: mpi -n {p} vs multi -n {p}, best of {args.repeat}; "
          f"load average {load()}"
          + ("; PYTHONDONTWRITEBYTECODE is set: every rank compiles d4p's sources"
             if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""))
    alone = startup(p, args.repeat)
    print(f"  start-up alone (10 units): mpi {alone['mpi']:.3f} s, multi {alone['multi']:.3f} s "
          f"(mpiexec, {p} interpreters importing d4p and mpi4py, MPI init and finalize)")
    rows.append({"startup_seconds": alone})
    for units in args.units:
        print(f"\n  {units:,} units{'':<10}{'seconds':>9} {'units/s':>12}"
              f" {'enactment s':>12} {'start-up s':>11}")
        for name in WORKLOADS:
            runs: dict[str, list] = {"mpi": [], "multi": []}
            for _ in range(args.repeat):  # interleaved, so that load changes hit both alike
                for mapping in runs:
                    runs[mapping].append(run_workload(name, units, mapping, p))
            best = {m: min(r, key=lambda row: row["seconds"]) for m, r in runs.items()}
            best["mpi"]["enact_seconds"] = min(r["enact_seconds"] for r in runs["mpi"])
            for mapping, row in best.items():
                rows.append(row)
                more = (f" {row['enact_seconds']:12.3f} {row['startup_seconds']:11.3f}"
                        if mapping == "mpi" else "")
                print(f"  {name:<16} {mapping:<6} {row['seconds']:8.3f} "
                      f"{row['units_per_s']:12,.0f}{more}")
            mpi, multi = best["mpi"], best["multi"]
            ratio = multi["seconds"] / mpi["seconds"]
            steady = multi["seconds"] / mpi["enact_seconds"]
            print(f"  {name:<16} mpi/multi throughput {ratio:.3f} end to end "
                  f"({'met' if ratio >= TARGET else 'not met'}), {steady:.3f} enactment "
                  f"({'met' if steady >= TARGET else 'not met'}); target >= {TARGET}")
            rows.append({"workload": name, "units": units, "ratio_end_to_end": ratio,
                         "ratio_enactment": steady})
    pong = run_pingpong(args.seconds, args.batch, max(1, min(args.repeat, 3)))
    print(f"\n  raw mpi4py ping-pong (pickled, 2 ranks): batch of {args.batch} words "
          f"{pong['batch']['one_way_us']:.1f} us one way = "
          f"{pong['batch']['units_per_s']:,.0f} units/s; small message "
          f"{pong['small']['one_way_us']:.1f} us one way")
    print(f"  load average at the end {load()}")
    rows.append({"pingpong": pong, "load_average_end": load()})
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
