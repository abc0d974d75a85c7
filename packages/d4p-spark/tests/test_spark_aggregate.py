"""d4p.aggregate on Spark (local[2]): every aggregate, global and keyed, gives
simple's result; a keyed aggregate's partial states meet in Spark's
reduceByKey, so the aggregate receives one state per key."""

import d4p
import pytest
from d4p import aggregate
from d4p.testing.aggregates import Cycle, check_aggregates


def test_every_aggregate_gives_simples_result(spark):
    found = check_aggregates("spark")
    assert sum(found["index"]["count"].values()) == 2000


def test_reduce_by_key_merges_the_partial_states_before_the_aggregate(spark):
    graph = d4p.WorkflowGraph()
    source = Cycle(keys=10, rounds=100)
    counts = aggregate.count(by=0, partial_size=4)  # 250 flushes of 4 states
    counts.numprocesses = 2
    graph.connect(source, "output", counts, "input")
    result = d4p.run(graph, mapping="spark")
    assert sorted(result[counts.id]["output"]) == [(k, 100) for k in range(10)]
    assert result.summary.units[counts.id] == 10
    assert result.summary.units[f"{counts.id}.partial"] == 1000


def _bad_add(state, value):
    if value == "x":
        raise ValueError("not a number")
    return state + value


def _pairs():
    yield from [("a", 1), ("b", "x")]


def test_a_failing_add_names_the_pe_the_key_and_the_unit(spark):
    graph = d4p.WorkflowGraph()
    source = d4p.producer(_pairs)()
    total = aggregate.custom(int, _bad_add, _bad_add, by=0, value=1, name="total")
    total.numprocesses = 2
    graph.connect(source, "output", total, "input")
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, mapping="spark")
    text = str(info.value)
    assert f"PE '{total.id}.partial'" in text and "with data ('b', 'x')" in text
    assert "add of key 'b' failed: ValueError: not a number" in text
