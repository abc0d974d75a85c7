"""The components against Storm's multi-lang protocol, message by message,
and the harness against components that break it."""

import io
import os
import re
import threading

import d4p
import pytest
from d4p.plan import make_plan
from d4p.shipping import LocalFilesWarning
from d4p.testing import get_case, normalise
from d4p_storm import export, record
from d4p_storm.harness import (
    HarnessError,
    LocalCluster,
    ShellComponent,
    deep_hash,
    environment,
    java_hash,
)
from d4p_storm.shipping import decode, encode

pytestmark = pytest.mark.timeout(120)


def exported(tmp_path, case, name):
    graph, inputs = get_case(case).build()
    plan = make_plan(graph, 1, inputs)
    return plan, export(plan, tmp_path / name, name)


class Task:
    """A component task started with the topology's command line and spoken to
    as Storm's ShellBolt / ShellSpout would."""

    def __init__(self, project, pe_prefix, tmp_path, index=0):
        self.results = tmp_path / "results"
        self.results.mkdir(exist_ok=True)
        self.cluster = LocalCluster(project.folder, options={"d4p.results_dir": str(self.results)},
                                    log=io.StringIO())
        comp = next(c for c in project.topology.components if c.pe.startswith(pe_prefix))
        self.component = comp
        self.task_id = self.cluster.tasks_of[comp.name][index]
        self.pid_dir = tmp_path / "pids"
        self.pid_dir.mkdir(exist_ok=True)
        self.shell = ShellComponent(self.cluster.command(comp.name), str(project.folder / "src"),
                                    environment(), str(tmp_path / f"task{self.task_id}.stderr"),
                                    f"task {self.task_id}")
        self.pid = self.shell.handshake(self.cluster.conf, self.cluster.context(self.task_id),
                                        str(self.pid_dir))
        self.logs = []

    def send(self, message):
        self.shell.send(message)

    def until(self, done):
        """Messages up to the first for which ``done`` is true; logs go to ``self.logs``."""
        got = []
        while True:
            message = self.shell.read()
            if isinstance(message, dict) and message.get("command") == "log":
                self.logs.append(message)
                continue
            got.append(message)
            if done(message):
                return got

    def stop(self):
        self.shell.stop()


@pytest.fixture
def pipeline(tmp_path):
    return exported(tmp_path, "pipeline", "proto_pipeline")


def test_handshake_answers_its_pid_and_writes_the_pid_file(pipeline, tmp_path):
    plan, project = pipeline
    task = Task(project, "Double", tmp_path)
    try:
        assert task.pid == task.shell.proc.pid
        assert (task.pid_dir / str(task.pid)).exists()
        assert task.cluster.command(task.component.name) == \
            ["streamparse_run", f"-s json proto_pipeline_d4p.{task.component.name}"]
        context = task.cluster.context(task.task_id)
        assert context["componentid"] == task.component.name
        source = project.topology.spouts[0]
        assert context["source->stream->fields"] == {
            source.name: {"output": ["unit"], "d4p.eos": ["source"]}}
        assert context["task->component"][str(task.task_id)] == task.component.name
        task.send({"id": "hb1", "comp": "__system", "stream": "__heartbeat", "task": -1,
                   "tuple": []})
        assert task.until(lambda m: True) == [{"command": "sync"}]
        texts = [m["msg"] for m in task.logs]
        assert any(f"runs PE {task.component.pe} instance 0" in t for t in texts), texts
        assert (task.results / f"{task.component.name}.0.started").exists()
    finally:
        task.stop()


def test_bolt_emits_anchored_acks_and_forwards_end_of_stream(pipeline, tmp_path):
    plan, project = pipeline
    task = Task(project, "Double", tmp_path)
    source = project.topology.spouts[0]
    try:
        task.send({"id": "7", "comp": source.name, "stream": "output", "task": 1,
                   "tuple": [encode(21)]})
        emit, ack = task.until(lambda m: m.get("command") == "ack")
        assert emit == {"command": "emit", "tuple": [encode(42)], "anchors": ["7"],
                        "stream": "output", "need_task_ids": False}
        assert decode(emit["tuple"][0]) == 42
        assert ack == {"command": "ack", "id": "7"}
        task.send({"id": "8", "comp": source.name, "stream": "d4p.eos", "task": 1,
                   "tuple": [source.iids[0]]})
        eos, ack = task.until(lambda m: m.get("command") == "ack")
        assert eos == {"command": "emit", "tuple": [task.component.iids[0]], "anchors": ["8"],
                       "stream": "d4p.eos", "need_task_ids": False}
        assert ack == {"command": "ack", "id": "8"}
    finally:
        task.stop()
    got = record.read(str(task.results))
    assert got.done == 1 and got.failure is None
    assert got.counts == {task.component.pe: 1}


def test_postprocess_output_is_emitted_when_the_last_upstream_instance_ends(tmp_path):
    plan, project = exported(tmp_path, "grouping_global", "proto_global")
    task = Task(project, "Total", tmp_path)
    doubles = next(c for c in project.topology.components if c.pe.startswith("Double"))
    try:
        for n, value in enumerate([1, 2, 3]):
            task.send({"id": f"t{n}", "comp": doubles.name, "stream": "output", "task": 2,
                       "tuple": [encode(value)]})
            assert task.until(lambda m: "id" in m) == [{"command": "ack", "id": f"t{n}"}]
        for n, iid in enumerate(doubles.iids):
            task.send({"id": f"e{n}", "comp": doubles.name, "stream": "d4p.eos", "task": 2 + n,
                       "tuple": [iid]})
            got = task.until(lambda m: "id" in m)
            if n < len(doubles.iids) - 1:
                assert got == [{"command": "ack", "id": f"e{n}"}]
        result, eos, ack = got
        assert result["stream"] == "output" and decode(result["tuple"][0]) == (3, 6)
        assert result["anchors"] == eos["anchors"] == ["e2"]
        assert eos["stream"] == "d4p.eos" and ack == {"command": "ack", "id": "e2"}
    finally:
        task.stop()
    got = record.read(str(task.results))
    assert got.results == {task.component.pe: {"output": [(3, 6)]}}


def test_spout_answers_each_command_with_sync_and_ends_with_end_of_stream(pipeline, tmp_path):
    plan, project = pipeline
    task = Task(project, "Numbers", tmp_path)
    try:
        task.send({"command": "activate"})
        assert task.until(lambda m: True) == [{"command": "sync"}]
        emits, per_next = [], []
        while not any(e["stream"] == "d4p.eos" for e in emits):
            task.send({"command": "next"})
            got = task.until(lambda m: m.get("command") == "sync")
            emits += got[:-1]
            per_next.append(len(got) - 1)
        task.send({"command": "next"})
        assert task.until(lambda m: True) == [{"command": "sync"}]  # nothing left
        task.send({"command": "ack", "id": emits[0]["id"]})
        assert task.until(lambda m: True) == [{"command": "sync"}]
        task.send({"command": "fail", "id": emits[1]["id"]})
        assert task.until(lambda m: True) == [{"command": "sync"}]
    finally:
        task.stop()
    data = [e for e in emits if e["stream"] == "output"]
    assert [decode(e["tuple"][0]) for e in data] == list(range(50))
    assert len({e["id"] for e in emits}) == len(emits) == 51  # every tuple has a message id
    assert emits[-1]["tuple"] == [task.component.iids[0]]
    assert max(per_next) <= 100  # one bounded batch per next (WorkflowSpout.emit_batch)
    assert any("do not replay" in m["msg"] and m["level"] == 3 for m in task.logs)


def test_a_failing_pe_fails_its_tuple_and_reports_pe_port_and_data(tmp_path):
    plan, project = exported(tmp_path, "failure", "proto_failure")
    task = Task(project, "Fragile", tmp_path, index=1)
    spell = next(c for c in project.topology.components if c.pe.startswith("Spell"))
    try:
        task.send({"id": "1", "comp": spell.name, "stream": "output", "task": 2,
                   "tuple": [encode((5, "five")), 0]})
        error, fail = task.until(lambda m: m.get("command") == "fail")
        task.send({"id": "2", "comp": spell.name, "stream": "output", "task": 2,
                   "tuple": [encode((6, "six")), 0]})
        emit, ack = task.until(lambda m: m.get("command") == "ack")
    finally:
        task.stop()
    pe = task.component.pe
    assert fail == {"command": "fail", "id": "1"}
    assert error["command"] == "error"
    for part in (f"PE {pe!r} (instance 1)", "on input 'input'", "(5, 'five')",
                 "ValueError: cannot handle five", "Original traceback"):
        assert part in error["msg"]
    assert any(m["level"] == 4 and "cannot handle five" in m["msg"] for m in task.logs)
    assert decode(emit["tuple"][0]) == (6, "six") and ack["id"] == "2"  # it goes on
    failure = record.read(str(task.results)).failure
    assert isinstance(failure, d4p.WorkflowFailed)
    assert (failure.pe, failure.instance, failure.port, failure.data) == \
        (pe, 1, "input", "(5, 'five')")


def test_a_restarted_task_is_reported_and_processes_nothing(pipeline, tmp_path):
    plan, project = pipeline
    Task(project, "Double", tmp_path).stop()
    task = Task(project, "Double", tmp_path)
    try:
        source = project.topology.spouts[0]
        task.send({"id": "1", "comp": source.name, "stream": "output", "task": 1,
                   "tuple": [encode(1)]})
        error, ack = task.until(lambda m: m.get("command") == "ack")
    finally:
        task.stop()
    assert error["command"] == "error" and "was restarted" in error["msg"]
    failure = record.read(str(task.results)).failure
    assert "was restarted" in str(failure) and failure.pe == task.component.pe


@pytest.mark.parametrize(("value", "java"), [
    ("hello", 99162322), ("", 0), ("\U0001F600", 1772899), (5, 5), (-1, 0), (2**32, 1),
    (1.5, 1073217536), (True, 1231), (None, 0), ([5], 36), (["a", 1], (31 + 97) * 31 + 1),
])
def test_java_hash_codes(value, java):
    assert java_hash(value) == java


def test_deep_hash_wraps_like_java_ints():
    assert deep_hash(["hello", "world"]) == -1107615551


def rogue_project(tmp_path, body):
    """The pipeline project with Double's bolt process() replaced by ``body``."""
    plan, project = exported(tmp_path, "pipeline", "rogue")
    double = next(c for c in project.topology.components if c.pe.startswith("Double"))
    module = project.folder / "src" / "rogue_d4p.py"
    module.write_text(module.read_text() + f"\n\ndef _rogue(self, tup):\n{body}\n\n"
                      f"{double.name}.process = _rogue\n")
    return project


@pytest.mark.parametrize(("body", "error"), [
    ("    self.emit(['x'], stream='nowhere', anchors=[tup])",
     re.escape("emitted on undeclared stream 'nowhere'")),
    ("    self.emit(['x', 'y'], stream='output', anchors=[tup])",
     re.escape("whose fields are ['unit']")),
    ("    self.ack(tup)\n    self.ack(tup)", "had already acked"),
    ("    self.ack(tup)\n    self.emit(['x'], stream='output', anchors=[tup])",
     "anchored onto tuple"),
    # the harness's reader or writer of that task may notice first
    ("    import os\n    os._exit(3)",
     r"closed its pipes (before answering|while Storm was writing to it) \(exit status 3\)"),
])
def test_harness_stops_on_a_protocol_error(tmp_path, body, error):
    project = rogue_project(tmp_path, body)
    cluster = LocalCluster(project.folder, log=io.StringIO())
    with pytest.raises(HarnessError, match=error):
        cluster.run(seconds=60, until_idle=True)
    assert all(t.shell.proc.poll() is not None for t in cluster.tasks.values())
    assert cluster.workdir is None


def test_harness_detects_a_silent_bolt(tmp_path):
    project = rogue_project(tmp_path, "    import time\n    time.sleep(30)")
    cluster = LocalCluster(project.folder, options={"supervisor.worker.timeout.secs": 3},
                           log=io.StringIO())
    with pytest.raises(HarnessError, match="subprocess heartbeat timeout"):
        cluster.run(seconds=60, until_idle=True)
    assert all(t.shell.proc.poll() is not None for t in cluster.tasks.values())


def run_topology(project, tmp_path, seconds, **options):
    """Run ``project`` in the harness with Storm ``options`` until idle: its
    summary and the folder of the tasks' records."""
    results = tmp_path / "results"
    results.mkdir()
    cluster = LocalCluster(project.folder, log=io.StringIO(),
                           options={"d4p.results_dir": str(results), **options})
    return cluster.run(seconds=seconds, until_idle=True), results


def test_max_spout_pending_throttles_and_the_acker_completes_every_tree(pipeline, tmp_path):
    plan, project = pipeline
    summary, results = run_topology(project, tmp_path, 120,
                                    **{"topology.max.spout.pending": 2})
    spout = summary[project.topology.spouts[0].name]
    assert spout["emitted"] == 51 and spout["acked"] == 51 and spout["failed"] == 0
    got = record.read(str(results))
    assert got.done == len(plan.instances)
    want = d4p.run(*get_case("pipeline").build())
    total = next(pe for pe in got.results if pe.startswith("Total"))
    assert normalise({total: got.results[total]}) == normalise(
        {pe: ports for pe, ports in want.items() if pe.startswith("Total")})
    assert os.listdir(results)


class BrokenTotal(d4p.GenericPE):
    """Defined here, so it travels by value in the plan."""

    def __init__(self):
        super().__init__()
        self._add_input("input")
        self._add_output("output")

    def process(self, inputs):
        pass

    def postprocess(self):
        raise RuntimeError("disk full")


def test_a_failing_postprocess_fails_the_last_end_of_stream_and_still_forwards_it(tmp_path):
    from d4p.testing.workflows import Numbers

    graph = d4p.WorkflowGraph()
    src, broken = Numbers(3), BrokenTotal()
    graph.connect(src, "output", broken, "input")
    project = export(make_plan(graph, 1, {src: 1}), tmp_path / "p", "broken_post")
    task = Task(project, "BrokenTotal", tmp_path)
    try:
        task.send({"id": "e", "comp": src.id, "stream": "d4p.eos", "task": 1, "tuple": [0]})
        error, eos, fail = task.until(lambda m: m.get("command") == "fail")
    finally:
        task.stop()
    assert error["command"] == "error"
    assert f"PE {broken.id!r} (instance 0) failed in postprocess" in error["msg"]
    assert "RuntimeError: disk full" in error["msg"]
    assert eos["stream"] == "d4p.eos" and eos["anchors"] == ["e"]
    assert fail == {"command": "fail", "id": "e"}
    failure = record.read(str(task.results)).failure
    assert (failure.pe, failure.instance, failure.port) == (broken.id, 0, None)


class SlowReadings(d4p.ProducerPE):
    """One iteration of 60 s: a unit every half second (defined here, so it
    travels by value in the plan)."""

    def _process(self, inputs):
        import time

        for i in range(120):
            time.sleep(0.5)
            self.write("output", i)


@pytest.mark.timeout(300)
def test_a_60_s_source_iteration_streams_out_and_no_next_takes_a_second(tmp_path):
    from d4p.testing.workflows import Double

    graph = d4p.WorkflowGraph()
    source, double = SlowReadings(), Double()
    graph.connect(source, "output", double, "input")
    project = export(make_plan(graph, 1, {source: 1}), tmp_path / "p", "slow_source")
    # ShellSpout kills a spout silent in a command for topology.subprocess.timeout.secs
    summary, results = run_topology(project, tmp_path, 240,
                                    **{"topology.subprocess.timeout.secs": 5})
    spout = summary[project.topology.spouts[0].name]
    bolt = summary[project.topology.bolts[0].name]
    assert spout["emitted"] == 121 and spout["acked"] == 121  # 120 units and the end
    assert spout["slowest_next_s"] < 1.0, spout
    got = record.read(str(results))
    assert sorted(got.results[double.id]["output"]) == [2 * i for i in range(120)]
    # ShellBolt sends a heartbeat every second, though this bolt is never silent for one
    assert bolt["heartbeats"] >= 50, bolt


def test_the_subprocess_timeout_is_topology_subprocess_timeout_secs(tmp_path):
    project = rogue_project(tmp_path, "    import time\n    time.sleep(30)")
    cluster = LocalCluster(project.folder, log=io.StringIO(), options={
        "topology.subprocess.timeout.secs": 2, "supervisor.worker.timeout.secs": 30})
    with pytest.raises(HarnessError, match=r"subprocess heartbeat timeout \(2 s, "
                       r"topology.subprocess.timeout.secs\)"):
        cluster.run(seconds=60, until_idle=True)
    assert all(t.shell.proc.poll() is not None for t in cluster.tasks.values())


def test_shellbolt_max_pending_bounds_the_write_queue_not_the_unacked_tuples(tmp_path):
    """A bolt that acks only every fifth tuple gets them with max pending 2:
    ShellBolt's bound is on tuples not yet written to the process (with a bound
    on unacked tuples, this topology would stall until the message timeout)."""
    project = rogue_project(tmp_path, "\n".join([
        "    held = self.__dict__.setdefault('_held', [])",
        "    held.append(tup)",
        "    if len(held) >= 5 or tup.stream == 'd4p.eos':",
        "        for t in held:",
        "            WorkflowBolt.process(self, t)",
        "        held.clear()"]))
    summary, results = run_topology(project, tmp_path, 100, **{
        "topology.shellbolt.max.pending": 2, "topology.message.timeout.secs": 600})
    spout = summary[project.topology.spouts[0].name]
    assert spout["acked"] == 51 and spout["failed"] == 0
    got = record.read(str(results))
    assert got.done == sum(row["tasks"] for row in summary.values()) and got.failure is None


@pytest.mark.parametrize(("version", "conf", "pauses"), [
    ("1", {}, [0.001] * 4),  # SleepSpoutWaitStrategy, 1 ms
    ("1.2.4", {"topology.sleep.spout.wait.strategy.time.ms": 50}, [0.05] * 4),
    ("2", {}, [0.001] * 4),  # WaitStrategyProgressive with Storm 2's defaults
    ("2", {"topology.spout.wait.progressive.level1.count": 1,
           "topology.spout.wait.progressive.level2.count": 2,
           "topology.spout.wait.progressive.level3.sleep.millis": 20}, [0.0, 1e-9, 1e-9, 0.02]),
])
def test_an_idle_spout_waits_as_the_storm_versions_wait_strategy_says(pipeline, version, conf,
                                                                     pauses):
    plan, project = pipeline
    cluster = LocalCluster(project.folder, options=conf, log=io.StringIO(),
                           storm_version=version)
    assert [cluster.idle_pause(streak) for streak in (1, 2, 3, 4)] == pauses
    other = "topology.sleep.spout.wait.strategy.time.ms" if version.startswith("2") else \
        "topology.spout.wait.progressive.level3.sleep.millis"
    assert other not in cluster.conf  # each version has its own settings


def test_the_harness_plays_storm_1_or_2_only(pipeline):
    plan, project = pipeline
    with pytest.raises(HarnessError, match="Storm 1.x or 2.x, not '3.0'"):
        LocalCluster(project.folder, storm_version="3.0")


class Scale(d4p.IterativePE):
    def _process(self, data):
        i, values = data
        return i, values * 2


def test_msgpack_carries_arrays_as_pickle_bytes_and_round_trips_them(tmp_path):
    import numpy as np
    from d4p.testing.workflows import Arrays

    graph = d4p.WorkflowGraph()
    source, scale = Arrays(count=4, size=16_384), Scale()
    graph.connect(source, "output", scale, "input")
    plan = make_plan(graph, 1, {source: 1})
    project = export(plan, tmp_path / "p", "binary", serializer="msgpack")
    config = __import__("json").loads((project.folder / "config.json").read_text())
    assert config["serializer"] == "msgpack"
    # a bolt task spoken to in msgpack: the unit field is the pickle's bytes, no base64
    cluster = LocalCluster(project.folder, log=io.StringIO())
    comp = next(c for c in project.topology.components if c.pe.startswith("Scale"))
    argv = cluster.command(comp.name)
    assert argv[-1].startswith("-s msgpack ")
    (tmp_path / "pids").mkdir()
    shell = ShellComponent(argv, str(project.folder / "src"), environment(),
                           str(tmp_path / "scale.stderr"), "scale", serializer="msgpack")
    try:
        shell.handshake(cluster.conf, cluster.context(cluster.tasks_of[comp.name][0]),
                        str(tmp_path / "pids"))
        array = np.arange(16_384, dtype=np.float64)
        sent = encode((3, array), binary=True)
        assert isinstance(sent, bytes) and len(sent) < 16_384 * 8 * 1.01
        shell.send({"id": "1", "comp": project.topology.spouts[0].name, "stream": "output",
                    "task": 1, "tuple": [sent]})
        while True:
            message = shell.read()
            if message.get("command") == "emit":
                break
        (value,) = message["tuple"]
        assert isinstance(value, bytes) and len(value) < 16_384 * 8 * 1.01
        i, doubled = decode(value)
        assert i == 3 and np.array_equal(doubled, array * 2)
    finally:
        shell.stop()
    # the whole topology through the harness, in msgpack, gives simple's arrays
    _, results = run_topology(project, tmp_path, 120)
    got = sorted(record.read(str(results)).results[scale.id]["output"], key=lambda r: r[0])
    want = sorted(next(iter(d4p.run(graph, {source: 1}).values()))["output"],
                  key=lambda r: r[0])
    assert [i for i, _ in got] == [0, 1, 2, 3]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, want, strict=True))


class Endless(d4p.ProducerPE):
    """Writes 100,000 units in one iteration and notes how far it got (every
    100 units) in the file ``progress``."""

    def __init__(self, progress):
        super().__init__()
        self.progress = progress

    def _process(self, inputs):
        for i in range(100_000):
            if i % 100 == 0:
                with open(self.progress, "w") as note:
                    note.write(str(i))
            self.write("output", i)


def test_a_spout_source_runs_at_most_a_bounded_queue_ahead_of_the_emits(tmp_path):
    from d4p.testing.workflows import Double

    progress = tmp_path / "progress"
    graph = d4p.WorkflowGraph()
    source = Endless(str(progress))
    graph.connect(source, "output", Double(), "input")
    with pytest.warns(LocalFilesWarning, match="PE 'Endless0': open"):  # its progress file
        project = export(make_plan(graph, 1, {source: 1}), tmp_path / "p", "endless")
    task = Task(project, "Endless", tmp_path)
    try:
        task.send({"command": "next"})
        emits = task.until(lambda m: m.get("command") == "sync")[:-1]
        assert 0 < len(emits) <= 100, emits[:2]
        assert all(m["command"] == "emit" for m in emits), emits[:2]
        threading.Event().wait(2)  # the source thread runs on as far as the queue lets it
        ahead = int(progress.read_text())
    finally:
        task.stop()
    # WorkflowSpout.buffered (1,000) waiting plus one unit in hand, noted every 100
    assert ahead <= len(emits) + 1000 + 100
