"""The JSON API and the pages' HTTP behaviour, over both stores."""

from __future__ import annotations

from urllib.parse import quote

import pytest


def test_runs_list_latest_first(served):
    runs = served.json("/api/runs")
    ids = [r["id"] for r in runs]
    assert ids == [served.runs[k].id for k in ("xss", "failed", "ok")]
    ok = runs[2]
    assert (ok["workflow"], ok["mapping"], ok["processes"], ok["status"]) == (
        "wordcount", "multi", 3, "ok")
    assert ok["seconds"] == 1.05 and ok["finished"] > ok["started"]
    assert runs[1]["status"] == "failed" and "PE failed" in runs[1]["error"]
    assert [r["id"] for r in served.json("/api/runs?limit=1")] == ids[:1]
    assert [r["id"] for r in served.json("/api/runs?status=failed")] == [ids[1]]


def test_run_record_has_assignment_and_graph(served):
    run = served.runs["ok"]
    got = served.json(f"/api/runs/{run.id}")
    assert got["assignment"] == [{"pe": pe, "processes": procs}
                                 for pe, procs in run.plan.assignment().items()]
    assert [(e["src_pe"], e["dst_pe"]) for e in got["graph"]["edges"]] == [
        (r.src_pe, r.dst_pe) for r in run.plan.routes]


def test_profile_numbers(served):
    run = served.runs["ok"]
    producer, counter, collector = run.plan.pes
    prof = served.json(f"/api/runs/{run.id}/profile")
    pes = {p["pe"]: p for p in prof["pes"]}
    assert pes[producer]["calls"] == 1000 and pes[counter]["calls"] == 1000
    assert pes[counter]["process_s"] == pytest.approx(0.2 + 0.24)
    assert pes[counter]["read_s"] == pytest.approx(0.04)
    assert pes[producer]["write_s"] == pytest.approx(0.08)
    assert pes[counter]["mean_process_ms"] == pytest.approx(0.44)
    assert pes[collector]["mean_read_ms"] == pytest.approx(0.1)
    assert prof["bottleneck"] == counter
    inst = [(r["pe"], r["instance"], r["process"], r["calls"]) for r in prof["instances"]]
    assert inst == [(i.pe_id, i.index, i.process, 1020 if False else
                     {producer: 1000, counter: 500, collector: 20}[i.pe_id])
                    for i in run.plan.instances]
    procs = {p["process"]: p for p in prof["processes"]}
    assert procs[0]["pes"] == [producer, collector] and procs[2]["process_s"] == pytest.approx(
        0.24)


def test_iterations_timeline_and_communication(served):
    run = served.runs["ok"]
    producer, counter, collector = run.plan.pes
    series = {s["pe"]: s["points"] for s in served.json(f"/api/runs/{run.id}/iterations")[
        "series"]}
    assert [p["ms"] for p in series[producer]] == pytest.approx([0.04] * 4)
    assert sorted(p["ms"] for p in series[counter]) == pytest.approx([0.4] * 4 + [0.48] * 4)
    assert [p["t"] for p in series[producer]] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    tl = served.json(f"/api/runs/{run.id}/timeline")
    assert tl["seconds"] == 1.05
    assert [(p["process"], len(p["bars"])) for p in tl["processes"]] == [(0, 5), (1, 4), (2, 4)]
    comm = served.json(f"/api/runs/{run.id}/communication")
    assert comm["bottleneck"] == {"src_pe": producer, "dst_pe": counter}
    edges = {(e["src_pe"], e["dst_pe"]): e for e in comm["edges"]}
    assert edges[(producer, counter)]["units"] == 1000
    assert edges[(producer, counter)]["bytes"] == 40_000
    assert edges[(producer, counter)]["send_s"] == pytest.approx(0.12)
    assert edges[(counter, collector)]["units"] == 20


def test_errors_and_advice(served):
    failed = served.runs["failed"]
    [err] = served.json(f"/api/runs/{failed.id}/errors")
    assert err["message"] == "ValueError: <b>bad</b> word" and err["instance"] == 1
    run = served.runs["ok"]
    producer, counter, collector = run.plan.pes
    adv = served.json(f"/api/runs/{run.id}/advice?processes=6")
    assert {r["pe"]: r["suggested"] for r in adv["pes"]} == {producer: 1, counter: 4,
                                                            collector: 1}
    assert adv["command"] == "d4p run wordcount --mapping multi -n 6"
    assert adv["speedup"] == pytest.approx(0.26 / 0.12)


def test_unknown_run_is_404_on_every_address(served):
    for path in ("/api/runs/0123456789ab", "/api/runs/nope/profile", "/runs/nope",
                 "/runs/nope/charts", "/api/runs/nope/advice"):
        code, ctype, body = served.get(path)
        assert code == 404, path
        assert b"no run " in body and (b"nope" in body or b"0123456789ab" in body)
    assert served.get("/nowhere")[0] == 404
    assert served.get(f"/runs/{served.runs['ok'].id}/nowhere")[0] == 404
    assert served.json("/api/runs/x/y/z/w", status=404)["status"] == 404


def test_operator_injection_never_reaches_the_store(served):
    attempts = ['{"$ne": null}', '{"$gt": ""}', '{"$regex": ".*"}', "$where", "' OR 1=1 --"]
    for text in attempts:
        assert served.json("/api/runs?workflow=" + quote(text)) == []
        assert served.json("/api/runs?status=" + quote(text)) == []
        assert served.json(f"/api/runs/{quote(text, safe='')}", status=404)["status"] == 404
        assert served.get(f"/runs/{quote(text, safe='')}/profile")[0] == 404
    body = served.json("/api/runs?workflow%5B%24ne%5D=x", status=400)  # workflow[$ne]=x
    assert body["error"].startswith("unknown parameter 'workflow[$ne]'")
    assert served.json("/api/runs?limit=%7B%22%24gt%22%3A0%7D", status=400)["error"] == (
        "parameter 'limit' must be a whole number, not '{\"$gt\":0}'")


def test_pages_escape_names_and_forbid_scripts(served):
    xss = served.runs["xss"]
    code, ctype, body = served.get(f"/runs/{xss.id}")
    assert code == 200 and ctype == "text/html; charset=utf-8"
    assert b"<script>" not in body and b"&lt;script&gt;alert(1)&lt;/script&gt;" in body
    code, _, body = served.get("/")
    assert b"<script>" not in body
    code, _, body = served.get(f"/runs/{served.runs['failed'].id}")
    assert b"<b>bad</b>" not in body and b"&lt;b&gt;bad&lt;/b&gt;" in body


def test_security_headers(served):
    import urllib.request

    with urllib.request.urlopen(served.base + "/") as r:
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert served.base.startswith("http://127.0.0.1:")
