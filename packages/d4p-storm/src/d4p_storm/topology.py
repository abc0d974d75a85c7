"""A workflow's plan as a Storm topology: which components, streams and
subscriptions (with groupings and parallelism) run it.

* Every source PE of the plan is a spout, every other PE a bolt; a component
  has one task per PE instance (parallelism and task count from the plan), and
  task *k* of a component runs instance *k* of its PE.
* Every output port of a PE is a stream named after the port, with the field
  ``unit`` (the data unit) and one key field per group-by edge on it. Edges of
  one port to different PEs share its stream; Storm copies each tuple to every
  subscriber. (A second edge from the same port into the *same* PE gets a
  stream of its own, ``port~input``, since Storm subscribes a bolt to a stream
  once.) Unconnected output ports (the workflow's results) are streams too:
  nothing in the topology subscribes to them, but your own bolts can.
* Groupings: shuffle → ``SHUFFLE`` (a chain the plan fused is a shuffle edge
  too), ``'all'`` → ``ALL``, ``'global'`` → ``GLOBAL`` (the lowest task,
  instance 0), group-by → ``FIELDS`` on the edge's key field. The key field
  holds ``(stable_hash(key) % n - 31) mod n`` for *n* receiving tasks: Storm
  sends a fields-grouped tuple to task index ``floorMod(31 + value, n)``
  (``Arrays.deepHashCode`` of the one-field list), so every key reaches the
  same instance as in every other d4p mapping.
* Aggregates (:mod:`d4p.aggregate`): Storm has no combiner, so the partial
  aggregate that the plan puts behind each PE feeding an aggregate runs in
  that PE's component (*hosted*): task *k* runs instance *k* of the feeder
  and of the partial, the units pass from one to the other as calls, and only
  the partial states leave the task, on the stream ``<partial>.<port>``
  (``count1.partial.output``), which the aggregate's own bolt (the final
  merge) reads with a ``FIELDS`` grouping on the key. A partial is hosted
  when its feeder's port feeds only partials; otherwise it is a bolt of its
  own, fed by a ``SHUFFLE``.
* End of stream: every component also declares the stream ``d4p.eos`` (field
  ``source``: the plan's id of the instance the sending task runs; a hosted
  partial's instance ends with it). Every bolt subscribes to the ``d4p.eos``
  stream of each component that feeds it with the ``ALL`` grouping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from d4p import UsageError
from d4p.aggregate import PartialAggregatePE
from d4p.grouping import ALL, GLOBAL, PAIR, SHUFFLE, GroupBy, stable_hash
from d4p.plan import Plan

EOS_STREAM = "d4p.eos"
"""The stream on which a finished instance tells every downstream task."""
UNIT = "unit"
"""The field holding the (encoded) data unit on data streams."""
SOURCE = "source"
"""The field of ``d4p.eos`` tuples: the plan's instance id of the sender."""

SHUFFLE_GROUPING = "SHUFFLE"
FIELDS_GROUPING = "FIELDS"
ALL_GROUPING = "ALL"
GLOBAL_GROUPING = "GLOBAL"


@dataclass(frozen=True)
class KeyField:
    """A group-by edge's key field on a stream."""

    name: str
    grouping: GroupBy
    tasks: int

    def value(self, unit: Any) -> int:
        """The field value that makes Storm's fields grouping pick the task of
        ``unit``'s key (see the module docstring)."""
        index = stable_hash(self.grouping.key_of(unit)) % self.tasks
        return (index - 31) % self.tasks


@dataclass(frozen=True)
class Stream:
    """An output stream of a component: its Storm id, the PE port it carries
    (``None`` for ``d4p.eos``), its fields, its group-by key fields and the PE
    that writes it (``None``: the component's own PE; else a hosted partial)."""

    id: str
    port: str | None
    fields: tuple[str, ...]
    keys: tuple[KeyField, ...] = ()
    pe: str | None = None


@dataclass(frozen=True)
class Subscription:
    """A bolt's input: a stream of another component with a Storm grouping
    (``fields`` for ``FIELDS``), delivered to input ``port`` of the bolt's PE
    (``None`` for ``d4p.eos``)."""

    component: str
    stream: str
    grouping: str
    fields: tuple[str, ...] = ()
    port: str | None = None


@dataclass(frozen=True)
class Component:
    """A spout or bolt running one PE: ``tasks`` tasks for the PE instances
    ``iids`` (task index *k* runs ``iids[k]``)."""

    name: str
    pe: str
    kind: str
    iids: tuple[int, ...]
    streams: tuple[Stream, ...]
    inputs: tuple[Subscription, ...]
    results: tuple[str, ...]
    """Output ports of the PE that nothing in the workflow reads (its results)."""
    hosted: tuple[str, ...] = ()
    """Partial aggregates that run in this component's tasks (see the module notes)."""

    @property
    def tasks(self) -> int:
        return len(self.iids)

    @property
    def is_spout(self) -> bool:
        return self.kind == "spout"

    def stream(self, stream_id: str) -> Stream:
        for s in self.streams:
            if s.id == stream_id:
                return s
        raise KeyError(f"component {self.name!r} has no stream {stream_id!r}")

    def streams_of(self, port: str, pe: str | None = None) -> tuple[Stream, ...]:
        """The streams that carry the units written on ``port`` of ``pe`` (a
        hosted partial's id; ``None`` or the component's PE: its own)."""
        pe = None if pe == self.pe else pe
        return tuple(s for s in self.streams if s.port == port and s.pe == pe)


@dataclass(frozen=True)
class StormTopology:
    """The components of a workflow, spouts first, then bolts in plan order."""

    components: tuple[Component, ...]

    def __getitem__(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(f"the topology has no component {name!r}")

    def of_pe(self, pe_id: str) -> Component:
        for c in self.components:
            if c.pe == pe_id:
                return c
        raise KeyError(f"the topology has no component for PE {pe_id!r}")

    @property
    def spouts(self) -> tuple[Component, ...]:
        return tuple(c for c in self.components if c.is_spout)

    @property
    def bolts(self) -> tuple[Component, ...]:
        return tuple(c for c in self.components if not c.is_spout)


def translate(plan: Plan) -> StormTopology:
    """The Storm topology that runs ``plan`` (a pure function of the plan, so
    that the exported topology and every component process agree on it)."""
    names = component_names(plan)
    host = hosts(plan)
    streams: dict[str, list[Stream]] = {pe: [] for pe in plan.pes}
    inputs: dict[str, list[Subscription]] = {pe: [] for pe in plan.pes}
    feeders: dict[str, list[str]] = {pe: [] for pe in plan.pes}
    for pe_id, pe in plan.pes.items():
        runs_in = host.get(pe_id, pe_id)
        own = streams[runs_in]
        for port in pe.outputconnections:
            routes = plan.routes_from.get((pe_id, port), ())
            if routes and all(r.dst_pe in host for r in routes):
                continue  # hosted partials read it in the same task
            base = port if runs_in == pe_id else f"{names[pe_id]}.{port}"
            groups: list[tuple[str, list]] = []
            for route in routes:
                for _, members in groups:
                    if all(r.dst_pe != route.dst_pe for r in members):
                        members.append(route)
                        break
                else:
                    stream_id = base if not groups else f"{base}~{route.dst_port}"
                    groups.append((stream_id, [route]))
            writer = None if runs_in == pe_id else pe_id
            if not groups:
                own.append(Stream(base, port, (UNIT,), pe=writer))
            for stream_id, members in groups:
                keys = []
                for route in members:
                    target = names[route.dst_pe]
                    grouping, fields = _storm_grouping(
                        route.rule, f" (PE {route.dst_pe!r} input {route.dst_port!r})")
                    if grouping == FIELDS_GROUPING:
                        key = KeyField(_field(f"key_{target}_{route.dst_port}"), route.rule,
                                       len(plan.by_pe[route.dst_pe]))
                        keys.append(key)
                        fields = (key.name,)
                    inputs[route.dst_pe].append(
                        Subscription(names[runs_in], stream_id, grouping, fields, route.dst_port))
                    if runs_in not in feeders[route.dst_pe]:
                        feeders[route.dst_pe].append(runs_in)
                own.append(Stream(stream_id, port, (UNIT, *(k.name for k in keys)), tuple(keys),
                                  writer))
    for pe_id in plan.pes:
        if pe_id not in host:
            streams[pe_id].append(Stream(EOS_STREAM, None, (SOURCE,)))
    components = []
    for pe_id in sorted(plan.pes, key=lambda p: (p not in plan.inputs, list(plan.pes).index(p))):
        if pe_id in host:
            continue
        eos = [Subscription(names[src], EOS_STREAM, ALL_GROUPING) for src in feeders[pe_id]]
        components.append(Component(
            name=names[pe_id], pe=pe_id,
            kind="spout" if pe_id in plan.inputs else "bolt",
            iids=plan.by_pe[pe_id], streams=tuple(streams[pe_id]),
            inputs=tuple(inputs[pe_id] + eos),
            results=tuple(plan.unconnected.get(pe_id, ())),
            hosted=tuple(p for p, h in host.items() if h == pe_id)))
    return StormTopology(tuple(components))


def hosts(plan: Plan) -> dict[str, str]:
    """Partial aggregate → the PE whose component runs it: its one feeder,
    with as many instances, when every route out of that feeder's port goes
    to such partials (units then never leave the task as tuples)."""
    candidates = {}
    for pe_id, pe in plan.pes.items():
        if not isinstance(pe, PartialAggregatePE):
            continue
        into = [r for r in plan.routes if r.dst_pe == pe_id]
        if len(into) == 1 and len(plan.by_pe[into[0].src_pe]) == len(plan.by_pe[pe_id]) \
                and not isinstance(plan.pes[into[0].src_pe], PartialAggregatePE):
            candidates[pe_id] = into[0]
    found = {}
    for pe_id, route in candidates.items():
        siblings = plan.routes_from.get((route.src_pe, route.src_port), ())
        if all(r.dst_pe in candidates for r in siblings):
            found[pe_id] = route.src_pe
    return found


def hosted_instances(plan: Plan) -> dict[int, int]:
    """Instance of a hosted partial → the instance whose task runs it (the
    one its task's ``d4p.eos`` tuple names)."""
    found = {}
    for partial, feeder in hosts(plan).items():
        found.update(zip(plan.by_pe[partial], plan.by_pe[feeder], strict=True))
    return found


def component_names(plan: Plan) -> dict[str, str]:
    """PE id → Storm component id: the PE id where Storm allows it (letters,
    digits, ``_``, ``-``, ``.``; no leading ``__``), made unique."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for pe_id in plan.pes:
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", pe_id).lstrip("_") or "pe"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[pe_id] = name
    return names


def _storm_grouping(rule, where: str = "") -> tuple[str, tuple[str, ...]]:
    """Storm's own grouping for a d4p grouping; a grouping Storm has no
    equivalent for is refused, never routed some other way."""
    if isinstance(rule, GroupBy):
        return FIELDS_GROUPING, ()
    if rule == ALL:
        return ALL_GROUPING, ()
    if rule == GLOBAL:
        return GLOBAL_GROUPING, ()
    if rule in (SHUFFLE, PAIR):  # the plan's fused pairs are shuffles between tasks
        return SHUFFLE_GROUPING, ()
    raise UsageError(f"the storm mapping cannot honour grouping {rule.describe()!r}{where}: "
                     "Storm routes only shuffle, group_by, 'all' and 'global'; run this "
                     "workflow on another mapping")


def _field(text: str) -> str:
    """A field name that is also a Python identifier (pystorm makes namedtuples)."""
    return re.sub(r"\W", "_", text)
