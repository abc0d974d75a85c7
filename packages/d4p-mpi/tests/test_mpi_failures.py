"""Failures end every rank within seconds, report once, and leave nothing behind."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import d4p
import mpi_workflows
import pytest
from d4p.examples import pipeline
from mpi_processes import (
    assert_no_leftovers,
    assert_no_shared_memory_left,
    leftovers,
    shared_memory,
)


@pytest.mark.timeout(30)  # a failure ends the run: it does not wait for its timeout of 60 s
@pytest.mark.parametrize("processes", [2, 4])
def test_pe_exception_is_reported_like_simple(processes):
    graph, inputs = mpi_workflows.failing()
    with pytest.raises(d4p.WorkflowFailed) as simple:
        d4p.run(graph, inputs)
    graph, inputs = mpi_workflows.failing()
    before = shared_memory()
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, inputs, mapping="mpi", processes=processes, timeout=60)
    assert_no_shared_memory_left(before)  # MPI_Abort skips MPI_Finalize: d4p removes them
    exc, want = info.value, simple.value
    assert exc.args[0] == want.args[0].replace(want.pe, exc.pe)
    assert "failed on input 'input' with data 500: ValueError: cannot take 500" in exc.args[0]
    assert (exc.instance, exc.port, exc.data) == (want.instance, want.port, want.data)
    assert "mpi_workflows.py" in exc.traceback and "ValueError: cannot take 500" in exc.traceback
    assert_no_leftovers()


@pytest.mark.timeout(120)
def test_a_usage_error_raised_by_a_pe_is_one_line_and_exit_2(tmp_path):
    """The PE's d4p.UsageError travels from its rank like any failure, and
    d4p run says it in one line, as for a mistake found before the run."""
    (tmp_path / "wf.py").write_text("from d4p.testing.workflows import user_mistake\n\n"
                                    "graph, _ = user_mistake()\n")
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wf.py", "-m", "mpi", "-n", "3",
                           "--timeout", "60", "-o", "out.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=100)
    assert (done.returncode, done.stderr) == (2, (
        "d4p: error: PE 'CheckRate2': station 7 is sampled at 25 Hz, the others at 20 Hz: "
        "resample it to 20 Hz\n")), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == ["wf.py"]
    assert_no_leftovers()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("workflow", "pe", "verb", "reason"), [
    ("unpicklable", "Locked1", "sent to", "(TypeError: cannot pickle '_thread.lock' object)"),
    ("unloadable", "Gaps1", "loaded in",  # pickles, does not load
     "(TypeError: Gap.__init__() missing 1 required positional argument: 'reason')")])
@pytest.mark.parametrize("where", ["between", "result"])
def test_data_that_cannot_travel_is_one_line_naming_the_pe_and_output(
        tmp_path, workflow, pe, verb, reason, where):
    (tmp_path / "wf.py").write_text(f"from d4p.testing.workflows import {workflow}\n\n"
                                    f"graph = {workflow}({where!r})\n")
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wf.py", "-m", "mpi", "-n", "3",
                           "--timeout", "60"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=100)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"d4p: error: PE {pe!r} wrote data on output 'output' that cannot be "
                           f"{verb} "), line
    assert reason in line
    assert_no_leftovers()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("exit", "how"), [(0, r"was killed by signal 9 \(SIGKILL\)"),
                                          (5, "exited with status 5")])
def test_a_rank_that_dies_is_named_with_its_pes(tmp_path, exit, how):
    record, named, before = tmp_path / "died", set(), shared_memory()
    for fatal in (300, 301):  # mpiexec ends every rank: the one that died is named all the same
        graph, inputs = mpi_workflows.killing(fatal=fatal, record=str(record), exit=exit)
        with pytest.raises(d4p.WorkflowFailed) as info:
            d4p.run(graph, inputs, mapping="mpi", processes=3, timeout=60)
        rank, instance = record.read_text().split()
        assert re.fullmatch(rf"MPI rank {rank} \(running Suicidal\d+\[{instance}\]\) {how} "
                            r"before finishing; look for a PE that crashes the interpreter or "
                            r"runs out of memory", str(info.value)), str(info.value)
        named.add(rank)
        assert_no_leftovers()
    assert len(named) == 2  # each instance on a rank of its own; both were named
    assert_no_shared_memory_left(before)  # the ranks were killed: d4p removed MPI's files


@pytest.mark.timeout(30)
def test_timeout_stops_a_run_that_never_ends():
    graph, inputs = mpi_workflows.sleeping()
    before = shared_memory()
    with pytest.raises(d4p.WorkflowFailed, match="exceeded its timeout"):
        d4p.run(graph, inputs, mapping="mpi", processes=2, timeout=2)
    assert_no_leftovers()
    assert_no_shared_memory_left(before)


@pytest.mark.timeout(30)
def test_timeout_stops_a_rank_stuck_in_pe_code():
    graph, inputs = mpi_workflows.stuck()
    with pytest.raises(d4p.WorkflowFailed, match="exceeded its timeout of 1 s and was stopped"):
        d4p.run(graph, inputs, mapping="mpi", processes=1, timeout=1)
    assert_no_leftovers()


@pytest.mark.timeout(30)
def test_a_timeout_aborts_the_ranks_without_a_graceful_drain(tmp_path):
    """Before, the launcher ended the ranks with SIGTERM, which ranks take for
    a graceful stop: the endless source stopped, postprocess ran (here it
    leaves a file; a real one writes its outputs after the run had failed),
    and the run ended up to 2 s later than needed."""
    marker = tmp_path / "postprocess-ran"
    with pytest.raises(d4p.WorkflowFailed, match="exceeded its timeout of 1 s and was stopped"):
        d4p.run(*mpi_workflows.endless_marking(str(marker)), mapping="mpi", processes=1,
                timeout=1)
    assert_no_leftovers()
    assert not marker.exists()


def test_missing_mpiexec_says_what_to_install():
    with pytest.raises(d4p.UsageError, match="'mpiexec' of mapping 'mpi' names "
                                             "'/nonexistent/mpiexec'"):
        d4p.run(*pipeline(10), mapping="mpi", processes=2, mpiexec="/nonexistent/mpiexec")


@pytest.mark.timeout(30)
def test_broken_mpi_library_says_what_to_install(monkeypatch):
    monkeypatch.setenv("MPI4PY_LIBMPI", "/nonexistent/libmpi.so.12")
    with pytest.raises(d4p.UsageError) as info:
        d4p.run(*pipeline(10), mapping="mpi", processes=2, timeout=30)
    assert "cannot load an MPI library" in str(info.value)
    assert "pip install d4p-mpi" in str(info.value)
    assert_no_leftovers()


def test_ranks_end_when_the_launching_process_is_killed(tmp_path):
    script = tmp_path / "launcher.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(mpi_workflows.__file__)!r})
        import d4p, mpi_workflows
        d4p.run(*mpi_workflows.sleeping(), mapping="mpi", processes=2)
    """))
    launcher = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 30
        while len(leftovers(launcher.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(leftovers(launcher.pid)) >= 3  # mpiexec and two ranks
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        deadline = time.monotonic() + 10
        while leftovers(launcher.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert leftovers(launcher.pid) == []
    finally:
        if launcher.poll() is None:
            launcher.kill()


@pytest.mark.timeout(90)
def test_the_next_run_removes_the_shared_memory_of_a_killed_launcher(tmp_path):
    """A launcher killed with SIGKILL cannot remove MPICH's files in /dev/shm
    (its ranks end without MPI_Finalize): the next run from this host does."""
    before = shared_memory()
    script = tmp_path / "launcher.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(mpi_workflows.__file__)!r})
        import d4p, mpi_workflows
        d4p.run(*mpi_workflows.sleeping(), mapping="mpi", processes=2, run_folder=sys.argv[1])
    """))
    launcher = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob(".d4p-mpi-*/files-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(list(tmp_path.glob(".d4p-mpi-*/files-*"))) == 2  # both ranks noted theirs
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        assert_no_leftovers(10, launcher.pid)
        assert shared_memory() - before  # left behind
        (stale,) = tmp_path.glob(".d4p-mpi-*")
        result = d4p.run(*pipeline(10), mapping="mpi", processes=2, run_folder=str(tmp_path),
                         timeout=60)
        assert list(result.values()) == list(d4p.run(*pipeline(10)).values())
        assert not stale.exists()
        assert_no_shared_memory_left(before)  # before: the killed run's files stayed
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


@pytest.mark.timeout(120)
def test_data_that_does_not_load_while_a_send_waits_is_one_line_naming_its_pe(tmp_path):
    """The poison reaches rank 0 while its source waits for the slow rank to
    take its arrays: the error names the PE that wrote the poison, not the
    source, and has no traceback."""
    tests = os.path.dirname(os.path.abspath(__file__))
    (tmp_path / "wf.py").write_text(f"import sys\nsys.path.insert(0, {tests!r})\n"
                                    "from mpi_workflows import poisoned\n\n"
                                    "graph, inputs = poisoned()\n")
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wf.py", "-m", "mpi", "-n", "2",
                           "--timeout", "60", "--queue-size", "1", "--buffer-mb", "4",
                           "--batch-size", "1"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=100)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("d4p: error: PE 'Poisoner1' wrote data on output 'output' that "
                           "cannot be loaded in another process (ValueError: Poison does not "
                           "load); "), line
    assert_no_leftovers()
