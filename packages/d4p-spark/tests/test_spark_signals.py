"""Signals on Spark: Spark runs a batch job, so the first SIGTERM (or
Ctrl-C) is noted and the second aborts: one line, exit 143, no JVM left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

SLOW = """
    import time
    import d4p

    class Slow(d4p.ProducerPE):
        def _process(self, inputs):
            for i in range(100000):
                time.sleep(0.01)
                self.write("output", i)

    @d4p.consumer
    def sink(x):
        pass

    graph = d4p.WorkflowGraph()
    graph.connect(Slow(), "output", sink(), "input")
"""


def _session(sid: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = open(f"/proc/{entry.name}/stat", "rb").read()  # noqa: SIM115
                cmd = open(f"/proc/{entry.name}/cmdline", "rb").read()  # noqa: SIM115
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[3]) == sid and fields[0] != b"Z":
                found.append((int(entry.name), cmd.decode(errors="replace")))
    return found


def test_a_second_sigterm_ends_a_spark_run_in_one_line_with_no_jvm_left(tmp_path):
    wf = tmp_path / "slow.py"
    wf.write_text(textwrap.dedent(SLOW))
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "-m", "spark", "-n",
                             "2", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not any("pyspark.daemon" in cmd for _, cmd in _session(proc.pid)) \
                and time.monotonic() < deadline:
            time.sleep(0.2)  # until the job's Python workers run
        assert any("java" in cmd for _, cmd in _session(proc.pid)), "Spark did not start"
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert proc.poll() is None  # the first is noted: a batch job cannot drain
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 143, err.decode()[-2000:]
        lines = [line for line in err.decode().splitlines()
                 if not line.startswith("WARNING: Using incubator")]
        assert lines == ["d4p: interrupted (SIGTERM); every worker was ended"]
        deadline = time.monotonic() + 10
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _session(proc.pid) == []
    finally:
        for pid, _ in _session(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.wait(5)
