"""d4p.aggregate on Storm (no native combiner): each partial aggregate runs in
the component of the PE that feeds it, and the aggregate's own bolt merges the
partial states it gets through a fields grouping on the key. Through the
exported topology, its multi-lang components and the harness, every aggregate
(global, keyed by index, keyed by function) gives simple's result."""

import d4p
import pytest
from d4p import aggregate
from d4p.examples import wordcount
from d4p.plan import make_plan
from d4p.testing import normalise_counts
from d4p.testing.aggregates import Cycle, check_aggregates, workflow
from d4p_storm import translate


def test_partials_run_in_their_feeders_component_and_the_merge_behind_a_fields_grouping():
    graph, inputs = wordcount(words=100, counters=3)
    topo = translate(make_plan(graph, 1, inputs))
    assert [(c.name, c.kind, c.tasks, c.hosted) for c in topo.components] == [
        ("WordProducer0", "spout", 1, ("count1.partial",)),
        ("count1", "bolt", 3, ("top2.partial",)),
        ("top2", "bolt", 1, ()),
    ]
    producer, counts, top = topo.components
    # the words never leave the spout's task: only the partial counts do
    assert [(s.id, s.pe) for s in producer.streams] == [
        ("count1.partial.output", "count1.partial"), ("d4p.eos", None)]
    (partials, eos) = counts.inputs
    assert (partials.component, partials.stream, partials.grouping, partials.port) == \
        ("WordProducer0", "count1.partial.output", "FIELDS", "partial")
    (key,) = producer.stream("count1.partial.output").keys
    assert partials.fields == (key.name,) and key.tasks == 3
    assert (eos.component, eos.stream, eos.grouping) == ("WordProducer0", "d4p.eos", "ALL")
    assert [(s.component, s.stream, s.grouping, s.port) for s in top.inputs] == [
        ("count1", "top2.partial.output", "GLOBAL", "partial"),
        ("count1", "d4p.eos", "ALL", None)]


def test_a_partial_whose_feeder_port_also_feeds_another_pe_is_a_bolt_of_its_own():
    graph = d4p.WorkflowGraph()
    source, total = Cycle(keys=4, rounds=3), aggregate.count()
    echo = d4p.IterativePE()
    echo._process = lambda data: data
    graph.connect(source, "output", total, "input")
    graph.connect(source, "output", echo, "input")
    topo = translate(make_plan(graph, 1, {source: 1}))
    assert [c.pe for c in topo.components if c.hosted] == []
    assert f"{total.id}.partial" in [c.pe for c in topo.components]


@pytest.mark.timeout(600)
def test_every_aggregate_gives_simples_result():
    found = check_aggregates("storm-harness", 1)
    assert found["global"]["count"] == 2000
    assert sum(found["index"]["count"].values()) == 2000


@pytest.mark.timeout(300)
def test_partial_states_flushed_at_the_size_bound_merge_to_simples_result():
    def build():
        graph = d4p.WorkflowGraph()
        source = Cycle(keys=10, rounds=30)
        counts = aggregate.count(by=0, numprocesses=2, partial_size=3)
        graph.connect(source, "output", counts, "input")
        return graph, {source: 1}, counts

    graph, inputs, counts = build()
    want = d4p.run(graph, inputs)
    graph, inputs, counts = build()
    got = d4p.run(graph, inputs, mapping="storm-harness")
    assert dict(got[counts.id]["output"]) == dict(want[counts.id]["output"]) == \
        {k: 30 for k in range(10)}
    # every 3 new keys the partial writes what it holds: more states than keys
    assert got.summary.units[counts.id] == want.summary.units[counts.id] > 10


@pytest.mark.timeout(300)
def test_units_processed_match_simple_partials_included():
    graph, inputs, _ = workflow("index", 500)
    want = d4p.run(graph, inputs)
    graph, inputs, _ = workflow("index", 500)
    got = d4p.run(graph, inputs, mapping="storm-harness")
    assert normalise_counts(got.summary.units) == normalise_counts(want.summary.units)
    assert any(pe.endswith(".partial") for pe in got.summary.units)


def _bad_add(state, value):
    if not isinstance(value, int):
        raise ValueError("not a number")
    return state + value


@pytest.mark.timeout(300)
def test_a_failing_add_in_a_hosted_partial_names_the_pe_the_key_and_the_unit():
    graph = d4p.WorkflowGraph()

    @d4p.producer
    def pairs():
        yield from [("a", 1), ("b", "x")]

    total = aggregate.custom(int, _bad_add, _bad_add, by=0, value=1, name="total")
    graph.connect(pairs(), "output", total, "input")
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, mapping="storm-harness")
    text = str(info.value)
    assert f"PE '{total.id}.partial'" in text
    assert "with data ('b', 'x')" in text
    assert "add of key 'b' failed: ValueError: not a number" in text
