"""The plan: one pure function from a graph, a number of processes and the
inputs to everything a mapping needs to enact the workflow.

The plan decides the PE instances (``pe.numprocesses`` of each; sources have
one), which process runs which instance, and for every edge the routing rule.
Instance counts come from the graph, never from the number of processes, so
every mapping runs the same instances and gives the same outputs; the number of
processes only decides how instances share OS processes.

Chains (a PE whose single output edge feeds a PE with a single input edge, same
instance count, shuffle grouping) are fused: instance *j* feeds instance *j* in
the same process, with no communication. ``graph.partitions`` groups PEs the
same way explicitly.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import GraphError, InputError, did_you_mean
from .graph import WorkflowGraph, find_cycle, topological_order
from .grouping import PAIR, Grouping, normalise
from .pe import GROUPING, GenericPE


@dataclass(frozen=True)
class Instance:
    """One instance of a PE: ``iid`` is its number in the whole plan."""

    iid: int
    pe_id: str
    index: int
    process: int


@dataclass(frozen=True)
class Route:
    """An edge of the graph with its routing rule (the input's grouping, or
    :data:`~d4p.grouping.PAIR` where the plan fused the chain) and
    the instance ids it delivers to, in instance order."""

    src_pe: str
    src_port: str
    dst_pe: str
    dst_port: str
    rule: Grouping
    targets: tuple[int, ...]


class _InputFeed(GenericPE):
    """Feeds input items given for a PE that also has upstream PEs: each item
    is a dict of input port to data unit."""

    def __init__(self, target: GenericPE, ports: list[str]) -> None:
        super().__init__()
        self.name = f"{target.id}.inputs"
        self.id = self.name
        for port in ports:
            self._add_output(port)

    def process(self, inputs):
        return inputs


class Plan:
    """What every mapping enacts; made by :func:`make_plan`, changed by
    :meth:`with_processes` and :meth:`replace` (a plan is never changed in
    place).

    ``pes``: PE id → PE, in topological order; ``instances``: every
    :class:`Instance` (``iid`` = its position); ``routes``: every edge as a
    :class:`Route`; ``inputs``: source PE id → iterations or input items;
    ``unconnected``: PE id → its output ports that feed nothing (the run's
    results); ``hidden``: ids of PEs the plan added (input feeds), left out of
    results and summaries; ``copy_fanout``: the graph's
    :attr:`~d4p.WorkflowGraph.copy_fanout`. Derived: ``processes``,
    ``by_pe``, ``routes_from``, ``upstream``, ``downstream``.
    """

    def __init__(self, *, pes: dict[str, GenericPE], instances: list[Instance],
                 routes: list[Route], inputs: dict[str, int | list],
                 unconnected: dict[str, list[str]],
                 hidden: frozenset[str] = frozenset(), copy_fanout: bool = False) -> None:
        self.copy_fanout = copy_fanout
        self.pes = pes
        self.instances = tuple(instances)
        self.routes = tuple(routes)
        self.inputs = inputs
        self.unconnected = unconnected
        self.hidden = hidden
        self.processes = 1 + max((i.process for i in instances), default=0)
        self.by_pe: dict[str, tuple[int, ...]] = {p: () for p in pes}
        for inst in instances:
            self.by_pe[inst.pe_id] += (inst.iid,)
        self.routes_from: dict[tuple[str, str], tuple[Route, ...]] = {}
        for r in routes:
            self.routes_from[(r.src_pe, r.src_port)] = \
                self.routes_from.get((r.src_pe, r.src_port), ()) + (r,)
        up: dict[int, set[int]] = {i.iid: set() for i in instances}
        down: dict[int, set[int]] = {i.iid: set() for i in instances}
        for r in routes:
            for k, s in enumerate(self.by_pe[r.src_pe]):
                for t in (r.targets[k],) if r.rule == PAIR else r.targets:
                    up[t].add(s)
                    down[s].add(t)
        self.upstream = {k: tuple(sorted(v)) for k, v in up.items()}
        self.downstream = {k: tuple(sorted(v)) for k, v in down.items()}

    def replace(self, **changes: Any) -> Plan:
        """A copy of this plan with some of its constructor's arguments changed."""
        given = {"pes": self.pes, "instances": self.instances, "routes": self.routes,
                 "inputs": self.inputs, "unconnected": self.unconnected, "hidden": self.hidden,
                 "copy_fanout": self.copy_fanout}
        unknown = set(changes) - set(given)
        if unknown:
            raise TypeError(f"Plan.replace() got unknown arguments: {', '.join(sorted(unknown))}")
        return Plan(**(given | changes))

    def with_processes(self, process_of: Callable[[Instance], int]) -> Plan:
        """This plan with each instance on process ``process_of(instance)``
        (for example ``lambda i: i.iid``: one process per instance)."""
        return self.replace(instances=[dataclasses.replace(i, process=process_of(i))
                                       for i in self.instances])

    def on_process(self, process: int) -> list[Instance]:
        return [i for i in self.instances if i.process == process]

    def assignment(self) -> dict[str, list[int]]:
        """PE id → process of each of its instances (for summaries and monitors)."""
        return {p: [self.instances[i].process for i in iids] for p, iids in self.by_pe.items()
                if p not in self.hidden}

    def new_pe(self, iid: int, reuse: bool = False) -> GenericPE:
        """The PE object for instance ``iid``: a copy of the graph's PE, so that
        a graph gives the same results however often it runs; ``reuse`` lets
        instance 0 be the object itself where the plan is already a private
        copy (a worker process). The PE knows its place: ``instance`` (its
        index), ``numprocesses`` (how many instances the plan made: 1 for a
        source or a 'global' input, whatever was asked) and ``rank`` (its
        process)."""
        inst = self.instances[iid]
        template = self.pes[inst.pe_id]
        if reuse and inst.index == 0:
            pe = template
        else:
            try:
                pe = copy.deepcopy(template)
            except Exception as exc:
                raise GraphError(
                    f"PE {inst.pe_id!r} cannot be copied into instances ({exc}); create "
                    "resources such as open files or connections in preprocess()"
                ) from None
        pe.instance = inst.index
        pe.numprocesses = len(self.by_pe[inst.pe_id])  # the instances there are
        pe.rank = inst.process
        return pe


def make_plan(graph: WorkflowGraph, processes: int = 1, inputs: Mapping | int | None = None,
              *, fuse: bool = True) -> Plan:
    """Plan ``graph`` on ``processes`` OS processes with the given ``inputs``
    (PE, PE id or PE name → iterations or list of input items; or a number:
    the iterations of every PE that no PE feeds).

    Raises :class:`GraphError` or :class:`InputError` naming what is wrong.
    """
    if not isinstance(processes, int) or processes < 1:
        raise InputError(f"the number of processes must be a positive integer, not {processes!r}")
    flat = graph.flattened()
    aggregate = sys.modules.get("d4p.aggregate")  # a graph holds no aggregate unless it is loaded
    if aggregate is not None:
        flat = aggregate.split_aggregates(flat)  # partial aggregates behind their feeders
    nodes = flat.get_contained_objects()
    if not nodes:
        raise GraphError("the workflow graph is empty: connect some PEs first")
    cycle = find_cycle(nodes, ((a, b) for a, _, b, _ in flat.edges()))
    if cycle:
        names = " -> ".join(pe.id for pe in cycle)
        raise GraphError(f"the workflow has a cycle ({names}); d4p workflows must be acyclic")
    pes = {pe.id: pe for pe in nodes}
    if len(pes) != len(nodes):
        raise GraphError("two PEs in the workflow have the same id; give them different names")

    edges = [(a.id, pa, b.id, pb) for a, pa, b, pb in flat.edges()]
    has_upstream = {b for _, _, b, _ in edges}
    feeds, source_inputs = _place_inputs(pes, has_upstream, inputs)
    for target, (feed, items) in feeds.items():
        pes[feed.id] = feed
        source_inputs[feed.id] = items
        edges += [(feed.id, p, target, p) for p in feed.outputconnections]

    groupings = {}
    for _, _, b, pb in edges:
        try:
            groupings[(b, pb)] = normalise(pes[b].inputconnections[pb].get(GROUPING))
        except ValueError as exc:
            raise GraphError(f"PE {b!r} input {pb!r}: {exc}") from None

    order = _topological(pes, edges)
    asked = graph.numprocesses_on(processes)
    counts = {p: _instance_count(pes[p], p in source_inputs, asked) for p in order}
    groups = _groups(flat, pes, order, edges, counts, groupings, fuse)
    slot_process = _assign(groups, counts, processes)

    instances: list[Instance] = []
    for p in order:
        g = next(i for i, members in enumerate(groups) if p in members)
        for j in range(counts[p]):
            instances.append(Instance(len(instances), p, j, slot_process[(g, j)]))
    by_pe: dict[str, list[int]] = {}
    for inst in instances:
        by_pe.setdefault(inst.pe_id, []).append(inst.iid)
    group_of = {p: g for g, members in enumerate(groups) for p in members}
    routes = []
    for a, pa, b, pb in edges:
        rule = groupings[(b, pb)]
        if rule.fusable and group_of[a] == group_of[b] and counts[a] == counts[b]:
            rule = PAIR
        routes.append(Route(a, pa, b, pb, rule, tuple(by_pe[b])))
    connected = {(a, pa) for a, pa, _, _ in edges}
    unconnected = {p: [o for o in pes[p].outputconnections if (p, o) not in connected]
                   for p in order}
    unconnected = {p: ports for p, ports in unconnected.items() if ports}
    hidden = frozenset(f.id for f, _ in feeds.values())
    return Plan(pes={p: pes[p] for p in order}, instances=instances, routes=routes,
                inputs=source_inputs, unconnected=unconnected, hidden=hidden,
                copy_fanout=bool(graph.copy_fanout))


def _instance_count(pe: GenericPE, is_source: bool, asked: dict[GenericPE, int]) -> int:
    n = pe.numprocesses
    if not isinstance(n, int) or n < 1:
        raise GraphError(f"PE {pe.id!r}: numprocesses must be a positive integer, not {n!r}")
    n = asked.get(pe, n)  # the graph's own choice (WorkflowGraph.numprocesses_on)
    if is_source:
        return 1
    ports = [normalise(c.get(GROUPING)) for c in pe.inputconnections.values()]
    if ports and all(g.single_instance for g in ports):
        return 1
    return n


def _find_pe(pes: dict[str, GenericPE], key: Any) -> str:
    if isinstance(key, GenericPE):
        if pes.get(key.id) is key:
            return key.id
        raise InputError(f"inputs name PE {key.id!r}, which is not in this workflow")
    if isinstance(key, str):
        if key in pes:
            return key
        named = [p for p, pe in pes.items() if pe.name == key]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise InputError(f"inputs name {key!r}, which several PEs are called "
                             f"({', '.join(named)}); use one of these ids")
    known = ", ".join(sorted(pes)) or "none"
    hint = did_you_mean(key, [*pes, *{pe.name for pe in pes.values()}]) \
        if isinstance(key, str) else ""
    raise InputError(f"inputs name {key!r}, which is not a PE of this workflow{hint}; its PEs "
                     f"are: {known}")


def _place_inputs(pes, has_upstream, inputs):
    """Split user inputs into source inputs and feeds for PEs with upstream PEs.
    The items for a PE with input ports are checked here, before the run: a
    PE's ``process`` receives ``{port: data}``, whether a feed or the run
    hands it the item. Iterations of a PE with input ports hand it ``{}``
    (as in dispel4py); a PE that needs its input says so at the first one.
    A number alone is the iterations of every PE that no PE feeds, whatever
    inputs it declares (``d4p run -i N``, as dispel4py's ``-i N``)."""
    if isinstance(inputs, int) and not isinstance(inputs, bool):
        inputs = {p: inputs for p in pes if p not in has_upstream}
    elif inputs is not None and not isinstance(inputs, Mapping):
        raise InputError(f"inputs must be a dict {{PE: iterations or [items]}} or a number of "
                         f"iterations for every source PE, not {type(inputs).__name__}")
    given: dict[str, Any] = {}
    for key, value in (inputs or {}).items():
        given[_find_pe(pes, key)] = value
    source_inputs: dict[str, int | list] = {}
    feeds: dict[str, tuple[GenericPE, list]] = {}
    for p, value in given.items():
        pe = pes[p]
        if isinstance(value, bool) or not isinstance(value, int | list | tuple):
            raise InputError(f"inputs for PE {p!r} must be a number of iterations or a list of "
                             f"input items, not {type(value).__name__}")
        if isinstance(value, int):
            if value < 0:
                raise InputError(f"inputs for PE {p!r}: iterations must be >= 0, not {value}")
            if p in has_upstream:
                raise InputError(
                    f"PE {p!r} is not a source (other PEs feed it), so it cannot run a number "
                    "of iterations; give it a list of input items such as "
                    f"[{{{_first_port(pe)!r}: value}}] instead")
            source_inputs[p] = value
            continue
        items = list(value)
        if p not in has_upstream:
            if pe.inputconnections:
                _input_ports(p, pe, items)
            source_inputs[p] = items
            continue
        feeds[p] = (_InputFeed(pe, _input_ports(p, pe, items)), items)
    for p, pe in pes.items():
        if p not in has_upstream and p not in source_inputs and not pe.inputconnections:
            source_inputs[p] = 1
    return feeds, source_inputs


def _first_port(pe: GenericPE) -> str:
    return next(iter(pe.inputconnections), "input")


def _input_ports(p: str, pe: GenericPE, items: list) -> list[str]:
    """The input ports that ``items`` (input items for PE ``p``) name, in
    order; an :class:`InputError` for an item that is not ``{port: data}``."""
    ports: list[str] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not item:
            from .executor import short_repr  # here: only a mistake pays for it

            data = "..." if isinstance(item, dict) else short_repr(item)
            raise InputError(f"input item {n} for PE {p!r} must be a dict of input port to "
                             f"data, such as {{{_first_port(pe)!r}: {data}}}; "
                             f"got {short_repr(item)}")
        for port in item:
            if port not in pe.inputconnections:
                known = ", ".join(map(repr, pe.inputconnections))
                hint = did_you_mean(port, pe.inputconnections) if isinstance(port, str) else ""
                raise InputError(f"input item {n} for PE {p!r} names unknown input {port!r}"
                                 f"{hint}; its inputs are: {known}")
            if port not in ports:
                ports.append(port)
    return ports


def _topological(pes, edges) -> list[str]:
    return topological_order(pes, ((a, b) for a, _, b, _ in edges))


def _groups(graph, pes, order, edges, counts, groupings, fuse) -> list[list[str]]:
    """Sets of PEs whose instance j share a process slot."""
    parent = {p: p for p in order}

    def root(p):
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    if graph.partitions:
        seen: dict[str, int] = {}
        for k, part in enumerate(graph.partitions):
            ids = []
            for pe in part:
                pid = getattr(pe, "id", None)
                if pid not in parent or pes[pid] is not pe:
                    raise GraphError(f"partition {k} names {pe!r}, which is not a PE of this "
                                     "workflow (partitions list the PEs themselves)")
                if pid in seen:
                    raise GraphError(f"PE {pid!r} is in partitions {seen[pid]} and {k}; "
                                     "a PE belongs to one partition")
                seen[pid] = k
                ids.append(pid)
            for pid in ids[1:]:
                parent[root(pid)] = root(ids[0])
    elif fuse:
        outs: dict[str, int] = {}
        ins: dict[str, int] = {}
        for a, _, b, _ in edges:
            outs[a] = outs.get(a, 0) + 1
            ins[b] = ins.get(b, 0) + 1
        for a, _, b, pb in edges:
            if (outs[a] == 1 and ins[b] == 1 and counts[a] == counts[b]
                    and groupings[(b, pb)].fusable):
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for p in order:
        groups.setdefault(root(p), []).append(p)
    return list(groups.values())


def _assign(groups, counts, processes) -> dict[tuple[int, int], int]:
    """Place slot (group, j) on a process: the least loaded one, preferring one
    that holds no other instance of the same group, so that the instances of a
    parallel PE land on different processes."""
    load = [0] * processes
    holds: list[set[int]] = [set() for _ in range(processes)]
    placed = {}
    for g, members in enumerate(groups):
        for j in range(max(counts[p] for p in members)):
            best = min(range(processes), key=lambda q: (load[q], g in holds[q], q))
            placed[(g, j)] = best
            load[best] += 1
            holds[best].add(g)
    used = sorted(set(placed.values()))
    renumber = {q: i for i, q in enumerate(used)}
    return {slot: renumber[q] for slot, q in placed.items()}
