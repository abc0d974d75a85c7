"""The multi mapping: conformance under fork and spawn, failures, Ctrl-C,
backpressure and NumPy transport."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import d4p
import numpy as np
import pytest
from d4p.examples import NumberProducer, Summer, pipeline, wordcount
from d4p.plan import make_plan
from d4p.testing import make_tests
from d4p.testing.workflows import (
    LOGGED,
    NOTEBOOK_CELL,
    SETUP_WORKFLOW,
    STDIN_FILE,
    Pairs,
    burst_while_waiting,
    stop_while_waiting,
)

test_conformance_fork = make_tests("multi", processes=(1, 2, 3, 4, 7), start_method="fork")
test_conformance_spawn = make_tests("multi", processes=(1, 2, 3, 4, 7), start_method="spawn")


def children_of(pid: int) -> list[int]:
    """Child processes of ``pid``, except multiprocessing's resource tracker
    and fork server (started once by spawn and forkserver, they live as long
    as the test process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                cmdline = (entry / "cmdline").read_bytes()
                if b"resource_tracker" not in cmdline and b"forkserver" not in cmdline:
                    found.append(int(entry.name))
    return found


def wait_no_children(pid: int, grace: float = 5.0) -> list[int]:
    deadline = time.monotonic() + grace
    while children_of(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return children_of(pid)


def test_wordcount_same_counts_as_simple_on_every_process_count():
    graph, inputs = wordcount(words=20_000)
    (want,) = d4p.run(graph, inputs).values()
    for n in (2, 3, 4):
        graph, inputs = wordcount(words=20_000)
        result = d4p.run(graph, inputs, mapping="multi", processes=n)
        (got,) = result.values()
        assert got == want
        assert result.summary.processes == min(n, 4)
        units = {k.rstrip("0123456789"): v for k, v in result.summary.units.items()}
        # the count's partial folds the words next to the producer: the count
        # merges one state per word (1,000), the top one list per count instance
        assert units == {"WordProducer": 1, "count1.partial": 20_000, "count": 1000,
                         "top2.partial": 1000, "top": 2}


def test_fewer_processes_than_pes_and_chain_fusion():
    graph, inputs = pipeline(n=10_000)
    result = d4p.run(graph, inputs, mapping="multi", processes=4)
    assert list(result.values()) == [{"output": [2 * sum(range(10_000))]}]
    assert result.summary.processes == 1  # the chain is fused into one process


class Boom(d4p.IterativePE):
    def _process(self, x):
        if x == 700:
            raise ValueError(f"cannot take {x}")
        return x


class SelfKill(d4p.IterativePE):
    def _process(self, x):
        if x == 700:
            os.kill(os.getpid(), signal.SIGKILL)
        return x


def _failing_graph(pe_class):
    graph = d4p.WorkflowGraph()
    pe = pe_class()
    pe.numprocesses = 2
    graph.connect(NumberProducer(100_000), "output", pe, "input")
    graph.connect(pe, "output", Summer(), "input")
    return graph


@pytest.mark.timeout(30)
def test_pe_exception_fails_fast_and_leaves_no_process():
    # (under spawn the conformance kit's failing case covers this: PEs defined
    # in a test module cannot be imported by a spawned process)
    with pytest.raises(d4p.WorkflowFailed) as caught:
        d4p.run(_failing_graph(Boom), mapping="multi", processes=3)
    err = caught.value
    assert err.pe.startswith("Boom") and err.port == "input" and err.data == "700"
    assert "with data 700: ValueError: cannot take 700" in str(err)
    assert 'raise ValueError(f"cannot take {x}")' in err.traceback
    assert wait_no_children(os.getpid()) == []


class _Tool(d4p.IterativePE):
    """Runs a program per unit, as PEs that call external tools do (here one
    that takes long), and leaves its pid in file ``pid``."""

    def __init__(self, pid: str) -> None:
        super().__init__()
        self.pid = pid

    def _process(self, x):
        with subprocess.Popen(["sleep", "300"]) as tool:
            Path(self.pid).write_text(str(tool.pid))
        return x


class _FailsOnceToolRuns(d4p.IterativePE):
    def __init__(self, pid: str) -> None:
        super().__init__()
        self.pid = pid

    def _process(self, x):
        while not Path(self.pid).exists():
            time.sleep(0.01)
        raise ValueError("failed while the tool ran")


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _ends(pid: int, within: float = 60) -> bool:
    """Whether ``pid`` stops running within ``within`` seconds: a process sent
    SIGKILL runs on until the kernel gets to it (a while on a loaded machine)."""
    deadline = time.monotonic() + within
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _running(pid)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_failed_run_ends_the_programs_its_pes_started(tmp_path, start_method):
    """Before, the workers were killed and the program a PE ran lived on,
    orphaned (simple's subprocess.run ends it as the exception passes)."""
    pid_file = str(tmp_path / "pid")
    graph = d4p.WorkflowGraph()
    numbers = NumberProducer(1)
    graph.connect(numbers, "output", _Tool(pid_file), "input")
    graph.connect(numbers, "output", _FailsOnceToolRuns(pid_file), "input")
    tool = None
    try:
        with pytest.raises(d4p.WorkflowFailed, match="failed while the tool ran"):
            d4p.run(graph, mapping="multi", processes=3, start_method=start_method)
        tool = int(Path(pid_file).read_text())
        assert _ends(tool)
        assert wait_no_children(os.getpid()) == []
    finally:
        if tool is not None and _running(tool):
            os.kill(tool, signal.SIGKILL)


class _PoolFactorials(d4p.IterativePE):
    """Sums factorials in a pool of processes of its own, as PEs that use
    concurrent.futures, multiprocessing.Pool or joblib do."""

    def _process(self, n):
        import math
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2) as pool:
            return sum(pool.map(math.factorial, range(n)))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_pe_may_start_processes_of_its_own(start_method):
    """Before: 'AssertionError: daemonic processes are not allowed to have
    children' on multi only (its workers were daemonic processes)."""
    graph = d4p.WorkflowGraph()
    pool = _PoolFactorials()
    graph.connect(NumberProducer(4), "output", pool, "input")
    result = d4p.run(graph, mapping="multi", processes=2, start_method=start_method)
    assert sorted(result[pool.id]["output"]) == [0, 1, 2, 4]
    assert wait_no_children(os.getpid()) == []


def open_fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_failed_run_leaves_no_pipe_open_while_its_error_is_kept(start_method):
    # before: the pipes to the workers stayed open as long as the error's
    # traceback lived (a caller that keeps the error, or until a collection)
    d4p.run(_failing_graph(Summer), mapping="multi", processes=3, start_method=start_method)
    before = open_fds()  # after a first run: multiprocessing's shared memory arena is open
    with pytest.raises(d4p.WorkflowFailed) as caught:
        d4p.run(_failing_graph(Boom), mapping="multi", processes=3, start_method=start_method)
    assert "cannot take 700" in str(caught.value)
    assert open_fds() == before
    assert wait_no_children(os.getpid()) == []


def test_spawn_ships_pes_of_a_module_workers_cannot_import():
    # the test module is not importable by name in a fresh interpreter: its
    # classes travel by value, and the run fails as it does with fork
    with pytest.raises(d4p.WorkflowFailed, match="with data 700: ValueError: cannot take 700"):
        d4p.run(_failing_graph(Boom), mapping="multi", processes=2, start_method="spawn")
    assert wait_no_children(os.getpid()) == []


SCALE_LIB = """
import d4p

class Scale(d4p.IterativePE):
    factor = 1
    def _process(self, x):
        return x * self.factor
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_a_class_attribute_set_before_the_run_reaches_fresh_workers(tmp_path, monkeypatch,
                                                                   start_method):
    # a workflow file that does `from mylib import Scale; Scale.factor = 7`:
    # before, spawn and forkserver workers imported mylib afresh and used 1
    (tmp_path / "scale_lib.py").write_text(SCALE_LIB)
    monkeypatch.syspath_prepend(str(tmp_path))
    import scale_lib

    try:
        scale_lib.Scale.factor = 7
        scale = scale_lib.Scale()
        scale.numprocesses = 2
        graph = d4p.WorkflowGraph()
        graph.connect(NumberProducer(6), "output", scale, "input")
        result = d4p.run(graph, mapping="multi", processes=3, start_method=start_method)
        assert sorted(result[scale.id]["output"]) == [0, 7, 14, 21, 28, 35]
    finally:
        del sys.modules["scale_lib"]


SETTINGS_LIB = """
THRESHOLD = 1
"""
SETTINGS_WORKFLOW = """
import settings_lib
from d4p import IterativePE, WorkflowGraph
from d4p.examples import NumberProducer

settings_lib.THRESHOLD = 7
settings_lib.SHARED = {"mutable": "stays as imported"}


class Scale(IterativePE):
    def _process(self, x):
        return x * settings_lib.THRESHOLD

graph = WorkflowGraph()
scale = Scale()
scale.numprocesses = 2
graph.connect(NumberProducer(6), "output", scale, "input")
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_a_module_setting_the_workflow_file_sets_reaches_fresh_workers(tmp_path, start_method):
    # `mylib.THRESHOLD = 7` in a workflow file: before, spawn and forkserver
    # workers imported mylib afresh and used 1 (dispel4py's mpi ran the file
    # on every rank, so ported programs saw 7)
    (tmp_path / "settings_lib.py").write_text(SETTINGS_LIB)
    (tmp_path / "settings_wf.py").write_text(SETTINGS_WORKFLOW)
    run = subprocess.run([sys.executable, "-m", "d4p", "run", "settings_wf.py", "-m", "multi",
                          "-n", "3", "--start-method", start_method, "-o", "out.json"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (values,) = [ports["output"] for ports in
                 json.loads((tmp_path / "out.json").read_text())["results"].values()]
    assert sorted(values) == [0, 7, 14, 21, 28, 35]


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_logging_and_numpy_errors_set_up_by_the_workflow_file_reach_fresh_workers(
        tmp_path, start_method):
    # before: spawn and forkserver workers had no log handler and level
    # WARNING (the PE's INFO lines were lost), and NumPy only warned of a
    # division by zero that the file had asked to raise
    (tmp_path / "setup.py").write_text(SETUP_WORKFLOW)
    run = subprocess.run([sys.executable, "-m", "d4p", "run", "setup.py", "-m", "multi", "-n",
                          "2", "--no-fuse", "--start-method", start_method, "-o", "out.json"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stderr.splitlines() if "LOG" in line] == LOGGED
    results = json.loads((tmp_path / "out.json").read_text())["results"]
    assert [ports["output"] for ports in results.values()] == [["raised"] * 3]


EVERY_TO_EVERY = """
    from d4p import GenericPE, IterativePE, WorkflowGraph
    from d4p.examples import NumberProducer, Summer

    class Keyed(IterativePE):
        def _process(self, x):
            return (x % 97, x)

    class Value(GenericPE):
        def __init__(self):
            super().__init__()
            self._add_input("input", grouping=[0])
            self._add_output("output")

        def process(self, inputs):
            return {"output": inputs["input"][1]}

    graph = WorkflowGraph()
    keyed, value, total = Keyed(), Value(), Summer()
    keyed.numprocesses = value.numprocesses = 16
    graph.connect(NumberProducer(2000), "output", keyed, "input")
    graph.connect(keyed, "output", value, "input")
    graph.connect(value, "output", total, "input")
"""


def _run_with_open_files(tmp_path, soft: int, hard: int) -> subprocess.CompletedProcess:
    import resource

    (tmp_path / "every.py").write_text(textwrap.dedent(EVERY_TO_EVERY))
    d4p_command = os.path.join(os.path.dirname(sys.executable), "d4p")
    return subprocess.run(
        [d4p_command, "run", "every.py", "-m", "multi", "-n", "32", "--no-fuse", "-q"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))


def test_workers_that_all_send_to_each_other_get_the_open_files_they_need(tmp_path):
    # 32 workers, each sending to 16: about 600 pipes. Before: "OSError: [Errno
    # 24] Too many open files" under a soft limit of 1024 (Linux's usual) from
    # 24 such workers; the soft limit is now raised towards the hard one
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip(f"this machine's hard limit of open files is {hard}")
    done = _run_with_open_files(tmp_path, 256, hard)
    assert done.returncode == 0, done.stderr
    assert f"\n  {sum(range(2000))}\n" in done.stdout


def test_too_few_open_files_for_the_workers_is_one_line_saying_what_to_do(tmp_path):
    done = _run_with_open_files(tmp_path, 256, 256)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("d4p: error: the multi mapping with 32 processes needs about ")
    assert line.endswith(" open files (pipes between its workers), more than this system "
                         "allows a process (256, see ulimit -Hn): use fewer processes (-n), or "
                         "fewer PE instances that send to each other, or raise the limit")


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_dataclass_of_a_notebook_travels_between_fresh_workers(tmp_path, start_method):
    # before: "PE 'Points0' wrote data ... that cannot be sent to PE 'Move1' in
    # another process (PicklingError: Can't pickle <class '__main__.Point'>...)"
    (tmp_path / "kernel.py").write_text(NOTEBOOK_CELL)
    done = subprocess.run([sys.executable, "kernel.py", "multi", f"start_method={start_method}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "RESULT [(1, 0), (2, 1), (3, 4), (4, 9), (5, 16)]" in done.stdout


UNGUARDED = """
    import d4p
    from d4p.examples import pipeline

    graph, inputs = pipeline(10)
    result = d4p.run(graph, inputs, mapping="multi", processes=2, start_method="spawn")
    print("RESULT", list(result.values()))
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_an_unguarded_script_on_spawn_is_told_to_guard_its_run(tmp_path, guarded):
    # before: every spawn worker ran the script again, said so on its stderr
    # and died, and the run failed with 'worker process 1 (...) exited with
    # status 1 before finishing'; now no worker starts
    code = textwrap.dedent(UNGUARDED)
    if guarded:
        code = code.replace("result = ", "if __name__ == '__main__':\n    result = ").replace(
            "print(", "    print(")
    script = tmp_path / "unguarded.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    if guarded:
        assert proc.returncode == 0, err
        assert "RESULT" in out
        return
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == (
        f"d4p.errors.UsageError: with start_method='spawn' every worker runs {script} again, "
        "and its line 6 would run the workflow there too: put the code that runs the workflow "
        "under `if __name__ == \"__main__\":` (or use start_method='fork')"), err
    assert "worker process" not in err
    assert "RESULT" not in out  # no worker ran the workflow


def test_killed_worker_fails_the_run_naming_the_signal():
    with pytest.raises(d4p.WorkflowFailed, match=r"killed by signal 9 \(SIGKILL\)") as caught:
        d4p.run(_failing_graph(SelfKill), mapping="multi", processes=3)
    assert "SelfKill" in str(caught.value)
    assert wait_no_children(os.getpid()) == []


class _TermsItsOwnWorker(d4p.ProducerPE):
    """Endless, but sends SIGTERM to its own worker process after 100 units
    (as an administrator or a batch system might)."""

    def _process(self, inputs):
        for i in range(10**9):
            self.write("output", i)
            if i == 100:
                os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.timeout(60)
def test_sigterm_to_one_worker_stops_the_whole_run_gracefully_and_says_so():
    # before: that worker's sources stopped, the run ended with summary.stopped None
    graph = d4p.WorkflowGraph()
    source, total = _TermsItsOwnWorker(), Summer()
    graph.connect(source, "output", total, "input")
    result = d4p.run(graph, mapping="multi", processes=2, fuse=False)
    (process,) = result.summary.assignment[source.id]
    assert result.summary.stopped == f"SIGTERM to worker process {process}"
    (n,) = result[total.id]["output"]
    assert n >= sum(range(101))
    assert wait_no_children(os.getpid()) == []


SLOW = """
    import time
    from d4p import WorkflowGraph, ProducerPE, IterativePE

    class Endless(ProducerPE):
        def _process(self, inputs):
            for i in range(10**9):
                self.write("output", i)

    class Slow(IterativePE):
        def _process(self, x):
            time.sleep(0.001)
            return x

    graph = WorkflowGraph()
    slow = Slow()
    slow.numprocesses = 2
    graph.connect(Endless(), "output", slow, "input")
"""


def test_a_second_ctrl_c_exits_130_and_leaves_no_child(tmp_path):
    """The first Ctrl-C stops the source gracefully (the slow PE still has a
    backlog to finish); the second aborts."""
    wf = tmp_path / "slow.py"
    wf.write_text(textwrap.dedent(SLOW))
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "--mapping", "multi",
                             "-n", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(children_of(proc.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    kids = children_of(proc.pid)
    assert len(kids) == 3
    time.sleep(0.5)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C)" in err and "Traceback" not in err
    for kid in kids:
        assert not Path(f"/proc/{kid}").exists() or "zombie" in Path(f"/proc/{kid}/status").read_text()


def _run_lines(tmp_path, start_method: str) -> subprocess.Popen:
    wf = tmp_path / "lines.py"
    wf.write_text(STDIN_FILE)
    return subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "-m", "multi", "-n",
                             "2", "--no-fuse", "--start-method", start_method],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_a_source_reads_the_runs_stdin(tmp_path, start_method):
    """``d4p run wf.py -m multi < file``: the source reads the run's stdin, not
    the /dev/null that multiprocessing gives its workers."""
    proc = _run_lines(tmp_path, start_method)
    try:
        out, err = proc.communicate("a\nb\nc\n", timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert sorted(out.splitlines()[:3]) == ["got a", "got b", "got c"], out + err


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_what_a_waiting_source_wrote_leaves_while_it_waits(tmp_path, start_method):
    """``producer | d4p run wf.py``: the lines of a burst reach the PE in the
    other process while the source waits for the next line, not when it
    writes again (hours later, for a quiet log)."""
    burst, out, err = burst_while_waiting(_run_lines(tmp_path, start_method))
    assert burst == ["got a\n", "got b\n", "got c\n"], err
    assert out.startswith("got d\n"), err


@pytest.mark.parametrize(("mapping", "how"), [
    ("simple", "stop_after"), ("simple", "SIGINT"), ("multi", "stop_after"),
    ("multi", "SIGTERM")])
def test_a_graceful_stop_ends_a_source_waiting_for_data(tmp_path, mapping, how):
    """A source waiting for its next line (a quiet pipe, socket, log) stops on
    the first signal or at --stop-after, and the run drains and ends; it
    waited for data that never came (the stop only stopped its writes)."""
    (tmp_path / "lines.py").write_text(STDIN_FILE)
    argv = [sys.executable, "-m", "d4p", "run", str(tmp_path / "lines.py"), "-m", mapping,
            "-n", "2", "--no-fuse"] + (["--stop-after", "3"] if how == "stop_after" else [])
    code, out, err = stop_while_waiting(argv, getattr(signal, how, None))
    assert code == 0, err
    assert out.splitlines()[:2] == ["got a", "got b"], out + err
    said = "stop_after=3 s" if how == "stop_after" else how
    assert "stopped after" in err and f"({said})" in err, err


BACKPRESSURE = """
    import resource
    import d4p
    from test_multi import _SlowCounter

    class Producer(d4p.ProducerPE):
        def _process(self, inputs):
            for i in range(200_000):
                self.write("output", i)

    graph = d4p.WorkflowGraph()
    graph.connect(Producer(), "output", _SlowCounter(), "input")
    result = d4p.run(graph, mapping="multi", processes=2, start_method="fork", queue_size=4)
    print(list(result.values()), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def test_backpressure_keeps_memory_flat_with_a_slow_consumer():
    """200,000 units into a consumer 10x slower: the producer is held back
    by the bounded queues instead of buffering everything. Measured in a
    process of its own: the peak of a process's children covers every child
    it ever had (other tests' workers)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(BACKPRESSURE)],
                          capture_output=True, text=True, timeout=300,
                          cwd=os.path.dirname(__file__))
    assert done.returncode == 0, done.stderr
    counted, peak_kb = done.stdout.rsplit(" ", 1)
    assert counted == "[{'output': [200000]}]"
    assert int(peak_kb) < 300 * 1024


class _SlowCounter(d4p.GenericPE):
    def __init__(self):
        super().__init__()
        self._add_input("input")
        self._add_output("output")
        self.n = 0

    def process(self, inputs):
        self.n += 1
        for _ in range(20):
            pass

    def postprocess(self):
        self.write("output", self.n)


class ArraySource(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(20):
            self.write("output", np.full(200_000, float(i)))


class Scale(d4p.IterativePE):
    def _process(self, a):
        a *= 2  # arrays arrive writable
        return float(a.sum())


def test_numpy_arrays_cross_processes_intact_and_writable():
    graph = d4p.WorkflowGraph()
    scale = Scale()
    scale.numprocesses = 2
    graph.connect(ArraySource(), "output", scale, "input")
    result = d4p.run(graph, mapping="multi", processes=3)
    (out,) = result.values()
    assert sorted(out["output"]) == [2.0 * i * 200_000 for i in range(20)]


def test_print_lines_from_processes_do_not_interleave(tmp_path):
    wf = tmp_path / "talk.py"
    wf.write_text(textwrap.dedent("""
        from d4p import WorkflowGraph, ProducerPE, ConsumerPE

        class Numbers(ProducerPE):
            def _process(self, inputs):
                for i in range(400):
                    self.write("output", i)

        class Talk(ConsumerPE):
            def _process(self, x):
                print(f"line {x} " + "x" * 300)

        graph = WorkflowGraph()
        talk = Talk()
        talk.numprocesses = 3
        graph.connect(Numbers(), "output", talk, "input")
    """))
    done = subprocess.run([sys.executable, "-m", "d4p", "run", str(wf), "--mapping", "multi",
                           "-n", "4"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("line ")]
    broken = [line[:80] for line in lines if not line.endswith(" " + "x" * 300)
              or line.count("line ") != 1]
    assert broken == []
    assert sorted(int(line.split()[1]) for line in lines) == list(range(400))


STREAM_USERS = """
    import subprocess
    import sys

    from d4p import ConsumerPE, ProducerPE, WorkflowGraph

    class Numbers(ProducerPE):
        def _process(self, inputs):
            for i in range(3):
                self.write("output", i)

    class Tool(ConsumerPE):
        def _process(self, x):
            sys.stdout.buffer.write("bytes %d \\u00e9\\n".encode() % x)
            print(f"encoding {sys.stdout.encoding} {x}")
            sys.stdout.flush()
            subprocess.run(["echo", f"tool {x}"], stdout=sys.stdout, check=True)
            subprocess.run(["sh", "-c", f"echo tool-err {x} >&2"], stderr=sys.stderr,
                           check=True)

    graph = WorkflowGraph()
    tool = Tool()
    tool.numprocesses = 2
    graph.connect(Numbers(), "output", tool, "input")
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_pe_may_use_its_streams_as_files(tmp_path, start_method):
    # stdout.buffer, stdout.fileno() (a tool run with stdout=sys.stdout) and
    # stdout.encoding, as in the simple mapping. Before: AttributeError: '_Lines'
    # object has no attribute 'buffer'; UnsupportedOperation: fileno; None
    (tmp_path / "tool.py").write_text(textwrap.dedent(STREAM_USERS))
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "tool.py", "-m", "multi", "-n",
                           "3", "--start-method", start_method], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    for x in range(3):
        assert f"bytes {x} \u00e9" in out and f"encoding utf-8 {x}" in out
        assert f"tool {x}" in out and f"tool-err {x}" in done.stderr.splitlines()


@pytest.mark.parametrize("parent_has_numpy", [True, False])
def test_workers_share_the_cores_among_native_thread_pools(parent_has_numpy):
    """Each worker's BLAS gets its share of the cores (one thread per core per
    process would oversubscribe them): limited in the parent when it has the
    BLAS loaded already (threadpoolctl), through the environment otherwise
    (without importing threadpoolctl, which costs more than a small run)."""
    script = textwrap.dedent(f"""
        import sys
        import d4p
        if {parent_has_numpy}:
            import numpy

        @d4p.producer
        def ask():
            yield from range(2)

        @d4p.iterative
        def blas_threads(_):
            import numpy  # loads the BLAS here when the parent has not
            from threadpoolctl import threadpool_info
            return sorted({{p["num_threads"] for p in threadpool_info()
                           if p["user_api"] == "blas"}})

        graph = d4p.WorkflowGraph()
        threads = blas_threads()
        threads.numprocesses = 2
        graph.connect(ask(), "output", threads, "input")
        result = d4p.run(graph, mapping="multi", processes=2)
        assert result.summary.processes == 2
        (values,) = [ports["output"] for ports in result.values()]
        print(values, "threadpoolctl" in sys.modules)
    """)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = [max(1, (os.cpu_count() or 1) // 2)]
    limited_here = parent_has_numpy and (os.cpu_count() or 1) > 1  # one core: nothing to share
    assert done.stdout.split("\n")[0] == f"{[expected] * 2} {limited_here}"


class _Where(d4p.GenericPE):
    """Writes (instance, numprocesses) of the instance that ran, once."""

    def __init__(self, grouping=None, numprocesses=3):
        super().__init__(numprocesses=numprocesses)
        self._add_input("input", grouping=grouping)
        self._add_output("output")
        self.said = False

    def process(self, inputs):
        if not self.said:
            self.said = True
            return {"output": (self.instance, self.numprocesses)}


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_an_instance_knows_how_many_instances_the_plan_made(mapping):
    fed = d4p.WorkflowGraph()
    many = _Where([0])
    fed.connect(Pairs(30, keys=30), "output", many, "input")
    result = d4p.run(fed, mapping=mapping, processes=2)
    assert sorted(result[many.id]["output"]) == [(0, 3), (1, 3), (2, 3)]

    one = _Where("global")  # asked for 3, 'global' makes one
    fed = d4p.WorkflowGraph()
    fed.connect(Pairs(30, keys=30), "output", one, "input")
    assert d4p.run(fed, mapping=mapping, processes=2)[one.id]["output"] == [(0, 1)]

    source = _Where()  # given its data as the run's inputs: a source, one instance
    alone = d4p.WorkflowGraph()
    alone.add(source)
    result = d4p.run(alone, {source: [{"input": k} for k in range(5)]}, mapping=mapping)
    assert result[source.id]["output"] == [(0, 1)]


class _PidNumbers(d4p.ProducerPE):
    """Writes (k, its pid) for k in 0..n-1."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def _process(self, inputs):
        for k in range(self.n):
            self.write("output", (k, os.getpid()))


class _WaitsForTheOther(d4p.GenericPE):
    """Shuffled over two instances, one in the producer's process: there each
    call is long (2 ms) and, after the first, waits until the other instance
    has got the unit written just before; writes (k, whether it came)."""

    def __init__(self, folder: str) -> None:
        super().__init__(numprocesses=2)
        self._add_input("input")
        self._add_output("output")
        self.folder = folder
        self.calls = 0

    def process(self, inputs):
        k, producer = inputs["input"]
        marker = Path(self.folder, f"got-{k}")
        if os.getpid() != producer:  # the other process
            marker.touch()
            return None
        self.calls += 1
        time.sleep(0.002)  # long calls (over 1 ms), shorter than the batches' latency (10 ms)
        if self.calls == 1:
            return None
        deadline = time.monotonic() + 10  # hang guard: without the flush it never comes
        before = Path(self.folder, f"got-{k - 1}")
        while not before.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return {"output": (k, before.exists())}


def test_units_for_another_worker_do_not_wait_for_a_long_local_call(tmp_path):
    graph = d4p.WorkflowGraph()
    waits = _WaitsForTheOther(str(tmp_path))
    graph.connect(_PidNumbers(8), "output", waits, "input")
    result = d4p.run(graph, mapping="multi", processes=2)
    got = result[waits.id]["output"]
    assert len(got) == 3 and all(came for _, came in got), got


class _FreezeCount(d4p.ProducerPE):
    """Writes the number of objects in the collector's permanent generation."""

    def _process(self, inputs):
        import gc

        self.write("output", gc.get_freeze_count())


def test_forked_workers_leave_what_they_inherited_out_of_their_collections():
    """Under fork the objects of the parent are in the workers' permanent
    generation (their full collections skip them: no time spent on them, no
    page shared with the parent copied); the parent's collector is as before."""
    import gc

    made_before = [[k] for k in range(20_000)]  # 20,000 lists the collector tracks
    before = gc.get_freeze_count()
    frozen = {}
    for start_method in ("fork", "spawn"):
        graph = d4p.WorkflowGraph()
        graph.add(count := _FreezeCount())
        result = d4p.run(graph, mapping="multi", processes=2, start_method=start_method)
        (frozen[start_method],) = result[count.id]["output"]
        assert gc.get_freeze_count() == before
    assert frozen["fork"] >= len(made_before) and frozen["spawn"] == 0, frozen

    gc.freeze()  # a parent that froze objects itself (made_before too) keeps them frozen
    try:
        graph = d4p.WorkflowGraph()
        graph.add(count := _FreezeCount())
        d4p.run(graph, mapping="multi", processes=2)
        assert gc.get_freeze_count() >= len(made_before)
    finally:
        gc.unfreeze()


class _MeetAtTheEnd(d4p.GenericPE):
    """A 'global' sink whose postprocess marks that it started, then waits
    (10 s at most) for the other sink's mark; writes (its name, whether it came)."""

    def __init__(self, folder: str, me: str, other: str) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.folder, self.me, self.other = folder, me, other

    def process(self, inputs):
        return None

    def postprocess(self):
        Path(self.folder, self.me).touch()
        deadline = time.monotonic() + 10  # hang guard: without the fix the mark never comes
        mark = Path(self.folder, self.other)
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.write("output", (self.me, mark.exists()))


def test_the_end_of_stream_for_another_worker_does_not_wait_for_a_postprocess_here(tmp_path):
    """An instance that finishes tells the workers of its remote downstream
    first, then runs the end of its local downstream: a long postprocess here
    (the xcorr summary's CSV) no longer holds back one there (the record
    section's drawing), so both run at the same time."""
    source = NumberProducer(3)
    here = _MeetAtTheEnd(str(tmp_path), "here", "there")
    there = _MeetAtTheEnd(str(tmp_path), "there", "here")
    graph = d4p.WorkflowGraph()
    graph.connect(source, "output", here, "input")
    graph.connect(source, "output", there, "input")
    graph.partitions = [[source, here], [there]]
    plan = make_plan(graph, 2)  # the plan lists the local one first
    (first,) = plan.by_pe[source.id]
    assert [plan.instances[t].process for t in plan.downstream[first]] == [0, 1]
    result = d4p.run(graph, mapping="multi", processes=2)
    assert sorted(result[here.id]["output"] + result[there.id]["output"]) == [
        ("here", True), ("there", True)]
