"""Data plane v2 on the multi mapping: functions travel under spawn, large
arrays stay bounded and intact, workers that send to each other finish,
SIGTERM and SIGKILL leave no process behind, option values are checked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import d4p
import numpy as np
import pytest
from d4p.testing.workflows import (
    ENDLESS_FILE,
    PeakMemory,
    large_arrays,
    masked_and_strided,
    mutual,
    tallied,
    unloadable,
    unpicklable,
)

MAPPINGS = [("multi", {"start_method": "fork"}), ("multi", {"start_method": "spawn"})]


def _session_pids(sid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = open(f"/proc/{entry.name}/stat", "rb").read()  # noqa: SIM115
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[3]) == sid and fields[0] != b"Z":
                found.append(int(entry.name))
    return found


def _wait_gone(sid: int, seconds: float) -> list[int]:
    end = time.monotonic() + seconds
    while _session_pids(sid) and time.monotonic() < end:
        time.sleep(0.05)
    return _session_pids(sid)


def _catches(pid: int, *signums: int) -> bool:
    """Whether process ``pid`` has handlers for every signal of ``signums``."""
    try:
        status = open(f"/proc/{pid}/status").read()  # noqa: SIM115
    except OSError:
        return False
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:"))
                 .split()[1], 16)
    return all(caught >> (signum - 1) & 1 for signum in signums)


def _numbers(n):
    @d4p.producer
    def numbers():
        yield from range(n)

    return numbers()


def _lambda_graphs():
    """(graph, PE whose output is checked) for each shape that must travel."""
    shapes = {}
    # a PE holding a lambda, fed through a lambda group-by key
    class Scaled(d4p.GenericPE):  # a class made inside a function
        def __init__(self):
            super().__init__()
            self._add_input("input", grouping=d4p.group_by(key=lambda x: x % 3))
            self._add_output("output")
            self.f = lambda x: x * 10

        def process(self, inputs):
            return {"output": self.f(inputs["input"])}

    g = d4p.WorkflowGraph()
    scaled = Scaled()
    scaled.numprocesses = 3
    g.connect(_numbers(30), "output", scaled, "input")
    shapes["lambda"] = (g, scaled, sorted(10 * i for i in range(30)))

    def add_one(x):
        return x + 1

    def double(x):
        return 2 * x

    g = d4p.WorkflowGraph()
    chain = d4p.create_iterative_chain([add_one, double])
    g.connect(_numbers(20), "output", chain, "input")
    shapes["chain"] = (g, chain, sorted(2 * (i + 1) for i in range(20)))

    Made = type("Made", (d4p.IterativePE,), {"_process": lambda self, x: -x})
    g = d4p.WorkflowGraph()
    made = Made()
    made.numprocesses = 2
    g.connect(_numbers(10), "output", made, "input")
    shapes["runtime_class"] = (g, made, sorted(-i for i in range(10)))
    return shapes


@pytest.mark.parametrize("shape", ["lambda", "chain", "runtime_class"])
@pytest.mark.parametrize(("mapping", "options"), MAPPINGS, ids=["fork", "spawn"])
def test_functions_travel(shape, mapping, options):
    graph, pe, want = _lambda_graphs()[shape]
    simple = d4p.run(graph)
    got = d4p.run(graph, mapping=mapping, processes=3, **options)
    (outputs,) = [units for ports in got.values() for units in ports.values()]
    (reference,) = [units for ports in simple.values() for units in ports.values()]
    assert sorted(outputs) == sorted(reference) == want


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_script_read_from_standard_input_runs_on_spawned_workers(start_method):
    """``python - < script.py``: ``__main__.__file__`` is ``'<stdin>'``.
    Before, every spawned worker tried to run that path again and died
    (exit status 1, multiprocessing's FileNotFoundError tracebacks)."""
    script = textwrap.dedent(f"""
        import d4p

        class Times(d4p.IterativePE):
            def __init__(self, f):
                super().__init__()
                self.f = f

            def _process(self, x):
                return self.f(x)

        @d4p.producer
        def numbers():
            yield from range(10)

        times = Times(lambda x: x * 7)
        times.numprocesses = 2
        graph = d4p.WorkflowGraph()
        graph.connect(numbers(), "output", times, "input")
        result = d4p.run(graph, mapping="multi", processes=3, start_method={start_method!r})
        print(sorted(result[times.id]["output"]))
    """)
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str([7 * i for i in range(10)])]


def test_an_open_file_under_spawn_is_one_clear_error(tmp_path):
    graph, pe, _ = _lambda_graphs()["lambda"]
    pe.log = open(tmp_path / "log.txt", "w")  # noqa: SIM115
    try:
        with pytest.raises(d4p.UsageError, match=rf"PE {pe.id!r} attribute 'log' "
                                                 r"\(TextIOWrapper\) cannot be sent"):
            d4p.run(graph, mapping="multi", processes=3, start_method="spawn")
    finally:
        pe.log.close()


@pytest.mark.parametrize("buffer_mb", [1, 8])
def test_large_arrays_through_a_small_budget_arrive_intact(buffer_mb):
    result = d4p.run(large_arrays(60), mapping="multi", processes=4, buffer_mb=buffer_mb)
    (ports,) = result.values()
    assert ports["output"] == [(60, 60)]


class _Kinds(d4p.ProducerPE):
    """Arrays of every memory layout that travels out of band (64 KiB or more)."""

    def _process(self, inputs):
        for number, unit in enumerate(_kinds()):
            self.write("output", (number, unit))


class _Passed(d4p.IterativePE):
    def _process(self, unit):
        return unit


def _kinds() -> list:
    rng = np.random.default_rng(5)
    big = rng.standard_normal((600, 500))
    return [big.astype(np.float32), big * 1j + big, (big * 100).astype(np.int8), big > 0,
            np.asfortranarray(big), big[::3, ::2], big.T,
            np.arange(100_000).astype("datetime64[s]"),
            np.zeros(20_000, dtype=[("t", "f8"), ("n", "i4")]),
            {"a": big, "b": [big[:200], bytearray(100_000)]}]


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_arrays_of_every_layout_arrive_bit_for_bit(start_method):
    graph = d4p.WorkflowGraph()
    src, passed = _Kinds(), _Passed()
    passed.numprocesses = 2
    graph.connect(src, "output", passed, "input")  # worker to worker, then to the parent
    result = d4p.run(graph, mapping="multi", processes=3, start_method=start_method)
    got = sorted(result[passed.id]["output"], key=lambda unit: unit[0])
    got = [unit for _, unit in got]
    want = _kinds()
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if isinstance(w, dict):
            assert np.array_equal(g["a"], w["a"]) and np.array_equal(g["b"][0], w["b"][0])
            assert g["b"][1] == w["b"][1]
        else:
            assert g.dtype == w.dtype and g.shape == w.shape and np.array_equal(g, w)
            assert g.flags.f_contiguous == w.flags.f_contiguous


class _Arrays(d4p.ProducerPE):
    def __init__(self, count: int, nbytes: int) -> None:
        super().__init__()
        self.count, self.nbytes = count, nbytes

    def _process(self, inputs):
        for i in range(self.count):
            self.write("output", np.full(self.nbytes // 8, float(i)))


class _DoubledGrowth(d4p.IterativePE):
    """Doubles arrays; at the end writes how much its process's peak RSS grew."""

    def preprocess(self):
        self.peak = PeakMemory()

    def _process(self, a):
        return a * 2.0

    def postprocess(self):
        self.write("output", ("grew", self.peak.growth()))


class _SumAndGrowth(d4p.GenericPE):
    def __init__(self) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.total, self.grew = 0.0, []

    def process(self, inputs):
        unit = inputs["input"]
        if isinstance(unit, tuple):
            self.grew.append(unit[1])
        else:
            self.total += float(unit[0])

    def postprocess(self):
        self.write("output", (self.total, max(self.grew)))


def test_workers_in_a_false_circle_keep_to_their_budget():
    """The source and the 'global' end share a process; the middle PE's
    workers send back to it while it sends to them. That process keeps
    reading what they send (it is not stuck), so they must not read past
    their budget: before, they did, and each held a third of the stream
    (about 240 MiB here, growing with the number of arrays)."""
    count, buffer_mb = 400, 32
    doubled = _DoubledGrowth()
    doubled.numprocesses = 3
    graph = d4p.WorkflowGraph()
    graph.connect(_Arrays(count, 4 << 20), "output", doubled, "input")
    graph.connect(doubled, "output", _SumAndGrowth(), "input")
    result = d4p.run(graph, mapping="multi", processes=4, buffer_mb=buffer_mb)
    (ports,) = result.values()
    ((total, grew),) = ports["output"]
    assert total == 2 * sum(range(count))
    assert grew < 2 * buffer_mb << 20, f"a worker grew by {grew >> 20} MiB"


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_masked_arrays_and_strided_views_travel_in_bounded_memory(start_method):
    """A worker holds about two units at a time: one it works on, one it has
    read. Before, NumPy pickled masked arrays and strided views with their
    bytes inside the pickle, copied again into it and out of it: workers
    that forward 16 MiB masked arrays peaked 5 units above their start."""
    count, nbytes = 6, 40 << 20  # over 32 MiB: freed at once (see keep_freed_memory)
    result = d4p.run(masked_and_strided(count, nbytes), mapping="multi", processes=4,
                     buffer_mb=8, start_method=start_method)
    (ports,) = result.values()
    ((good, grew),) = ports["output"]
    assert good == count
    assert grew < 4 * nbytes, f"a worker grew by {grew / nbytes:.1f} units"  # the bug: 8


class _Spread(d4p.ProducerPE):
    """Writes ``count`` arrays of ``nbytes``; at the end, on ``grew``, how
    much its process's peak RSS grew."""

    def __init__(self, count: int, nbytes: int) -> None:
        super().__init__()
        self._add_output("grew")
        self.count, self.nbytes = count, nbytes

    def preprocess(self):
        self.peak = PeakMemory()

    def _process(self, inputs):
        for i in range(self.count):
            self.write("output", np.full(self.nbytes // 8, float(i)))

    def postprocess(self):
        self.write("grew", self.peak.growth())


class _First(d4p.IterativePE):
    def _process(self, array):
        return float(array[0])


def test_a_worker_sending_to_many_workers_holds_no_unit_it_has_sent():
    """Each writer thread (one per destination) kept the last message it had
    written until the next one for its destination: a source spreading
    36 MiB arrays over 6 workers held 7 of them, whatever ``buffer_mb``.
    Now 2 (one being written, the next made), or 3 when a flush that waits
    for room runs beside the source (see ``_SourceCalls``)."""
    count, nbytes = 12, 36 << 20
    spread, first = _Spread(count, nbytes), _First()
    first.numprocesses = 6
    graph = d4p.WorkflowGraph()
    graph.connect(spread, "output", first, "input")
    result = d4p.run(graph, mapping="multi", processes=7, buffer_mb=8)
    assert sorted(result[first.id]["output"]) == [float(i) for i in range(count)]
    (grew,) = result[spread.id]["grew"]
    assert grew < 4 * nbytes, f"the source grew by {grew / nbytes:.1f} arrays"


class _Full(d4p.IterativePE):
    """``i`` → an array of ``nbytes``, all ``i``."""

    def __init__(self, nbytes: int) -> None:
        super().__init__()
        self.nbytes = nbytes

    def _process(self, i):
        return np.full(self.nbytes // 8, float(i))


class _SlowFirsts(d4p.GenericPE):
    """'global', 0.1 s a unit: writes the first value of every array, then how
    much its process's peak RSS grew."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.firsts: list[float] = []

    def preprocess(self):
        self.peak = PeakMemory()

    def process(self, inputs):
        time.sleep(0.1)
        self.firsts.append(float(inputs["input"][0]))

    def postprocess(self):
        self.write("output", (sorted(self.firsts), self.peak.growth()))


def test_a_worker_fed_by_many_workers_reads_within_its_budget():
    """The reader read a message from every pipe that had one before it
    looked at the budget again: a slow 'global' PE fed 36 MiB arrays by 6
    workers held 5 of them with ``buffer_mb=8`` (on mpi: 1). Now 1 or 2 (one
    processed, one read)."""
    count, nbytes = 18, 36 << 20
    full, slow = _Full(nbytes), _SlowFirsts()
    full.numprocesses = 6
    graph = d4p.WorkflowGraph()
    graph.connect(_numbers(count), "output", full, "input")
    graph.connect(full, "output", slow, "input")
    result = d4p.run(graph, mapping="multi", processes=8, buffer_mb=8)
    ((firsts, grew),) = result[slow.id]["output"]
    assert firsts == [float(i) for i in range(count)]
    # 1 or 2 as a rule; 3 when the next unit is read while the last one
    # processed is still referenced (a loaded host): the bug held 5 or more
    assert grew < 4 * nbytes, f"the 'global' PE's process grew by {grew / nbytes:.1f} arrays"


class _Tagged(d4p.IterativePE):
    def _process(self, unit):
        return (unit % 17, unit, np.ones(1 << 20))  # 8 MiB: larger than half the budget


class _TwoPorts(d4p.GenericPE):
    """Both inputs grouped by key; writes (port, number) for each unit."""

    def __init__(self) -> None:
        super().__init__(numprocesses=4)
        self._add_input("input", grouping=[0])
        self._add_input("side", grouping=[0])
        self._add_output("output")

    def process(self, inputs):
        for port, (_, number, array) in inputs.items():
            self.write("output", (port, number, array))


class _Tenths(d4p.GenericPE):
    def __init__(self) -> None:
        super().__init__(numprocesses=2)
        self._add_input("input", grouping="all")
        self._add_output("output")

    def process(self, inputs):
        key, number, array = inputs["input"]
        if number % 10 == 0:
            return {"output": (key, -number - 1, array)}


class _PortAndSum(d4p.IterativePE):
    def _process(self, unit):
        port, number, array = unit
        return (port, number, float(array.sum()))


class _CountPorts(d4p.GenericPE):
    def __init__(self) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.seen: dict = {}

    def process(self, inputs):
        port, number, total = inputs["input"]
        count, numbers, totals = self.seen.get(port, (0, 0, 0.0))
        self.seen[port] = (count + 1, numbers + number, totals + total)

    def postprocess(self):
        self.write("output", sorted(self.seen.items()))


@pytest.mark.timeout(120)  # a hang guard: before, the workers waited for each other forever
def test_many_to_many_with_units_larger_than_the_budget_finishes():
    """Instances of several PEs in every worker, sending to each other both
    ways; each worker's budget is spent by one unit. Before, a worker whose
    send to one worker waited (the budget counts the bytes queued for all)
    named only that one as the worker it waited for, so the circle through
    the worker that really held it up was never found."""
    count = 40
    tagged, two_ports, port_sum = _Tagged(), _TwoPorts(), _PortAndSum()
    tagged.numprocesses = port_sum.numprocesses = 3
    tenths = _Tenths()
    graph = d4p.WorkflowGraph()
    graph.connect(_numbers(count), "output", tagged, "input")
    graph.connect(tagged, "output", two_ports, "input")
    graph.connect(tagged, "output", tenths, "input")
    graph.connect(tenths, "output", two_ports, "side")
    graph.connect(two_ports, "output", port_sum, "input")
    graph.connect(port_sum, "output", _CountPorts(), "input")
    result = d4p.run(graph, mapping="multi", processes=3, buffer_mb=8)
    (ports,) = result.values()
    side = [-n - 1 for n in range(0, count, 10)] * 2  # from each of the 2 instances
    assert ports["output"] == [[("input", (count, sum(range(count)), count * float(1 << 20))),
                                ("side", (len(side), sum(side), len(side) * float(1 << 20)))]]


def test_workers_sending_to_each_other_with_tiny_queues_finish():
    result = d4p.run(mutual(3000, keys=7), mapping="multi", processes=2, batch_size=1,
                     queue_size=1, buffer_mb=1)
    (ports,) = result.values()
    assert ports["output"] == [(6000, sum(range(6000)))]


ENDLESS = ENDLESS_FILE


def _start(tmp_path, mapping: str = "multi", *extra: str, source: str = ENDLESS
           ) -> subprocess.Popen:
    wf = tmp_path / "endless.py"
    wf.write_text(textwrap.dedent(source))
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "-m", mapping,
                             "-n", "2", "-q", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    processes = 3 if mapping == "multi" else 1
    deadline = time.monotonic() + 30
    while len(_session_pids(proc.pid)) < processes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_session_pids(proc.pid)) >= processes, "the workers did not start"
    while not _catches(proc.pid, signal.SIGINT, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.05)  # d4p's handlers are installed: the run has begun
    assert _catches(proc.pid, signal.SIGINT, signal.SIGTERM), "d4p did not handle signals"
    time.sleep(0.5)
    return proc


def _end(proc: subprocess.Popen) -> None:
    for pid in _session_pids(proc.pid):
        os.kill(pid, signal.SIGKILL)
    proc.wait(5)


@pytest.mark.parametrize("to", ["d4p", "group"])
@pytest.mark.parametrize("mapping", ["simple", "multi"])
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_an_endless_source_gracefully(tmp_path, how, mapping, to):
    """To d4p alone (kill PID) or to its whole process group (Ctrl-C,
    systemd, batch schedulers): before, a worker that got SIGTERM itself
    ended at once and the run failed (exit 1, no output, no postprocess)."""
    proc = _start(tmp_path, mapping)
    try:
        if to == "group":
            os.killpg(proc.pid, getattr(signal, how))
        else:
            proc.send_signal(getattr(signal, how))
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert _wait_gone(proc.pid, 2) == []
        lines = out.decode().splitlines()
        assert lines[0] == "Count1.output: 1 value"  # postprocess ran and wrote
        assert int(lines[1]) > 0
        assert "stopped after" in err.decode() and f"({how})" in err.decode()
        assert "stopping the sources" not in err.decode()  # said on a terminal only
    finally:
        _end(proc)


def _spawned_workers(pid: int) -> list[int]:
    """Processes of ``pid``'s session that multiprocessing spawned as workers."""
    found = []
    for child in _session_pids(pid):
        try:
            cmdline = open(f"/proc/{child}/cmdline", "rb").read()  # noqa: SIM115
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(child)
    return found


@pytest.mark.parametrize("to", ["d4p", "group"])
def test_a_signal_while_spawned_workers_still_import_stops_gracefully(tmp_path, to):
    """Before, the stop passed on to a worker still importing (or the group's
    own signal) raised KeyboardInterrupt inside an import or killed it: exit
    1, tracebacks of every worker, no output."""
    wf = tmp_path / "endless.py"
    wf.write_text(ENDLESS)
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "-m", "multi", "-n",
                             "2", "-q", "--start-method", "spawn"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (_catches(proc.pid, signal.SIGINT, signal.SIGTERM)
                   and len(_spawned_workers(proc.pid)) == 2) and time.monotonic() < deadline:
            time.sleep(0.002)
        booting = [w for w in _spawned_workers(proc.pid) if not _catches(w, signal.SIGTERM)]
        if to == "group":
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        assert booting, "the workers were ready before the signal: nothing was tested"
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()
        assert out.decode().splitlines()[0] == "Count1.output: 1 value"
        assert "stopped after" in err.decode() and "Traceback" not in err.decode()
        assert _wait_gone(proc.pid, 2) == []
    finally:
        _end(proc)


SLOW_MAIN = """
import os
import sys
import time

import d4p
from d4p.testing.workflows import endless

if __name__ == "__mp_main__":  # a worker imports the main script again, slowly (heavy imports)
    open(os.path.join(sys.argv[1], f"importing-{os.getpid()}"), "w").close()
    time.sleep(60)

if __name__ == "__main__":
    d4p.run(endless(), mapping="multi", processes=2, start_method=sys.argv[2])
"""


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_workers_still_importing_the_main_script_die_with_d4p(tmp_path, start_method):
    """Before, a worker died with its parent only once it had imported the
    main script again: SIGKILL to the parent left both workers running for
    the rest of the import (60 s here; for ever for a script that blocks)."""
    script = tmp_path / "slow_main.py"
    script.write_text(SLOW_MAIN)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), start_method],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("importing-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        importing = [int(p.name.split("-")[1]) for p in tmp_path.glob("importing-*")]
        assert len(importing) == 2 and set(importing) <= set(_session_pids(proc.pid))
        proc.kill()
        proc.wait(5)
        assert _wait_gone(proc.pid, 10) == []
    finally:
        _end(proc)


def test_forkserver_workers_run_and_die_with_d4p(tmp_path):
    """The fork server, not d4p, is the workers' parent: before, each worker
    took that for a parent already gone and exited (status 3) at once."""
    wf = tmp_path / "finite.py"
    wf.write_text("from d4p.testing.workflows import mutual\n\ngraph = mutual(500, keys=7)\n")
    done = subprocess.run([sys.executable, "-m", "d4p", "run", str(wf), "-m", "multi", "-n", "3",
                           "-q", "--start-method", "forkserver"], capture_output=True, text=True,
                          timeout=120)  # in a process of its own: the fork server outlives a run
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].strip() == str((1000, sum(range(1000))))
    proc = _start(tmp_path, "multi", "--start-method", "forkserver")
    try:
        proc.kill()
        proc.wait(5)
        assert _wait_gone(proc.pid, 5) == []
    finally:
        _end(proc)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_second_signal_or_sigkill_leaves_no_process(tmp_path, how):
    proc = _start(tmp_path)
    try:
        slow = tmp_path / "endless.py"
        assert slow.exists()
        proc.send_signal(getattr(signal, how))
        if how == "SIGTERM":  # the first stops the sources; send the second at once
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=5)
        assert _wait_gone(proc.pid, 2) == []
        assert code in ((0, 143) if how == "SIGTERM" else (-9,))
    finally:
        _end(proc)


@pytest.mark.parametrize("mapping", ["simple", "multi"])
@pytest.mark.parametrize("args", [["--stop-after", "1s"], ["--max-units", "10000"]])
def test_stop_after_and_max_units_from_the_command_line(tmp_path, mapping, args):
    wf = tmp_path / "endless.py"
    wf.write_text(textwrap.dedent(ENDLESS))
    done = subprocess.run([sys.executable, "-m", "d4p", "run", str(wf), "-m", mapping, "-n", "2",
                           "-q", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    counted = int(done.stdout.splitlines()[1])
    if args[0] == "--max-units":
        assert counted == 10000
    else:
        assert counted > 0 and "stopped after" in done.stderr and "stop_after=1 s" in done.stderr


class _Tens(d4p.ProducerPE):
    """A finite source: ten units a run."""

    def _process(self, inputs):
        for i in range(10):
            self.write("output", i)


@pytest.mark.parametrize(("mapping", "options"), [("simple", {}), ("multi", {}),
                                                  ("multi", {"start_method": "spawn"})])
def test_max_units_is_the_reason_in_the_summary(mapping, options):
    """A source stopped at max_units: the summary says so as for any stop
    (before: summary.stopped was None, as if the source had ended by itself);
    the other sources still run to their own ends."""
    from d4p.testing.workflows import Count, Endless

    graph = d4p.WorkflowGraph()
    endless, tens = Count(), Count()
    graph.connect(Endless(), "output", endless, "input")
    graph.connect(_Tens(), "output", tens, "input")
    result = d4p.run(graph, mapping=mapping, processes=2, max_units=500, **options)
    assert result[endless.id] == {"output": [500]}
    assert result[tens.id] == {"output": [10]}
    assert result.summary.stopped == "max_units=500"
    assert "stopped after" in str(result.summary) and "(max_units=500)" in str(result.summary)
    finite = d4p.WorkflowGraph()
    finite.connect(_Tens(), "output", Count(), "input")  # 10 units: the limit is not reached
    assert d4p.run(finite, mapping=mapping, processes=2, max_units=500,
                   **options).summary.stopped is None


@pytest.mark.parametrize("how", [{"max_units": 500}, {"stop_after": 0.5}])
@pytest.mark.parametrize(("mapping", "options"), [("simple", {}), ("multi", {}),
                                                  ("multi", {"start_method": "spawn"})])
def test_a_stopped_source_writes_in_its_postprocess(mapping, options, how):
    """A stop ends a source's iteration at its next write; its postprocess
    runs and writes as any PE's. Before, the writes of a stopped source's
    postprocess raised the stop's own signal, and the run failed with
    ``_SourceStopped`` (on max_units and on any stop: stop_after, Ctrl-C)."""
    graph, source, count = tallied()
    result = d4p.run(graph, mapping=mapping, processes=2, **how, **options)
    ([counted],), ([tally],) = result[count.id].values(), result[source.id].values()
    if "max_units" in how:
        assert counted == tally == 500
    else:  # the write the stop ended was begun, not delivered (or it ended between two)
        assert tally in (counted, counted + 1)
        assert result.summary.stopped == "stop_after=0.5 s"


SLOW_END = ENDLESS.replace("endless()", "endless(pause_at_end=60)")


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_second_signal_during_a_slow_postprocess_aborts_at_once(tmp_path, mapping):
    assert SLOW_END != ENDLESS
    proc = _start(tmp_path, mapping, source=SLOW_END)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)  # the source has stopped; Count's postprocess sleeps
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)  # Count's postprocess would sleep 60 s: it was aborted
        assert code == 130
        assert _wait_gone(proc.pid, 2) == []
    finally:
        _end(proc)


ENDS_ITSELF = """
    import d4p
    from d4p.testing.workflows import Count

    class Feed(d4p.ProducerPE):
        \"\"\"A source whose one call would run forever, until its feed is done.\"\"\"

        def _process(self, inputs):
            i = 0
            while True:
                if i == 12345:  # the feed closed
                    raise d4p.StopSource
                self.write("output", i)
                i += 1

    graph = d4p.WorkflowGraph()
    graph.connect(Feed(), "output", Count(), "input")
"""


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_source_that_ends_itself_ends_the_run_like_a_finite_one(tmp_path, mapping):
    wf = tmp_path / "feed.py"
    wf.write_text(textwrap.dedent(ENDS_ITSELF))
    done = subprocess.run([sys.executable, "-m", "d4p", "run", str(wf), "-m", mapping, "-n", "2"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [line.strip() for line in done.stdout.splitlines()[:2]] == [
        "Count1.output: 1 value", "12345"]
    assert "Count1" in done.stderr and "stopped" not in done.stderr


def test_stop_source_from_a_pe_with_inputs_fails_the_run_naming_it():
    @d4p.iterative
    def picky(x):
        if x == 3:
            raise d4p.StopSource
        return x

    graph = d4p.WorkflowGraph()
    graph.connect(_numbers(5), "output", picky(), "input")
    with pytest.raises(d4p.WorkflowFailed) as failed:
        d4p.run(graph)
    assert str(failed.value).startswith(
        "PE 'picky1' (instance 0) failed on input 'input' with data 3: it raised "
        "d4p.StopSource, but only a source (a PE without inputs) can end itself")


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--queue-size", "-1"],
                                  ["--buffer-mb", "0"]])
def test_non_positive_sizes_are_usage_errors(tmp_path, args):
    wf = tmp_path / "wf.py"
    wf.write_text(textwrap.dedent("""
        import d4p

        @d4p.producer
        def numbers():
            yield from range(3)

        graph = d4p.WorkflowGraph()
        graph.add(numbers())
    """))
    done = subprocess.run([sys.executable, "-m", "d4p", "run", str(wf), "-m", "multi", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    name = args[0][2:].replace("-", "_")
    assert f"option {name!r} of mapping 'multi' must be at least 1" in done.stderr


class _SlowEndless(d4p.ProducerPE):
    """An endless source whose one call never returns, a unit per millisecond."""

    def _process(self, inputs):
        i = 0
        while True:
            time.sleep(0.001)
            self.write("output", i)
            i += 1


class _Burst(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(2000):
            self.write("output", i)


def test_a_source_that_never_returns_does_not_starve_its_process():
    """The endless source shares a process with a PE fed from another process:
    that PE's units are processed while the source runs, not at the stop."""

    @d4p.consumer
    def sink(x):
        pass

    @d4p.consumer
    def seen(x):
        pass

    graph = d4p.WorkflowGraph()
    slow, burst, consumer = _SlowEndless(), _Burst(), seen()
    graph.connect(slow, "output", sink(), "input")
    graph.connect(burst, "output", consumer, "input")
    graph.partitions = [[slow, consumer], [burst]]
    heard: list[dict] = []
    stop = __import__("threading").Event()

    def progress(counts):
        heard.append(dict(counts))
        if counts.get(consumer.id) == 2000:
            stop.set()

    result = d4p.run(graph, mapping="multi", processes=2, progress=progress, stop=stop,
                     stop_after=20)
    assert result.summary.stopped == "the stop event was set"
    assert result.summary.units[consumer.id] == 2000


_UNTRAVELLED = {  # workflow → (PE, what the line says after 'that cannot be', its end)
    "unpicklable": ("Locked1", "sent to", "(TypeError: cannot pickle '_thread.lock' object): ",
                    "; write data that pickle can copy (numbers, strings, NumPy arrays, and "
                    "tuples, lists and dicts of them), or run the workflow on one process"),
    # pickles, does not load: it was 'worker process 1 failed: TypeError: ...' (exit 1),
    # or a traceback for a result
    "unloadable": ("Gaps1", "loaded in", "(TypeError: Gap.__init__() missing 1 required "
                   "positional argument: 'reason'); ", "give a class whose __init__ takes "
                   "required arguments (an exception, say) a __reduce__, or write its fields "
                   "instead (a tuple or dict), or run the workflow on one process"),
}


@pytest.mark.parametrize("workflow", sorted(_UNTRAVELLED))
@pytest.mark.parametrize("where", ["between", "result"])
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_data_that_cannot_travel_is_one_line_naming_the_pe_and_output(
        tmp_path, workflow, where, start_method):
    (tmp_path / "wf.py").write_text(f"from d4p.testing.workflows import {workflow}\n\n"
                                    f"graph = {workflow}({where!r})\n")
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wf.py", "-m", "multi", "-n", "3",
                           "--start-method", start_method], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    pe, verb, reason, end = _UNTRAVELLED[workflow]
    to = "another process" if workflow == "unloadable" else "PE 'Unlocked2' in another process"
    to = to if where == "between" else "the process that started the run"
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"d4p: error: PE {pe!r} wrote data on output 'output' that cannot be "
                           f"{verb} {to} {reason}"), line
    assert line.endswith(end)
    graph = {"unpicklable": unpicklable, "unloadable": unloadable}[workflow](where)
    assert sum(d4p.run(graph).summary.units.values()) > 3  # one process: it runs


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_instances_of_a_class_of_the_workflow_file_travel_between_fresh_workers(
        tmp_path, start_method):
    # a dataclass of the workflow file as the data unit: fresh interpreters
    # get the class with the plan (by value) and cannot import the file's
    # module by name, so pickle refused it ('import of module ... failed')
    (tmp_path / "wf.py").write_text(textwrap.dedent("""
        from dataclasses import dataclass

        import d4p


        @dataclass
        class Reading:
            station: str
            value: int


        class Read(d4p.ProducerPE):
            def _process(self, inputs):
                for i in range(12):
                    self.write("output", Reading(f"ST{i % 3}", i))


        class Double(d4p.IterativePE):
            def _process(self, reading):
                return Reading(reading.station, 2 * reading.value)


        graph = d4p.WorkflowGraph()
        read, double = Read(), Double()
        double.numprocesses = 2
        graph.connect(read, "output", double, "input")
    """))
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wf.py", "-m", "multi", "-n", "3",
                           "--start-method", start_method, "-o", "out.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import json

    (values,) = json.loads((tmp_path / "out.json").read_text())["results"]["Double1"].values()
    assert sorted(map(str, values)) == sorted(
        f"Reading(station='ST{i % 3}', value={2 * i})" for i in range(12))


class Boxed(d4p.IterativePE):
    def _process(self, data):
        return {"n": data}


def test_unpicklable_data_names_every_pe_of_its_process_that_writes_to_that_input():
    # Boxed (clean) and Locked both feed Unlocked's input from one process: a
    # batch does not say which PE wrote which unit, so both are named (the
    # first route's PE alone was named: the clean one, here)
    from d4p.testing.workflows import Locked, Numbers, Unlocked

    graph = d4p.WorkflowGraph()
    numbers, boxed, locked, unlocked = Numbers(3), Boxed(), Locked(), Unlocked()
    graph.connect(numbers, "output", boxed, "input")
    graph.connect(boxed, "output", unlocked, "input")
    graph.connect(numbers, "output", locked, "input")
    graph.connect(locked, "output", unlocked, "input")
    graph.partitions = [[numbers, boxed, locked], [unlocked]]
    with pytest.raises(d4p.PEUsageError) as caught:
        d4p.run(graph, mapping="multi", processes=2)
    writers = " or ".join(f"PE {pe!r}" for pe in sorted([boxed.id, locked.id]))
    assert str(caught.value).startswith(
        f"{writers} wrote data on output 'output' that cannot be sent to PE {unlocked.id!r} in "
        "another process (TypeError: cannot pickle '_thread.lock' object): {'lock': <unlocked _thread.lock")
