"""From a run's stored events to the numbers the pages, the API and the
terminal show: the profile per PE / instance / process, the time per
iteration over time, the timeline of processes and the communication
between PEs. Plain functions of plain data, identical for every store."""

from __future__ import annotations

from typing import Any

from .store import Store

METHODS = ("process_s", "read_s", "write_s")


class RunNotFound(LookupError):
    """No run with this id is in the store."""


def load(store: Store, run_id: str) -> tuple[dict[str, Any], dict[str, list[dict]]]:
    """The run record and its events by kind; :class:`RunNotFound` when unknown."""
    record = store.run(run_id)
    if record is None:
        raise RunNotFound(run_id)
    events = {kind: store.events(run_id, kind) for kind in ("instance", "edge", "error")}
    return record, events


def _pe_order(record: dict[str, Any], seen: list[str]) -> list[str]:
    order = [p["id"] for p in (record.get("graph") or {}).get("pes", [])]
    return order + [p for p in dict.fromkeys(seen) if p not in order]


def _means(row: dict[str, Any]) -> dict[str, Any]:
    calls = row["calls"]
    for m in METHODS:
        row["mean_" + m.replace("_s", "_ms")] = 1000 * row[m] / calls if calls else 0.0
    row["total_s"] = sum(row[m] for m in METHODS)
    return row


def profile(record: dict[str, Any], instance_events: list[dict]) -> dict[str, Any]:
    """Totals and means (ms per call) of process/read/write time per PE, per
    instance and per process; ``bottleneck`` is the PE whose busiest instance
    is busiest (the stage that limits throughput)."""
    inst: dict[tuple[str, int], dict[str, Any]] = {}
    for e in instance_events:
        row = inst.setdefault((e["pe"], e["instance"]), {
            "pe": e["pe"], "instance": e["instance"], "process": e["process"], "calls": 0,
            "process_s": 0.0, "read_s": 0.0, "write_s": 0.0, "events": 0})
        row["calls"] += e["calls"]
        row["events"] += 1
        for m in METHODS:
            row[m] += e[m]
    order = _pe_order(record, [k[0] for k in inst])
    instances = sorted(inst.values(), key=lambda r: (order.index(r["pe"]), r["instance"]))
    declared = {p["id"]: p.get("instances", 1) for p in (record.get("graph") or {}).get("pes", [])}
    pes = []
    for pe in order:
        rows = [r for r in instances if r["pe"] == pe]
        row = {"pe": pe, "instances": declared.get(pe, len(rows)), "calls": 0,
               "process_s": 0.0, "read_s": 0.0, "write_s": 0.0}
        for r in rows:
            row["calls"] += r["calls"]
            for m in METHODS:
                row[m] += r[m]
        row["busiest_instance_s"] = max((sum(r[m] for m in METHODS) for r in rows), default=0.0)
        pes.append(_means(row))
    procs: dict[int, dict[str, Any]] = {}
    for r in instances:
        row = procs.setdefault(r["process"], {"process": r["process"], "calls": 0,
                                              "process_s": 0.0, "read_s": 0.0, "write_s": 0.0,
                                              "pes": []})
        row["calls"] += r["calls"]
        for m in METHODS:
            row[m] += r[m]
        if r["pe"] not in row["pes"]:
            row["pes"].append(r["pe"])
    processes = [_means(procs[p]) for p in sorted(procs)]
    for r in instances:
        _means(r)
    busy = [p for p in pes if p["calls"]]
    bottleneck = max(busy, key=lambda p: p["busiest_instance_s"])["pe"] if busy else None
    return {"pes": pes, "instances": instances, "processes": processes,
            "bottleneck": bottleneck}


def iterations(record: dict[str, Any], instance_events: list[dict]) -> dict[str, Any]:
    """Time per iteration (ms per call) of each PE over the run: one point per
    event, at its end time in seconds since the run started."""
    start = record["started"]
    series: dict[str, list[dict[str, float]]] = {}
    for e in instance_events:
        if e["calls"]:
            series.setdefault(e["pe"], []).append({
                "t": e["t1"] - start, "ms": 1000 * e["process_s"] / e["calls"],
                "instance": e["instance"]})
    order = _pe_order(record, list(series))
    return {"series": [{"pe": pe, "points": sorted(series[pe], key=lambda p: p["t"])}
                       for pe in order if pe in series]}


def timeline(record: dict[str, Any], instance_events: list[dict]) -> dict[str, Any]:
    """What each process was doing when: bars (PE instance, start, end in
    seconds since the run started) in one lane per process."""
    start = record["started"]
    lanes: dict[int, list[dict[str, Any]]] = {}
    for e in instance_events:
        lanes.setdefault(e["process"], []).append({
            "pe": e["pe"], "instance": e["instance"], "t0": e["t0"] - start,
            "t1": e["t1"] - start, "calls": e["calls"],
            "busy_s": sum(e[m] for m in METHODS)})
    end = record.get("seconds") or max((b["t1"] for bars in lanes.values() for b in bars),
                                       default=0.0)
    return {"seconds": end, "processes": [{"process": p, "bars": sorted(lanes[p],
                                                                        key=lambda b: b["t0"])}
                                          for p in sorted(lanes)]}


def communication(record: dict[str, Any], edge_events: list[dict]) -> dict[str, Any]:
    """Data units, bytes and send time per pair of PEs (every edge of the
    graph, with zeros where nothing was recorded); ``bottleneck`` is the pair
    with the most send time (then bytes, then units)."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in (record.get("graph") or {}).get("edges", []):
        pairs.setdefault((edge["src_pe"], edge["dst_pe"]), {
            "src_pe": edge["src_pe"], "dst_pe": edge["dst_pe"], "units": 0, "bytes": 0,
            "send_s": 0.0, "events": 0})
    for e in edge_events:
        row = pairs.setdefault((e["src_pe"], e["dst_pe"]), {
            "src_pe": e["src_pe"], "dst_pe": e["dst_pe"], "units": 0, "bytes": 0,
            "send_s": 0.0, "events": 0})
        row["units"] += e["units"]
        row["bytes"] += e["bytes"]
        row["send_s"] += e["send_s"]
        row["events"] += 1
    rows = list(pairs.values())
    for row in rows:
        row["bytes_per_unit"] = row["bytes"] / row["units"] if row["units"] else 0.0
    active = [r for r in rows if r["units"] or r["send_s"]]
    bottleneck = None
    if active:
        top = max(active, key=lambda r: (r["send_s"], r["bytes"], r["units"]))
        bottleneck = {"src_pe": top["src_pe"], "dst_pe": top["dst_pe"]}
    return {"edges": rows, "bottleneck": bottleneck}


def summary(record: dict[str, Any], events: dict[str, list[dict]]) -> dict[str, Any]:
    """Everything about one run: the record, profile, iterations, timeline,
    communication and errors."""
    return {"run": record,
            "profile": profile(record, events["instance"]),
            "iterations": iterations(record, events["instance"]),
            "timeline": timeline(record, events["instance"]),
            "communication": communication(record, events["edge"]),
            "errors": events["error"]}
