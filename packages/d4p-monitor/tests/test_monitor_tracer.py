"""The tracer: nothing lost at run end, concurrent runs apart, and an
unreachable store never stops a workflow."""

from __future__ import annotations

import os
import threading
import warnings

import d4p
import pytest
from d4p.examples import wordcount_plain
from d4p_monitor import MonitorWarning, StoreError, Tracer, open_store, unfinished


def test_every_event_is_stored_by_the_end_of_the_run(store_uri, new_run, events_for):
    run = new_run()
    tracer = Tracer(run, store_uri, batch=500)
    tracer.run_started(run)
    base = events_for(run)
    many = [dict(e, calls=1) for e in base if e["kind"] == "instance"] * 300  # 3,900 events
    threads = [threading.Thread(target=lambda c=c: [tracer.record(many[k:k + 13])
                                                    for k in range(c, len(many), 13 * 4)])
               for c in range(0, 52, 13)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracer.run_finished(run, 2.5, None)
    with open_store(store_uri) as store:
        assert len(store.events(run.id, "instance")) == len(many)
        got = store.run(run.id)
    assert got["status"] == "ok" and got["seconds"] == 2.5 and got["lost"] is None
    assert tracer.written["instance"] == len(many) and not tracer.lost


def test_concurrent_runs_through_their_own_tracers_do_not_mix(store_uri, new_run, recorded):
    runs = [new_run(processes=p) for p in (2, 3, 4)]
    threads = [threading.Thread(target=recorded, args=(store_uri, r)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open_store(store_uri) as store:
        for run in runs:
            inst = store.events(run.id, "instance")
            assert {(e["pe"], e["instance"], e["process"]) for e in inst} == {
                (i.pe_id, i.index, i.process) for i in run.plan.instances}
            assert store.run(run.id)["status"] == "ok"


def test_d4p_run_with_monitor_records_the_run(tmp_path):
    db = tmp_path / "runs.sqlite"
    graph, inputs = wordcount_plain(words=2000, counters=2)
    plain = d4p.run(graph, inputs)
    graph, inputs = wordcount_plain(words=2000, counters=2)
    monitored = d4p.run(graph, inputs, monitor=str(db), name="wordcount")
    assert list(monitored.values()) == list(plain.values())
    with open_store(str(db)) as store:
        [rec] = store.runs()
        full = store.run(rec["id"])
    assert rec["workflow"] == "wordcount" and rec["mapping"] == "simple"
    assert rec["status"] == "ok" and 0 < rec["seconds"] < 60
    assert {a["pe"] for a in full["assignment"]} == set(monitored.summary.units)


def test_a_gracefully_stopped_run_is_recorded_as_stopped(tmp_path):
    class Endless(d4p.ProducerPE):
        def _process(self, inputs):
            while True:
                self.write("output", 1)

    @d4p.consumer
    def sink(x):
        pass

    db = tmp_path / "runs.sqlite"
    graph = d4p.WorkflowGraph()
    graph.connect(Endless(), "output", sink(), "input")
    result = d4p.run(graph, monitor=str(db), stop_after=0.3)
    assert result.summary.stopped == "stop_after=0.3 s"
    with open_store(str(db)) as store:
        [rec] = store.runs()
    assert rec["status"] == "stopped"


def test_a_failed_run_is_recorded_as_failed(tmp_path):
    @d4p.iterative
    def explode(x):
        if x == 3:
            raise ValueError("three is not allowed")
        return x

    @d4p.producer
    def numbers(n=5):
        yield from range(n)

    graph = d4p.WorkflowGraph()
    graph.connect(numbers(), "output", explode(), "input")
    with pytest.raises(d4p.WorkflowFailed):
        d4p.run(graph, monitor=str(tmp_path / "f.sqlite"))
    with open_store(str(tmp_path / "f.sqlite")) as store:
        [rec] = store.runs()
    assert rec["status"] == "failed"
    assert "WorkflowFailed" in rec["error"] and "three is not allowed" in rec["error"]


def test_unreachable_store_at_start_the_run_completes_and_a_warning_names_the_loss(
        unreachable_mongo_uri):
    uri = unreachable_mongo_uri
    graph, inputs = wordcount_plain(words=2000, counters=2)
    expected = d4p.run(graph, inputs)
    graph, inputs = wordcount_plain(words=2000, counters=2)
    with pytest.warns(MonitorWarning) as caught:
        got = d4p.run(graph, inputs, monitor=uri)
    assert list(got.values()) == list(expected.values())
    [w] = caught
    text = str(w.message)
    assert text.startswith(f"monitoring lost run {got.summary.run_id} (workflow): its record "
                           "and ")
    assert "marked 'incomplete' when the store is next reached" in text
    assert "Lost: the run record" in text and "the run's end" in text
    assert uri in text and "results are not affected" in text
    port = uri.rsplit(":", 1)[1].split("/")[0]
    assert (f"Store {uri}: StoreError: cannot write to the monitoring store {uri}: "
            f"127.0.0.1:{port}: [Errno 111] Connection refused. The workflow") in text
    assert "Topology" not in text and "\n" not in text and len(text) < 600  # one clear line
    assert got.summary.monitoring_lost.startswith(f"monitoring lost run {got.summary.run_id} and ")
    assert got.summary.monitoring_lost.endswith(" events: nothing was recorded")


@pytest.mark.parametrize("placed", [False, True])
def test_store_lost_mid_run_warns_which_events_were_lost(start_mongo, new_run, events_for,
                                                         placed):
    """``placed``: the mapping placed the run anew before its end (Spark does),
    so the record is written again then, and lost: the record of the start
    was stored all the same."""
    server = start_mongo()
    try:
        uri = f"{server.uri}/d4p"
        run = new_run()
        tracer = Tracer(run, uri, timeout=0.5, finish_timeout=3)
        tracer.run_started(run)
        events = events_for(run)
        first = [e for e in events if e["kind"] == "instance"][:6]
        tracer.record(first)
        with open_store(uri) as store:  # wait until the first events are written
            for _ in range(100):
                if len(store.events(run.id, "instance")) == 6:
                    break
                threading.Event().wait(0.05)
            assert len(store.events(run.id, "instance")) == 6
    finally:
        server.stop()
    rest = [e for e in events if e not in first]
    tracer.record(rest)
    if placed:
        from d4p.examples import wordcount_plain
        from d4p.plan import make_plan

        graph, inputs = wordcount_plain(words=1000, counters=2)
        run.plan = make_plan(graph, 4, inputs)
        run.processes = run.plan.processes
    with pytest.warns(MonitorWarning) as caught:
        tracer.run_finished(run, 1.0, None)
    text = str(caught[0].message)
    assert text.startswith(f"monitoring lost 12 events of run {run.id} (wordcount); the run "
                           "record is incomplete (it is marked 'incomplete' when the store is "
                           "next reached). Lost: 7 instance events; 5 edge events")
    assert "Lost: the run record" not in text and "the run's end" in text
    assert tracer.lost["events"] == {"instance": 7, "edge": 5}
    assert tracer.incomplete == "monitoring lost 12 events; the run record is incomplete"
    assert tracer.lost["pes"] == sorted(run.plan.pes)
    with open_store(uri, timeout=0.5) as store:  # the store is away: the note stays
        with pytest.raises(StoreError):
            store.run(run.id)
    start_mongo(server.port)  # the same server (same data) is back
    with open_store(uri) as store:  # the next connection completes the record
        rec = store.run(run.id)
        assert len(store.events(run.id, "instance")) == 6
    assert rec["status"] == "incomplete" and rec["seconds"] == 1.0
    assert rec["processes"] == (4 if placed else 3)
    assert "5 edge events, 7 instance events of PEs" in rec["lost"]
    assert "the store was lost" in rec["lost"]
    with open_store(uri) as store:  # once
        assert store.run(run.id)["status"] == "incomplete"
    assert not list(unfinished.folder().glob(f"*-{run.id}.json"))


def test_memory_is_bounded_and_dropped_events_are_reported(unreachable_mongo_uri, new_run,
                                                           events_for):
    run = new_run()
    uri = unreachable_mongo_uri
    tracer = Tracer(run, uri, max_buffered=10, timeout=0.3, finish_timeout=1)
    tracer.run_started(run)
    events = events_for(run)
    tracer.record(events)
    assert tracer._buffered <= 10
    with pytest.warns(MonitorWarning, match="13 instance events"):
        tracer.run_finished(run, 1.0, None)


def test_dropped_events_are_noted_in_the_run_record(tmp_path, new_run, events_for):
    run = new_run()
    db = str(tmp_path / "b.sqlite")
    tracer = Tracer(run, db, max_buffered=5)
    with tracer._cond:  # hold the writer so that the buffer fills
        tracer.run_started(run)
        tracer.record(events_for(run))
    with pytest.warns(MonitorWarning, match="more than 5 events were waiting"):
        tracer.run_finished(run, 1.0, None)
    with open_store(db) as store:
        rec = store.run(run.id)
        assert len(store.events(run.id, "instance")) == 5
    assert rec["status"] == "incomplete" and "13 not recorded" not in rec["lost"]
    assert "instance events" in rec["lost"] and "the buffer was full" in rec["lost"]


def test_a_bad_store_uri_is_a_usage_error_before_the_run():
    graph, inputs = wordcount_plain(words=10)
    with pytest.raises(d4p.UsageError, match="unknown monitoring store 'redis://x'"):
        d4p.run(graph, inputs, monitor="redis://x")


def test_a_bad_mongodb_uri_is_a_usage_error_before_the_run():
    graph, inputs = wordcount_plain(words=10)
    with pytest.raises(d4p.UsageError, match="invalid MongoDB store URI 'mongodb://'"):
        d4p.run(graph, inputs, monitor="mongodb://")


def test_an_unwritable_sqlite_file_loses_the_data_but_not_the_run(tmp_path):
    # a store that looks writable before the run and fails when it opens: a
    # new file in a folder nobody can create files in, root included (a
    # folder where the file should be is refused before the run: test_cli)
    blocker = f"/proc/d4p-monitor-{os.getpid()}.sqlite"
    graph, inputs = wordcount_plain(words=500, counters=2)
    with pytest.warns(MonitorWarning, match="cannot open the monitoring store") as caught:
        result = d4p.run(graph, inputs, monitor=str(blocker))
    assert sum(c for _, c in next(iter(result.values()))["output"]) > 0
    assert "the run record" in str(caught[0].message)


def test_another_plugin_gets_its_own_uris_first(tmp_path):
    taken = []

    class Other:
        @d4p.hookimpl
        def d4p_make_tracer(self, run):
            if str(run.monitor).startswith("other://"):
                taken.append(run.id)
                return _Null()
            return None

    class _Null:
        def run_started(self, run): pass
        def record(self, events): pass
        def run_finished(self, run, seconds, error): pass

    other = Other()
    d4p.get_plugin_manager().register(other)
    try:
        graph, inputs = wordcount_plain(words=100)
        d4p.run(graph, inputs, monitor="other://somewhere")
        db = tmp_path / "m.sqlite"
        d4p.run(graph, inputs, monitor=str(db))  # ours still get to d4p-monitor
    finally:
        d4p.get_plugin_manager().unregister(other)
    assert len(taken) == 1
    with open_store(str(db)) as store:
        assert [r["status"] for r in store.runs()] == ["ok"]


def test_a_running_run_says_it_is_alive_while_it_sends_no_events(store_uri, new_run,
                                                                 monkeypatch):
    monkeypatch.setattr(unfinished, "HEARTBEAT_S", 0.05)
    run = new_run()
    tracer = Tracer(run, store_uri)
    tracer.run_started(run)
    try:
        with open_store(store_uri) as store:
            first = None
            for _ in range(400):
                got = store.run(run.id)
                if got is not None:
                    if first is None:
                        first = got["seen"]
                    elif got["seen"] > first:
                        break
                threading.Event().wait(0.02)
            assert got["status"] == "running" and got["seen"] > first
            assert unfinished.abandoned(got, now=got["seen"] + unfinished.SILENT_S + 1)
    finally:
        tracer.run_finished(run, 1.0, None)
    with open_store(store_uri) as store:
        assert store.run(run.id)["status"] == "ok"
