"""d4p.aggregate: the aggregates compute the right values (against plain
Python), the plan splits them into partials fused upstream and a final merge,
partial state stays within its bound, and simple and multi agree."""

from __future__ import annotations

import math
import operator
import re
import statistics
import subprocess
import sys
from pathlib import Path

import d4p
import pytest
from d4p import aggregate
from d4p.grouping import PAIR
from d4p.plan import make_plan
from d4p.testing.aggregates import (
    FORMS,
    Cycle,
    check_aggregates,
    distinct_keys,
    parity,
    records,
    results,
    same,
    workflow,
)


def _expected(form: str, n: int = 2000) -> dict:
    """What each aggregate of the kit must give, computed with plain Python."""
    rows = records(n)
    key = {"global": None, "index": lambda r: r[0], "function": parity}[form]
    groups: dict = {}
    for r in rows:
        groups.setdefault(None if key is None else key(r), []).append(r)

    def each(rs):
        ints, floats = [r[1] for r in rs], [r[2] for r in rs]
        xor = 0
        for i in ints:
            xor ^= i
        return {
            "count": len(rs), "sum_int": sum(ints), "sum_float": math.fsum(floats),
            "min_int": min(ints), "max_float": max(floats),
            "mean_int": sum(ints) / len(ints), "mean_float": statistics.fmean(floats),
            "variance_int": float(statistics.variance(ints)),
            "std_float": statistics.pstdev(floats),
            "top3": sorted(rs, key=lambda r: (r[1], r[0], r[2]), reverse=True)[:3],
            "distinct_int": len(set(ints)), "xor_hex": hex(xor),
        }

    per_key = {k: each(rs) for k, rs in groups.items()}
    names = next(iter(per_key.values()))
    if key is None:
        return per_key[None]
    return {name: {k: v[name] for k, v in per_key.items()} for name in names}


@pytest.mark.parametrize("form", FORMS)
def test_every_aggregate_gives_the_value_plain_python_gives(form):
    graph, inputs, pes = workflow(form)
    got = results(d4p.run(graph, inputs), pes)
    want = _expected(form)
    assert got.keys() == want.keys()
    for name in want:
        assert same(got[name], want[name]) or (
            # float sums: an order of additions other than fsum's exact one
            name in ("sum_float", "mean_float", "std_float") and _close(got[name], want[name])
        ), f"{form} {name}: {got[name]!r:.200} != {want[name]!r:.200}"
    if form == "index":
        assert got["count"] == {k: sum(1 for r in records(2000) if r[0] == k) for k in range(7)}


def _close(got, want) -> bool:
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(_close(got[k], want[k]) for k in want)
    return math.isclose(got, want, rel_tol=1e-12)


def test_integer_means_and_variances_are_exact():
    pe_mean, pe_var = aggregate.mean(), aggregate.variance(ddof=1)
    graph = d4p.WorkflowGraph()
    values = [10**17 + 1, 10**17 + 2, 10**17 + 4]  # floats would lose the low digits
    source = d4p.producer(_numbers)(values=values)
    graph.connect(source, "output", pe_mean, "input")
    graph.connect(source, "output", pe_var, "input")
    result = d4p.run(graph)
    assert result[pe_mean.id]["output"] == [float(sum(values)) / 3]
    assert result[pe_var.id]["output"] == [7 / 3]  # statistics.variance of 1, 2, 4


def _numbers(values):
    yield from values


@pytest.mark.parametrize("processes", [2, 3])
def test_multi_gives_simples_results(processes):
    found = check_aggregates("multi", processes)
    assert found["index"]["count"] == _expected("index")["count"]


def test_the_plan_puts_a_partial_with_the_upstream_instances_before_each_aggregate():
    graph, inputs, pes = workflow("index")
    plan = make_plan(graph, 3, inputs)
    partials = [p for p in plan.pes if p.endswith(".partial")]
    assert sorted(partials) == sorted(f"{pe.id}.partial" for pe in pes.values())
    for p in partials:
        assert len(plan.by_pe[p]) == 2  # as many as the Pass PE that feeds it
    count = pes["count"]
    into = {(r.src_pe, r.dst_port) for r in plan.routes if r.dst_pe == count.id}
    assert into == {(f"{count.id}.partial", aggregate.PARTIAL)}
    assert len(plan.by_pe[count.id]) == 2


def test_a_chain_fuses_its_partial_and_the_users_graph_is_left_alone():
    graph = d4p.WorkflowGraph()
    source, counts = d4p.producer(_numbers)(values=list(range(10))), aggregate.count()
    graph.connect(source, "output", counts, "input")
    plan = make_plan(graph, 2)
    (route,) = [r for r in plan.routes if r.src_pe == source.id]
    assert route.dst_pe == f"{counts.id}.partial" and route.rule == PAIR
    assert [pe.id for pe in graph.get_contained_objects()] == [source.id, counts.id]
    assert d4p.run(graph)[counts.id]["output"] == [10]


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_partial_flushes_when_it_holds_partial_size_keys(mapping):
    graph = d4p.WorkflowGraph()
    source = Cycle(keys=10, rounds=100)
    counts = aggregate.count(by=0, partial_size=4)
    graph.connect(source, "output", counts, "input")
    result = d4p.run(graph, mapping=mapping, processes=2)
    assert sorted(result[counts.id]["output"]) == [(k, 100) for k in range(10)]
    # keys 0-3, 4-7, 8,9,0,1 ...: a flush of 4 states every 4 units
    assert result.summary.units[counts.id] == 1000
    graph = d4p.WorkflowGraph()
    source = Cycle(keys=10, rounds=100)
    counts = aggregate.count(by=0)
    graph.connect(source, "output", counts, "input")
    assert d4p.run(graph, mapping=mapping, processes=2).summary.units[counts.id] == 10


@pytest.mark.parametrize(("mapping", "instances"), [("simple", 1), ("multi", 3), ("multi", 7)])
def test_nan_keys_are_one_key_however_the_states_travel(mapping, instances):
    """NaN equals nothing, not even itself: each NaN object was a key of its
    own, so np.nan's units counted as one key on simple and as one per
    partial flush on multi (pickle makes new objects), and float('nan')
    parsed per unit as one key per unit. Now all NaN keys are one key."""
    nan = float("nan")

    @d4p.producer
    def readings():
        for i in range(300):
            key = [nan, float("nan"), ("st", nan), ("st", float("nan")), "k"][i % 5]
            yield key, i

    graph = d4p.WorkflowGraph()
    counts = aggregate.count(by=0, partial_size=2, numprocesses=instances)
    graph.connect(readings(), "output", counts, "input")
    got = d4p.run(graph, mapping=mapping, processes=4)[counts.id]["output"]
    assert sorted(map(repr, got)) == ["('k', 60)", "(('st', nan), 120)", "(nan, 120)"]


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_partial_state_stays_within_its_bound_on_a_stream_of_distinct_keys():
    """The memory test: 200,000 distinct keys through a partial with a bound of
    5,000 keys (so that the executor's lists of 1,024 units are counted in one
    go far from the bound and one by one near it). The source's process (the source and the partial, nothing
    else) grows its peak resident memory by well under 5 MiB, while the same
    run with a bound above the number of keys grows it by more (the partial
    then holds every key): the measure sees an unbounded partial.
    ``bench/aggregate_memory.py`` runs the same code with 10M keys."""
    n, limit = 200_000, 5 << 20
    grown = {}
    for bound in (5_000, n + 1):
        graph, inputs, pes = distinct_keys(n, partial_size=bound)
        result = d4p.run(graph, inputs, mapping="multi", processes=2, buffer_mb=2)
        assert result[pes["keys"].id]["output"] == [n]  # n keys, counts adding up to n:
        assert result[pes["total"].id]["output"] == [n]  # every key counted once
        assert result.summary.units[pes["counts"].id] == n  # one state per key
        (grown[bound],) = result[pes["source"].id]["memory"]
    assert grown[5_000] < limit < grown[n + 1], grown


def test_a_global_partial_flushes_every_partial_size_units():
    graph = d4p.WorkflowGraph()
    source = Cycle(keys=10, rounds=10)
    total = aggregate.count(partial_size=30)
    graph.connect(source, "output", total, "input")
    result = d4p.run(graph)
    assert result[total.id]["output"] == [100]
    assert result.summary.units[total.id] == 4  # 30 + 30 + 30 + 10


@pytest.mark.parametrize("mapping", ["simple", "multi"])
@pytest.mark.parametrize("form", FORMS)
def test_an_empty_stream(mapping, form):
    graph, inputs, pes = workflow(form, n=0)
    got = results(d4p.run(graph, inputs, mapping=mapping, processes=2), pes)
    if form == "global":
        assert got == {"count": 0, "sum_int": 0, "sum_float": 0, "top3": [], "distinct_int": 0,
                       "xor_hex": "0x0"}
    else:
        assert got == {name: {} for name in pes}


def test_an_aggregate_fed_input_items_directly_needs_no_partial():
    total = aggregate.sum(value=0)
    graph = d4p.WorkflowGraph()
    graph.add(total)
    result = d4p.run(graph, {total: [{"input": (i,)} for i in range(5)]})
    assert result[total.id]["output"] == [10]


def _bad_add(state, value):
    if value == "x":
        raise ValueError("not a number")
    return state + value


def _failing_run(mapping, values, pe):
    """The error text of a run of ``values`` → ``pe`` that fails."""
    graph = d4p.WorkflowGraph()
    graph.connect(d4p.producer(_numbers)(values=values), "output", pe, "input")
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, mapping=mapping, processes=2)
    return str(info.value)


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_failing_add_names_the_pe_the_key_and_the_unit(mapping):
    total = aggregate.custom(int, _bad_add, _bad_add, by=0, value=1, name="total")
    text = _failing_run(mapping, [("a", 1), ("b", "x")], total)
    assert f"PE '{total.id}.partial'" in text
    assert "with data ('b', 'x')" in text
    assert "add of key 'b' failed: ValueError: not a number" in text


def _bad_merge(a, b):
    if b == 3:
        raise ValueError("cannot merge 3")
    return a + b


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_failing_merge_names_the_aggregate_the_key_and_the_partial_state(mapping):
    """The final merge takes partial states a batch at a time: the error still
    names the one that failed. partial_size=1: every new key flushes the
    partial, so key 'a' arrives twice, as states 1 and then 3."""
    total = aggregate.custom(int, operator.add, _bad_merge, by=0, value=1, name="total",
                             partial_size=1)
    text = _failing_run(mapping, [("a", 1), ("b", 2), ("a", 3)], total)
    assert text.startswith(f"PE '{total.id}' (instance 0) failed on input 'partial' with "
                           "data ('a', 3): AggregateError: merge of key 'a' failed: "
                           "ValueError: cannot merge 3")


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_unit_without_the_key_names_the_pe_and_the_unit(mapping):
    """A count by key folds many units at once: the error still names the one
    whose key failed, after the units before it."""
    counts = aggregate.count(by=0)
    text = _failing_run(mapping, [("a",)] * 100 + [7] + [("b",)], counts)
    assert text == (f"PE '{counts.id}.partial': by=0 does not fit the unit 7 (TypeError: 'int' "
                    "object is not subscriptable): give the index of a field the units have, "
                    "or a function")


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_fields_the_units_lack_are_a_usage_error_naming_by_or_value(mapping):
    """Before: a failure of d4p's own code (IndexError in aggregate.py), exit
    status 1, where the user's by= or value= does not fit the data."""
    total = aggregate.sum(by=0, value=2)
    graph = d4p.WorkflowGraph()
    graph.connect(d4p.producer(_numbers)(values=[("a", 1), ("b", 2)]), "output", total, "input")
    with pytest.raises(d4p.UsageError) as info:
        d4p.run(graph, mapping=mapping, processes=2)
    assert str(info.value) == (f"PE '{total.id}.partial': value=2 does not fit the unit ('a', 1) "
                               "(IndexError: tuple index out of range): give the index of a "
                               "field the units have, or a function")


def test_a_key_function_that_fails_is_the_users_failure_with_its_traceback():
    text = _failing_run("simple", [("a", 1), (None, 2)], aggregate.count(by=lambda u: u[0] + "!"))
    assert "with data (None, 2): TypeError: unsupported operand" in text
    assert "does not fit" not in text


def test_bad_arguments_are_one_line_errors_naming_the_aggregate():
    with pytest.raises(d4p.UsageError, match=r"^count: by= must be a tuple index"):
        aggregate.count(by="word")
    with pytest.raises(d4p.UsageError, match=r"^top: k must be a positive integer, not 0"):
        aggregate.top(0)
    with pytest.raises(d4p.UsageError, match=r"^sum: partial_size must be a positive integer"):
        aggregate.sum(partial_size=0)
    with pytest.raises(d4p.UsageError, match=r"^hist: merge must be a function"):
        aggregate.custom(dict, dict.update, None, name="hist")


def test_an_aggregate_draws_like_any_pe():
    graph = d4p.WorkflowGraph()
    counts = aggregate.count(by=0)
    graph.connect(d4p.producer(_numbers)(values=[]), "output", counts, "input")
    dot = graph.to_dot()
    assert f'"{counts.id}"' in dot and "group_by(0)" in dot
    assert ".partial" not in dot


def test_the_readme_example_runs_and_prints_what_it_says(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    (example,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                  if "aggregate.mean" in b]
    script = tmp_path / "example.py"
    script.write_text(example)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    means, spread = done.stdout.splitlines()
    assert eval(means) == [("station0", 1 / 334), ("station1", -12 / 999), ("station2", 0.0)]
    assert spread == "[1.9987473577218309]"


def _partitioned():
    graph = d4p.WorkflowGraph()
    source = d4p.producer(_numbers)(values=[(k % 3,) for k in range(30)])
    counts = aggregate.count(by=0)
    graph.connect(source, "output", counts, "input")
    graph.partitions = [[source], [counts]]
    return graph, source, counts


def test_an_aggregate_in_a_partitioned_graph():
    graph, source, counts = _partitioned()
    result = d4p.run(graph, mapping="multi", processes=2)
    assert sorted(result[counts.id]["output"]) == [(0, 10), (1, 10), (2, 10)]
    assert graph.partitions == [[source], [counts]]  # the user's list is left alone
    split = aggregate.split_aggregates(graph)
    assert [[pe.id for pe in part] for part in split.partitions] == \
        [[source.id, f"{counts.id}.partial"], [counts.id]]


def test_a_partial_runs_in_the_partition_of_the_pe_that_feeds_it():
    graph, source, counts = _partitioned()
    plan = make_plan(graph, 2)
    where = {p: [plan.instances[i].process for i in iids] for p, iids in plan.by_pe.items()}
    assert where[f"{counts.id}.partial"] == where[source.id] != where[counts.id]


def test_an_aggregate_inside_a_composite():
    def build(composite):
        middle, total = d4p.iterative(_double)(), aggregate.sum()
        composite.connect(middle, "output", total, "input")
        composite._map_input("input", middle, "input")
        composite._map_output("output", total, "output")

    graph = d4p.WorkflowGraph()
    source = d4p.producer(_numbers)(values=list(range(10)))
    graph.connect(source, "output", d4p.CompositePE(build), "input")
    (out,) = d4p.run(graph, mapping="multi", processes=2).values()
    assert out == {"output": [90]}


def _double(x):
    return 2 * x
