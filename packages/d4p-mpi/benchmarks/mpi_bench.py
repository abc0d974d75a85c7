"""Throughput of the mpi mapping against multi, and the raw transport beneath it.

    python packages/d4p-mpi/benchmarks/mpi_bench.py [--units 200000] [--processes 3]

Runs the pipeline (fused, as planned by default, and unfused: one process
per PE) and word count benchmarks of :mod:`d4p.examples` on
``mpi -n P`` and ``multi -n P`` (when installed) in the same run, and prints
units per second and the mpi/multi ratio (target: at least 0.7). Times are
wall-clock times of ``d4p.run``, so they include starting the processes
(``mpiexec`` and its ranks, each importing d4p; multiprocessing forks its
workers). A second mpi ratio leaves out the start-up: the enactment time from
every rank ready to results gathered (multi's time still includes its forks).
Use ``--repeat`` on a busy machine: the best run of each is kept.

Then a raw mpi4py ping-pong of pickled batches between two ranks of the same
machine (``comm.send``/``comm.recv`` of a batch of ``--batch`` word tuples),
so the mapping's overhead over the transport is visible.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import d4p
from d4p.examples import pipeline, wordcount

WORKLOADS = {"pipeline": (pipeline, True), "pipeline-unfused": (pipeline, False),
             "wordcount": (wordcount, True)}
"""name → (workflow, fuse). Fused, the pipeline runs in one process (no
communication); unfused, each of its three PEs has a process of its own."""


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


def run_pingpong(seconds: float, batch: int) -> dict:
    from d4p_mpi.environment import mpiexec_command

    done = subprocess.run([*mpiexec_command(), "-n", "2", sys.executable, __file__,
                           "--pingpong", "--seconds", str(seconds), "--batch", str(batch)],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", help="also write the measurements to this file")
    parser.add_argument("--pingpong", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pingpong:
        pingpong(args.seconds, args.batch)
        return 0

    mappings = ["mpi"] + (["multi"] if "multi" in d4p.mappings() else [])
    rows = []
    print(f"d4p mpi benchmark: {args.units:,} units, {args.processes} processes, "
          f"best of {args.repeat}")
    for name in WORKLOADS:
        best = {}
        runs: dict[str, list] = {m: [] for m in mappings}
        for _ in range(args.repeat):  # interleaved, so that load changes hit both alike
            for mapping in mappings:
                runs[mapping].append(run_workload(name, args.units, mapping, args.processes))
        for mapping in mappings:
            best[mapping] = min(runs[mapping], key=lambda r: r["seconds"])
            rows.append(best[mapping])
            row = best[mapping]
            extra = (f"  (enactment {row['enact_seconds']:.3f} s after a start-up of "
                     f"{row['startup_seconds']:.3f} s)" if "enact_seconds" in row else "")
            print(f"  {name:<16} {mapping:<6} {row['seconds']:7.3f} s  "
                  f"{row['units_per_s']:>12,.0f} units/s{extra}")
        if "multi" in best:
            mpi, multi = best["mpi"], best["multi"]
            ratio = multi["seconds"] / mpi["seconds"]
            steady = multi["seconds"] / mpi["enact_seconds"]
            print(f"  {name:<16} mpi/multi throughput: {ratio:.2f} end to end, {steady:.2f} "
                  "without mpiexec start-up (target >= 0.70)")
            rows.append({"workload": name, "ratio_mpi_over_multi": ratio,
                         "ratio_without_startup": steady})
    pong = run_pingpong(args.seconds, args.batch)
    print(f"  raw mpi4py ping-pong (pickled, 2 ranks): batch of {args.batch} words "
          f"{pong['batch']['one_way_us']:.1f} us one way = "
          f"{pong['batch']['units_per_s']:,.0f} units/s; small message "
          f"{pong['small']['one_way_us']:.1f} us one way")
    rows.append({"pingpong": pong})
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
