"""Data-plane benchmarks (issue 19): memory bounded by bytes with large NumPy
units, and processes that send to each other at full speed.

    python bench/dataplane.py                 # both, default sizes
    python bench/dataplane.py arrays --arrays 600 2000
    python bench/dataplane.py mutual --units 1000000
    python bench/dataplane.py latency --mpi

``arrays``: producer -> Scale (2 instances) -> Check ('global', 5 ms per
unit) with 8 MiB float64 arrays, on ``multi -n 4`` (and ``mpi -n 4`` when
d4p-mpi is installed): peak resident memory of every process of the run
(bench/rss.py), and every checksum verified.

``endless`` (not in the default set: it takes ``--minutes``, 10 by
default): an endless source of small arrays -> 2 instances -> per-key count
windows, stopped gracefully at the end; resident memory at minute 1 and at
the end.

``latency``: a source writing one unit per millisecond in one process, a
sink in another: how long a unit takes to arrive (p50, p99, worst).

``mutual``: two producers -> a 3-instance group-by PE -> a 'global' total;
``multi -n 2`` against ``multi -n 1`` alternating, and the same with
``--batch-size 1 --queue-size 1`` at 50,000 units per producer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import d4p  # noqa: E402
from d4p.testing.workflows import large_arrays, mutual  # noqa: E402
from rss import PeakRSS  # noqa: E402

MIB8 = 1 << 20  # float64 elements in 8 MiB


def arrays_graph(count: int) -> d4p.WorkflowGraph:
    return large_arrays(count, elements=MIB8, pause=0.005)


def mutual_graph(units: int) -> d4p.WorkflowGraph:
    return mutual(units, keys=97)


class Ticker(d4p.ProducerPE):
    """A slow source: one unit (its send time) every millisecond."""

    def __init__(self, units=3000, every=0.001):
        super().__init__()
        self.units, self.every = units, every

    def _process(self, inputs):
        start = time.perf_counter()
        for i in range(self.units):
            while time.perf_counter() < start + i * self.every:
                time.sleep(self.every / 4)
            self.write("output", time.time())


class Latency(d4p.GenericPE):
    def __init__(self):
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.delays = []

    def process(self, inputs):
        self.delays.append(time.time() - inputs["input"])

    def postprocess(self):
        delays = sorted(self.delays)
        self.write("output", (len(delays), delays[len(delays) // 2],
                              delays[int(len(delays) * 0.99)], delays[-1]))


def latency(mapping: str, units: int) -> None:
    graph = d4p.WorkflowGraph()
    sink = Latency()
    graph.connect(Ticker(units), "output", sink, "input")
    graph.partitions = [[graph.get_contained_objects()[0]], [sink]]
    result = d4p.run(graph, mapping=mapping, processes=2)
    n, p50, p99, worst = result[sink.id]["output"][0]
    assert n == units, n
    print(f"| {mapping} -n 2 | {units:,} at 1,000/s | {p50 * 1e3:.2f} ms | {p99 * 1e3:.2f} ms | "
          f"{worst * 1e3:.2f} ms |", flush=True)


class Readings(d4p.ProducerPE):
    """An endless source of small NumPy readings."""

    def _process(self, inputs):
        import numpy as np

        i = 0
        while True:
            self.write("output", (i % 50, np.full(256, float(i))))
            i += 1


class Mean(d4p.IterativePE):
    def _process(self, unit):
        return unit[0], float(unit[1].mean())


class Windows(d4p.GenericPE):
    """Counts the windows it gets; writes the count at the end."""

    def __init__(self):
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.windows = 0

    def process(self, inputs):
        self.windows += 1

    def postprocess(self):
        self.write("output", self.windows)


def endless_graph() -> d4p.WorkflowGraph:
    graph = d4p.WorkflowGraph()
    mean, window = Mean(), d4p.window.count(1000, by=0)
    mean.numprocesses = 2
    graph.connect(Readings(), "output", mean, "input")
    graph.connect(mean, "output", window, "input")
    graph.connect(window, "output", Windows(), "input")
    return graph


def endless(minutes: float) -> None:
    """RSS of every process of an endless run on multi -n 2 at minute 1 and
    at the end (stopped gracefully after ``minutes``)."""
    from rss import session_rss

    proc = subprocess.Popen([sys.executable, __file__, "--child", "endless", str(minutes * 60),
                             "multi", "2"], stdout=subprocess.PIPE, start_new_session=True)
    samples = []
    start = time.monotonic()
    while proc.poll() is None:
        samples.append((time.monotonic() - start, session_rss(proc.pid)))
        time.sleep(1.0)
    proc.communicate()
    by_minute = [[r for t, r in samples if 60 * m <= t < 60 * (m + 1)] or [0]
                 for m in range(int(minutes))]
    minutes_peak = [max(rs) for rs in by_minute]
    minutes_median = [statistics.median(rs) for rs in by_minute]
    first, last = minutes_peak[0], minutes_peak[-1]
    print(f"| multi -n 2, endless source, stopped after {minutes:g} min | "
          f"{first / 2**20:,.0f} MB | {last / 2**20:,.0f} MB | {last / first:.2f} | "
          + " ".join(f"{p / 2**20:.0f}" for p in minutes_peak) + " | "
          + " ".join(f"{p / 2**20:.0f}" for p in minutes_median) + " |", flush=True)


def child(argv: list[str]) -> None:
    if argv[0] == "endless":
        result = d4p.run(endless_graph(), mapping=argv[2], processes=int(argv[3]),
                         stop_after=float(argv[1]))
        print(result.summary, file=sys.stderr)
        return
    kind, size, mapping, procs, *opts = argv
    size, procs = int(size), int(procs)
    options = dict(zip(opts[::2], map(int, opts[1::2]), strict=True))
    graph = arrays_graph(size) if kind == "arrays" else mutual_graph(size)
    start = time.perf_counter()
    result = d4p.run(graph, mapping=mapping, processes=procs, **options)
    seconds = time.perf_counter() - start
    (outputs,) = [ports["output"] for ports in result.values()]
    if kind == "arrays":
        assert outputs == [(size, size)], outputs
    else:
        n = 2 * size
        assert outputs == [(n, n * (n - 1) // 2)], outputs
    print(f"{seconds:.3f}")


def measure(*argv) -> tuple[float, int]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", *map(str, argv)],
                            stdout=subprocess.PIPE, start_new_session=True)
    peak = PeakRSS(proc)
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"failed: {argv}")
    return float(out), peak.stop()


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2:])
    p = argparse.ArgumentParser()
    p.add_argument("which", nargs="*", default=["arrays", "mutual", "latency"])
    p.add_argument("--arrays", type=int, nargs="+", default=[600, 2000])
    p.add_argument("--units", type=int, default=1000000)
    p.add_argument("--small", type=int, default=50000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--minutes", type=float, default=10, help="length of the endless run")
    p.add_argument("--mpi", action="store_true", help="also mpi -n 4 for arrays")
    args = p.parse_args()
    print(f"load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if "arrays" in args.which:
        print("| run | arrays of 8 MiB | seconds | peak RSS, all processes |\n|---|---|---|---|")
        mappings = ["multi"] + (["mpi"] if args.mpi else [])
        for mapping in mappings:
            for n in args.arrays:
                seconds, peak = measure("arrays", n, mapping, 4)
                print(f"| {mapping} -n 4 | {n:,} | {seconds:.2f} | {peak / 2**20:,.0f} MB |",
                      flush=True)
    if "endless" in args.which:
        print("\n| run | peak RSS, minute 1 | peak RSS, last minute | ratio | peak of each "
              "minute, MB | median of each minute, MB |\n|---|---|---|---|---|---|")
        endless(args.minutes)
    if "latency" in args.which:
        print("\n| run | units | p50 | p99 | worst |\n|---|---|---|---|---|")
        for mapping in ["multi"] + (["mpi"] if args.mpi else []):
            latency(mapping, 3000)
    if "mutual" in args.which:
        print("\n| run | units per producer | -n 1 best s | -n 2 best s | ratio -n 2 / -n 1 |"
              "\n|---|---|---|---|---|")
        for size, opts, label in ((args.units, [], "default"),
                                  (args.small, ["batch_size", 1, "queue_size", 1],
                                   "--batch-size 1 --queue-size 1")):
            times: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.repeat):
                for n in (1, 2):
                    times[n].append(measure("mutual", size, "multi", n, *opts)[0])
            one, two = min(times[1]), min(times[2])
            print(f"| multi {label} | {size:,} | {one:.2f} | {two:.2f} | {two / one:.2f} |",
                  flush=True)
    print(f"load {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
