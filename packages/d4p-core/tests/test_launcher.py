"""d4p.launcher: what mappings whose workers are processes of their own share."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import d4p
import pytest
from d4p.examples import pipeline
from d4p.mapping import Child, Gather, RunFolder, worker_died
from d4p.plan import make_plan


class Tracer:
    def __init__(self):
        self.events = []

    def record(self, events):
        self.events += events


def test_gather_merges_results_sums_latest_progress_and_raises_the_first_failure():
    heard, tracer = [], Tracer()
    gather = Gather(heard.append, tracer)
    gather.report(0, {"a": 5}, [{"e": 1}])
    gather.report(1, {"a": 2, "b": 1})
    gather.report(0, {"a": 7})  # a later report replaces the worker's earlier one
    assert heard[-1] == {"a": 9, "b": 1}
    gather.add(1, {"b": {"output": [1, 2]}}, {"a": 3, "b": 2}, [{"e": 2}])
    gather.add(0, {"b": {"output": [3]}, "c": {"x": [4]}}, {"a": 7})
    outcome = gather.outcome()
    assert outcome.results == {"b": {"output": [1, 2, 3]}, "c": {"x": [4]}}
    assert outcome.counts == heard[-1] == {"a": 10, "b": 2}
    assert tracer.events == [{"e": 1}, {"e": 2}]
    gather.fail(d4p.WorkflowFailed("second"), (2, 0))
    gather.fail(d4p.WorkflowFailed("first"), (1, 5))
    with pytest.raises(d4p.WorkflowFailed, match="^first$"):
        gather.outcome()


def test_worker_died_names_the_worker_its_pe_instances_and_how_it_ended():
    graph, _ = pipeline(10)
    plan = make_plan(graph, 3, fuse=False)
    k = plan.instances[-1].process
    hosted = ", ".join(f"{i.pe_id}[{i.index}]" for i in plan.on_process(k))
    assert str(worker_died(plan, k, -9, what="MPI rank", hint="; look here")) == (
        f"MPI rank {k} (running {hosted}) was killed by signal 9 (SIGKILL) before finishing; "
        "look here")
    assert str(worker_died(plan, k, 3)).endswith("exited with status 3 before finishing")


def test_run_folder_round_trips_the_plan_progress_and_failures():
    square = lambda x: x * x  # noqa: E731  (travels by value)
    with RunFolder.create("d4p-test-launcher-") as folder:
        assert (folder.path / "owner").read_text().split()[0] == str(os.getpid())
        assert folder.on_launcher_host()
        folder.write_plan({"f": square}, {"batch_size": 3})
        plan, options = folder.read_plan()
        assert plan["f"](4) == 16 and options == {"batch_size": 3}
        report = folder.reporter(2)
        report({"a": 1}, [])
        report({"a": 4}, [{"e": 1}])
        heard = []
        gather = Gather(heard.append)
        folder.take_progress(gather)
        assert heard[-1] == {"a": 4} and not list(folder.path.glob("progress-*"))
        assert folder.failure() is None and folder.first_death() is None
        folder.fail(1, ValueError("bad"), "worker 1")
        folder.fail(0, d4p.WorkflowFailed("later"), "worker 0")
        assert "worker 1 failed: ValueError: bad" in str(folder.failure())
        folder.started(0)
        assert folder.started_workers() == 1
    assert not folder.path.exists()
    folder.request_stop()  # after the end: nothing to do, no error


WATCHING = textwrap.dedent("""
    import os, sys
    from d4p.mapping import Control, RunFolder
    control = Control()
    RunFolder(sys.argv[1]).watch(control, int(sys.argv[2]))
    print(control.wait(30) and control.reason, flush=True)
    __import__("time").sleep(30)
""")


def _dead_pid() -> int:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


@pytest.mark.timeout(60)
@pytest.mark.parametrize("launcher", ["alive here", "dead here", "dead elsewhere"])
def test_a_watching_worker_stops_on_request_ends_with_its_folder_and_its_launcher(
        tmp_path, launcher):
    """It watches the launcher's pid only on the launcher's host."""
    with RunFolder.create(".d4p-test-launcher-", tmp_path) as folder:
        assert folder.path.parent == tmp_path and folder.on_launcher_host()
        pid = os.getpid() if launcher == "alive here" else _dead_pid()
        if launcher == "dead elsewhere":  # a launcher on another machine: its pid means nothing
            (folder.path / "owner").write_text(f"{pid} elsewhere/boot-id/4026531836")
            assert not folder.on_launcher_host()
        folder.request_stop()  # each round of the watch looks at the pid before the request
        proc = subprocess.Popen([sys.executable, "-c", WATCHING, str(folder.path), str(pid)],
                                stdout=subprocess.PIPE, text=True)
        try:
            if launcher == "dead here":
                assert proc.wait(20) == 17 and proc.stdout.read() == ""
            else:
                assert proc.stdout.readline() == "stopped by the launcher\n"
        except BaseException:
            proc.kill()
            raise
    try:
        assert proc.wait(20) == 17  # its folder is gone: it ends by itself
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_run_folders_whose_launcher_is_gone_are_removed_by_the_next_create(tmp_path):
    stale, live, elsewhere = (Path(tempfile.mkdtemp(prefix="d4p-test-launcher-"))
                              for _ in range(3))
    subprocess.run([sys.executable, "-c", "import sys; from d4p.mapping import RunFolder; "
                    "RunFolder.create('.d4p-test-launcher-', sys.argv[1])", str(tmp_path)],
                   check=True)  # killed before it could remove its folder
    (abandoned,) = tmp_path.glob(".d4p-test-launcher-*")
    with RunFolder.create("d4p-test-launcher-") as ours:
        (live / "owner").write_text((ours.path / "owner").read_text())
        (stale / "owner").write_text(f"{_dead_pid()} " + (ours.path / "owner").read_text()
                                     .split(" ", 1)[1])
        (elsewhere / "owner").write_text(f"{_dead_pid()} elsewhere/boot-id/4026531836")
    try:
        with RunFolder.create("d4p-test-launcher-"):
            assert not stale.exists() and live.exists() and elsewhere.exists()
        with RunFolder.create(".d4p-test-launcher-", tmp_path) as new:
            assert list(tmp_path.glob(".d4p-test-launcher-*")) == [new.path]
        assert not abandoned.exists()
    finally:
        for folder in (stale, live, elsewhere):
            subprocess.run(["rm", "-rf", str(folder)], check=True)


def test_the_files_a_killed_runs_workers_noted_are_removed_by_the_next_create(tmp_path):
    """A launcher killed with SIGKILL cannot remove what its workers left
    outside the run folder (MPI's shared memory in /dev/shm): the next start
    does, and only for runs whose launcher is gone."""
    kept, left = tmp_path / "kept", tmp_path / "left"
    for path in (kept, left, tmp_path / "gone-already"):
        path.write_text("x")
    (tmp_path / "gone-already").unlink()
    with RunFolder.create(".d4p-test-files-", tmp_path) as live:
        stale = RunFolder.create(".d4p-test-files-", tmp_path)
        stale.note_files(0, [str(left), str(tmp_path / "gone-already")])
        (stale.path / "owner").write_text(f"{_dead_pid()} " + (stale.path / "owner").read_text()
                                          .split(" ", 1)[1])
        live.note_files(1, [str(kept)])
        with RunFolder.create(".d4p-test-files-", tmp_path) as new:
            assert not left.exists() and not stale.path.exists()  # before: left was kept
            assert kept.exists() and live.path.exists()  # a live run's files are its own
            new.note_files(0, [])  # nothing to note: no file
            assert sorted(p.name for p in new.path.iterdir()) == ["owner"]
        live.remove_noted()
        assert not kept.exists()


LAUNCHER = textwrap.dedent("""
    import sys, time
    from d4p.mapping import Child
    child = Child(["sleep", "60"])
    print(child.proc.pid, flush=True)
    time.sleep(60)
""")


@pytest.mark.timeout(60)
def test_a_child_ends_when_the_process_that_started_it_is_killed():
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdout=subprocess.PIPE,
                                text=True)
    try:
        child = int(launcher.stdout.readline())
        assert _live_in_group(child) == [child]
        launcher.kill()
        launcher.wait()
        while _live_in_group(child):  # SIGTERM from the kernel (PR_SET_PDEATHSIG)
            time.sleep(0.05)
    finally:
        launcher.kill()
        launcher.wait()
        launcher.stdout.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)


SUPERVISED = textwrap.dedent("""
    import os, signal, sys, time
    from d4p.mapping import RunFolder, supervise
    folder = RunFolder(sys.argv[1])
    supervise(folder, 3)
    print(os.getpid(), flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif sys.argv[2] == "exit":
        os._exit(5)
    time.sleep(60)
""")


@pytest.mark.parametrize(("how", "status", "death"), [
    ("kill", -signal.SIGKILL, (3, -signal.SIGKILL)),
    ("exit", 5, (3, 5)),
    ("sleep", -signal.SIGTERM, None),  # a signal passed on from the supervisor: not a death
])
def test_supervise_records_how_the_worker_ended_and_ends_the_same_way(how, status, death):
    with RunFolder.create("d4p-test-launcher-") as folder:
        proc = subprocess.Popen([sys.executable, "-c", SUPERVISED, str(folder.path), how],
                                stdout=subprocess.PIPE, text=True)
        try:
            child = int(proc.stdout.readline())
            assert child != proc.pid
            if how == "sleep":
                proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == status
            assert folder.first_death() == death
            with pytest.raises(ProcessLookupError):
                os.kill(child, 0)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()


def test_child_passes_its_output_on_line_by_line_and_ticks_while_it_runs():
    lines, ticks = [], []
    with Child([sys.executable, "-c", "import time; print('a', flush=True); time.sleep(1); "
                "print('b')"], lines=lines.append) as child:
        assert child.wait(every=0.1, tick=lambda: ticks.append(1)) == 0
    assert lines == [b"a\n", b"b\n", None] and ticks


def test_child_past_its_timeout_is_killed_with_everything_it_started():
    child = Child(["sh", "-c", "sleep 60 & echo $!; sleep 60"], lines=lambda line: None)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(0.5)
    finally:
        child.kill()
    assert child.proc.returncode == -signal.SIGTERM
    assert _live_in_group(child.proc.pid) == []


def _python_in_group(tmp_path, code: str) -> tuple[Child, bytes]:
    """A :class:`Child` whose shell runs Python ``code`` in the background (in
    the child's group, not the child itself), and the first line it printed
    (to a file: the child's ``stdout``)."""
    log = tmp_path / "out.log"
    with open(log, "wb") as out:
        child = Child(["sh", "-c", f"{sys.executable} -c \"{code}\" & wait"], stdout=out,
                      cwd=str(tmp_path))
    deadline = time.monotonic() + 30
    while not log.read_bytes().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    return child, log.read_bytes()


def test_child_kill_ends_a_process_of_its_group_that_ignores_sigterm(tmp_path):
    child, said = _python_in_group(tmp_path, "import signal, time; signal.signal("
                                   "signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
                                   "time.sleep(60)")
    with child:
        child.kill(grace=0.5)
        assert _live_in_group(child.proc.pid) == []
    assert said == b"ready\n"  # its stdout went to the file given


def test_child_kill_ends_the_workers_it_is_told_of_before_the_group_gets_sigterm(tmp_path):
    """An MPI rank takes SIGTERM for a graceful stop: before, a timed-out or
    aborted run's ranks first began to drain (here: the handler leaves
    'stopping'), and one stuck in C code (where no Python handler runs)
    lived on until the grace ended; now they get SIGKILL first."""
    child, said = _python_in_group(tmp_path, "import os, signal, time; signal.signal("
                                   "signal.SIGTERM, lambda *a: open('stopping', 'w').close()); "
                                   "print(os.getpid(), flush=True); time.sleep(60)")
    with child:
        child.kill(also=lambda: [int(said)], grace=0.5)
        assert _live_in_group(child.proc.pid) == []
    assert not (tmp_path / "stopping").exists()


def _live_in_group(group: int) -> list[int]:
    """Pids of the processes of process group ``group`` that are not zombies."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            found.append(int(pid))
    return found


_FREED = textwrap.dedent("""
    import sys
    from d4p.mapping import keep_freed_memory

    def resident():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    keep_freed_memory()
    block = bytearray(8 << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    touched = resident()
    del block
    print(touched - resident())
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator (Linux)")
def test_a_worker_keeps_freed_memory_for_the_next_array_unless_the_user_set_glibcs_thresholds():
    def released(**env) -> int:
        done = subprocess.run([sys.executable, "-c", _FREED], capture_output=True, text=True,
                              env={**os.environ, **env}, timeout=60, check=True)
        return int(done.stdout)

    assert released() < 1 << 20  # kept for the next array: no fresh pages from the kernel
    assert released(MALLOC_MMAP_THRESHOLD_="131072") > 7 << 20  # the user's choice: unmapped


def _stopped_within(control, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not control.stopping and time.monotonic() < deadline:
        time.sleep(0.02)
    return control.stopping


def test_a_stop_line_stops_the_sources_of_workers_connected_before_and_after_the_request():
    from d4p.mapping import Control, StopLine

    threads = threading.active_count()
    with StopLine() as line:
        early, late, other = Control(), Control(), Control()
        StopLine.watch(line.address, early)
        time.sleep(0.5)  # connected
        assert not early.stopping
        line.request_stop()
        assert _stopped_within(early) and early.reason == "stopped by the launcher"
        StopLine.watch(line.address, late)  # a task that starts after the stop
        assert _stopped_within(late)
    StopLine.watch(line.address, other)  # nobody listens: it stops nothing, and ends
    time.sleep(0.5)
    assert not other.stopping
    deadline = time.monotonic() + 10
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == threads  # the accepting thread and the watches ended


def test_a_stop_line_watch_ends_with_its_worker_s_control():
    from d4p.mapping import Control, StopLine

    with StopLine() as line:
        control = Control()
        StopLine.watch(line.address, control)
        watch = next(t for t in threading.enumerate() if t.name == "d4p-stop-watch")
        control.stop("the task ended")
        watch.join(10)
        assert not watch.is_alive()
