"""From a run's stored events to the numbers the pages, the API and the
terminal show: the profile per PE / instance / process, the time per
iteration over time, the timeline of processes and the communication
between PEs. Plain functions of plain data, identical for every store.

What the executor's times mean (see ``d4p.tracing``) and how they are used:

* ``process_s``: time in the PE's own code, the nested calls of PEs in the
  same process taken out. This is the PE's *work*.
* ``write_s``: time spent handing writes on. It *includes* the whole time of
  downstream PEs called directly in the same process (``simple``, fused
  chains), so it is shown but never added up with other PEs' times.
* ``send_s`` (from the ``edge`` events): time the transport took to send the
  PE's data to other processes (pickling, pipe writes, backpressure). A PE's
  send time is shared among its instances in proportion to their write time.
* ``read_s``: time spent waiting for and decoding input (``multi``): mostly
  idle time while upstream is busy, so it is *not* work.

``own_s = process_s + send_s`` is what an instance cost its process; the
bottleneck is the PE whose busiest instance has the most ``own_s``.
"""

from __future__ import annotations

import time
from typing import Any

from .store import Store

METHODS = ("process_s", "read_s", "write_s")
SHOWN = ("process_s", "send_s", "read_s", "write_s", "own_s")
MAX_POINTS = 200
"""At most this many points per instance in the iteration chart and bars per
lane in the timeline: longer runs have consecutive windows merged."""


class RunNotFound(LookupError):
    """No run with this id is in the store (``args``: the id, and the ids
    that start with it when there are several)."""


def load(store: Store, run_id: str) -> tuple[dict[str, Any], dict[str, list[dict]]]:
    """The run record and its events by kind. ``run_id`` may be the start of
    an id that only one run's id starts with (as ``git`` takes commits);
    :class:`RunNotFound` when no run or several match."""
    record = store.run(run_id)
    if record is None:
        found = store.ids(run_id, limit=6)
        if len(found) != 1:
            raise RunNotFound(run_id, found)
        record = store.run(found[0])
        run_id = found[0]
    from . import unfinished  # here: loading the plugin stays light

    unfinished.settle(store, [record])
    events = {kind: store.events(run_id, kind) for kind in ("instance", "edge", "error")}
    return record, events


def list_runs(store: Store, *, limit: int = 100, workflow: str | None = None,
              status: str | None = None) -> list[dict[str, Any]]:
    """:meth:`Store.runs` as the pages and commands show them: a run whose
    process died unseen is ``aborted`` (see :func:`unfinished.abandoned`)."""
    from . import unfinished

    runs = unfinished.settle(store, store.runs(limit=limit, workflow=workflow, status=status))
    return [r for r in runs if status is None or r["status"] == status]


def not_found(exc: RunNotFound, store: str) -> str:
    """What a :class:`RunNotFound` means, in a sentence naming ``store``."""
    run_id, found = exc.args[0], exc.args[1] if len(exc.args) > 1 else []
    if len(found) < 2:
        return f"no run {run_id!r} in the monitoring store {store}"
    some = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
    many = f"{len(found)}" if len(found) <= 5 else "more than 5"
    return (f"run id {run_id!r} is ambiguous: {many} runs start with it ({some}) in the "
            f"monitoring store {store}; give more of the id")


def _pe_order(record: dict[str, Any], seen: list[str]) -> list[str]:
    order = [p["id"] for p in (record.get("graph") or {}).get("pes", [])]
    return order + [p for p in dict.fromkeys(seen) if p not in order]


def _zero(**keys: Any) -> dict[str, Any]:
    return {**keys, "calls": 0, "process_s": 0.0, "read_s": 0.0, "write_s": 0.0,
            "send_s": 0.0, "own_s": 0.0}


def _add(row: dict[str, Any], other: dict[str, Any]) -> None:
    row["calls"] += other["calls"]
    for m in SHOWN:
        row[m] += other[m]


def _means(row: dict[str, Any]) -> dict[str, Any]:
    calls = row["calls"]
    for m in ("process_s", "read_s", "write_s", "send_s", "own_s"):
        row["mean_" + m.replace("_s", "_ms")] = 1000 * row[m] / calls if calls else 0.0
    return row


def processes_text(processes: list[int]) -> str:
    """The processes of a PE's instances, each once, runs of three or more as
    ranges: ``[1, 2, 4, 5, 6, 7, 4]`` → ``1,2,4-7`` (64 instances stay short)."""
    parts: list[str] = []
    for p in sorted(set(processes)):
        if parts and parts[-1][1] == p - 1:
            parts[-1][1] = p
        else:
            parts.append([p, p])
    return ",".join(f"{a}-{b}" if b - a > 1 else ",".join(map(str, range(a, b + 1)))
                    for a, b in parts)


def sent_by_pe(edge_events: list[dict]) -> dict[str, float]:
    """Send time per sending PE, from the edge events."""
    out: dict[str, float] = {}
    for e in edge_events:
        out[e["src_pe"]] = out.get(e["src_pe"], 0.0) + e["send_s"]
    return out


def profile(record: dict[str, Any], instance_events: list[dict],
            edge_events: list[dict] = ()) -> dict[str, Any]:
    """Totals and means (ms per call) per PE, per instance and per process
    (see the module docstring for what each time means); ``bottleneck`` is
    the PE whose busiest instance has the most own time."""
    inst: dict[tuple[str, int], dict[str, Any]] = {}
    for e in instance_events:
        row = inst.get((e["pe"], e["instance"]))
        if row is None:
            row = inst[(e["pe"], e["instance"])] = _zero(
                pe=e["pe"], instance=e["instance"], process=e["process"], events=0)
        row["calls"] += e["calls"]
        row["events"] += 1
        for m in METHODS:
            row[m] += e[m]
    sent = sent_by_pe(edge_events)
    for pe, seconds in sent.items():
        rows = [r for r in inst.values() if r["pe"] == pe]
        written = sum(r["write_s"] for r in rows)
        calls = sum(r["calls"] for r in rows)
        for r in rows:
            share = (r["write_s"] / written if written else
                     r["calls"] / calls if calls else 1 / len(rows))
            r["send_s"] = seconds * share
    for r in inst.values():
        r["own_s"] = r["process_s"] + r["send_s"]
    order = _pe_order(record, [k[0] for k in inst])
    instances = sorted(inst.values(), key=lambda r: (order.index(r["pe"]), r["instance"]))
    declared = {p["id"]: p.get("instances", 1) for p in (record.get("graph") or {}).get("pes", [])}
    pes = []
    for pe in order:
        rows = [r for r in instances if r["pe"] == pe]
        row = _zero(pe=pe, instances=declared.get(pe, len(rows)))
        for r in rows:
            _add(row, r)
        row["send_s"] = max(row["send_s"], sent.get(pe, 0.0))  # sent with no instance event
        row["own_s"] = row["process_s"] + row["send_s"]
        row["busiest_instance_s"] = max((r["own_s"] for r in rows), default=0.0)
        pes.append(_means(row))
    procs: dict[int, dict[str, Any]] = {}
    for r in instances:
        row = procs.get(r["process"])
        if row is None:
            row = procs[r["process"]] = _zero(process=r["process"], pes=[])
        _add(row, r)
        if r["pe"] not in row["pes"]:
            row["pes"].append(r["pe"])
    processes = [_means(procs[p]) for p in sorted(procs)]
    for r in instances:
        _means(r)
    busy = [p for p in pes if p["calls"] or p["own_s"]]
    bottleneck = max(busy, key=lambda p: p["busiest_instance_s"])["pe"] if busy else None
    return {"pes": pes, "instances": instances, "processes": processes,
            "bottleneck": bottleneck}


def _merged(events: list[dict], limit: int = MAX_POINTS) -> list[dict]:
    """``events`` (of one instance, by time) with consecutive ones merged so
    that at most ``limit`` remain."""
    if len(events) <= limit:
        return events
    size = -(-len(events) // limit)
    out = []
    for k in range(0, len(events), size):
        group = events[k:k + size]
        merged = dict(group[0])
        merged["t0"] = min(e["t0"] for e in group)
        merged["t1"] = max(e["t1"] for e in group)
        merged["calls"] = sum(e["calls"] for e in group)
        for m in METHODS:
            merged[m] = sum(e[m] for e in group)
        out.append(merged)
    return out


def _by_instance(instance_events: list[dict]) -> dict[tuple[str, int], list[dict]]:
    out: dict[tuple[str, int], list[dict]] = {}
    for e in instance_events:
        out.setdefault((e["pe"], e["instance"]), []).append(e)
    for evs in out.values():
        evs.sort(key=lambda e: e["t1"])
    return out


def iterations(record: dict[str, Any], instance_events: list[dict]) -> dict[str, Any]:
    """Time per iteration (ms of own code per call) of each PE instance over
    the run: one point per reported window (at most :data:`MAX_POINTS` per
    instance), at its end time in seconds since the run started."""
    start = record["started"]
    series: dict[str, list[dict[str, float]]] = {}
    for (pe, _), evs in _by_instance(instance_events).items():
        for e in _merged([e for e in evs if e["calls"]]):
            series.setdefault(pe, []).append({
                "t": e["t1"] - start, "ms": 1000 * e["process_s"] / e["calls"],
                "calls": e["calls"], "instance": e["instance"]})
    order = _pe_order(record, list(series))
    return {"series": [{"pe": pe, "points": sorted(series[pe], key=lambda p: p["t"])}
                       for pe in order if pe in series]}


RATE_WINDOW = 10.0
"""Seconds over which :func:`live` measures rates."""


def live(record: dict[str, Any], instance_events: list[dict],
         now: float | None = None) -> dict[str, Any]:
    """A running run so far: ``elapsed_s`` since it started and, per PE, the
    ``units`` its instances reported and their ``rate`` (units per second
    reported over the last :data:`RATE_WINDOW` seconds, or since the start
    when it began more recently). Instances report every thousand units (on
    multi and mpi also every half second) and at their end, so the figures trail the run by up to that much."""
    now = time.time() if now is None else now
    elapsed = max(now - record["started"], 0.0)
    window = min(RATE_WINDOW, elapsed) or 1.0
    units: dict[str, int] = {}
    recent: dict[str, int] = {}
    for e in instance_events:
        units[e["pe"]] = units.get(e["pe"], 0) + e["calls"]
        if e["t1"] >= now - window:
            recent[e["pe"]] = recent.get(e["pe"], 0) + e["calls"]
    order = _pe_order(record, list(units))
    return {"elapsed_s": elapsed, "window_s": window,
            "pes": [{"pe": pe, "units": units.get(pe, 0), "rate": recent.get(pe, 0) / window}
                    for pe in order]}


def timeline(record: dict[str, Any], instance_events: list[dict]) -> dict[str, Any]:
    """What each process was doing when: bars (PE instance, start, end in
    seconds since the run started, calls, ``busy_s`` of own code, ``read_s``)
    in one lane per process, at most :data:`MAX_POINTS` bars per instance."""
    start = record["started"]
    lanes: dict[int, list[dict[str, Any]]] = {}
    for evs in _by_instance(instance_events).values():
        for e in _merged(evs):
            lanes.setdefault(e["process"], []).append({
                "pe": e["pe"], "instance": e["instance"], "t0": e["t0"] - start,
                "t1": e["t1"] - start, "calls": e["calls"], "busy_s": e["process_s"],
                "read_s": e["read_s"], "write_s": e["write_s"]})
    end = record.get("seconds") or max((b["t1"] for bars in lanes.values() for b in bars),
                                       default=0.0)
    return {"seconds": end, "processes": [{"process": p, "bars": sorted(lanes[p],
                                                                        key=lambda b: b["t0"])}
                                          for p in sorted(lanes)]}


def communication(record: dict[str, Any], edge_events: list[dict]) -> dict[str, Any]:
    """Data units, bytes and send time per pair of PEs (every edge of the
    graph, with zeros where nothing was recorded; the executor reports each
    pair once per process and now and then, so the events are summed);
    ``bottleneck`` is the pair with the most send time (then bytes, then
    units). ``crossing`` says whether any of the pair's data left its process,
    ``within`` that the pair had units and all stayed in their process (PEs
    fused or placed together: nothing was sent, so no bytes)."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}

    def row_for(src: str, dst: str) -> dict[str, Any]:
        row = pairs.get((src, dst))
        if row is None:
            row = pairs[(src, dst)] = {"src_pe": src, "dst_pe": dst, "units": 0, "bytes": 0,
                                       "send_s": 0.0, "events": 0}
        return row

    for edge in (record.get("graph") or {}).get("edges", []):
        row_for(edge["src_pe"], edge["dst_pe"])
    for e in edge_events:
        row = row_for(e["src_pe"], e["dst_pe"])
        row["units"] += e["units"]
        row["bytes"] += e["bytes"]
        row["send_s"] += e["send_s"]
        row["events"] += 1
    rows = list(pairs.values())
    for row in rows:
        row["bytes_per_unit"] = row["bytes"] / row["units"] if row["units"] else 0.0
        row["crossing"] = row["bytes"] > 0
        row["within"] = bool(row["units"]) and not row["crossing"]
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
            "profile": profile(record, events["instance"], events["edge"]),
            "iterations": iterations(record, events["instance"]),
            "timeline": timeline(record, events["instance"]),
            "communication": communication(record, events["edge"]),
            "errors": events["error"]}
