"""The simple mapping through d4p.run: results, run summary, options,
progress, and graphs that stay reusable after a run."""

from __future__ import annotations

import pickle
import time

import d4p
import pytest
from d4p.examples import NumberProducer, Summer, pipeline
from d4p.testing.workflows import AddOne, Splitter, Total


def test_results_are_the_unconnected_outputs_by_pe_and_port():
    graph = d4p.WorkflowGraph()
    src, split, add = NumberProducer(6), Splitter(3), AddOne()
    graph.connect(src, "output", split, "input")
    graph.connect(split, "small", add, "input")
    result = d4p.run(graph, mapping="simple")
    assert isinstance(result, d4p.RunResult)
    assert dict(result) == {split.id: {"large": [3, 4, 5]}, add.id: {"output": [1, 2, 3]}}


def test_an_output_never_written_is_an_empty_list():
    graph = d4p.WorkflowGraph()
    src, split = NumberProducer(2), Splitter(10)
    graph.connect(src, "output", split, "input")
    assert d4p.run(graph)[split.id] == {"small": [0, 1], "large": []}


def test_summary_tells_units_instances_and_processes():
    graph, inputs = pipeline(500)
    src, double, total = (pe for pe in graph.pes())
    result = d4p.run(graph, inputs, processes=4)
    summary = result.summary
    assert summary.mapping == "simple"
    assert summary.processes == 1  # simple runs in one process, whatever is asked
    assert summary.units == {src.id: 1, double.id: 500, total.id: 500}
    assert summary.instances == {src.id: 1, double.id: 1, total.id: 1}
    assert summary.assignment == {src.id: [0], double.id: [0], total.id: [0]}
    assert summary.seconds >= 0
    lines = str(summary).splitlines()
    assert lines[0].startswith("simple mapping, 1 process, ")
    assert any(double.id in line and "500 units" in line for line in lines[1:])


def test_several_instances_run_in_simple_too():
    graph = d4p.WorkflowGraph()
    src, total = NumberProducer(10), Total("all", numprocesses=3)
    graph.connect(src, "output", total, "input")
    result = d4p.run(graph)
    assert result[total.id]["output"] == [(10, 45)] * 3
    assert result.summary.instances[total.id] == 3
    assert result.summary.units[total.id] == 30


def test_the_graphs_own_pes_are_left_untouched():
    graph, inputs = pipeline(10)
    summer = next(pe for pe in graph.pes() if isinstance(pe, Summer))
    d4p.run(graph, inputs)
    assert summer.total == 0


def test_graph_still_pickles_after_a_simple_run():
    graph, inputs = pipeline(10)
    d4p.run(graph, inputs)
    copy = pickle.loads(pickle.dumps(graph))
    assert list(d4p.run(copy, {"NumberProducer": 1}).values()) == [{"output": [90]}]


def test_running_the_same_graph_twice_gives_the_same_results():
    graph, inputs = pipeline(100)
    first = d4p.run(graph, inputs)
    second = d4p.run(graph, inputs)
    assert list(first.values()) == list(second.values()) == [{"output": [9900]}]


def test_unknown_option_is_a_usage_error():
    graph, inputs = pipeline(10)
    with pytest.raises(d4p.UsageError, match="mapping 'simple' has no option 'workers'; its "
                                             "options are: none"):
        d4p.run(graph, inputs, workers=3)


def test_an_option_name_is_checked_against_other_mappings_and_near_misses():
    graph, inputs = pipeline(10)
    with pytest.raises(d4p.UsageError, match=r"^mapping 'simple' has no option 'start_method' "
                                             r"\(an option of mapping 'multi'\); its options "
                                             r"are: none$"):
        d4p.run(graph, inputs, start_method="spawn")
    with pytest.raises(d4p.UsageError, match=r"^mapping 'multi' has no option 'bach_size' "
                                             r"\(did you mean 'batch_size'\?\); its options"):
        d4p.run(graph, inputs, mapping="multi", bach_size=8)


def test_an_option_that_is_no_number_says_what_it_must_be():
    """Before: "invalid value 'x' (invalid literal for int() with base 10: 'x')"."""
    graph, inputs = pipeline(10)
    with pytest.raises(d4p.UsageError, match=r"^option 'batch_size' of mapping 'multi' must be "
                                             r"a whole number, not 'x'$"):
        d4p.run(graph, inputs, mapping="multi", batch_size="x")


@pytest.mark.parametrize(("argument", "message"), [
    ({"mapping": None}, "mapping must be the name of a mapping such as 'simple' or 'multi', "
                        "not None; installed mappings: simple, multi"),
    ({"stop": True}, "stop must be a threading.Event (set it to stop the run), not True"),
    ({"progress": 3}, "progress must be a function taking {PE id: units}, or None; not 3"),
    ({"fuse": "no"}, "fuse must be True or False, not 'no'"),
])
def test_a_run_argument_of_the_wrong_kind_is_a_usage_error_before_the_run(argument, message):
    """Before: a TypeError from inside d4p (mapping, progress: after the run
    had ended), a traceback of a thread while the run went on (stop), or
    nothing (fuse="no" fused)."""
    with pytest.raises(d4p.UsageError) as info:
        d4p.run(*pipeline(10), **argument)
    assert str(info.value).startswith(message)


def test_run_needs_a_graph():
    with pytest.raises(d4p.UsageError, match="d4p.run needs a WorkflowGraph, not dict"):
        d4p.run({"not": "a graph"})


def test_unknown_mapping_lists_the_installed_ones():
    graph, inputs = pipeline(10)
    with pytest.raises(d4p.PluginError) as info:
        d4p.run(graph, inputs, mapping="simpel")
    text = str(info.value)
    assert text.startswith("unknown mapping 'simpel' (did you mean 'simple'?); installed "
                           "mappings: simple")
    assert "Other mappings come in their own packages" in text


class Sleepy(d4p.IterativePE):
    def _process(self, data):
        time.sleep(0.1)
        return data


def test_progress_is_called_with_units_per_pe():
    graph = d4p.WorkflowGraph()
    src, sleepy = NumberProducer(12), Sleepy()
    graph.connect(src, "output", sleepy, "input")
    reports = []
    result = d4p.run(graph, progress=reports.append)
    assert result[sleepy.id]["output"] == list(range(12))
    assert reports, "no progress report during a run of 1.2 s"
    assert all(0 < r[sleepy.id] <= 12 for r in reports)
    assert [r[sleepy.id] for r in reports] == sorted(r[sleepy.id] for r in reports)

