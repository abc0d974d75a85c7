"""How every compat mapping runs a graph: :func:`d4p.run`, with results in
dispel4py's shape."""

from __future__ import annotations

from typing import Any

import d4p


def run(workflow: d4p.WorkflowGraph, inputs: Any, mapping: str, processes: int | None = None,
        partitions: list | None = None, **options: Any) -> d4p.RunResult:
    """Run ``workflow``; ``partitions`` (when given) replace the graph's own
    for this run only. ``options`` are the mapping's."""
    inputs = _named_inputs(workflow, inputs)
    if partitions is not None:
        workflow = workflow.flattened()
        workflow.partitions = partitions
    return d4p.run(workflow, inputs, mapping=mapping, processes=processes, **options)


def _named_inputs(workflow: d4p.WorkflowGraph, inputs: Any) -> Any:
    """``inputs`` with each name that several PEs share (two PEs of one class)
    given to every PE of that name that is not given inputs by object or id:
    dispel4py looks a PE's inputs up by the PE, then its name, then its id."""
    if not isinstance(inputs, dict):
        return inputs
    named: dict[str, list] = {}
    for pe in workflow.flattened().get_contained_objects():
        named.setdefault(pe.name, []).append(pe)
    shared = [key for key in inputs if isinstance(key, str) and len(named.get(key, ())) > 1]
    if not shared:
        return inputs
    given = dict(inputs)
    for name in shared:
        value = given.pop(name)
        for pe in named[name]:
            if pe not in given and pe.id not in given:
                given[pe.id] = list(value) if isinstance(value, list) else value
    return given


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
