"""``d4p.run``: plan a graph and enact it on a mapping."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from .driver import ENDED, Control
from .errors import InputError, UsageError, WorkflowFailed
from .graph import WorkflowGraph
from .mapping import Mapping
from .plan import Plan, make_plan
from .plugins import get_mapping, get_plugin_manager, option_hint
from .stopping import aborted_by_signal, signals_stop


@dataclass
class RunSummary:
    """How a run went: where instances ran, how much each PE processed, how long it took."""

    mapping: str
    processes: int
    seconds: float
    run_id: str
    units: dict[str, int]
    instances: dict[str, int]
    assignment: dict[str, list[int]]
    stopped: str | None = None
    """Why the sources were stopped early (a signal, ``stop_after``, the
    ``stop`` event, ``max_units=N`` when a source reached its limit), or
    ``None`` when they ran to the end."""
    monitoring_lost: str | None = None
    """What monitoring could not record (the tracer's ``incomplete`` line),
    or ``None``: nothing lost, or no monitoring."""

    def __str__(self) -> str:
        width = max((len(p) for p in self.units), default=2)
        lines = [f"{self.mapping} mapping, {self.processes} process"
                 f"{'es' if self.processes != 1 else ''}, {self.seconds:.3f} s"]
        if self.stopped:
            lines[0] += f", stopped after {self.seconds:.1f} s ({self.stopped})"
        for pe, units in self.units.items():
            procs = ",".join(map(str, self.assignment.get(pe, [])))
            lines.append(f"  {pe:<{width}}  {units:>10,} units  "
                         f"{self.instances.get(pe, 1)} inst. on process {procs}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        head, *rows = str(self).splitlines()
        cells = "".join(f"<tr><td><code>{html.escape(r.strip())}</code></td></tr>" for r in rows)
        return f"<p><i>{html.escape(head)}</i></p><table>{cells}</table>"


class RunResult(dict):
    """The outputs of unconnected output ports, ``{pe_id: {port: [units]}}``,
    with the run's :class:`RunSummary` as ``.summary``."""

    def _repr_html_(self) -> str:
        import html

        rows = []
        for pe, ports in self.items():
            for port, units in ports.items():
                shown = html.escape(repr(units[:10])[:300]) + (" …" if len(units) > 10 else "")
                rows.append(f"<tr><td>{html.escape(pe)}</td><td>{html.escape(port)}</td>"
                            f"<td>{len(units):,}</td><td><code>{shown}</code></td></tr>")
        summary = getattr(self, "summary", None)
        return ("<table><tr><th>PE</th><th>port</th><th>units</th><th>first units</th></tr>"
                + "".join(rows) + "</table>"
                + (summary._repr_html_() if summary is not None else ""))

    summary: RunSummary


@dataclass
class RunInfo:
    """What a tracer is told about a run."""

    id: str
    workflow: str
    mapping: str
    processes: int
    plan: Plan
    monitor: Any = None
    started: float = field(default_factory=time.time)
    stopped: str | None = None
    """Set before ``run_finished`` when the sources were stopped early (why).
    ``plan`` and ``processes`` are the mapping's placement by then, when it
    placed the instances itself (Spark: a process per partition)."""


def _refuse_in_starting_worker() -> None:
    """A worker started with spawn or forkserver runs the main script again
    (as ``__mp_main__``) before it works: a script that calls :func:`run`
    unguarded would start the workflow in every worker. Such a worker ends
    here with one line saying what to do, not multiprocessing's page of
    bootstrapping advice."""
    import sys

    process = sys.modules.get("multiprocessing.process")
    if process is None or not getattr(process.current_process(), "_inheriting", False):
        return
    script = getattr(sys.modules.get("__mp_main__"), "__file__", None) or "the main script"
    sys.stderr.write(f"d4p: error: a worker process started with spawn or forkserver "
                     f"imports {script} again, and it called d4p.run: put the code that runs "
                     "the workflow under `if __name__ == \"__main__\":`\n")  # one write
    sys.stderr.flush()
    raise SystemExit(1)


def run(graph: WorkflowGraph, inputs: MappingABC | int | None = None, mapping: str = "simple",
        processes: int | None = None, *, monitor: Any = None,
        progress: Callable[[dict[str, int]], None] | None = None, fuse: bool = True,
        name: str | None = None, stop: threading.Event | None = None,
        stop_after: float | None = None, max_units: int | None = None,
        **options: Any) -> RunResult:
    """Run ``graph`` on ``mapping`` and return the outputs of its unconnected
    output ports as ``{pe_id: {port: [units]}}`` (with ``.summary``).

    ``inputs`` maps a PE (object, id or name) to a number of iterations or a
    list of input items, or is a number: the iterations of every PE that no
    PE feeds; sources (PEs without inputs) not named run once. ``processes`` defaults to the mapping's
    choice. ``options`` are the mapping's options (see ``d4p mappings``).
    ``monitor`` switches monitoring on (a store URI or ``True``); ``progress``
    is called now and then with the units processed per PE, and once more at
    the end with the final counts (its ``finish(counts,
    processes, instances)`` if it has one); in a Jupyter kernel it defaults
    to a progress table in the cell.

    Stopping (a graceful stop: the sources stop, everything they produced is
    processed, every ``postprocess`` runs and the outputs are returned, with
    ``summary.stopped`` saying why): when ``stop`` (a ``threading.Event``) is
    set, after ``stop_after`` seconds, or on the first SIGINT (Ctrl-C) or
    SIGTERM; and each source stops on its own once it has written
    ``max_units`` units (the others go on; ``stopped`` says ``max_units=N``). A second
    signal aborts the run (``KeyboardInterrupt``; every worker is ended).
    """
    if not isinstance(graph, WorkflowGraph):
        raise UsageError(f"d4p.run needs a WorkflowGraph, not {type(graph).__name__}")
    _refuse_in_starting_worker()
    cls = get_mapping(mapping)
    settings = _settings(cls, options)
    if not isinstance(fuse, bool):
        raise UsageError(f"fuse must be True or False, not {fuse!r}")
    if progress is not None and not callable(progress):
        raise UsageError(f"progress must be a function taking {{PE id: units}}, or None; "
                         f"not {progress!r}")
    plan = make_plan(graph, _processes(cls, processes), inputs, fuse=fuse)
    info = RunInfo(os.urandom(6).hex(), name or getattr(graph, "name", None) or "workflow",
                   cls.name, plan.processes, plan, monitor)
    tracer = _tracer(info) if monitor and cls.primary else None
    control = _control(stop, stop_after, max_units)
    if progress is None and cls.primary:
        from .notebook import in_kernel

        if in_kernel():
            from .progress import NotebookProgress

            progress = NotebookProgress(cls.name)
    settings["progress"] = progress
    settings["tracer"] = tracer
    settings["control"] = control
    start = time.perf_counter()
    if tracer is not None:
        tracer.run_started(info)
    error = None
    try:
        with signals_stop(control, graceful=True, say=cls.primary):
            outcome = cls().run(plan, settings)
        if outcome.placement is not None:  # the tracer records the run as it was placed
            info.plan, info.processes = outcome.placement, outcome.placement.processes
    except BaseException as exc:
        error = exc
        interrupted = aborted_by_signal(control)
        if interrupted is not None and not isinstance(exc, KeyboardInterrupt):
            # the engine turned the interrupt into an error of its own: it is the interrupt
            error = interrupted
            raise interrupted from None
        if tracer is not None and isinstance(exc, WorkflowFailed):
            tracer.record([{"kind": "error", "pe": exc.pe, "instance": exc.instance,
                            "message": str(exc), "t": time.time()}])
        raise
    finally:
        seconds = time.perf_counter() - start
        control.stop(ENDED)  # ends the stop_after timer and the stop watcher
        info.stopped = control.why()
        if tracer is not None:
            tracer.run_finished(info, seconds, error)
    result = RunResult()
    for pe, ports in plan.unconnected.items():
        if pe not in plan.hidden:
            got = outcome.results.get(pe, {})
            result[pe] = {port: list(got.get(port, ())) for port in ports}
    placed = outcome.placement or plan
    result.summary = RunSummary(
        mapping=cls.name, processes=placed.processes, seconds=seconds, run_id=info.id,
        units={pe: outcome.counts.get(pe, 0) for pe in plan.pes if pe not in plan.hidden},
        instances={pe: len(iids) for pe, iids in plan.by_pe.items() if pe not in plan.hidden},
        assignment=placed.assignment(), stopped=info.stopped,
        monitoring_lost=getattr(tracer, "incomplete", None))
    if progress is not None:  # the final figures: a bar ends at 100%
        summary = result.summary
        finish = getattr(progress, "finish", None)
        if finish is not None:
            finish(summary.units, summary.processes, summary.instances)
        else:
            progress(dict(summary.units))
    return result


def _control(stop: threading.Event | None, stop_after: float | None,
             max_units: int | None) -> Control:
    """The run's :class:`Control`, stopped by ``stop``, after ``stop_after`` s."""
    if stop_after is not None and (isinstance(stop_after, bool)
                                   or not isinstance(stop_after, int | float) or stop_after <= 0):
        raise UsageError(f"stop_after must be a positive number of seconds, not {stop_after!r}")
    if max_units is not None and (isinstance(max_units, bool) or not isinstance(max_units, int)
                                  or max_units < 1):
        raise UsageError(f"max_units must be a positive whole number, not {max_units!r}")
    if stop is not None and not (callable(getattr(stop, "wait", None))
                                 and callable(getattr(stop, "is_set", None))):
        raise UsageError(f"stop must be a threading.Event (set it to stop the run), "
                         f"not {stop!r}")
    control = Control(max_units=max_units)

    def watch() -> None:
        end = None if stop_after is None else time.monotonic() + stop_after
        while not control.stopping:
            if stop is not None and stop.wait(0.1):
                control.stop("the stop event was set")
            elif end is not None and time.monotonic() >= end:
                control.stop(f"stop_after={stop_after:g} s")
            elif stop is None:
                control.wait(end - time.monotonic())

    if stop is not None or stop_after is not None:
        threading.Thread(target=watch, daemon=True, name="d4p-stop").start()
    return control


def _processes(cls: type[Mapping], processes: int | None) -> int:
    if processes is None:
        processes = cls.default_processes or os.cpu_count() or 1
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise InputError(f"the number of processes must be a positive integer, not {processes!r}")
    if cls.max_processes is not None:
        processes = min(processes, cls.max_processes)
    return processes


def _settings(cls: type[Mapping], options: dict[str, Any]) -> dict[str, Any]:
    known = {o.name: o for o in cls.options}
    unknown = sorted(set(options) - set(known))
    if unknown:
        listed = ", ".join(known) or "none"
        raise UsageError(f"mapping {cls.name!r} has no option {unknown[0]!r}"
                         f"{option_hint(cls, unknown[0])}; its options are: {listed}")
    settings = {}
    for name, opt in known.items():
        settings[name] = opt.check(options[name], cls.name) if name in options else opt.default
    return settings


def _tracer(info: RunInfo):
    tracer = get_plugin_manager().hook.d4p_make_tracer(run=info)
    if tracer is not None:
        return tracer
    raise UsageError(f"monitoring was asked for ({info.monitor!r}) but no monitoring plugin "
                     "accepted it: install d4p-monitor (pip install d4p-monitor) or check the "
                     "store URI") from None
