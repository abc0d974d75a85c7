"""The JSON API and the pages' HTTP behaviour, over both stores."""

from __future__ import annotations

import json
import threading
from urllib.parse import quote

import pytest


def _edges(run) -> dict[tuple[str, str], int]:
    """Data units written along each pair of PEs, from the run's own summary:
    every unit a PE with one upstream PE processed came along that edge."""
    units = run.result.summary.units
    return {(r.src_pe, r.dst_pe): units[r.dst_pe] for r in run.plan.routes}


def test_runs_list_latest_first(served):
    runs = served.json("/api/runs")
    ids = [r["id"] for r in runs]
    assert ids == [served.runs[k].id for k in ("xss", "failed", "simple", "ok")]
    ok = runs[3]
    assert (ok["workflow"], ok["mapping"], ok["processes"], ok["status"]) == (
        "wordcount", "multi", 4, "ok")
    assert ok["seconds"] == pytest.approx(served.runs["ok"].result.summary.seconds)
    assert ok["finished"] > ok["started"]
    assert runs[1]["status"] == "failed" and "ValueError: <b>bad</b> word" in runs[1]["error"]
    assert [r["id"] for r in served.json("/api/runs?limit=1")] == ids[:1]
    assert [r["id"] for r in served.json("/api/runs?status=failed")] == [ids[1]]
    assert [r["id"] for r in served.json("/api/runs?workflow=wordcount")] == ids[2:]


def test_run_record_has_assignment_and_graph(served):
    run = served.runs["ok"]
    got = served.json(f"/api/runs/{run.id}")
    assert got["assignment"] == [{"pe": pe, "processes": procs}
                                 for pe, procs in run.plan.assignment().items()]
    assert got["assignment"] == [{"pe": pe, "processes": procs} for pe, procs in
                                 run.result.summary.assignment.items()]
    assert [(e["src_pe"], e["dst_pe"]) for e in got["graph"]["edges"]] == [
        (r.src_pe, r.dst_pe) for r in run.plan.routes]


@pytest.mark.parametrize("which", ["ok", "simple"])
def test_profile_counts_every_call_of_the_real_run(served, which):
    run = served.runs[which]
    summary = run.result.summary
    prof = served.json(f"/api/runs/{run.id}/profile")
    assert {p["pe"]: p["calls"] for p in prof["pes"]} == summary.units
    assert {p["pe"]: p["instances"] for p in prof["pes"]} == summary.instances
    assert {(r["pe"], r["instance"], r["process"]) for r in prof["instances"]} == {
        (i.pe_id, i.index, i.process) for i in run.plan.instances}
    assert sorted(p["process"] for p in prof["processes"]) == sorted(
        {p for procs in summary.assignment.values() for p in procs})
    for p in prof["processes"]:  # own code of one process fits in the run's time
        assert 0 < p["own_s"] <= summary.seconds
        assert p["process_s"] <= p["own_s"]
    producer = next(iter(run.plan.pes))
    assert prof["bottleneck"] in run.plan.pes
    pes = {p["pe"]: p for p in prof["pes"]}
    assert pes[producer]["read_s"] == 0  # a source reads nothing
    if which == "ok":  # the counters waited for the producer's words
        assert pes[list(run.plan.pes)[1]]["read_s"] > 0


@pytest.mark.parametrize("which", ["ok", "simple"])
def test_communication_is_what_was_written(served, which):
    run = served.runs[which]
    comm = served.json(f"/api/runs/{run.id}/communication")
    edges = {(e["src_pe"], e["dst_pe"]): e for e in comm["edges"]}
    assert {k: e["units"] for k, e in edges.items()} == _edges(run)
    assert sum(e["units"] for e in comm["edges"]) == 21_000  # 20,000 words, 1,000 counts
    if which == "ok":  # each PE in processes of its own: everything crossed
        assert all(e["bytes"] > e["units"] and e["crossing"] and not e["within"]
                   for e in edges.values())
        assert all(e["send_s"] > 0 for e in edges.values())
        assert comm["bottleneck"] is not None
    else:
        assert all(e["bytes"] == 0 and e["send_s"] == 0 and e["within"]
                   for e in edges.values())


@pytest.mark.parametrize("which", ["ok", "simple"])
def test_iterations_and_timeline_of_the_real_run(served, which):
    run = served.runs[which]
    summary = run.result.summary
    series = served.json(f"/api/runs/{run.id}/iterations")["series"]
    assert [s["pe"] for s in series] == list(run.plan.pes)
    for s in series:
        assert sum(p["calls"] for p in s["points"]) == summary.units[s["pe"]]
        assert all(0 <= p["t"] <= summary.seconds + 0.5 and p["ms"] >= 0 for p in s["points"])
    counter = series[1]
    assert len(counter["points"]) >= 20_000 // 1000  # one window per 1,000 calls at least
    tl = served.json(f"/api/runs/{run.id}/timeline")
    assert tl["seconds"] == pytest.approx(summary.seconds)
    lanes = {p["process"]: {(b["pe"], b["instance"]) for b in p["bars"]}
             for p in tl["processes"]}
    assert lanes == {p: {(i.pe_id, i.index) for i in run.plan.instances if i.process == p}
                     for p in lanes}
    assert set(lanes) == {p for procs in summary.assignment.values() for p in procs}
    for p in tl["processes"]:
        assert all(-0.5 <= b["t0"] <= b["t1"] <= summary.seconds + 0.5 for b in p["bars"])


def test_errors_and_advice(served):
    failed = served.runs["failed"]
    [err] = served.json(f"/api/runs/{failed.id}/errors")
    assert err["pe"] == failed.error.pe and err["instance"] == failed.error.instance
    assert "ValueError: <b>bad</b> word" in err["message"]
    run = served.runs["ok"]
    producer, counter, collector = run.plan.pes
    adv = served.json(f"/api/runs/{run.id}/advice?processes=6")
    rows = {r["pe"]: r for r in adv["pes"]}
    assert rows[producer]["suggested"] == 1 and rows[collector]["suggested"] == 1
    assert rows[producer]["calls"] == 1 and rows[counter]["calls"] == 20_000
    assert 1 <= rows[counter]["suggested"] <= 4
    assert adv["processes"] == sum(r["suggested"] for r in adv["pes"]) <= 6
    assert adv["command"] == f"d4p run wordcount --mapping multi -n {adv['processes']}"


def test_unknown_run_is_404_on_every_address(served):
    for path in ("/api/runs/0123456789ab", "/api/runs/nope/profile", "/runs/nope",
                 "/runs/nope/charts", "/api/runs/nope/advice"):
        code, ctype, body = served.get(path)
        assert code == 404, path
        assert b"no run " in body and (b"nope" in body or b"0123456789ab" in body)
    assert served.get("/nowhere")[0] == 404
    assert served.get(f"/runs/{served.runs['ok'].id}/nowhere")[0] == 404
    assert served.json("/api/runs/x/y/z/w", status=404)["status"] == 404
    assert served.json("/api/runs?limit=0", status=400)["status"] == 400


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
    for page in ("profile", "charts", "timeline", "communication", "advice"):
        code, _, body = served.get(f"/runs/{xss.id}/{page}")
        assert code == 200 and b"<script>" not in body, page
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in body, page


def test_security_headers(served):
    import urllib.request

    with urllib.request.urlopen(served.base + "/") as r:
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert served.base.startswith("http://127.0.0.1:")


def _request(server, method: str, path: str, host: str | None):
    import http.client

    address, port = server.server_address[:2]
    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.getheader("Content-Length"), r.read()
    finally:
        conn.close()


def test_only_requests_addressed_to_the_server_are_answered(served_sqlite):
    server = served_sqlite.server
    port = server.server_address[1]
    run = served_sqlite.runs["ok"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", None):
        status, _, body = _request(server, "GET", f"/api/runs/{run.id}", host)
        assert status == 200 and json.loads(body)["id"] == run.id, host
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
        status, _, body = _request(server, "GET", f"/api/runs/{run.id}", host)
        assert status == 403, host
        error = json.loads(body)["error"]
        assert f"does not answer to the name {host!r}" in error and "--allow-host" in error
        assert run.id not in body.decode()
        status, _, body = _request(server, "GET", f"/runs/{run.id}", host)
        assert status == 403 and b"--allow-host NAME" in body and b"wordcount" not in body


def test_allow_host_adds_names_and_an_any_address_server_answers_ip_addresses(store):
    from d4p_monitor import serve_in_thread

    server = serve_in_thread(store, allow_hosts=["monitor.lab.example"])
    try:
        assert _request(server, "GET", "/api/runs", "monitor.lab.example:80")[0] == 200
        assert _request(server, "GET", "/api/runs", "other.lab.example")[0] == 403
        assert _request(server, "GET", "/api/runs", "10.1.2.3")[0] == 403
    finally:
        server.shutdown()
        server.server_close()
    server = serve_in_thread(store, host="0.0.0.0")
    try:
        assert _request(server, "GET", "/api/runs", "10.1.2.3:8765")[0] == 200
        assert _request(server, "GET", "/api/runs", "monitor.lab.example")[0] == 403
    finally:
        server.shutdown()
        server.server_close()


def test_head_answers_like_get_without_a_body(served):
    run = served.runs["ok"]
    for path in ("/", f"/runs/{run.id}/profile", "/api/runs", "/runs/0123456789ab"):
        get_status, get_length, body = _request(served.server, "GET", path, "127.0.0.1")
        status, length, empty = _request(served.server, "HEAD", path, "127.0.0.1")
        assert (status, empty) == (get_status, b"") and get_status in (200, 404)
        assert int(length) == len(body) > 0


def test_a_running_run_that_has_not_reported_yet_says_so(tmp_path, new_run):
    """Instances report every thousand units and when they end (Spark's only
    then): a live table of zeros must not read as a run doing nothing."""
    from d4p_monitor import Tracer, open_store
    from d4p_monitor.web import App

    db = str(tmp_path / "live.sqlite")
    run = new_run()
    tracer = Tracer(run, db)
    tracer.run_started(run)
    try:
        with open_store(db) as store:
            for _ in range(200):
                if store.run(run.id) is not None:
                    break
                threading.Event().wait(0.02)
            status, _, body = App(store).handle(f"/runs/{run.id}")
        page = body.decode()
        assert status == 200 and 'class="live"' in page
        assert ("<p id=no-reports>No PE instance has reported yet: instances report every "
                "1,000 units and when they end (on some mappings only then).</p>") in page
        tracer.record([{"kind": "instance", "pe": list(run.plan.pes)[0], "instance": 0,
                        "process": 0, "t0": run.started, "t1": run.started + 0.1,
                        "calls": 1000, "process_s": 0.01, "read_s": 0.0, "write_s": 0.0}])
        with open_store(db) as store:
            for _ in range(200):
                if store.events(run.id, "instance"):
                    break
                threading.Event().wait(0.02)
            assert b"no-reports" not in App(store).handle(f"/runs/{run.id}")[2]
    finally:
        tracer.run_finished(run, 1.0, None)
