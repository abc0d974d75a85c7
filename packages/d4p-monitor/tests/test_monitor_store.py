"""The store contract: every test runs against SQLite and a real MongoDB-wire server."""

from __future__ import annotations

import os
import threading
import time

import pytest
from d4p_monitor.store import clean_event, run_record


def _events(run, events_for):
    return [clean_event(e) for e in events_for(run)]


def test_a_run_and_its_events_come_back_as_stored(store, new_run, events_for):
    run = new_run()
    store.start_run(run_record(run))
    events = _events(run, events_for)
    store.add_events(run.id, events)
    store.finish_run(run.id, finished=run.started + 1.05, seconds=1.05, status="ok")

    got = store.run(run.id)
    assert got["workflow"] == "wordcount" and got["mapping"] == "multi"
    assert got["processes"] == 3 and got["status"] == "ok" and got["seconds"] == 1.05
    assert got["assignment"] == [{"pe": pe, "processes": procs}
                                 for pe, procs in run.plan.assignment().items()]
    assert [p["id"] for p in got["graph"]["pes"]] == list(run.plan.pes)
    assert [p["instances"] for p in got["graph"]["pes"]] == [1, 2, 1]
    assert got["graph"]["edges"][0]["rule"] == "group_by(0)"
    assert got["graph"]["edges"][1]["rule"] == "global"

    inst = store.events(run.id, "instance")
    assert len(inst) == 4 + 4 + 4 + 1
    assert sum(e["calls"] for e in inst) == 1000 + 500 + 500 + 20
    assert [e["t1"] for e in inst] == sorted(e["t1"] for e in inst)
    assert inst[0] == next(e for e in events if e["kind"] == "instance" and e == inst[0])
    edges = store.events(run.id, "edge")
    assert sum(e["units"] for e in edges) == 1020 and sum(e["bytes"] for e in edges) == 40_800
    assert store.events(run.id, "error") == []


def test_runs_are_listed_latest_first_and_filtered_by_equality(store, new_run):
    runs = [new_run(started=1000.0 + k, workflow=f"wf{k % 2}") for k in range(5)]
    for r in runs:
        store.start_run(run_record(r))
    store.finish_run(runs[0].id, finished=1010.0, seconds=10.0, status="failed", error="boom")
    listed = store.runs()
    assert [r["id"] for r in listed] == [r.id for r in reversed(runs)]
    assert "graph" not in listed[0] and listed[-1]["status"] == "failed"
    assert [r["id"] for r in store.runs(limit=2)] == [runs[4].id, runs[3].id]
    assert [r["id"] for r in store.runs(workflow="wf0")] == [runs[4].id, runs[2].id, runs[0].id]
    assert [r["id"] for r in store.runs(status="failed")] == [runs[0].id]


def test_request_values_are_compared_as_text_never_as_operators(store, new_run):
    run = new_run(workflow="wordcount")
    store.start_run(run_record(run))
    for attempt in ('{"$ne": null}', '{"$gt": ""}', "$ne", "' OR '1'='1", "%", "*"):
        assert store.run(attempt) is None
        assert store.runs(workflow=attempt) == []
        assert store.events(attempt, "instance") == []
    with pytest.raises(Exception, match="must be a string"):
        store.runs(workflow={"$ne": None})
    with pytest.raises(Exception, match="must be a string"):
        store.run({"$ne": None})
    assert store.run(run.id)["id"] == run.id


def test_unknown_run_is_none_and_unknown_kind_is_refused(store):
    assert store.run("0123456789ab") is None
    assert store.events("0123456789ab", "edge") == []
    with pytest.raises(Exception, match="unknown event kind 'bogus'"):
        store.events("x", "bogus")


def test_concurrent_runs_do_not_mix(store, new_run, events_for):
    runs = [new_run(processes=p) for p in (1, 2, 3, 3)]
    errors = []

    def write(run):
        try:
            store.start_run(run_record(run))
            events = _events(run, events_for)
            for k in range(0, len(events), 3):
                store.add_events(run.id, events[k:k + 3])
            store.finish_run(run.id, finished=run.started + 1, seconds=1.0, status="ok")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for run in runs:
        inst = store.events(run.id, "instance")
        assert len(inst) == 13
        assert {(e["pe"], e["process"]) for e in inst} == {
            (i.pe_id, i.process) for i in run.plan.instances}
        assert len(store.events(run.id, "edge")) == 5
        assert store.run(run.id)["processes"] == run.processes
    assert len(store.runs()) == 4


def test_a_run_recorded_again_replaces_its_record(store, new_run):
    run = new_run()
    store.start_run(run_record(run))
    run.workflow = "renamed"
    store.start_run(run_record(run))
    assert [r["workflow"] for r in store.runs()] == ["renamed"]


def test_pe_names_that_look_like_operators_or_paths_are_kept(store, new_run):
    import d4p

    class Odd(d4p.GenericPE):
        def __init__(self):
            super().__init__()
            self._add_output("output")

    class Sink(d4p.GenericPE):
        def __init__(self):
            super().__init__()
            self._add_input("input")

    a, b = Odd(), Sink()
    a.name, b.name = "$where.x", "<script>alert(1)</script>"
    graph = d4p.WorkflowGraph()
    graph.connect(a, "output", b, "input")
    run = new_run(graph=graph, inputs={a: 1}, processes=2)
    store.start_run(run_record(run))
    got = store.run(run.id)
    assert [p["id"] for p in got["graph"]["pes"]] == [a.id, b.id]
    assert a.id.startswith("$where.x") and got["assignment"][0]["pe"] == a.id


def test_indexes_serve_the_page_queries(store):
    store.runs()  # creates the schema / indexes
    if hasattr(store, "indexes"):
        found = store.indexes()
        assert [("id", 1)] in found["runs"] and [("started", -1)] in found["runs"]
        assert [("run", 1), ("kind", 1), ("t1", 1)] in found["events"]
    else:
        conn = store._connect()
        names = {row[1] for row in conn.execute("SELECT * FROM sqlite_master WHERE "
                                                "type='index'")}
        assert {"runs_started", "instance_events_run", "edge_events_run",
                "error_events_run"} <= names
        plan = " ".join(str(r) for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM instance_events WHERE run_id=? ORDER BY t1",
            ("x",)))
        assert "instance_events_run" in plan


def test_a_run_not_heard_of_for_a_minute_is_aborted_until_it_is_heard_of_again(store, new_run):
    from d4p_monitor.profile import list_runs
    from d4p_monitor.unfinished import SILENT_S

    now = time.time()
    away, quiet, alive = (new_run(started=now - 600 + k) for k in range(3))
    for run, seen in ((away, now - SILENT_S - 5), (quiet, now - 5), (alive, now - SILENT_S - 5)):
        record = run_record(run)
        record.update(host="another-machine", pid=1234, seen=seen)
        store.start_run(record)
    store.touch(alive.id, now)  # its heartbeat
    assert [r["id"] for r in list_runs(store, status="running")] == [alive.id, quiet.id]
    got = store.run(away.id)
    assert (got["status"], got["seconds"], got["finished"]) == ("aborted", None, now - SILENT_S - 5)
    assert got["error"].startswith("not heard of since ") and got["error"].endswith(
        " (process 1234 on another-machine): it ended without recording the run's end")
    assert {r["id"]: r["status"] for r in store.runs()} == {
        away.id: "aborted", quiet.id: "running", alive.id: "running"}
    store.touch(away.id, time.time())  # it was only unreachable: running again
    assert (store.run(away.id)["status"], store.run(away.id)["error"]) == ("running", None)
    store.finish_run(away.id, finished=now, seconds=600.0, status="ok")
    store.touch(away.id, time.time())  # a late heartbeat never reopens a finished run
    assert store.run(away.id)["status"] == "ok"


def test_a_store_made_by_an_older_d4p_gets_the_new_columns(tmp_path, new_run):
    import sqlite3

    from d4p_monitor.sqlite_store import SQLiteStore

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, workflow TEXT, mapping TEXT, "
                     "processes INTEGER, started REAL, finished REAL, seconds REAL, status TEXT, "
                     "error TEXT, lost TEXT, assignment TEXT, graph TEXT)")
        conn.execute("INSERT INTO runs (id, workflow, status, started) "
                     "VALUES ('old1', 'wf', 'ok', 1.0)")
    conn.close()
    store = SQLiteStore(path)
    try:
        run = new_run()
        store.start_run(run_record(run))
        assert store.run(run.id)["pid"] == os.getpid()
        assert [r["id"] for r in store.runs()] == [run.id, "old1"]
    finally:
        store.close()


def test_connections_opening_a_new_file_together_all_open_it(tmp_path):
    """A run's tracer and the web service (or two runs) often open a new store
    at the same moment; SQLite refuses the journal mode change of the second at
    once ("database is locked") instead of waiting for the first."""
    from d4p_monitor.sqlite_store import SQLiteStore

    failures = []
    together = threading.Barrier(6)

    def open_it(path):
        together.wait()
        try:
            SQLiteStore(path)
        except Exception as exc:  # noqa: BLE001 - every failure is the finding
            failures.append(str(exc))

    for attempt in range(100):
        path = tmp_path / f"new-{attempt}.sqlite"
        openers = [threading.Thread(target=open_it, args=(path,)) for _ in range(6)]
        for t in openers:
            t.start()
        for t in openers:
            t.join()
    assert failures == []
