"""What monitoring costs: wall time of runs with ``monitor=`` on and off.

For each workload the same run is made three ways, alternating, best of
``--repeat``:

* ``off``: no monitoring;
* ``events``: the core collects and ships the timing events, a tracer that
  drops them receives them (the cost in ``d4p.tracing`` / the executor / the
  mapping alone);
* ``sqlite``: the real d4p-monitor tracer writing to a SQLite file (what
  ``d4p run --monitor FILE`` costs).

Workloads: the 200,000-int pipeline (``d4p.examples.pipeline``) on ``simple``,
``multi -n 4`` (fused into one process, as the plan makes it) and ``multi -n
4`` with ``fuse=False`` (one PE per process: events cross processes); and,
when ``d4p_seismo`` is installed, its ``xcorr`` workflow with ``--stations``
synthetic stations on ``multi -n 4``. Targets (issue 7): at most 50% extra
wall time on the pipeline, at most 10% on xcorr.

Run from the repository root with d4p-core and d4p-monitor installed::

    python bench/monitor_overhead.py                 # everything, best of 3
    python bench/monitor_overhead.py --only pipeline --repeat 5
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import d4p
from d4p.examples import pipeline

TARGETS = {"pipeline": 1.5, "xcorr": 1.1}


class DropTracer:
    """Receives events and keeps nothing."""

    def __init__(self) -> None:
        self.events = 0

    def run_started(self, run) -> None:
        pass

    def record(self, events) -> None:
        self.events += len(events)

    def run_finished(self, run, seconds, error) -> None:
        pass


class DropPlugin:
    @d4p.hookimpl(tryfirst=True)
    def d4p_make_tracer(self, run):
        return DropTracer() if run.monitor == "drop://" else None


def workloads(stations: int, tmp: Path, only: set[str]) -> list[tuple[str, str, dict]]:
    """(workload, label, keyword arguments of d4p.run without the graph)."""
    out = []
    if "pipeline" in only:
        out += [("pipeline", "pipeline simple", {"mapping": "simple"}),
                ("pipeline", "pipeline multi -n 4", {"mapping": "multi", "processes": 4}),
                ("pipeline", "pipeline multi -n 4, not fused",
                 {"mapping": "multi", "processes": 4, "fuse": False})]
    if "xcorr" in only:
        try:
            import d4p_seismo.workflows  # noqa: F401
        except ImportError:
            print("xcorr: skipped (d4p_seismo is not installed)", file=sys.stderr)
        else:
            out.append(("xcorr", f"xcorr {stations} stations multi -n 4",
                        {"mapping": "multi", "processes": 4, "stations": stations,
                         "output": str(tmp / "xcorr")}))
    return out


def build(workload: str, kwargs: dict):
    run_kwargs = dict(kwargs)
    if workload == "pipeline":
        graph, inputs = pipeline(200_000)
        return graph, inputs, run_kwargs
    from d4p_seismo.workflows import build_xcorr

    stations = run_kwargs.pop("stations")
    output = run_kwargs.pop("output")
    graph, inputs = build_xcorr(stations=stations, output=output, plot=False,
                                instances=run_kwargs["processes"])
    return graph, inputs, run_kwargs


def once(workload: str, kwargs: dict, monitor) -> float:
    graph, inputs, run_kwargs = build(workload, kwargs)
    gc.collect()
    start = time.perf_counter()
    d4p.run(graph, inputs, monitor=monitor, **run_kwargs)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind (best kept)")
    parser.add_argument("--stations", type=int, default=20, help="xcorr: synthetic stations")
    parser.add_argument("--only", nargs="*", default=["pipeline", "xcorr"],
                        choices=["pipeline", "xcorr"], help="workloads to run")
    args = parser.parse_args(argv)
    d4p.get_plugin_manager().register(DropPlugin())
    failed = False
    table = os.dup(1)  # what the workflows print (their processes too) goes to stderr
    sys.stdout.flush()
    os.dup2(2, 1)
    with tempfile.TemporaryDirectory(prefix="d4p-monitor-bench-") as tmp:
        tmp = Path(tmp)
        db = str(tmp / "monitor.sqlite")
        rows = []
        for workload, label, kwargs in workloads(args.stations, tmp, set(args.only)):
            if workload == "xcorr":
                once(workload, kwargs, None)  # makes the synthetic data set once
            best = {"off": float("inf"), "events": float("inf"), "sqlite": float("inf")}
            for k in range(args.repeat):
                for kind, monitor in (("off", None), ("events", "drop://"), ("sqlite", db)):
                    seconds = once(workload, kwargs, monitor)
                    best[kind] = min(best[kind], seconds)
                    print(f"{label}: {kind} run {k + 1}: {seconds:.3f} s", file=sys.stderr)
            rows.append((workload, label, best))
        sys.stdout.flush()
        os.dup2(table, 1)
        print("| workload | off (s) | events only (s) | SQLite (s) | events / off | "
              "SQLite / off | target |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for workload, label, best in rows:
            ratio = best["sqlite"] / best["off"]
            target = TARGETS[workload]
            ok = ratio <= target
            failed |= not ok
            print(f"| {label} | {best['off']:.3f} | {best['events']:.3f} | "
                  f"{best['sqlite']:.3f} | {best['events'] / best['off']:.2f} | "
                  f"{ratio:.2f} | ≤ {target:.2f} {'ok' if ok else 'MISSED'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
