"""How a plan becomes Spark stages (pure: no Spark here).

A *stage* is a PE with the PEs it feeds through fused (``pair``) routes that
have no other input; Spark partition *j* of a stage runs instance *j* of each,
and only its first PE (its *root*) reads from other stages. The layout gives
every stage partition a process of its own, so the executor hands everything
bound for another stage to the transport, tagged with the target instance:
partitioning by the target's instance index reproduces every grouping. The
exception, inputs with the 'all' grouping read from a broadcast, is
:func:`broadcast_inputs` (see the package README).
"""

from __future__ import annotations

from dataclasses import dataclass

from d4p.grouping import ALL
from d4p.plan import PAIR, Plan


@dataclass(frozen=True)
class Stage:
    """PEs whose instance *j* run together in Spark partition *j*."""

    number: int
    pes: tuple[str, ...]
    width: int
    first_process: int
    upstream: tuple[int, ...]
    downstream: tuple[int, ...]
    source: str | None
    """The source PE of this stage (at most one: sources are roots), if any."""


@dataclass(frozen=True)
class Layout:
    """The stages of a plan and the plan renumbered for them."""

    plan: Plan
    stages: tuple[Stage, ...]
    stage_of: tuple[int, ...]
    """Instance id → number of the stage that runs it. Stages are numbered in
    topological order: a stage's upstream stages have smaller numbers."""

    def describe(self, number: int) -> str:
        return ", ".join(p for p in self.stages[number].pes if p not in self.plan.hidden) \
            or self.stages[number].pes[0]


def layout(plan: Plan) -> Layout:
    """Split ``plan`` into stages and give each stage partition its own process."""
    order = list(plan.pes)  # the plan keeps PEs in topological order
    inputs_of: dict[str, int] = {p: 0 for p in order}
    for r in plan.routes:
        inputs_of[r.dst_pe] += 1
    parent = {p: p for p in order}

    def root(p: str) -> str:
        while parent[p] != p:
            p = parent[p]
        return p

    for r in plan.routes:
        if r.rule == PAIR and inputs_of[r.dst_pe] == 1:
            parent[r.dst_pe] = root(r.src_pe)
    members: dict[str, list[str]] = {}
    for p in order:
        members.setdefault(root(p), []).append(p)
    roots = list(members)  # in topological order of the roots
    number_of = {p: roots.index(root(p)) for p in order}

    ups: list[set[int]] = [set() for _ in roots]
    downs: list[set[int]] = [set() for _ in roots]
    for r in plan.routes:
        a, b = number_of[r.src_pe], number_of[r.dst_pe]
        if a != b:
            ups[b].add(a)
            downs[a].add(b)

    stages = []
    first = 0
    for n, r in enumerate(roots):
        width = len(plan.by_pe[r])
        source = next((p for p in members[r] if p in plan.inputs), None)
        stages.append(Stage(n, tuple(members[r]), width, first, tuple(sorted(ups[n])),
                            tuple(sorted(downs[n])), source))
        first += width

    renumbered = plan.with_processes(
        lambda i: stages[number_of[i.pe_id]].first_process + i.index).replace(
        inputs=dict(plan.inputs))
    stage_of = tuple(number_of[i.pe_id] for i in plan.instances)
    return Layout(renumbered, tuple(stages), stage_of)


def broadcast_inputs(plan: Plan) -> dict[tuple[str, str], tuple[int, ...]]:
    """(PE, input port) → its instances, for every input port with the 'all'
    grouping and more than one instance. A grouping belongs to the input port,
    so every unit that reaches such a port reaches all its instances, in the
    order each sender wrote it."""
    return {(r.dst_pe, r.dst_port): r.targets for r in plan.routes
            if r.rule == ALL and len(r.targets) > 1}
