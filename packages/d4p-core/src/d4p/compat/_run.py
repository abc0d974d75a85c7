"""How every compat mapping runs a graph: :func:`d4p.run`, with results in
dispel4py's shape."""

from __future__ import annotations

import os
from typing import Any

import d4p


def run(workflow: d4p.WorkflowGraph, inputs: Any, mapping: str, processes: int | None = None,
        partitions: list | None = None, spread: bool = False, **options: Any) -> d4p.RunResult:
    """Run ``workflow``; ``partitions`` (when given) replace the graph's own
    for this run only. With ``spread``, the PEs run as many instances as
    dispel4py's multi and mpi give them (see :func:`spread_instances`), for
    this run only. ``options`` are the mapping's."""
    if partitions is not None:
        workflow = workflow.flattened()
        workflow.partitions = partitions
    if not spread:
        return d4p.run(workflow, inputs, mapping=mapping, processes=processes, **options)
    size = processes or d4p.get_mapping(mapping).default_processes or os.cpu_count() or 1
    counts = spread_instances(workflow, size)
    declared = {pe: pe.numprocesses for pe in counts}
    try:
        for pe, n in counts.items():
            pe.numprocesses = n
        return d4p.run(workflow, inputs, mapping=mapping, processes=processes, **options)
    finally:
        for pe, n in declared.items():
            pe.numprocesses = n


def spread_instances(workflow: d4p.WorkflowGraph, size: int) -> dict:
    """The instances dispel4py's multi and mpi run of each PE that has inputs
    on ``size`` processes: the processes the sources leave, shared in
    proportion to ``numprocesses`` (rounded down), so that a PE declared with
    1 runs 3 instances on ``-n 4`` after one source, as dispel4py's tutorial
    shows. Only when every PE instance fits (:func:`instances` <= ``size``);
    dispel4py runs in partitions otherwise."""
    flat = workflow.flattened()
    inner = [n.obj for n in flat.graph.nodes if flat.graph.in_degree(n) > 0]
    sources = flat.graph.number_of_nodes() - len(inner)
    declared = sum(pe.numprocesses for pe in inner)
    if sources + declared > size:
        return {}
    share = max(1, declared)
    return {pe: max(1, pe.numprocesses * (size - sources) // share) for pe in inner}


def outputs(result: d4p.RunResult, resultmappings: dict | None = None) -> dict:
    """``{pe_id: {port: [units]}}`` without the ports that produced nothing (and
    PEs left with none), as dispel4py returns them; ``resultmappings``
    (``{pe_id: [port, ...]}``) keeps only the ports it lists."""
    shaped: dict[str, dict[str, list]] = {}
    for pe_id, ports in result.items():
        wanted = None if resultmappings is None else resultmappings.get(pe_id, ())
        kept = {port: list(units) for port, units in ports.items()
                if units and (wanted is None or port in wanted)}
        if kept:
            shaped[pe_id] = kept
    return shaped


def default_partitions(workflow: d4p.WorkflowGraph) -> list[list]:
    """dispel4py's partitions when a graph has none: the sources, then the rest."""
    flat = workflow.flattened()
    sources = [n.obj for n in flat.graph.nodes if flat.graph.in_degree(n) == 0]
    rest = [n.obj for n in flat.graph.nodes if flat.graph.in_degree(n) > 0]
    return [part for part in (sources, rest) if part]


def instances(workflow: d4p.WorkflowGraph) -> int:
    """The processes dispel4py needs to give every PE instance its own: one
    per source, ``numprocesses`` per other PE. With fewer, dispel4py runs the
    graph in partitions."""
    flat = workflow.flattened()
    return sum(1 if flat.graph.in_degree(n) == 0 else n.obj.numprocesses
               for n in flat.graph.nodes)
