"""``d4p run --monitor`` and the ``d4p monitor`` commands, end to end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

from d4p.cli import main


def _run_ids(db, capsys):
    assert main(["monitor", "runs", "--store", db, "--json"]) == 0
    return [r["id"] for r in json.loads(capsys.readouterr().out)]


def test_run_with_monitor_in_the_default_store_then_list_show_and_advise(tmp_path, monkeypatch,
                                                                         capsys):
    db = tmp_path / "default.sqlite"
    monkeypatch.setenv("D4P_MONITOR_DB", str(db))
    assert main(["run", "wordcount", "-p", "words=3000", "-m", "simple", "--monitor", "-q"]) == 0
    capsys.readouterr()
    assert db.exists()
    [run_id] = _run_ids(str(db), capsys)

    assert main(["monitor", "runs"]) == 0  # the default store, from $D4P_MONITOR_DB
    out = capsys.readouterr().out
    assert run_id in out and "wordcount" in out and "simple" in out and " ok" in out

    assert main(["monitor", "show", run_id]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id}: wordcount on simple, 1 processes, ok" in out
    assert "WordCounter" in out and "communication:" in out

    assert main(["monitor", "advise", run_id, "-n", "4", "--json"]) == 0
    advice = json.loads(capsys.readouterr().out)
    assert advice["command"] == "d4p run wordcount --mapping multi -n 4"
    assert [r["suggested"] for r in advice["pes"]] == [1, 2, 1]  # no timings yet: unchanged


def test_show_and_advise_recorded_profile(tmp_path, capsys, recorded, new_run):
    db = str(tmp_path / "m.sqlite")
    run = recorded(db, new_run(3))
    producer, counter, collector = run.plan.pes
    assert main(["monitor", "show", run.id, "--store", db]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(counter))
    assert line.split()[1:8] == ["2", "1,2", "1,000", "0.440", "0.040", "0.000", "0.4400"]
    assert line.endswith("<- bottleneck")
    assert f"{producer} -> {counter}: 1,000 units, 40,000 bytes, 0.1200 s  <- bottleneck" in out
    assert main(["monitor", "advise", run.id, "--store", db, "-n", "6"]) == 0
    out = capsys.readouterr().out
    assert "d4p run wordcount --mapping multi -n 6" in out
    assert f"{counter}.numprocesses = 4" in out
    assert "about 2.2x faster" in out


def test_unknown_run_and_bad_store_are_usage_errors(tmp_path, capsys):
    db = str(tmp_path / "empty.sqlite")
    assert main(["monitor", "show", "0123456789ab", "--store", db]) == 2
    err = capsys.readouterr().err
    assert "no run '0123456789ab' in the monitoring store" in err
    assert f"'d4p monitor runs --store {db}'" in err
    assert main(["monitor", "advise", "x", "--store", "redis://h"]) == 2
    assert "unknown monitoring store 'redis://h'" in capsys.readouterr().err
    assert main(["monitor", "runs", "--store", db]) == 0
    assert "no runs in" in capsys.readouterr().out


def test_serve_binds_localhost_answers_and_stops_on_ctrl_c(tmp_path, recorded, new_run):
    db = str(tmp_path / "s.sqlite")
    run = recorded(db, new_run(2))
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
