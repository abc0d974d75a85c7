"""A store password is never shown: a real MongoDB-wire server that requires
a user, and every surface that names the store (the ``serve`` banner, the
pages in headless Chromium, the JSON API, warnings, command errors, the notes
of unfinished runs) shows ``alice:***@`` instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import d4p
import pytest
from d4p.cli import main
from d4p.examples import wordcount_plain
from d4p_monitor import MonitorWarning, open_store, unfinished
from d4p_monitor.store import redact

SECRETS = ("s3cr", "t-pw")


def _clean(text: str) -> str:
    assert not any(s in text for s in SECRETS), text
    return text


def test_redact_keeps_everything_but_the_password():
    assert redact("mongodb://alice:pw@h1:27017,h2/db?authSource=admin") == (
        "mongodb://alice:***@h1:27017,h2/db?authSource=admin")
    assert redact("mongodb://alice@h/db") == "mongodb://alice@h/db"
    assert redact("mongodb://h:1/db") == "mongodb://h:1/db"
    assert redact("/data/me:you@x/monitor.sqlite") == "/data/me:you@x/monitor.sqlite"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_every_surface_of_a_password_store_shows_it_redacted(mongo_with_password, capsys, page,
                                                             artifacts):
    uri = mongo_with_password
    shown = uri.replace("s3cr%2Ft-pw", "***")
    assert main(["run", "wordcount", "-p", "words=2000", "--monitor", uri]) == 0
    out, err = capsys.readouterr()
    _clean(out + err)
    with open_store(uri) as store:
        (run,) = store.runs()
    assert run["status"] == "ok"

    exe = os.path.join(os.path.dirname(sys.executable), "d4p")
    proc = subprocess.Popen([exe, "monitor", "serve", "--store", uri, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        assert banner.startswith(f"d4p monitor: serving {shown} on http://127.0.0.1:")
        base = banner.split(" on ")[1].split()[0].rstrip("/")
        response = page.goto(base + "/")
        assert response.status == 200
        page.screenshot(path=str(artifacts / "secrets-runs.png"), full_page=True)
        text = _clean(page.locator("main").inner_text())
        assert f"Store: {shown}" in text and run["id"] in text
        response = page.goto(base + "/runs/0123456789ab")
        assert response.status == 404
        assert f"no run '0123456789ab' in the monitoring store {shown}" in _clean(page.locator("main")
                                                                  .inner_text())
        status, body = _get(base + "/api/runs/0123456789ab")
        assert status == 404 and shown in json.loads(_clean(body))["error"]
        status, body = _get(base + f"/api/runs/{run['id']}")
        assert status == 200 and json.loads(_clean(body))["id"] == run["id"]
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_a_lost_password_store_is_redacted_on_503_pages_json_and_cli(start_mongo, capsys, page):
    server = start_mongo()
    server.stop()  # its port: nothing listens there now
    uri = f"mongodb://alice:s3cr%2Ft-pw@127.0.0.1:{server.port}/d4p?authSource=admin"
    from d4p_monitor import serve_in_thread

    store = open_store(uri, timeout=0.3)
    web = serve_in_thread(store)
    try:
        host, port = web.server_address[:2]
        response = page.goto(f"http://{host}:{port}/")
        assert response.status == 503
        text = _clean(page.locator("main").inner_text())
        assert "cannot read the monitoring store mongodb://alice:***@127.0.0.1" in text
        status, body = _get(f"http://{host}:{port}/api/runs")
        assert status == 503 and "alice:***@" in json.loads(_clean(body))["error"]
    finally:
        web.shutdown()
        web.server_close()
        store.close()
    assert main(["monitor", "runs", "--store", uri]) == 2
    assert "alice:***@" in _clean(capsys.readouterr().err)
    bad = "mongodb://alice:s3cr%2Ft-pw@127.0.0.1:port/d4p"
    assert main(["monitor", "runs", "--store", bad]) == 2
    err = _clean(capsys.readouterr().err)
    assert "invalid MongoDB store URI 'mongodb://alice:***@127.0.0.1:port/d4p'" in err


def test_the_warning_of_an_unreachable_password_store_is_redacted(unreachable_mongo_uri):
    uri = unreachable_mongo_uri.replace("mongodb://", "mongodb://alice:s3cr%2Ft-pw@")
    graph, inputs = wordcount_plain(words=200)
    with pytest.warns(MonitorWarning) as caught:
        result = d4p.run(graph, inputs, monitor=uri)
    text = _clean(str(caught[0].message))
    assert f"Store {uri.replace('s3cr%2Ft-pw', '***')}:" in text
    (note,) = unfinished.folder().glob(f"*-{result.summary.run_id}.json")
    _clean(note.read_text())
