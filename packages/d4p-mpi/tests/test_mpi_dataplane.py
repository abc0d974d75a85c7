"""Data plane v2 on MPI: graceful stop and signals, plans that travel by
value (a workflow file removed after loading), hostfiles naming 127.0.0.1,
large arrays through a small budget, workers sending to each other."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import d4p
import numpy as np
import pytest
from d4p.examples import wordcount
from d4p.loader import load_target
from d4p.testing.workflows import (
    ENDLESS_FILE,
    STDIN_FILE,
    burst_while_waiting,
    masked_and_strided,
    stop_while_waiting,
    tallied,
)
from d4p_mpi.environment import mpiexec_command
from mpi_processes import assert_no_leftovers, leftovers

ENDLESS = ENDLESS_FILE


def _endless(tmp_path):
    wf = tmp_path / "endless.py"
    wf.write_text(textwrap.dedent(ENDLESS))
    return wf


def test_stop_after_and_max_units_drain_on_mpi(tmp_path):
    graph = load_target(str(_endless(tmp_path)), None, {}).graph
    result = d4p.run(graph, mapping="mpi", processes=2, max_units=500, timeout=60)
    assert list(result.values()) == [{"output": [500]}]
    assert result.summary.stopped == "max_units=500"  # before: None, as if it had ended
    result = d4p.run(graph, mapping="mpi", processes=2, stop_after=3, timeout=60)
    (count,) = list(result.values())[0]["output"]
    assert count > 0 and result.summary.stopped == "stop_after=3 s"
    assert_no_leftovers()


@pytest.mark.parametrize("how", [{"max_units": 500}, {"stop_after": 0.5}])
def test_a_stopped_source_writes_in_its_postprocess_on_mpi(how):
    """Before, the run failed with _SourceStopped (core's test of the same name)."""
    graph, source, count = tallied()
    result = d4p.run(graph, mapping="mpi", processes=2, timeout=60, **how)
    ([counted],), ([tally],) = result[count.id].values(), result[source.id].values()
    assert counted == tally == 500 if "max_units" in how else tally in (counted, counted + 1)


@pytest.mark.parametrize(("how", "twice"), [("SIGTERM", False), ("SIGINT", False),
                                           ("SIGTERM", True)])
def test_a_signal_to_d4p_run_on_mpi(tmp_path, how, twice):
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(_endless(tmp_path)), "-m",
                             "mpi", "-n", "3", "-q"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(leftovers(proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(leftovers(proc.pid)) >= 3, "the ranks did not start"
        time.sleep(1.0)
        proc.send_signal(getattr(signal, how))
        if twice:
            time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        if twice:  # the second SIGTERM may land after the drain: the run ends either way
            assert proc.returncode in (0, 143), err
        else:
            assert proc.returncode == 0, err
            assert out.decode().splitlines()[0] == "Count1.output: 1 value"
            assert "stopped after" in err.decode() and f"({how})" in err.decode()
        assert_no_leftovers(parent=proc.pid)
    finally:
        proc.kill()
        proc.wait(5)


def test_a_source_reads_the_runs_stdin_on_mpi(tmp_path):
    """``d4p run wf.py -m mpi < file``: rank 0, where the source runs, reads the
    run's stdin (it read nothing: mpiexec was given none)."""
    (tmp_path / "lines.py").write_text(STDIN_FILE)
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "lines.py", "-m", "mpi", "-n",
                           "2", "--no-fuse", "-q"], input="a\nb\nc\n", capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == ["got a", "got b", "got c"], done.stderr


def test_what_a_waiting_source_wrote_leaves_while_it_waits_on_mpi(tmp_path):
    """The lines of a burst reach the PE on the other rank while the source
    waits for the next line, not when it writes again."""
    (tmp_path / "lines.py").write_text(STDIN_FILE)
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", "lines.py", "-m", "mpi", "-n",
                             "2", "--no-fuse", "-q"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    burst, out, err = burst_while_waiting(proc)
    assert burst == ["got a\n", "got b\n", "got c\n"], err
    assert out.startswith("got d\n"), err
    assert_no_leftovers(parent=proc.pid)


def test_a_graceful_stop_ends_a_source_waiting_for_data_on_mpi(tmp_path):
    """A source waiting for its next line stops on the first signal (which
    reaches the rank through the run folder, in a thread), and the run
    drains and ends; it waited for data that never came."""
    (tmp_path / "lines.py").write_text(STDIN_FILE)
    argv = [sys.executable, "-m", "d4p", "run", str(tmp_path / "lines.py"), "-m", "mpi",
            "-n", "2", "--no-fuse"]
    code, out, err = stop_while_waiting(argv, signal.SIGINT)
    assert code == 0, err
    assert out.splitlines()[:2] == ["got a", "got b"], out + err
    assert "stopped after" in err and "(SIGINT)" in err, err
    assert_no_leftovers()


READ_STDIN_ELSEWHERE = """
    import sys
    import d4p
    from d4p.examples import NumberProducer

    @d4p.iterative
    def read_a_line(x):
        return sys.stdin.readline()

    graph = d4p.WorkflowGraph()
    reader = read_a_line()
    reader.numprocesses = 2
    graph.connect(NumberProducer(4), "output", reader, "input")
"""


def test_reading_stdin_on_another_rank_is_one_line_naming_the_pe(tmp_path):
    """Other ranks get no stdin from mpiexec (a pipe that never ends): reading
    it is an error naming the PE, not a run that waits forever."""
    (tmp_path / "wf.py").write_text(textwrap.dedent(READ_STDIN_ELSEWHERE))
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wf.py", "-m", "mpi", "-n", "3"],
                          input="a\n", capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "PE 'read_a_line1'" in done.stderr and "only MPI rank 0 can read the run's standard " \
        "input, and this PE runs on rank" in done.stderr, done.stderr


def test_a_workflow_file_removed_after_loading_still_runs(tmp_path):
    wf = tmp_path / "local_wf.py"
    wf.write_text(textwrap.dedent("""
        import d4p

        class Shift(d4p.IterativePE):
            def _process(self, x):
                return x + 100

        @d4p.producer
        def numbers():
            yield from range(10)

        graph = d4p.WorkflowGraph()
        shift = Shift()
        shift.numprocesses = 2
        graph.connect(numbers(), "output", shift, "input")
    """))
    graph = load_target(str(wf), None, {}).graph
    wf.unlink()  # the ranks get the classes by value, not by path
    try:
        result = d4p.run(graph, mapping="mpi", processes=3, timeout=60)
    finally:  # later tests must not meet a loaded module whose file is gone
        for name in [n for n in sys.modules if n.endswith("local_wf")]:
            del sys.modules[name]
    assert sorted(next(iter(result.values()))["output"]) == list(range(100, 110))


@pytest.mark.parametrize("hosts", ["hostfile", "-hosts"])
def test_hosts_named_several_times(tmp_path, hosts):
    hostfile = tmp_path / "hosts"
    hostfile.write_text("127.0.0.1\n127.0.0.1\n127.0.0.1\n")
    extra = f"-f {hostfile}" if hosts == "hostfile" else "-hosts 127.0.0.1,127.0.0.1,127.0.0.1"
    graph, inputs = wordcount(3000, counters=3)
    want = d4p.run(*wordcount(3000, counters=3))
    result = d4p.run(graph, inputs, mapping="mpi", processes=3, timeout=60,
                     mpiexec=" ".join(mpiexec_command()) + " " + extra)
    assert sorted(map(str, next(iter(result.values()))["output"])) == \
        sorted(map(str, next(iter(want.values()))["output"]))
    assert result.summary.processes == 3


class Arrays(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(40):
            self.write("output", (i, np.full(1 << 18, float(i))))


class Check(d4p.GenericPE):
    def __init__(self):
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.good = 0

    def process(self, inputs):
        i, array = inputs["input"]
        self.good += int(float(array.sum()) == 2.0 * i * (1 << 18))

    def postprocess(self):
        self.write("output", self.good)


def test_large_arrays_through_a_small_budget():
    graph = d4p.WorkflowGraph()
    scale, check = d4p.iterative(lambda unit: (unit[0], unit[1] * 2.0))(), Check()
    scale.numprocesses = 2
    graph.connect(Arrays(), "output", scale, "input")
    graph.connect(scale, "output", check, "input")
    result = d4p.run(graph, mapping="mpi", processes=4, buffer_mb=1, timeout=60)
    assert result[check.id]["output"] == [40]


def test_masked_arrays_and_strided_views_travel_in_bounded_memory_on_mpi():
    """As on multi (core's test of the same name): before, a rank forwarding
    40 MiB masked arrays peaked 4 units above its start."""
    count, nbytes = 6, 40 << 20
    result = d4p.run(masked_and_strided(count, nbytes), mapping="mpi", processes=4,
                     buffer_mb=8, timeout=120)
    (ports,) = result.values()
    ((good, grew),) = ports["output"]
    assert good == count
    assert grew < 3.5 * nbytes, f"a rank grew by {grew / nbytes:.1f} units"  # the bug: 4.5


def _windows(window, units):
    @d4p.producer
    def source():
        yield from units

    graph = d4p.WorkflowGraph()
    graph.connect(source(), "output", window, "input")
    return graph


@pytest.mark.parametrize("make", [
    lambda: (d4p.window.count(4, 2), list(range(11))),
    lambda: (d4p.window.count(2, by=0), [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)]),
    lambda: (d4p.window.time(10, time=lambda u: u), [1, 12, 3, 25, 14]),  # 3 is late
    lambda: (d4p.window.time(10, time=lambda u: u[1], by=0, slide=5, lateness=2),
             [("x", 1), ("y", 2), ("x", 11), ("y", 9), ("x", 21)]),
    lambda: (d4p.window.time(10, time=lambda u: u[1], by=0),  # ("y", 5) is late
             [("x", 1), ("y", 2), ("x", 15), ("y", 5), ("x", 27), ("y", 12)]),
    lambda: (d4p.window.time(10, time=lambda u: u[1], by=0, watermark="key"),  # not late
             [("x", 1), ("y", 2), ("x", 15), ("y", 5), ("x", 27), ("y", 12)]),
], ids=["count-sliding", "count-keyed", "time-late", "time-keyed-sliding",
        "time-keyed-lagging", "time-watermark-per-key"])
def test_windows_give_simples_outputs_on_mpi(make):
    window, units = make()
    want = d4p.run(_windows(window, units))[window.id]["output"]
    window, units = make()
    got = d4p.run(_windows(window, units), mapping="mpi", processes=3, timeout=60)
    assert sorted(map(repr, got[window.id]["output"])) == sorted(map(repr, want)) and want


def test_run_folders_of_a_killed_launcher_are_removed_at_the_next_start(tmp_path):
    import tempfile
    from pathlib import Path

    stale = Path(tempfile.mkdtemp(prefix="d4p-mpi-"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (stale / "owner").write_text(str(dead.pid))  # a launcher that is gone
    (stale / "job.pkl").write_bytes(b"left behind")
    graph, inputs = wordcount(100, counters=2)
    d4p.run(graph, inputs, mapping="mpi", processes=2, timeout=60)
    assert not stale.exists()
