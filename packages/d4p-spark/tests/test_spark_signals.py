"""Signals on Spark, as on every mapping: the first SIGTERM or Ctrl-C stops
the sources of a local run (its tasks see the driver's stop file) and the
run drains; the second aborts: one line, exit 143, no JVM left. Spark's JVM
runs in a session of its own, so a signal to d4p's process group (Ctrl-C in
a terminal, ``kill -TERM -PGID``) is d4p's to handle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

WORKFLOW = """
    import time
    import d4p

    class Ticks(d4p.ProducerPE):
        def _process(self, inputs):
            for i in range({units}):
                time.sleep({source_sleep})
                self.write("output", i)
                if i == 9:
                    open({started!r}, "w").close()  # the test signals from here on

    class Count(d4p.GenericPE):
        def __init__(self):
            super().__init__()
            self._add_input("input", grouping="global")
            self._add_output("output")
            self.n = 0

        def process(self, inputs):
            time.sleep({sink_sleep})
            self.n += 1

        def postprocess(self):
            self.write("output", self.n)

    graph = d4p.WorkflowGraph()
    graph.connect(Ticks(), "output", Count(), "input")
"""


def _ours(pid: int, name: str) -> list[tuple[int, str]]:
    """Live processes in the session of ``pid``, descending from it, or whose
    command line holds ``name`` (Spark's JVM, in a session of its own, carries
    the app name; its Python workers descend from it)."""
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = open(f"/proc/{entry.name}/stat", "rb").read()  # noqa: SIM115
                cmd = open(f"/proc/{entry.name}/cmdline", "rb").read()  # noqa: SIM115
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            if fields[0] != b"Z":
                table[int(entry.name)] = (int(fields[1]), int(fields[3]), cmd)
    mine = {p for p, (_, sid, cmd) in table.items() if sid == pid or name.encode() in cmd}
    grown = True
    while grown:
        more = {p for p, (ppid, _, _) in table.items() if ppid in mine | {pid}} - mine
        mine |= more
        grown = bool(more)
    return [(p, table[p][2].decode(errors="replace")) for p in sorted(mine)]


def _start(tmp_path, name: str, **sleeps) -> subprocess.Popen:
    wf = tmp_path / "wf.py"
    wf.write_text(textwrap.dedent(WORKFLOW.format(started=str(tmp_path / "started"), **sleeps)))
    return subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "-m", "spark", "-q",
                             "--conf", f"spark.app.name={name}", "-o",
                             str(tmp_path / "out.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _wait_for_tasks(proc: subprocess.Popen, name: str, tmp_path) -> None:
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # until the source has written 10 units (a loaded host is slow)
    assert any("java" in cmd for _, cmd in _ours(proc.pid, name)), "Spark did not start"
    assert (tmp_path / "started").exists(), "the source did not start"


def _none_left(proc: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 10
    while _ours(proc.pid, name) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ours(proc.pid, name) == []


def _end(proc: subprocess.Popen, name: str) -> None:
    for pid, _ in _ours(proc.pid, name):
        os.kill(pid, signal.SIGKILL)
    proc.kill()
    proc.wait(5)


def test_a_sigterm_to_the_process_group_stops_the_sources_and_the_run_drains(tmp_path):
    name = f"d4p-signal-drain-{os.getpid()}"
    proc = _start(tmp_path, name, units=100_000, source_sleep=0.01, sink_sleep=0)
    try:
        _wait_for_tasks(proc, name, tmp_path)
        os.killpg(proc.pid, signal.SIGTERM)  # as kill -TERM -PGID, or Ctrl-C to a terminal
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert "Traceback" not in err.decode()
        (count,) = json.loads((tmp_path / "out.json").read_text())["results"]["Count1"]["output"]
        assert 0 < count < 100_000  # the source stopped; what it wrote was counted
        _none_left(proc, name)
    finally:
        _end(proc, name)


def test_a_second_sigterm_ends_a_spark_run_in_one_line_with_no_jvm_left(tmp_path):
    name = f"d4p-signal-abort-{os.getpid()}"
    proc = _start(tmp_path, name, units=2_000, source_sleep=0, sink_sleep=0.1)
    try:
        _wait_for_tasks(proc, name, tmp_path)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert proc.poll() is None  # the sources stop; the counter still has ~200 s of work
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 143, err.decode()[-2000:]
        assert err.decode().splitlines() == ["d4p: interrupted (SIGTERM); every worker was ended"], err.decode()
        assert not (tmp_path / "out.json").exists()
        _none_left(proc, name)
    finally:
        _end(proc, name)
