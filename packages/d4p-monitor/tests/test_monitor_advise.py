"""The advisor: instances go where the work is; cheap neighbours share a process."""

from __future__ import annotations

import pytest
from d4p.examples import pipeline
from d4p_monitor import advise, format_advice
from d4p_monitor.store import clean_event, run_record


def _events(run, costs, edge_send=0.0):
    out = []
    for inst in run.plan.instances:
        calls, seconds = costs[inst.pe_id]
        out.append(clean_event({"kind": "instance", "pe": inst.pe_id, "instance": inst.index,
                                "process": inst.process, "t0": run.started,
                                "t1": run.started + 1, "calls": calls, "process_s": seconds,
                                "read_s": 0.0, "write_s": 0.0}))
    edges = [clean_event({"kind": "edge", "src_pe": r.src_pe, "dst_pe": r.dst_pe, "units": 100,
                          "bytes": 800, "send_s": edge_send, "t1": run.started + 1})
             for r in run.plan.routes]
    return {"instance": out, "edge": edges, "error": []}


def test_a_slow_middle_stage_gets_the_processes(new_run):
    graph, inputs = pipeline(100)
    run = new_run(3, graph=graph, inputs=inputs, workflow="pipeline")
    producer, doubler, summer = run.plan.pes
    events = _events(run, {producer: (1, 0.1), doubler: (100, 2.0), summer: (100, 0.05)})
    adv = advise(run_record(run), events, processes=6)
    assert {r["pe"]: r["suggested"] for r in adv["pes"]} == {producer: 1, doubler: 4,
                                                            summer: 1}
    assert adv["bottleneck"] == doubler
    assert adv["stage_s_now"] == pytest.approx(2.0)
    assert adv["stage_s_after"] == pytest.approx(0.5)
    assert adv["partitions"] == []
    assert adv["command"] == "d4p run pipeline --mapping multi -n 6"
    assert f"{doubler}.numprocesses = 4  # the PE whose id is {doubler!r}" in adv["code"]
    text = format_advice(adv)
    assert "about 4.0x faster" in text and f"bottleneck now: {doubler}" in text


def test_cheap_neighbours_are_proposed_as_one_partition(new_run):
    graph, inputs = pipeline(100)
    run = new_run(3, graph=graph, inputs=inputs, workflow="pipeline")
    producer, doubler, summer = run.plan.pes
    events = _events(run, {producer: (1, 1.0), doubler: (100, 0.01), summer: (100, 0.01)},
                     edge_send=0.2)
    adv = advise(run_record(run), events, processes=3)
    assert adv["partitions"] == [[producer, doubler, summer]]
    assert adv["code"][-1] == f"graph.partitions = [[{producer}, {doubler}, {summer}]]"


def test_no_timings_keep_the_instances(new_run):
    run = new_run(3)
    adv = advise(run_record(run), {"instance": [], "edge": [], "error": []})
    assert [r["suggested"] for r in adv["pes"]] == [1, 2, 1]
    assert adv["speedup"] is None and adv["code"] == []


def test_a_slow_source_keeps_the_others_from_getting_processes_they_cannot_use(new_run):
    graph, inputs = pipeline(100)
    run = new_run(3, graph=graph, inputs=inputs, workflow="pipeline")
    producer, doubler, summer = run.plan.pes
    events = _events(run, {producer: (1, 2.0), doubler: (100, 0.5), summer: (100, 0.05)})
    adv = advise(run_record(run), events, processes=6)
    assert {r["pe"]: r["suggested"] for r in adv["pes"]} == {producer: 1, doubler: 1,
                                                            summer: 1}
    assert (adv["processes"], adv["requested"]) == (3, 6)
    assert adv["limit"].startswith(f"{producer} (a source: one instance) limits the run with "
                                   "2.000 s of work")
    assert adv["command"] == "d4p run pipeline --mapping multi -n 3"
    text = format_advice(adv)
    assert "plan for 3 processes (of the 6 asked for: more would only wait)" in text
    assert f"note: {adv['limit']}" in text


def test_waiting_for_input_is_not_work(new_run):
    graph, inputs = pipeline(100)
    run = new_run(3, graph=graph, inputs=inputs, workflow="pipeline")
    producer, doubler, summer = run.plan.pes
    events = _events(run, {producer: (1, 0.1), doubler: (100, 1.0), summer: (100, 0.01)})
    for e in events["instance"]:
        if e["pe"] == summer:
            e["read_s"] = 5.0  # the summer waited for the doubler all along
    adv = advise(run_record(run), events, processes=4)
    assert {r["pe"]: r["suggested"] for r in adv["pes"]}[doubler] == 2
    assert adv["bottleneck"] == doubler


def test_advice_on_a_run_that_did_not_end_well_says_what_it_rests_on(tmp_path, new_run,
                                                                     recorded, capsys):
    from d4p.cli import main
    from d4p_monitor import open_store
    from d4p_monitor.web import App

    db = str(tmp_path / "a.sqlite")
    failed = recorded(db, new_run(), error=ValueError("bad word"))
    ok = recorded(db, new_run())
    assert main(["monitor", "advise", failed.id, "--store", db]) == 0
    assert ("note: the run ended failed: this advice rests only on what it recorded before"
            in capsys.readouterr().out.splitlines())
    assert main(["monitor", "advise", ok.id, "--store", db]) == 0
    assert "note: the run" not in capsys.readouterr().out
    with open_store(db) as store:
        page = App(store).handle(f"/runs/{failed.id}/advice")[2].decode()
    assert ("<p class=note id=caveat>Note: the run ended failed: this advice rests only on "
            "what it recorded before.</p>") in page
