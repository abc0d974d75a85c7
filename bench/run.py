"""Benchmarks of d4p against dispel4py 1.2.1 and a bare Python loop.

    python bench/run.py                      # everything
    python bench/run.py pipeline wordcount   # a subset
    python bench/run.py --write bench/RESULTS.md

Benchmarks: pipeline, wordcount, cpu, rss (see bench/README.md). dispel4py
1.2.1 runs out of process in its own venv (bench/.venv-dispel4py, created from
PyPI on first use); d4p runs in subprocesses of this interpreter. Every timing
is the best of --repeat runs, each in a fresh interpreter, and counts the
enactment only (not interpreter start, imports or graph building). Every run's
outputs are checked against the known answer. Nothing here is a pass/fail
test: ratios are printed next to the targets of the issues.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dispel4py_env  # noqa: E402
import rss  # noqa: E402
import workloads  # noqa: E402

BENCHMARKS = ("pipeline", "wordcount", "cpu", "rss")
TIMEOUT = 900  # seconds for one run; dispel4py multi is slow, and may hang


@dataclass
class Row:
    label: str
    units: int
    seconds: float | None
    note: str = ""
    cpu: float | None = None

    @property
    def rate(self) -> float | None:
        return self.units / self.seconds if self.seconds else None


@dataclass
class Check:
    what: str
    value: float | None
    target: str
    ok: bool | None
    unit: str = "×"


@dataclass
class Report:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Harness:
    def __init__(self, repeat: int, scale: float, dispel4py: bool, log) -> None:
        self.repeat = repeat
        self.scale = scale
        self.log = log
        self.dispel4py_python = str(dispel4py_env.ensure(log)) if dispel4py else None
        from d4p.plugins import installed_mappings

        self.has_multi = "multi" in installed_mappings()
        self.cores = 0.0
        self.cpu = 0.0

    def size(self, n: int) -> int:
        return max(1, int(n * self.scale))

    def measure(self, workload: str, engine: str, mapping: str = "simple", processes: int = 1,
                size: int | None = None, extra: tuple[str, ...] = ()) -> float:
        """Best seconds of ``repeat`` runs; each run's outputs are checked.
        ``self.cores`` is then the CPU time / wall time of that best run and
        ``self.cpu`` the least CPU time of any run."""
        python = self.dispel4py_python if engine == "dispel4py" else sys.executable
        cmd = [python, str(HERE / "measure.py"), workload, "--engine", engine,
               "--mapping", mapping, "-n", str(processes), *extra]
        if size is not None:
            cmd += ["--size", str(size)]
        _, expected = workloads.WORKLOADS[workload]
        want = expected(size) if size is not None else expected()
        best = None
        self.cpu = float("inf")
        env = dispel4py_env.environment() if engine == "dispel4py" else None
        for _ in range(self.repeat):
            out = _run(cmd, env)
            if out["outputs"] != want:
                raise RuntimeError(f"{shlex.join(cmd)} gave {str(out['outputs'])[:200]}, "
                                   f"expected {str(want)[:200]}")
            if best is None or out["seconds"] < best:
                best, self.cores = out["seconds"], out["cpu_seconds"] / out["seconds"]
            self.cpu = min(self.cpu, out["cpu_seconds"])
        self.log(f"  {best:8.3f} s  {self.cores:4.2f} cores  {shlex.join(cmd[1:])}")
        return best


def _run(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_session(proc)
        raise RuntimeError(f"{shlex.join(cmd)} did not finish in {TIMEOUT} s") from None
    finally:
        _kill_session(proc)  # workers left behind by a crash
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed (exit {proc.returncode}):\n{stderr[-2000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def _kill_session(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _skipped(report: Report, label: str, units: int, why: str) -> None:
    report.rows.append(Row(label, units, None, f"skipped: {why}"))


# -- the benchmarks ---------------------------------------------------------------------


def bench_pipeline(h: Harness) -> Report:
    r = Report("pipeline", "Pipeline: producer (200,000 ints) → IterativePE doubling → "
               "ConsumerPE summing")
    n = h.size(200_000)
    bare = h.measure("pipeline", "bare", size=n)
    bare_cpu = h.cpu
    r.rows.append(Row("bare Python loop (the same calls)", n, bare, cpu=h.cpu))
    tight = h.measure("pipeline", "tight", size=n)
    r.rows.append(Row("tight loop add(double(i)) (for reference)", n, tight, cpu=h.cpu))
    simple = h.measure("pipeline", "d4p", size=n)
    simple_cpu = h.cpu
    r.rows.append(Row("d4p simple", n, simple, cpu=h.cpu))
    d_simple = d_simple_cpu = d_multi = multi = None
    if h.dispel4py_python:
        d_simple = h.measure("pipeline", "dispel4py", size=n)
        d_simple_cpu = h.cpu
        r.rows.append(Row("dispel4py 1.2.1 simple", n, d_simple, cpu=h.cpu))
    else:
        _skipped(r, "dispel4py 1.2.1 simple", n, "--no-dispel4py")
    if h.has_multi:
        multi = h.measure("pipeline", "d4p", "multi", 4, size=n)
        r.rows.append(Row("d4p multi -n 4", n, multi, "chain fused into one process"))
        unfused = h.measure("pipeline", "d4p", "multi", 4, size=n, extra=("--no-fuse",))
        r.rows.append(Row("d4p multi -n 4, not fused (for reference)", n, unfused,
                          "one PE per process: units cross 2 process boundaries"))
    else:
        _skipped(r, "d4p multi -n 4", n, "not installed")
    if h.dispel4py_python:
        d_multi = h.measure("pipeline", "dispel4py", "multi", 4, size=n)
        r.rows.append(Row("dispel4py 1.2.1 multi -n 4", n, d_multi))
    r.checks.append(Check("d4p simple vs dispel4py simple (throughput, wall time)",
                          _ratio(d_simple, simple), "≥ 3×",
                          None if d_simple is None else d_simple / simple >= 3))
    r.checks.append(Check("d4p simple vs dispel4py simple (throughput, CPU time)",
                          _ratio(d_simple_cpu, simple_cpu), "≥ 3×",
                          None if d_simple_cpu is None else d_simple_cpu / simple_cpu >= 3))
    r.checks.append(Check("d4p simple vs bare loop (time, wall)", _ratio(simple, bare), "≤ 3×",
                          simple / bare <= 3))
    r.checks.append(Check("d4p simple vs bare loop (time, CPU)", _ratio(simple_cpu, bare_cpu),
                          "≤ 3×", simple_cpu / bare_cpu <= 3))
    r.checks.append(Check("d4p multi -n 4 vs dispel4py multi -n 4 (throughput)",
                          _ratio(d_multi, multi), "≥ 10×",
                          None if not (d_multi and multi) else d_multi / multi >= 10))
    return r


def bench_wordcount(h: Harness) -> Report:
    r = Report("wordcount", "Word count: 200,000 words of a 1,000-word vocabulary → counter "
               "(group-by, 2 instances, partial counts in postprocess) → 'global' collector")
    n = h.size(200_000)
    simple = h.measure("wordcount", "d4p", size=n)
    r.rows.append(Row("d4p simple", n, simple))
    multi = d_multi = None
    if h.dispel4py_python:
        d_simple = h.measure("wordcount", "dispel4py", size=n)
        r.rows.append(Row("dispel4py 1.2.1 simple", n, d_simple, "forces 1 counter instance"))
    if h.has_multi:
        multi = h.measure("wordcount", "d4p", "multi", 4, size=n)
        r.rows.append(Row("d4p multi -n 4", n, multi))
    else:
        _skipped(r, "d4p multi -n 4", n, "not installed")
    if h.dispel4py_python:
        d_multi = h.measure("wordcount", "dispel4py", "multi", 4, size=n)
        r.rows.append(Row("dispel4py 1.2.1 multi -n 4", n, d_multi))
    else:
        _skipped(r, "dispel4py 1.2.1 multi -n 4", n, "--no-dispel4py")
    r.checks.append(Check("d4p multi -n 4 vs dispel4py multi -n 4 (throughput)",
                          _ratio(d_multi, multi), "≥ 10×",
                          None if not (d_multi and multi) else d_multi / multi >= 10))
    return r


def bench_cpu(h: Harness) -> Report:
    r = Report("cpu", "CPU-bound: a PE with about 2 ms of NumPy work per unit (FFT), "
               "2 instances, 600 units")
    n = h.size(600)
    simple = h.measure("cpu", "d4p", size=n)
    r.rows.append(Row("d4p simple", n, simple, f"{simple / n * 1e3:.2f} ms per unit, "
                      f"{h.cores:.2f} cores busy"))
    multi = None
    if h.has_multi:
        multi = h.measure("cpu", "d4p", "multi", 2, size=n)
        r.rows.append(Row("d4p multi -n 2", n, multi, f"{h.cores:.2f} cores busy"))
    else:
        _skipped(r, "d4p multi -n 2", n, "not installed")
    r.checks.append(Check("d4p multi -n 2 vs d4p simple (throughput)", _ratio(simple, multi),
                          "≥ 1.7×", None if multi is None else simple / multi >= 1.7))
    return r


def bench_rss(h: Harness) -> Report:
    r = Report("rss", "Memory: 5,000,000 small units, the consumer 10× slower than the "
               "producer (producer and consumer in different processes)")
    n = h.size(5_000_000)
    if not h.has_multi:
        _skipped(r, "d4p multi -n 2", n, "not installed")
        r.checks.append(Check("peak RSS of all processes, d4p multi -n 2", None, "< 300 MB",
                              None, " MB"))
        return r
    cmd = [sys.executable, str(HERE / "measure.py"), "memory", "--engine", "d4p",
           "--mapping", "multi", "-n", "2", "--size", str(n)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    sampler = rss.PeakRSS(proc)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{shlex.join(cmd)} did not finish in {TIMEOUT} s") from None
    finally:
        _kill_session(proc)
    peak = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{stderr[-2000:]}")
    out = json.loads(stdout.strip().splitlines()[-1])
    if out["outputs"] != workloads.memory_expected(n):
        raise RuntimeError(f"{shlex.join(cmd)} gave {out['outputs']}")
    mb = peak / 1e6
    h.log(f"  {out['seconds']:8.3f} s  peak {mb:.0f} MB ({sampler.samples} samples)  "
          f"{shlex.join(cmd[1:])}")
    r.rows.append(Row("d4p multi -n 2", n, out["seconds"], f"peak RSS {mb:.0f} MB, "
                      f"{sampler.samples} samples"))
    r.checks.append(Check("peak RSS of all processes, d4p multi -n 2", mb, "< 300 MB",
                          mb < 300, " MB"))
    return r


RUNNERS = {"pipeline": bench_pipeline, "wordcount": bench_wordcount, "cpu": bench_cpu,
           "rss": bench_rss}


# -- reporting --------------------------------------------------------------------------


def _fmt_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:,.0f}"


def markdown(reports: list[Report]) -> str:
    out = []
    for rep in reports:
        out += [f"### {rep.title}", "",
                "| run | units | best s | units/s | least CPU s | note |",
                "| --- | ---: | ---: | ---: | ---: | --- |"]
        for row in rep.rows:
            secs = "—" if row.seconds is None else f"{row.seconds:.3f}"
            cpu = "" if row.cpu is None else f"{row.cpu:.3f}"
            out.append(f"| {row.label} | {row.units:,} | {secs} | {_fmt_rate(row.rate)} | "
                       f"{cpu} | {row.note} |")
        out += ["", "| target | measured | wanted | met |", "| --- | ---: | --- | --- |"]
        for c in rep.checks:
            value = "—" if c.value is None else f"{c.value:.2f}{c.unit}"
            met = {True: "yes", False: "**no**", None: "not measured"}[c.ok]
            out.append(f"| {c.what} | {value} | {c.target} | {met} |")
        out.append("")
    return "\n".join(out)


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import d4p
    import networkx
    import numpy

    return [
        f"- machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB memory, "
        f"{platform.system()} {platform.release()}",
        f"- load average when started: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(the machine is shared: other jobs may have run at the same time)",
        f"- Python {platform.python_version()}; d4p-core {d4p.__version__}; "
        f"networkx {networkx.__version__}; numpy {numpy.__version__}; dispel4py "
        f"{dispel4py_env.VERSION} (its own venv, networkx from PyPI)",
    ]


HAND_WRITTEN = "<!-- written by hand from here on: --write keeps it -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="d4p benchmarks (see bench/README.md)")
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK",
                        help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is kept)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every workload size (e.g. 0.1 for a quick look)")
    parser.add_argument("--no-dispel4py", action="store_true",
                        help="skip dispel4py (no venv is created)")
    parser.add_argument("--write", metavar="FILE", help="also write the results as Markdown")
    args = parser.parse_args(argv)
    unknown = [b for b in args.benchmarks if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    chosen = args.benchmarks or list(BENCHMARKS)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = datetime.datetime.now(datetime.UTC)
    facts = machine()
    harness = Harness(args.repeat, args.scale, not args.no_dispel4py, log)
    reports = []
    for name in chosen:
        log(f"{name}:")
        reports.append(RUNNERS[name](harness))
    text = markdown(reports)
    print(text)
    if args.write:
        command = "python bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        head = [
            "# Benchmark results", "",
            f"Command: `{command.strip()}` (from the repository root), "
            f"{started:%Y-%m-%d %H:%M} UTC, best of {args.repeat} runs.", "",
            *facts, "",
        ]
        path = Path(args.write)
        old = path.read_text() if path.exists() else ""
        kept = old[old.index(HAND_WRITTEN):] if HAND_WRITTEN in old else ""
        path.write_text("\n".join(head) + "\n" + text + "\n" + kept)
        log(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
