"""A stage task on its own (as a Spark worker runs it, without Spark)."""

import pickle
import threading
import time

import d4p
import numpy as np
from d4p.plan import make_plan
from d4p_spark.stages import layout
from d4p_spark.task import META, ForStage, StageTask

written = []


class Counting(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(1_000):
            written.append(i)
            self.write("output", i)


class Keep(d4p.IterativePE):
    def _process(self, x):
        return x


def two_stages():
    graph = d4p.WorkflowGraph()
    source, keep = Counting(), Keep()
    keep.numprocesses = 2
    graph.connect(source, "output", keep, "input")
    return layout(make_plan(graph, 1, {source: 1})), source, keep


def task_threads():
    return [t for t in threading.enumerate() if t.name.startswith("d4p stage")]


def test_a_source_streams_its_batches_and_stops_when_spark_stops_reading():
    written.clear()
    lay, source, keep = two_stages()
    records = StageTask(lay.plan, lay.stages[0], batch_size=10)(0, iter(()))
    first = next(records)
    time.sleep(0.3)
    assert first[0] in lay.plan.by_pe[keep.id] and first[1] == "input" and len(first[2]) == 10
    # a bounded backlog: the source waits for Spark instead of writing all 1,000 units
    assert 10 <= len(written) <= 150
    records.close()
    deadline = time.monotonic() + 5
    while task_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not task_threads()
    assert len(written) < 1_000


def test_every_unit_reaches_the_next_stage_once_and_summaries_pass_through():
    written.clear()
    lay, source, keep = two_stages()
    out = list(StageTask(lay.plan, lay.stages[0], batch_size=64)(0, iter(())))
    *data, summary = out
    assert summary[:3] == (META, 0, 0) and summary[4] == {source.id: 1} and summary[5:] == (None, [], False)
    assert sorted(u for _, _, units in data for u in units) == list(range(1_000))
    index_of = tuple(i.index for i in lay.plan.instances)
    keyed = list(ForStage(lay.stage_of, index_of, 1, summaries=True)(iter(out)))
    assert (0, summary) in keyed  # the summary travels on with partition 0
    results = []
    for j in (0, 1):
        mine = [record for key, record in keyed if key == j]
        *_, last = StageTask(lay.plan, lay.stages[1], batch_size=64)(j, iter(
            [(j, r) for r in mine]))
        results.append(last)
    got = sorted(u for r in results for u in r[3][keep.id]["output"])
    assert got == list(range(1_000))
    assert [r[4][keep.id] for r in results] == [500, 500]  # shuffle: balanced


class Shared:
    """Stands in for a Spark broadcast."""

    def __init__(self, value):
        self.value = value


def test_units_for_an_all_input_travel_once_and_every_instance_reads_them():
    graph = d4p.WorkflowGraph()
    source, keep = Counting(), Keep()
    keep._add_input("input", grouping="all")
    keep.numprocesses = 3
    graph.connect(source, "output", keep, "input")
    lay = layout(make_plan(graph, 1, {source: 1}))
    first, *others = lay.plan.by_pe[keep.id]
    drop = frozenset((iid, "input") for iid in others)
    *data, _ = StageTask(lay.plan, lay.stages[0], batch_size=64, drop=drop)(0, iter(()))
    assert {iid for iid, _, _ in data} == {first}  # one copy, addressed to instance 0
    assert [u for _, _, units in data for u in units] == list(range(1_000))
    shared = (Shared(pickle.dumps(data)), {first: (first, *others)})
    for j in (0, 1, 2):
        *_, summary = StageTask(lay.plan, lay.stages[1], batch_size=64, broadcast=shared)(
            j, iter(()))
        assert summary[3][keep.id]["output"] == list(range(1_000))


class Arrays(d4p.ProducerPE):
    """Writes 40 arrays of 1 MiB."""

    def _process(self, inputs):
        for i in range(40):
            self.write("output", np.full(1 << 17, float(i)))


def test_records_of_large_arrays_hold_about_a_mebibyte_not_the_whole_stream():
    """Before, the stage task told the executor no size, so a batch grew to
    batch_size units (1,024): every array a source wrote to an instance of the
    next stage waited in one record until the end (200 arrays of 8 MiB: 1.6 GiB
    held by every worker of a 3-stage run, and records past Spark's 2 GiB)."""
    graph = d4p.WorkflowGraph()
    source, keep = Arrays(), Keep()
    keep.numprocesses = 2
    graph.connect(source, "output", keep, "input")
    lay = layout(make_plan(graph, 1, {source: 1}))
    *data, _ = StageTask(lay.plan, lay.stages[0], batch_size=1024)(0, iter(()))
    assert sorted(float(a[0]) for _, _, units in data for a in units) == list(range(40))
    assert max(len(units) for _, _, units in data) <= 2
