"""The xcorr benchmark: ``d4p run xcorr`` (simple, multi -n 2) against a bare script.

    python bench/xcorr.py [--stations 100] [--hours 1] [--repeat 3]

Makes the synthetic data set once (not timed), then runs, alternating, each
in a fresh process on the same files: the bare NumPy/ObsPy script
``bench/xcorr_baseline.py`` and the ``xcorr`` workflow (built as ``d4p run
xcorr -p data=DIR`` builds it) under ``simple`` and ``multi -n 2``. Times are
those of the work itself, as the baseline times its ``run()``: module imports
and interpreter start are outside the clock for all three (the whole command's
wall time is printed beside). Peak memory is the largest sum of resident
memory over the command's processes (``bench/rss.py``). Every run's
``summary.csv`` must match the baseline's (same pairs, peak lags and peak
values) or the benchmark fails.

Targets (issue 8): simple ≤ 1.15× the baseline; multi -n 2 ≤ 0.6× simple.
``--blas-threads 1`` runs all three with one BLAS thread per process (multi's
workers always have their share of the cores): OpenBLAS's idle worker thread
spins for a while after each call, and ``simple``, which interleaves the
preprocessing (which calls BLAS) with the correlations, keeps it spinning
on the second core for the whole run.
Prints one table with the best and median times of ``--repeat`` runs.

Every run writes its 4,950 SAC files into a new folder, and nothing is
deleted until the end: on a Linux ext4 file system without a journal (this
project's build host), creating a file picks a free inode by skipping the
ones deleted in the last 1-6 minutes, each skip a lookup under one lock for
the whole disk, so creating files right after deleting thousands costs
0.2-1 ms each, and two processes creating files wait for each other. Deleting
the last run's output before each run made every run pay for that and made
``multi``'s file writing serial. The last line says what creating one file
cost before and after the runs (tens of microseconds when the file system is
not in that state); the benchmark's own deletions at its end put the file
system in that state for the next few minutes. ``--dir /dev/shm`` (a tmpfs)
measures without the disk's file system. It also says how many cores one
busy process per core got before and after the runs (2.00 on a quiet 2-core
host) and how much slower the slower core was (1.00x when they are equally
fast): ``multi -n 2`` cannot beat ``simple`` by more than the first, and its
slower worker sets its pace (the pairs are shared out before the run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from d4p.mapping import NATIVE_THREAD_VARIABLES  # noqa: E402
from rss import PeakRSS  # noqa: E402

HERE = Path(__file__).resolve().parent
MAPPINGS = {"simple": ("simple", 1), "multi -n 2": ("multi", 2)}


OUTPUTS = {"baseline": "baseline", "simple": "simple", "multi -n 2": "multi"}


def command(name: str, data: Path, output: Path) -> list[str]:
    if name == "baseline":
        return [sys.executable, str(HERE / "xcorr_baseline.py"), "--data", str(data),
                "--output", str(output)]
    return [sys.executable, str(Path(__file__).resolve()), "--data", str(data), "--one", name,
            "--output", str(output)]


def creation_cost(folder: Path, files: int = 500) -> float:
    """Microseconds to create (and write) one small file in a new ``folder``
    (left in place: deleting them would slow the runs that follow)."""
    folder.mkdir()
    start = time.perf_counter()
    for k in range(files):
        (folder / f"{k}.sac").write_bytes(b"\0" * 5436)
    return (time.perf_counter() - start) / files * 1e6


SPIN = ("import os, sys, time\n"
        "if hasattr(os, 'sched_setaffinity'):\n    os.sched_setaffinity(0, {int(sys.argv[1])})\n"
        "c, w = time.process_time(), time.perf_counter()\n"
        "x = 0\nfor k in range(6_000_000):\n    x += k\n"
        "print(time.process_time() - c, time.perf_counter() - w)")


def cores_available() -> tuple[float, float]:
    """Two numbers about this host now: how many cores one busy process per
    core gets (each one's CPU time over its wall time, summed: 2.0 on a quiet
    2-core host; less when other processes or the hypervisor take a share),
    and how much longer the slowest of them took than the fastest for the
    same work (1.0 when the cores are equally fast). ``multi -n 2`` can be at
    best ``1 / first`` times ``simple``, and its slower worker sets its pace."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    cpus = sorted(os.sched_getaffinity(0))[:2] if cores > 1 else [0]
    procs = [subprocess.Popen([sys.executable, "-c", SPIN, str(cpu)], stdout=subprocess.PIPE,
                              text=True) for cpu in cpus]
    share, walls = 0.0, []
    for proc in procs:
        cpu, wall = map(float, proc.communicate()[0].split())
        share += cpu / wall
        walls.append(wall)
    return share, max(walls) / min(walls)


def run_one(name: str, data: Path, output: Path) -> None:
    """In a child: build the workflow (imports, untimed), run it, print the JSON line."""
    import d4p
    from d4p_seismo.workflows import build_xcorr, summary_of

    mapping, processes = MAPPINGS[name]
    d4p.get_mapping(mapping)
    graph, inputs = build_xcorr(data=str(data), output=str(output))
    start = time.perf_counter()
    result = d4p.run(graph, inputs, mapping=mapping, processes=processes)
    seconds = time.perf_counter() - start
    summary = summary_of(result)
    print(json.dumps({"seconds": round(seconds, 3), "pairs": summary["pairs"]}))


def lags(summary: Path) -> dict[str, tuple[str, str]]:
    with summary.open() as handle:
        return {row["pair"]: (row["peak_lag"], row["peak_value"]) for row in csv.DictReader(handle)}


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(seconds the command reports, its wall time, peak memory in bytes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env)
    peak = PeakRSS(proc)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed ({' '.join(cmd)}):\n{err.decode()}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    return report["seconds"], wall, peak.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the data and the results go (default: the temporary "
                             "directory; /dev/shm leaves the disk's file system out)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only these (baseline, simple, 'multi -n 2')")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="OPENBLAS/OMP/MKL_NUM_THREADS for every run (default: the "
                             "libraries' own, one thread per core)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.data, args.output)
        return
    from d4p_seismo.synthetic import make_dataset

    work = Path(tempfile.mkdtemp(prefix="d4p-xcorr-bench-", dir=args.dir))
    try:
        data = work / "data"
        make_dataset(data, stations=args.stations, hours=args.hours, seed=0)
        names = args.only or list(OUTPUTS)
        probe = creation_cost(work / "probe")
        cores = "{:.2f} cores, the slower {:.2f}x the faster's time".format(*cores_available())
        times: dict[str, list[float]] = {name: [] for name in names}
        walls: dict[str, list[float]] = {name: [] for name in names}
        peaks: dict[str, int] = {name: 0 for name in names}
        env = dict(os.environ)
        if args.blas_threads:
            env.update(dict.fromkeys(NATIVE_THREAD_VARIABLES, str(args.blas_threads)))
        for round_ in range(args.repeat):
            for name in names:  # every run writes into a new folder; all are deleted at the end
                output = work / f"{OUTPUTS[name]}-{round_ + 1}"
                seconds, wall, peak = timed(command(name, data, output), env)
                times[name].append(seconds)
                walls[name].append(wall)
                peaks[name] = max(peaks[name], peak)
                print(f"round {round_ + 1}: {name}: {seconds:.2f} s ({wall:.2f} s whole command)",
                      file=sys.stderr)
        reference = lags(work / "baseline-1" / "summary.csv") if "baseline" in names else None
        for name in ("simple", "multi -n 2"):
            if name in names and reference is not None:
                for round_ in range(args.repeat):
                    got = lags(work / f"{OUTPUTS[name]}-{round_ + 1}" / "summary.csv")
                    if got != reference:
                        sys.exit(f"{name}, round {round_ + 1}: summary.csv differs from the "
                                 "baseline's")
        pairs = args.stations * (args.stations - 1) // 2
        threads = args.blas_threads or "the libraries' default"
        print(f"xcorr, {args.stations} stations x {args.hours:g} h at 20 Hz, {pairs} pairs; "
              f"best and median of {args.repeat}; BLAS threads: {threads}; load average "
              f"after: {os.getloadavg()[0]:.2f}; creating a file here: {probe:.0f} us before "
              f"the runs, {creation_cost(work / 'probe-after'):.0f} us after; one busy process "
              f"per core (two) got: {cores} before the runs, "
              "{:.2f} cores, {:.2f}x after".format(*cores_available()))
        print("| run | best (s) | median (s) | whole command, best (s) | peak memory (MiB) |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name in names:
            print(f"| {name} | {min(times[name]):.2f} | {statistics.median(times[name]):.2f} | "
                  f"{min(walls[name]):.2f} | {peaks[name] / 2**20:.0f} |")

        def ratio(a: str, b: str, target: float) -> None:
            if a in times and b in times:
                best = min(times[a]) / min(times[b])
                med = statistics.median(times[a]) / statistics.median(times[b])
                print(f"{a} / {b}: {best:.2f} (best), {med:.2f} (median); target <= {target}")

        print(f"pairs recovered by every run: {len(reference or {})}")
        ratio("simple", "baseline", 1.15)
        ratio("multi -n 2", "simple", 0.6)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
