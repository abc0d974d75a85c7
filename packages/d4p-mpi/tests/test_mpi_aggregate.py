"""d4p.aggregate on a real mpiexec: every aggregate, global and keyed, gives
simple's result; partial states, not units, reach the aggregate."""

import d4p
import pytest
from d4p import aggregate
from d4p.testing.aggregates import Cycle, check_aggregates
from mpi_processes import assert_no_leftovers


@pytest.mark.parametrize("processes", [2, 3])
def test_every_aggregate_gives_simples_result(processes):
    try:
        found = check_aggregates("mpi", processes, timeout=60)
    finally:
        assert_no_leftovers()
    assert sum(found["index"]["count"].values()) == 2000


def test_partial_states_cross_ranks_not_units():
    graph = d4p.WorkflowGraph()
    source = Cycle(keys=10, rounds=100)
    counts = aggregate.count(by=0, partial_size=4)
    counts.numprocesses = 2
    graph.connect(source, "output", counts, "input")
    try:
        result = d4p.run(graph, mapping="mpi", processes=3, timeout=60)
    finally:
        assert_no_leftovers()
    assert sorted(result[counts.id]["output"]) == [(k, 100) for k in range(10)]
    assert result.summary.units[counts.id] == 1000  # 250 flushes of 4 states


def _bad_add(state, value):
    if value == "x":
        raise ValueError("not a number")
    return state + value


def test_a_failing_add_names_the_pe_the_key_and_the_unit():
    graph = d4p.WorkflowGraph()
    source = d4p.producer(_pairs)()
    total = aggregate.custom(int, _bad_add, _bad_add, by=0, value=1, name="total")
    graph.connect(source, "output", total, "input")
    try:
        with pytest.raises(d4p.WorkflowFailed) as info:
            d4p.run(graph, mapping="mpi", processes=2, timeout=60)
    finally:
        assert_no_leftovers()
    text = str(info.value)
    assert f"PE '{total.id}.partial'" in text and "with data ('b', 'x')" in text
    assert "add of key 'b' failed: ValueError: not a number" in text


def _pairs():
    yield from [("a", 1), ("b", "x")]
