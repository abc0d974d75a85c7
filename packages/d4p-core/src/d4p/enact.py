"""``d4p.run``: plan a graph and enact it on a mapping."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from .driver import Control
from .errors import InputError, UsageError, WorkflowFailed
from .graph import WorkflowGraph
from .mapping import Mapping
from .plan import Plan, make_plan
from .plugins import get_mapping, get_plugin_manager
from .stopping import signals_stop


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

    def __str__(self) -> str:
        width = max((len(p) for p in self.units), default=2)
        lines = [f"{self.mapping} mapping, {self.processes} process"
                 f"{'es' if self.processes != 1 else ''}, {self.seconds:.3f} s"]
        for pe, units in self.units.items():
            procs = ",".join(map(str, self.assignment.get(pe, [])))
            lines.append(f"  {pe:<{width}}  {units:>10,} units  "
                         f"{self.instances.get(pe, 1)} inst. on process {procs}")
        return "\n".join(lines)


class RunResult(dict):
    """The outputs of unconnected output ports, ``{pe_id: {port: [units]}}``,
    with the run's :class:`RunSummary` as ``.summary``."""

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


def run(graph: WorkflowGraph, inputs: MappingABC | None = None, mapping: str = "simple",
        processes: int | None = None, *, monitor: Any = None,
        progress: Callable[[dict[str, int]], None] | None = None, fuse: bool = True,
        name: str | None = None, **options: Any) -> RunResult:
    """Run ``graph`` on ``mapping`` and return the outputs of its unconnected
    output ports as ``{pe_id: {port: [units]}}`` (with ``.summary``).

    ``inputs`` maps a PE (object, id or name) to a number of iterations or a
    list of input items; sources not named run once. ``processes`` defaults to
    the mapping's choice. ``options`` are the mapping's options (see ``d4p
    mappings``). ``monitor`` switches monitoring on (a store URI or ``True``);
    ``progress`` is called now and then with the units processed per PE.
    """
    if not isinstance(graph, WorkflowGraph):
        raise UsageError(f"d4p.run needs a WorkflowGraph, not {type(graph).__name__}")
    cls = get_mapping(mapping)
    settings = _settings(cls, options)
    plan = make_plan(graph, _processes(cls, processes), inputs, fuse=fuse)
    import uuid  # here, not at the top: worker processes import d4p and never need it

    info = RunInfo(uuid.uuid4().hex[:12], name or getattr(graph, "name", None) or "workflow",
                   cls.name, plan.processes, plan, monitor)
    tracer = _tracer(info) if monitor and cls.primary else None
    settings["progress"] = progress
    settings["tracer"] = tracer
    start = time.perf_counter()
    if tracer is not None:
        tracer.run_started(info)
    error = None
    try:
        with signals_stop(Control()):  # SIGTERM ends the run like Ctrl-C: no orphans
            outcome = cls().run(plan, settings)
    except BaseException as exc:
        error = exc
        if tracer is not None and isinstance(exc, WorkflowFailed):
            tracer.record([{"kind": "error", "pe": exc.pe, "instance": exc.instance,
                            "message": str(exc), "t": time.time()}])
        raise
    finally:
        seconds = time.perf_counter() - start
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
        assignment=placed.assignment())
    return result


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
        raise UsageError(f"mapping {cls.name!r} has no option {unknown[0]!r}; "
                         f"its options are: {listed}")
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
