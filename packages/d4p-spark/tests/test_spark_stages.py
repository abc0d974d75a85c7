"""How plans become Spark stages (no Spark needed)."""

import d4p
from d4p.examples import pipeline, wordcount_plain
from d4p.plan import make_plan
from d4p_spark.stages import broadcast_inputs, layout


def _names(ids):
    return tuple(i.rstrip("0123456789") for i in ids)


def test_a_fused_pipeline_is_one_stage_in_one_partition():
    graph, inputs = pipeline(10)
    lay = layout(make_plan(graph, 2, inputs))
    (stage,) = lay.stages
    assert _names(stage.pes) == ("NumberProducer", "Doubler", "Summer")
    assert (stage.width, stage.source, stage.upstream) == (1, stage.pes[0], ())


def test_wordcount_has_a_stage_per_grouping_with_one_partition_per_instance():
    graph, inputs = wordcount_plain(words=10, counters=3)
    lay = layout(make_plan(graph, 2, inputs))
    assert [(_names(s.pes), s.width, s.upstream, s.downstream) for s in lay.stages] == [
        (("WordProducer",), 1, (), (1,)),
        (("WordCounter",), 3, (0,), (2,)),
        (("CountCollector",), 1, (1,), ()),
    ]
    # every stage partition is a process of its own: 1 + 3 + 1
    assert [i.process for i in lay.plan.instances] == [0, 1, 2, 3, 4]
    assert lay.stage_of == (0, 1, 1, 1, 2)


class Echo(d4p.IterativePE):
    def _process(self, x):
        return x


def _numbers():
    @d4p.producer
    def numbers(n=4):
        yield from range(n)
    return numbers()


def test_parallel_chains_fuse_and_fan_in_starts_a_stage():
    graph = d4p.WorkflowGraph()
    source, a, b, c, merge = _numbers(), Echo(), Echo(), Echo(), Echo()
    for pe in (a, b):
        pe.numprocesses = 2
    graph.connect(source, "output", a, "input")      # shuffle 1 → 2: a stage boundary
    graph.connect(a, "output", b, "input")           # pair: fused with a
    graph.connect(source, "output", c, "input")      # the source feeds two: not fused
    graph.connect(b, "output", merge, "input")       # two inputs: a stage of its own
    graph.connect(c, "output", merge, "input")
    lay = layout(make_plan(graph, 2, {source: 1}))
    assert sorted(s.pes for s in lay.stages) == sorted(
        [(source.id,), (c.id,), (a.id, b.id), (merge.id,)])
    widths = {s.pes: s.width for s in lay.stages}
    assert widths[(a.id, b.id)] == 2
    merge_stage = next(s for s in lay.stages if merge.id in s.pes)
    assert merge_stage.pes == (merge.id,)
    assert len(merge_stage.upstream) == 2
    assert merge_stage.number == len(lay.stages) - 1


def test_input_lists_ride_with_their_source_stage():
    graph = d4p.WorkflowGraph()
    first, second = Echo(), Echo()
    graph.connect(first, "output", second, "input")
    lay = layout(make_plan(graph, 1, {first: [{"input": 1}, {"input": 2}]}))
    (stage,) = lay.stages
    assert stage.source == first.id
    assert lay.plan.inputs[first.id] == [{"input": 1}, {"input": 2}]
    assert lay.describe(0) == f"{first.id}, {second.id}"


def test_a_feed_for_a_pe_with_upstream_is_hidden_in_names():
    graph = d4p.WorkflowGraph()
    source, second = _numbers(), Echo()
    graph.connect(source, "output", second, "input")
    lay = layout(make_plan(graph, 1, {second: [{"input": 7}]}))
    feed = f"{second.id}.inputs"
    feed_stage = next(s for s in lay.stages if s.source == feed)
    assert feed_stage.pes == (feed,)
    assert lay.describe(feed_stage.number) == feed  # only hidden PEs: named anyway
    second_stage = next(s for s in lay.stages if second.id in s.pes)
    assert feed_stage.number in second_stage.upstream


def test_only_all_inputs_with_several_instances_are_broadcast():
    from d4p.testing.workflows import Numbers, Total

    graph = d4p.WorkflowGraph()
    src, wide, narrow, shuffled = (Numbers(4), Total("all", numprocesses=3), Total("all"),
                                   Total(numprocesses=2))
    for pe in (wide, narrow, shuffled):
        graph.connect(src, "output", pe, "input")
    plan = layout(make_plan(graph, 1, {src: 1})).plan
    assert broadcast_inputs(plan) == {(wide.id, "input"): tuple(plan.by_pe[wide.id])}
