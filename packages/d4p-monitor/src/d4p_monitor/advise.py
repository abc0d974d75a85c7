"""``d4p monitor advise RUN``: process counts per PE and partitions from a profile.

A stream workflow runs as fast as its slowest stage, so the advisor balances
the stages: every PE's *work* (the time in its own code plus the time its
data took to send to other processes; waiting for input is not work) is
shared by its instances, and instances go one by one to the PE whose work per
instance is largest, until every process has one. Sources and PEs fed only
through 'global' groupings keep one instance (the plan gives them one);
when one of them is the slowest stage, no PE gets more instances than it
needs to keep up with it, and the advice asks for fewer processes than it
was given (more would only wait).
Cheap PEs next to each other with the same instance count, and pairs of PEs
whose communication costs more than the cheaper one's own code, are proposed as
partitions so that their data units never leave the process.
"""

from __future__ import annotations

from typing import Any

from .profile import communication, profile

_SOURCE = "a source: one instance"
_GLOBAL = "its input grouping is 'global': one instance"

CHEAP = 0.10
"""A PE is cheap when its work is below this share of the slowest stage's."""


def advise(record: dict[str, Any], events: dict[str, list[dict]],
           processes: int | None = None) -> dict[str, Any]:
    """The advice for the run ``record`` with ``events``; ``processes`` is the
    number of processes to plan for (default: what the run used, at least as
    many as it had instances)."""
    prof = profile(record, events["instance"], events["edge"])
    comm = communication(record, events["edge"])
    graph = record.get("graph") or {}
    pe_info = {p["id"]: p for p in graph.get("pes", [])}
    edges = graph.get("edges", [])
    incoming: dict[str, list[str]] = {}
    for e in edges:
        incoming.setdefault(e["dst_pe"], []).append(e["rule"])
    rows = []
    for p in prof["pes"]:
        pe = p["pe"]
        info = pe_info.get(pe, {})
        rules = incoming.get(pe, [])
        if not p["calls"]:
            fixed = "no timing was recorded for it: keep what it has"
        elif info.get("source") or not rules:
            fixed = _SOURCE
        elif all(r == "global" for r in rules):
            fixed = _GLOBAL
        else:
            fixed = None
        rows.append({"pe": pe, "work_s": p["own_s"], "code_s": p["process_s"],
                     "calls": p["calls"],
                     "ms_per_call": 1000 * p["own_s"] / p["calls"] if p["calls"] else 0.0,
                     "instances": p["instances"],
                     "suggested": p["instances"] if not p["calls"] else 1, "fixed": fixed})
    target = processes or max(int(record.get("processes") or 1),
                              sum(r["instances"] for r in rows))
    spare = max(0, target - sum(r["suggested"] for r in rows))
    movable = [r for r in rows if r["fixed"] is None and r["work_s"] > 0]
    floor = max((r["work_s"] for r in rows if r["fixed"] in (_SOURCE, _GLOBAL)), default=0.0)
    while spare and movable:
        best = max(movable, key=lambda r: r["work_s"] / r["suggested"])
        if best["work_s"] / best["suggested"] <= floor:
            break  # a one-instance PE is slower already: more instances would only wait
        best["suggested"] += 1
        spare -= 1
    requested, target = target, sum(r["suggested"] for r in rows)
    now = max((p["busiest_instance_s"] for p in prof["pes"]), default=0.0)
    after = max((r["work_s"] / r["suggested"] for r in rows), default=0.0)
    slowest = max((r["work_s"] for r in rows), default=0.0)
    for r in rows:
        r["share"] = r["work_s"] / slowest if slowest else 0.0
        if r["fixed"]:
            r["reason"] = r["fixed"]
        elif r["suggested"] > 1:
            r["reason"] = f"{r['share']:.0%} of the slowest stage's work"
        else:
            r["reason"] = "cheap enough for one instance"
        del r["fixed"]
    limit = None
    if rows and after > 0:
        worst = max(rows, key=lambda r: r["work_s"] / r["suggested"])
        if worst["reason"] == _SOURCE:
            limit = (f"{worst['pe']} (a source: one instance) limits the run with "
                     f"{worst['work_s']:.3f} s of work: more processes will not make the run "
                     "faster; make the source cheaper or split its input over several sources")
        elif worst["reason"] == _GLOBAL:
            limit = (f"{worst['pe']} (input grouping 'global': one instance) limits the run "
                     f"with {worst['work_s']:.3f} s of work: make it cheaper, or group its "
                     "input by a key so that it can have several instances")
    partitions = _partitions(rows, edges, comm, slowest)
    mapping = record.get("mapping") or "multi"
    if mapping == "simple" and target > 1:
        mapping = "multi"
    workflow = record.get("workflow") or "WORKFLOW"
    command = f"d4p run {_quote(workflow)} --mapping {mapping} -n {target}"
    code = [f"{r['pe']}.numprocesses = {r['suggested']}  # the PE whose id is {r['pe']!r}"
            for r in rows if r["suggested"] != r["instances"]]
    if partitions:
        code.append("graph.partitions = [" + ", ".join(
            "[" + ", ".join(part) + "]" for part in partitions) + "]")
    status = record.get("status")
    caveat = None if status in ("ok", "stopped") else (
        f"the run is {status}: this advice rests on what it has recorded so far"
        if status == "running" else
        f"the run ended {status}: this advice rests only on what it recorded before")
    return {"run": record["id"], "workflow": workflow, "processes": target, "caveat": caveat,
            "requested": requested, "pes": rows,
            "partitions": partitions, "bottleneck": prof["bottleneck"],
            "stage_s_now": now, "stage_s_after": after,
            "speedup": now / after if after else None, "limit": limit, "command": command,
            "code": code}


def _partitions(rows, edges, comm, slowest) -> list[list[str]]:
    """Chains of PEs worth keeping in one process (see the module docstring)."""
    by_pe = {r["pe"]: r for r in rows}
    sent = {(e["src_pe"], e["dst_pe"]): e for e in comm["edges"]}
    outs: dict[str, int] = {}
    ins: dict[str, int] = {}
    for e in edges:
        outs[e["src_pe"]] = outs.get(e["src_pe"], 0) + 1
        ins[e["dst_pe"]] = ins.get(e["dst_pe"], 0) + 1
    parent = {pe: pe for pe in by_pe}

    def root(pe):
        while parent[pe] != pe:
            pe = parent[pe]
        return pe

    for e in edges:
        a, b = by_pe.get(e["src_pe"]), by_pe.get(e["dst_pe"])
        if a is None or b is None or e["rule"] not in ("shuffle", "pair"):
            continue
        if a["suggested"] != b["suggested"] or outs[a["pe"]] != 1 or ins[b["pe"]] != 1:
            continue
        code = min(a["code_s"], b["code_s"])  # what the pair costs without sending
        talk = sent.get((a["pe"], b["pe"]), {}).get("send_s", 0.0)
        if code < CHEAP * slowest or talk > code:
            parent[root(b["pe"])] = root(a["pe"])
    groups: dict[str, list[str]] = {}
    for pe in by_pe:
        groups.setdefault(root(pe), []).append(pe)
    return [g for g in groups.values() if len(g) > 1]


def _quote(text: str) -> str:
    import shlex
    return shlex.quote(text)


def format_advice(advice: dict[str, Any]) -> str:
    """The advice as the terminal shows it."""
    from .columns import cells, ljust

    width = max((cells(r["pe"]) for r in advice["pes"]), default=2)
    lines = [f"run {advice['run']} ({advice['workflow']}): plan for {advice['processes']} "
             "processes" + (f" (of the {advice['requested']} asked for: more would only wait)"
                            if advice.get("requested", advice["processes"]) > advice["processes"]
                            else ""), "",
             f"  {'PE':<{width}}  {'work s':>9}  {'ms/call':>9}  {'now':>4}  {'advice':>6}  why"]
    for r in advice["pes"]:
        lines.append(f"  {ljust(r['pe'], width)}  {r['work_s']:>9.3f}  {r['ms_per_call']:>9.4f}  "
                     f"{r['instances']:>4}  {r['suggested']:>6}  {r['reason']}")
    lines.append("")
    if advice["bottleneck"]:
        lines.append(f"bottleneck now: {advice['bottleneck']} "
                     f"({advice['stage_s_now']:.3f} s in its busiest instance)")
    if advice["speedup"]:
        lines.append(f"slowest stage with the advice: {advice['stage_s_after']:.3f} s "
                     f"(about {advice['speedup']:.1f}x faster)")
    for note in (advice.get("limit"), advice.get("caveat")):
        if note:
            lines.append(f"note: {note}")
    if advice["partitions"]:
        lines.append("partitions: " + "; ".join(" + ".join(p) for p in advice["partitions"]))
    lines += ["", "command line:", f"  {advice['command']}"]
    if advice["code"]:
        lines += ["in the workflow's code:"] + [f"  {c}" for c in advice["code"]]
    return "\n".join(lines)
