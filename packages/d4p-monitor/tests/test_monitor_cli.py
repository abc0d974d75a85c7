"""``d4p run --monitor`` and the ``d4p monitor`` commands, end to end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request

import pytest
from d4p.cli import main
from d4p.examples import wordcount_plain


def _run_ids(db, capsys):
    assert main(["monitor", "runs", "--store", db, "--json"]) == 0
    return [r["id"] for r in json.loads(capsys.readouterr().out)]


def _summary_units(stderr: str) -> dict[str, int]:
    """Units per PE from the run summary 'd4p run' prints on stderr."""
    out = {}
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == "units":
            out[parts[0]] = int(parts[1].replace(",", ""))
    return out


def _show_rows(out: str, pes) -> dict[str, list[str]]:
    return {ln.split()[0]: ln.split() for ln in out.splitlines()
            if ln.strip() and ln.split()[0] in pes and " -> " not in ln}


def test_run_with_monitor_in_the_default_store_then_list_show_and_advise(tmp_path, monkeypatch,
                                                                         capsys):
    db = tmp_path / "default.sqlite"
    monkeypatch.setenv("D4P_MONITOR_DB", str(db))
    assert main(["run", "wordcount_plain", "-p", "words=3000", "-m", "simple", "--monitor",
                 "-q"]) == 0
    err = capsys.readouterr().err
    units = _summary_units(err)
    assert db.exists() and units
    [run_id] = _run_ids(str(db), capsys)
    assert err.splitlines()[-1] == f"monitoring: recorded as run {run_id} (d4p monitor show {run_id})"

    assert main(["monitor", "runs"]) == 0  # the default store, from $D4P_MONITOR_DB
    out = capsys.readouterr().out
    assert run_id in out and "wordcount" in out and "simple" in out and " ok" in out

    assert main(["monitor", "show", run_id]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id}: wordcount_plain on simple, 1 process, ok" in out
    rows = _show_rows(out, units)
    assert {pe: int(r[3].replace(",", "")) for pe, r in rows.items()} == units
    assert all(r[2] == "0" for r in rows.values())  # every instance in process 0
    producer, counter, collector = units
    within = "within a process (nothing sent)"  # it said '0 bytes', as if none were counted
    assert f"{producer} -> {counter}: 3,000 units, {within}" in out
    assert f"{counter} -> {collector}: {units[collector]:,} units, {within}" in out

    assert main(["monitor", "advise", run_id, "-n", "4", "--json"]) == 0
    advice = json.loads(capsys.readouterr().out)
    assert [r["calls"] for r in advice["pes"]] == list(units.values())
    assert advice["command"] == \
        f"d4p run wordcount_plain --mapping multi -n {advice['processes']}"
    assert advice["requested"] == 4 and advice["processes"] <= 4


def test_multi_run_recorded_in_mongodb_by_the_d4p_command(mongo_uri, capsys):
    exe = os.path.join(os.path.dirname(sys.executable), "d4p")
    done = subprocess.run([exe, "run", "wordcount_plain", "-p", "words=20000", "-m", "multi", "-n",
                           "4", "--monitor", mongo_uri, "-q"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    units = _summary_units(done.stderr)
    assert units and list(units.values())[1] == 20_000
    [run_id] = _run_ids(mongo_uri, capsys)
    assert main(["monitor", "show", run_id, "--store", mongo_uri]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id}: wordcount_plain on multi, 4 processes, ok" in out
    rows = _show_rows(out, units)
    assert {pe: int(r[3].replace(",", "")) for pe, r in rows.items()} == units
    assert [r[2] for r in rows.values()] == ["0", "1,2", "3"]
    producer, counter, collector = units
    sent = next(ln for ln in out.splitlines() if ln.strip().startswith(f"{producer} -> "))
    assert sent.split()[3:5] == ["20,000", "units,"]
    assert int(sent.split()[5].replace(",", "")) > 20_000  # bytes of 20,000 pickled words
    assert main(["monitor", "show", run_id, "--store", mongo_uri, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {p["pe"]: p["calls"] for p in shown["profile"]["pes"]} == units
    edges = {(e["src_pe"], e["dst_pe"]): e["units"] for e in shown["communication"]["edges"]}
    assert edges == {(producer, counter): 20_000, (counter, collector): units[collector]}
    assert main(["monitor", "advise", run_id, "--store", mongo_uri]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id} (wordcount_plain): plan for " in out
    assert "command line:\n  d4p run wordcount_plain --mapping multi -n " in out


def test_unknown_run_and_bad_store_are_usage_errors(tmp_path, capsys):
    db = str(tmp_path / "empty.sqlite")
    assert main(["monitor", "show", "0123456789ab", "--store", db]) == 2
    err = capsys.readouterr().err
    assert "no run '0123456789ab' in the monitoring store" in err
    assert f"'d4p monitor runs --store {db}'" in err
    assert main(["monitor", "advise", "x", "--store", "redis://h"]) == 2
    assert "unknown monitoring store 'redis://h'" in capsys.readouterr().err
    assert main(["monitor", "runs", "--store", db]) == 0
    assert capsys.readouterr().out == (f"no runs in {db}: no such file yet; record one with "
                                       f"'d4p run WORKFLOW --monitor {db}'\n")
    assert main(["monitor", "runs", "--store", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not os.path.exists(db)  # looking at a store (a typo) never creates one


def test_serve_binds_localhost_answers_and_stops_on_ctrl_c(tmp_path, monitored):
    db = str(tmp_path / "s.sqlite")
    graph, inputs = wordcount_plain(words=500)
    run = monitored(db, graph, inputs, mapping="simple", processes=1)
    exe = os.path.join(os.path.dirname(sys.executable), "d4p")
    proc = subprocess.Popen([exe, "monitor", "serve", "--store", db, "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"d4p monitor: serving {db} on http://127.0.0.1:")
        url = line.split(" on ")[1].split()[0]
        with urllib.request.urlopen(url + "api/runs", timeout=10) as r:
            assert [x["id"] for x in json.load(r)] == [run.id]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_serve_on_a_busy_port_says_so(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code = main(["monitor", "serve", "--store", str(tmp_path / "x.sqlite"),
                     "--port", str(port)])
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["65536", "-1"])
def test_serve_on_a_port_out_of_range_says_which_are_ports(tmp_path, capsys, port):
    """Before: an OverflowError traceback from socket.bind, exit status 1."""
    code = main(["monitor", "serve", "--store", str(tmp_path / "x.sqlite"), "--port", port])
    assert (code, capsys.readouterr().err) == (2, "d4p: error: --port must be between 0 (any "
                                                  f"free port) and 65535, not {port}\n")


@pytest.mark.parametrize("command", [["run", "wordcount", "-p", "words=100", "--monitor"],
                                     ["monitor", "runs", "--store"]], ids=["run", "runs"])
def test_a_store_that_is_a_folder_is_refused_before_the_run(tmp_path, capsys, command):
    """Before: the run went on and its monitoring was lost ("nothing was
    recorded"); 'd4p monitor runs' said "unable to open database file"."""
    assert main([*command, str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"d4p: error: the monitoring store {str(tmp_path)!r} is a folder; "
                            "name a SQLite file, such as "
                            f"{str(tmp_path / 'monitor.sqlite')!r}\n")
    assert captured.out == ""


def test_monitor_in_a_missing_folder_is_refused_before_the_run(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "m.sqlite"
    assert main(["run", "wordcount", "-p", "words=100", "--monitor", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"folder {str(target.parent)!r} does not exist" in err
    assert "Traceback" not in err and not (tmp_path / "no").exists()


def test_monitor_into_a_file_that_is_not_a_database_is_refused_before_the_run(tmp_path,
                                                                             capsys):
    from d4p_monitor import unfinished

    notes = set(unfinished.folder().glob("*.json"))
    target = tmp_path / "notes.txt"
    target.write_text("my notes\n")
    assert main(["run", "wordcount", "-p", "words=100", "--monitor", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == (f"d4p: error: the monitoring store {str(target)!r} is a file but not a "
                   "SQLite database; name a store d4p made, or a new file\n")
    assert target.read_text() == "my notes\n" and set(unfinished.folder().glob("*.json")) == notes
    assert main(["monitor", "runs", "--store", str(target)]) == 2
    assert "is a file but not a SQLite database" in capsys.readouterr().err


SLOW_SOURCE = """
import time
import d4p

@d4p.producer
def ticks(n=30):
    for i in range(n):
        time.sleep(0.1)
        yield i

@d4p.consumer
def total(data):
    pass

graph = d4p.WorkflowGraph()
graph.connect(ticks(), "output", total(), "input")
"""


def test_a_store_lost_mid_run_ends_with_an_honest_line_not_recorded(tmp_path, start_mongo):
    from d4p_monitor import open_store

    server = start_mongo()
    uri = f"{server.uri}/d4p"
    wf = tmp_path / "slow.py"
    wf.write_text(SLOW_SOURCE)
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "--monitor", uri],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with open_store(uri) as store:  # the run is recorded as started
            for _ in range(200):
                if store.runs():
                    break
                threading.Event().wait(0.05)
            [rec] = store.runs()
        assert rec["status"] == "running" and proc.poll() is None
        server.stop()  # the store goes away mid-run
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("monitoring lost ") and last.endswith(
        f" events; the run record is incomplete (d4p monitor show {rec['id']})"), err
    assert int(last.split()[2]) > 0
    assert "recorded as run" not in err
    assert "simple mapping, 1 process" in err


ENDLESS_SOURCE = SLOW_SOURCE.replace("def ticks(n=30):", "def ticks(n=100_000):")


def _start_monitored(tmp_path, db, mapping):
    """A monitored run of ENDLESS_SOURCE in its own process group, once its
    record is in store ``db``; returns the process and the record."""
    from d4p_monitor import open_store

    wf = tmp_path / "endless.py"
    wf.write_text(ENDLESS_SOURCE)
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "-m", mapping, "-n",
                             "2", "--monitor", db, "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    with open_store(db) as store:
        for _ in range(600):
            if store.runs() or proc.poll() is not None:
                break
            threading.Event().wait(0.05)
        return proc, store.runs()


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    proc.stderr.close()


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_run_killed_with_sigkill_is_shown_aborted_not_running(tmp_path, capsys, mapping):
    from d4p_monitor import open_store, serve_in_thread

    db = str(tmp_path / "k.sqlite")
    proc, runs = _start_monitored(tmp_path, db, mapping)
    store = open_store(db)
    server = serve_in_thread(store)  # serving since before the kill
    api = f"http://127.0.0.1:{server.server_address[1]}/api/runs"
    try:
        [rec] = runs
        assert main(["monitor", "runs", "--store", db]) == 0
        assert capsys.readouterr().out.split()[-1] == "running"  # alive: still running
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        with urllib.request.urlopen(f"{api}/{rec['id']}", timeout=10) as r:
            assert json.load(r)["status"] == "aborted"
    finally:
        _kill_group(proc)
        server.shutdown()
        server.server_close()
        store.close()
    assert main(["monitor", "runs", "--store", db, "--json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert (shown["id"], shown["status"], shown["seconds"]) == (rec["id"], "aborted", None)
    assert main(["monitor", "show", rec["id"], "--store", db]) == 0
    out = capsys.readouterr().out
    assert f"on {mapping}, " in out and ", aborted, -" in out
    assert (f"error: its process {proc.pid} on {socket.gethostname()} ended without "
            "recording the run's end (killed?)") in out


def test_show_and_advise_take_the_start_of_a_run_id(store_uri, new_run, recorded, capsys):
    runs = [recorded(store_uri, new_run()) for _ in range(3)]
    target = runs[1].id
    assert main(["monitor", "show", target[:8], "--store", store_uri]) == 0
    assert capsys.readouterr().out.startswith(f"run {target}: wordcount on multi, 3 processes")
    assert main(["monitor", "advise", target[:8], "--store", store_uri, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == target
    assert main(["monitor", "show", "run", "--store", store_uri]) == 2  # every id starts so
    err = capsys.readouterr().err
    assert err.startswith("d4p: error: run id 'run' is ambiguous: 3 runs start with it (")
    assert all(r.id in err for r in runs) and "give more of the id" in err
    assert main(["monitor", "show", target + "0", "--store", store_uri]) == 2
    assert f"no run '{target}0' in the monitoring store" in capsys.readouterr().err
    from d4p_monitor import open_store
    from d4p_monitor.web import App

    with open_store(store_uri) as store:  # the pages and the API take it too
        status, _, body = App(store).handle(f"/api/runs/{target[:8]}/profile")
        assert status == 200 and json.loads(body)["pes"][1]["calls"] == 1000
        status, _, body = App(store).handle("/runs/run")
        assert status == 404 and b"run id &#x27;run&#x27; is ambiguous: 3 runs" in body


def test_a_store_of_hundreds_of_runs_lists_the_latest_and_says_there_are_more(tmp_path, capsys,
                                                                             new_run, page):
    from d4p_monitor import run_record, serve_in_thread
    from d4p_monitor.sqlite_store import SQLiteStore

    db = str(tmp_path / "many.sqlite")
    store = SQLiteStore(db)
    runs = [new_run(started=1_000_000.0 + k) for k in range(230)]
    for run in runs:
        store.start_run(run_record(run, status="ok"))
    latest = [r.id for r in reversed(runs)]
    assert main(["monitor", "runs", "--store", db]) == 0
    captured = capsys.readouterr()
    assert [ln.split()[0] for ln in captured.out.splitlines()[1:]] == latest[:20]
    assert captured.err == "(the latest 20 runs; more with --limit N)\n"
    assert main(["monitor", "runs", "--store", db, "--limit", "230"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 231 and captured.err == ""
    assert main(["monitor", "runs", "--store", db, "--limit", "0"]) == 2
    assert capsys.readouterr().err == "d4p: error: --limit must be at least 1, not 0\n"
    server = serve_in_thread(store)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        page.goto(base + "/")
        assert page.locator("#runs tbody tr").count() == 100
        page.click("#older")
        assert page.url == base + "/?limit=200"
        assert page.locator("#runs tbody tr").count() == 200
        page.click("#older")
        assert page.locator("#runs tbody tr").count() == 230
        assert page.locator("#runs tbody tr").last.get_attribute("data-run") == latest[-1]
        assert page.locator("#older").count() == 0
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def test_columns_stay_aligned_with_names_in_any_script(tmp_path, capsys, monitored, recorded,
                                                       new_run, chain):
    import re
    import unicodedata

    def cells(text):  # what a terminal gives the text: a CJK character takes two
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    graph = chain(0, units=100, names=["ステップ", "Séisme"])  # numbers → sink
    db = str(tmp_path / "u.sqlite")
    run = monitored(db, graph, mapping="simple", processes=1, name="地震の流れ 2026 (日本)")
    for command in ("show", "advise"):
        assert main(["monitor", command, run.id, "--store", db]) == 0
        rows = [re.match(r".*\d", ln).group()  # up to its last number
                for ln in capsys.readouterr().out.splitlines()
                if ln.startswith(("  ステップ", "  Séisme")) and " -> " not in ln]
        assert len(rows) == 2 and cells(rows[0]) == cells(rows[1]), rows
    recorded(db, new_run())  # a workflow named in ASCII
    assert main(["monitor", "runs", "--store", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len({cells(ln[:ln.rindex(" ")]) for ln in lines}) == 1, lines  # status column
