"""The executor, driven directly: results, counts, batching, end-of-stream
order, postprocess writes, and the fields of a failure."""

from __future__ import annotations

import pickle
import sys

import d4p
import pytest
from d4p.driver import Data, EndOfStream
from d4p.examples import NumberProducer
from d4p.executor import Executor, short_repr
from d4p.plan import make_plan
from d4p.testing.workflows import AddOne, Double, KeyCount, Pairs, Total


class Recorder(d4p.GenericPE):
    """Passes units on and records what happens, in one list shared by every
    instance (a class attribute is not copied into instances)."""

    EVENTS: list = []

    def __init__(self, label):
        super().__init__()
        self._add_input("input")
        self._add_output("output")
        self.label = label

    def preprocess(self):
        self.EVENTS.append(("pre", self.label, self.instance))

    def process(self, inputs):
        self.EVENTS.append(("process", self.label, self.instance))
        return {"output": inputs["input"]}

    def postprocess(self):
        self.EVENTS.append(("post", self.label, self.instance))
        self.write("output", f"end of {self.label}{self.instance}")


class Mailbox:
    """A transport that keeps every message, in order, per process."""

    def __init__(self):
        self.sent: list[tuple[int, tuple]] = []

    def send(self, process, message):
        self.sent.append((process, message))


def deliver(executor: Executor, messages):
    for message in messages:
        if type(message) is Data:
            executor.receive(message.batches)
        else:
            executor.end_of_stream(*message)


def test_one_process_runs_everything_and_counts():
    graph = d4p.WorkflowGraph()
    src, double, total = NumberProducer(100), Double(), Total()
    graph.connect(src, "output", double, "input")
    graph.connect(double, "output", total, "input")
    executor = Executor(make_plan(graph))
    assert not executor.done
    executor.preprocess()
    executor.run_sources()
    assert executor.done
    assert executor.results == {total.id: {"output": [(100, 9900)]}}
    assert executor.counts() == {src.id: 1, double.id: 100, total.id: 100}


def test_reuse_runs_instance_zero_on_the_graphs_own_pe():
    graph = d4p.WorkflowGraph()
    src, total = NumberProducer(5), Total()
    graph.connect(src, "output", total, "input")
    Executor(make_plan(graph)).run_sources()
    assert total.count == 0
    executor = Executor(make_plan(graph), reuse=True)
    executor.run_sources()
    assert (total.count, total.total) == (5, 10)


def test_three_processes_batch_data_and_send_end_of_stream_after_it():
    graph = d4p.WorkflowGraph()
    src, count = Pairs(50, keys=4), KeyCount([0], numprocesses=2)
    graph.connect(src, "output", count, "input")
    graph.partitions = [[src], [count]]
    plan = make_plan(graph, processes=3)
    (src_iid,) = plan.by_pe[src.id]
    assert plan.instances[src_iid].process == 0
    assert sorted(plan.instances[i].process for i in plan.by_pe[count.id]) == [1, 2]
    mail = Mailbox()
    first = Executor(plan, 0, transport=mail, batch_size=8)
    first.preprocess()
    first.run_sources()
    assert first.done and first.results == {}
    assert {proc for proc, _ in mail.sent} == {1, 2}
    outputs = []
    for proc in (1, 2):
        messages = [m for p, m in mail.sent if p == proc]
        data = [m for m in messages if type(m) is Data]
        assert type(messages[-1]) is EndOfStream and len(data) == len(messages) - 1, \
            "end of stream must follow every data message"
        assert all(sum(len(units) for _, _, units in m.batches) <= 8 for m in data)
        (target,) = [i.iid for i in plan.on_process(proc)]
        assert messages[-1] == EndOfStream(src_iid, target)
        executor = Executor(plan, proc, transport=mail)
        executor.preprocess()
        deliver(executor, messages[:-1])
        assert not executor.done
        deliver(executor, messages[-1:])
        assert executor.done
        outputs += executor.results[count.id]["output"]
    assert sorted(outputs) == [
        ("k0", 13, sum(range(0, 50, 4))), ("k1", 13, sum(range(1, 50, 4))),
        ("k2", 12, sum(range(2, 50, 4))), ("k3", 12, sum(range(3, 50, 4)))]


def test_flush_hands_over_partial_batches():
    graph = d4p.WorkflowGraph()
    src, add = NumberProducer(3), AddOne()
    graph.connect(src, "output", add, "input")
    graph.partitions = [[src], [add]]
    plan = make_plan(graph, processes=2)
    mail = Mailbox()
    executor = Executor(plan, 0, transport=mail, batch_size=100, latency=60)
    seen = []
    executor.run_sources(between=lambda: seen.append(len(mail.sent)))
    assert seen == [0]  # one source call, nothing sent until the end of stream
    assert [type(m) for _, m in mail.sent] == [Data, EndOfStream]
    executor.flush()
    assert len(mail.sent) == 2


def test_postprocess_runs_after_all_upstream_instances_finished():
    Recorder.EVENTS.clear()
    graph = d4p.WorkflowGraph()
    src, first, second = NumberProducer(6), Recorder("a"), Recorder("b")
    first.numprocesses = 3
    second.numprocesses = 2
    graph.connect(src, "output", first, "input")
    graph.connect(first, "output", second, "input")
    executor = Executor(make_plan(graph, fuse=False))
    executor.preprocess()
    executor.run_sources()
    events = Recorder.EVENTS
    assert events[:5] == [("pre", "a", 0), ("pre", "a", 1), ("pre", "a", 2), ("pre", "b", 0),
                          ("pre", "b", 1)]
    position = {e: k for k, e in enumerate(events)}
    for j in range(2):
        last_a = max(position[("post", "a", i)] for i in range(3))
        assert position[("post", "b", j)] > last_a
        b_units = [k for k, e in enumerate(events) if e[:2] == ("process", "b") and e[2] == j]
        assert max(b_units) < position[("post", "b", j)]
    # postprocess writes travel on like any unit
    outputs = executor.results[second.id]["output"]
    assert sorted(o for o in outputs if isinstance(o, str)) == [
        "end of a0", "end of a1", "end of a2", "end of b0", "end of b1"]
    assert sorted(o for o in outputs if isinstance(o, int)) == list(range(6))
    assert executor.counts() == {src.id: 1, first.id: 6, second.id: 9}


class Fails(d4p.GenericPE):
    def __init__(self, stage):
        super().__init__()
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.stage = stage
        self.numprocesses = 2

    def preprocess(self):
        if self.stage == "preprocess" and self.instance == 1:
            raise OSError("disk not mounted")

    def process(self, inputs):
        if self.stage == "process" and inputs["input"][0] == "bad":
            raise KeyError("missing")

    def postprocess(self):
        if self.stage == "postprocess":
            raise ZeroDivisionError("empty window")


class BadSource(d4p.ProducerPE):
    def _process(self, inputs):
        if inputs == 2:
            raise RuntimeError("no third item")
        return inputs


def _failing(stage):
    graph = d4p.WorkflowGraph()
    src = Pairs(4) if stage != "process" else _Words()
    fails = Fails(stage)
    graph.connect(src, "output", fails, "input")
    return graph, fails


class _Words(d4p.ProducerPE):
    def _process(self, inputs):
        self.write("output", ("ok", 1))
        self.write("output", ("bad", "x" * 500))


def test_failure_on_input_names_pe_instance_port_and_data():
    graph, fails = _failing("process")
    with pytest.raises(d4p.WorkflowFailed) as info:
        Executor(make_plan(graph)).run_sources()
    exc = info.value
    instance = d4p.stable_hash("bad") % 2
    assert (exc.pe, exc.instance, exc.port) == (fails.id, instance, "input")
    assert exc.data.startswith("('bad', 'xxxx") and "..." in exc.data and len(exc.data) < 100
    assert str(exc).startswith(f"PE {fails.id!r} (instance {instance}) failed on input 'input' "
                               f"with data {exc.data}: KeyError: 'missing'")
    assert "Original traceback:" in str(exc)
    assert 'raise KeyError("missing")' in exc.traceback


@pytest.mark.parametrize(("stage", "where", "error"), [
    ("preprocess", "(instance 1) failed in preprocess", "OSError: disk not mounted"),
    ("postprocess", "(instance 0) failed in postprocess", "ZeroDivisionError: empty window"),
])
def test_failure_outside_process_names_the_stage(stage, where, error):
    graph, fails = _failing(stage)
    executor = Executor(make_plan(graph))
    with pytest.raises(d4p.WorkflowFailed) as info:
        executor.preprocess()
        executor.run_sources()
    exc = info.value
    assert str(exc).startswith(f"PE {fails.id!r} {where}: {error}")
    assert exc.port is None and exc.data is None and exc.pe == fails.id


def test_failure_in_a_source_iteration_names_the_item():
    graph = d4p.WorkflowGraph()
    src = BadSource()
    graph.add(src)
    with pytest.raises(d4p.WorkflowFailed) as info:
        Executor(make_plan(graph, inputs={src: [0, 1, 2, 3]})).run_sources()
    assert str(info.value).startswith(f"PE {src.id!r} (instance 0) failed in iteration 2 with "
                                      "data 2: RuntimeError: no third item")


def test_workflow_failed_pickles_with_its_fields():
    exc = d4p.WorkflowFailed("PE 'x' failed", pe="x", instance=3, port="input", data="'u'",
                             traceback="Traceback ...\nValueError: u\n")
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.pe, copy.instance, copy.port, copy.data, copy.traceback) == (
        "x", 3, "input", "'u'", "Traceback ...\nValueError: u\n")
    assert str(copy) == "PE 'x' failed\n\nOriginal traceback:\nTraceback ...\nValueError: u"
    assert copy.exit_code == 1 and d4p.UsageError.exit_code == 2


def test_short_repr_is_short_and_survives_broken_reprs():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    assert short_repr(list(range(100))) == "[0, 1, 2, 3, 4, ...]"
    assert len(short_repr("y" * 10_000)) <= 82
    assert short_repr(Broken()).startswith("<Broken")


def test_group_by_on_data_without_that_index_names_the_grouping():
    graph = d4p.WorkflowGraph()
    src, total = NumberProducer(5), Total([0], numprocesses=2)
    graph.connect(src, "output", total, "input")
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph)
    text = str(info.value).splitlines()[0]
    assert "group_by(0)" in text and repr(total.id) in text and "'input'" in text


class Batches(d4p.GenericPE):
    """Sums what reaches port 'input' a list at a time (``batch_inputs``) and
    records the length of every list; fails on the unit -1."""

    batch_inputs = frozenset({"input"})
    SIZES: list = []

    def __init__(self):
        super().__init__(numprocesses=1)
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.total = 0

    def process(self, inputs):  # a monitored run's call per unit
        self.SIZES.append(1)
        self.total += inputs["input"]

    def process_batch(self, port, units):
        self.SIZES.append(len(units))
        for unit in units:
            if unit == -1:
                raise d4p.pe.UnitFailed(unit, ValueError("no negatives"))
            self.total += unit

    def postprocess(self):
        self.write("output", self.total)


def _batches_graph(values):
    graph = d4p.WorkflowGraph()

    @d4p.producer
    def numbers():
        yield from values

    sums = Batches()
    graph.connect(numbers(), "output", sums, "input")
    return graph, sums


def test_a_pe_with_batch_inputs_gets_lists_from_its_feeder_in_the_same_process():
    Batches.SIZES.clear()
    graph, sums = _batches_graph(range(2500))
    result = d4p.run(graph)
    assert result[sums.id]["output"] == [sum(range(2500))]
    assert Batches.SIZES == [1024, 1024, 452]  # LOCAL_BATCH at a time, the rest at the end
    assert result.summary.units[sums.id] == 2500


def test_a_pe_with_batch_inputs_gets_a_transport_batch_in_one_call():
    graph, sums = _batches_graph(range(100))
    graph.partitions = [[pe for pe in graph.pes() if pe is not sums], [sums]]
    plan = make_plan(graph, processes=2)
    mail = Mailbox()
    first = Executor(plan, 0, transport=mail, batch_size=30)
    first.preprocess()
    first.run_sources()
    Batches.SIZES.clear()
    second = Executor(plan, 1, transport=mail)
    second.preprocess()
    deliver(second, [m for _, m in mail.sent])
    assert second.results[sums.id]["output"] == [sum(range(100))]
    assert Batches.SIZES == [sum(len(u) for _, _, u in m.batches) for _, m in mail.sent
                             if type(m) is Data]
    assert len(Batches.SIZES) > 1 and second.counts()[sums.id] == 100


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_unit_failing_in_a_batch_is_named_with_the_pe_and_port(mapping):
    graph, sums = _batches_graph([3, 4, -1, 5])
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, mapping=mapping, processes=2)
    err = info.value
    assert (err.pe, err.instance, err.port, err.data) == (sums.id, 0, "input", "-1")
    assert str(err).startswith(f"PE {sums.id!r} (instance 0) failed on input 'input' with data -1: "
                               "ValueError: no negatives")


def test_a_traced_executor_calls_process_per_unit():
    """Tracing times single calls, so a monitored run does not batch."""
    Batches.SIZES.clear()
    graph, sums = _batches_graph(range(10))
    executor = Executor(make_plan(graph, processes=1), 0, trace=True)
    executor.preprocess()
    executor.run_sources()
    assert executor.results[sums.id]["output"] == [45]
    assert Batches.SIZES == [1] * 10


def test_the_default_process_batch_calls_process_per_unit_and_names_a_failing_unit():
    class Half(d4p.IterativePE):
        def _process(self, data):
            return 10 // data

    half = Half()
    written = []
    half._d4p_emit = {"output": written.append}
    half.process_batch("input", [1, 2, 5])
    assert written == [10, 5, 2]
    with pytest.raises(d4p.pe.UnitFailed) as info:
        half.process_batch("input", [10, 0, 1])
    assert info.value.unit == 0 and isinstance(info.value.error, ZeroDivisionError)
    assert written == [10, 5, 2, 1]


# -- copy_fanout: PEs that change their input in place -------------------------------


class Scribble(d4p.IterativePE):
    """Changes its input in place (as ObsPy's filters do) and writes what it saw."""

    def _process(self, data):
        seen = list(data)
        data.append("scribbled")
        return seen


@d4p.producer
def lists():
    for i in range(3):
        yield [i]


@pytest.mark.parametrize(("mapping", "processes"), [("simple", 1), ("multi", 2), ("multi", 4)])
def test_copy_fanout_gives_each_destination_its_own_unit(mapping, processes):
    """With ``graph.copy_fanout`` (d4p.compat's graphs set it) a unit written to
    two edges, and to the two instances of an 'all' input, reaches each as its
    own copy; without it the same object may reach several PEs in one process
    (d4p's rule: treat units as immutable), and a change made by one shows."""
    def build():
        graph = d4p.WorkflowGraph()
        source, first, second, everyone = lists(), Scribble(), Scribble(), Scribble()
        everyone._add_input("input", grouping="all")
        everyone.numprocesses = 2
        for pe in (first, second, everyone):
            graph.connect(source, "output", pe, "input")
        return graph, (first, second, everyone)

    graph, pes = build()
    graph.copy_fanout = True
    assert graph.flattened().copy_fanout
    result = d4p.run(graph, mapping=mapping, processes=processes)
    for pe, copies in zip(pes, (1, 1, 2), strict=True):
        assert sorted(result[pe.id]["output"]) == sorted([[0], [1], [2]] * copies)
    graph, pes = build()
    result = d4p.run(graph)  # simple, one process: the PEs share each unit
    assert sorted(map(len, result[pes[1].id]["output"])) == [2, 2, 2]
    assert sorted(map(len, result[pes[2].id]["output"])) == [3, 3, 3, 4, 4, 4]


def test_copy_fanout_copies_no_unit_that_reaches_one_instance():
    """Routes whose grouping hands each unit to one instance (``to_one``: a
    fused pair, shuffle, group-by, global) pass the unit itself."""
    sent, got = [], []

    @d4p.producer
    def boxes():
        for i in range(4):
            sent.append(box := [i])
            yield box

    class Keep(d4p.IterativePE):
        def _process(self, data):
            got.append(data)
            return data

    graph = d4p.WorkflowGraph()
    graph.copy_fanout = True
    source, first, pair, grouped = boxes(), Keep(), Keep(), Keep()
    first.numprocesses = pair.numprocesses = grouped.numprocesses = 2  # first → pair fused
    grouped._add_input("input", grouping=[0])
    graph.connect(source, "output", first, "input")
    graph.connect(first, "output", pair, "input")
    graph.connect(pair, "output", grouped, "input")
    d4p.run(graph, {source: 1})
    assert len(sent) == 4 and len(got) == 12
    assert {id(u) for u in got} == {id(u) for u in sent}  # each unit itself, no copy


class _Exits(d4p.IterativePE):
    """Calls ``sys.exit(3)`` in ``stage`` on instance 1 (on unit 7 in process)."""

    def __init__(self, stage):
        super().__init__()
        self.stage = stage
        self.numprocesses = 2

    def _preprocess(self):
        if self.stage == "preprocess" and self.instance == 1:
            sys.exit(3)

    def _process(self, x):
        if self.stage == "process" and x == 7:
            sys.exit(3)
        return x

    def _postprocess(self):
        if self.stage == "postprocess" and self.instance == 1:
            sys.exit(3)


@pytest.mark.parametrize("mapping", ["simple", "multi"])
@pytest.mark.parametrize(("stage", "where"), [
    ("process", "failed on input 'input' with data 7"),
    ("preprocess", "failed in preprocess"),
    ("postprocess", "failed in postprocess"),
])
def test_a_pe_calling_sys_exit_fails_the_run_naming_the_pe(mapping, stage, where):
    # before: the simple mapping ended the whole program with status 3 and no
    # word; multi said only "worker process 1 failed: SystemExit: 3"
    graph = d4p.WorkflowGraph()
    exits = _Exits(stage)
    graph.connect(NumberProducer(20), "output", exits, "input")
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, mapping=mapping, processes=3)
    exc = info.value
    assert exc.pe == exits.id and exc.instance == (1 if stage != "process" else exc.instance)
    assert str(exc).startswith(f"PE {exits.id!r} (instance {exc.instance}) {where}: SystemExit: 3 (it called sys.exit(); "
                               "raise an exception to fail the run")
    assert "sys.exit(3)" in exc.traceback


class _KeyedByFirst(d4p.GenericPE):
    def __init__(self):
        super().__init__()
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.numprocesses = 2

    def process(self, inputs):
        return {"output": inputs["input"]}


@pytest.mark.parametrize(("mapping", "fuse"), [("simple", True), ("multi", False)])
def test_a_returned_unit_its_grouping_cannot_key_names_the_pe_that_returned_it(mapping, fuse):
    # before: simple named the source upstream ("PE 'NumberProducer0': ..."),
    # multi named no PE at all
    graph = d4p.WorkflowGraph()
    passes, keyed = AddOne(), _KeyedByFirst()
    graph.connect(NumberProducer(3), "output", passes, "input")
    graph.connect(passes, "output", keyed, "input")
    with pytest.raises(d4p.PEUsageError) as info:
        d4p.run(graph, mapping=mapping, processes=3, fuse=fuse)
    assert str(info.value).startswith(
        f"PE {passes.id!r}: group_by(0) of PE {keyed.id!r} input 'input' cannot take a key "
        "from 1: TypeError: 'int' object is not subscriptable")
    assert info.value.pe == passes.id
