"""``d4p.compat``: dispel4py's API over d4p, used as a ported program uses it.

Each divergence between dispel4py and d4p that porting met has a test here
(duplicate edges, empty outputs, composites beside the workflow graph,
composite mappings to missing ports), as do the aggregates, ``draw`` with
composites, the loader, the process APIs and the monitoring wrappers.
dispel4py's own tests and examples run in test_compat_upstream.py.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import d4p
import pytest
from d4p.compat.base import CompositePE, ConsumerPE, IterativePE, ProducerPE
from d4p.compat.core import GenericPE
from d4p.compat.new import aggregate, monitoring, multi_process, processor, simple_process
from d4p.compat.utils import load_graph
from d4p.compat.workflow_graph import WorkflowGraph, WorkflowNode, draw
from d4p.plan import make_plan
from d4p.plugins import installed_mappings

MAPPINGS = [("simple", 1)]
if "multi" in installed_mappings():
    MAPPINGS += [("multi", 2), ("multi", 4)]
if "mpi" in installed_mappings():
    MAPPINGS += [("mpi", 3)]
MAPPING_IDS = [f"{m}-n{n}" for m, n in MAPPINGS]


class Values(ProducerPE):
    """Writes ``[v]`` for each of its values in one iteration."""

    def __init__(self, values):
        ProducerPE.__init__(self)
        self.values = list(values)

    def _process(self, inputs):
        for v in self.values:
            self.write("output", [v])


class Double(IterativePE):
    def _process(self, data):
        return data * 2


class Split(GenericPE):
    """Even numbers to ``'even'``, odd ones to ``'odd'``."""

    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("even")
        self._add_output("odd")

    def _process(self, inputs):
        n = inputs["input"][0]
        return {"even" if n % 2 == 0 else "odd": n}


class Numbers(ProducerPE):
    def _process(self, inputs):
        for i in range(1, 6):
            self.write("output", i)


class Drop(ConsumerPE):
    def _process(self, data):
        pass


def run(graph, inputs, mapping, processes):
    """The outputs, in dispel4py's shape, through the compat API of ``mapping``."""
    if mapping == "simple":
        return simple_process.process_and_return(graph, inputs)
    if mapping == "mpi":
        from d4p.compat.new import mpi_process

        return mpi_process.process(graph, inputs, argparse.Namespace(num=processes))
    args = argparse.Namespace(num=processes, simple=False, results=True)
    queue = multi_process.process(graph, inputs, args)
    results: dict = {}
    for item in iter(queue.get, processor.STATUS_TERMINATED):
        pe_id, port, data = item
        units = data if isinstance(port, tuple) else [data]
        if isinstance(port, tuple):
            pe_id, port = port
        results.setdefault(pe_id, {}).setdefault(port, []).extend(units)
    return results


def aggregate_graph(make, values):
    prod = Values(values)
    agg = make()
    graph = WorkflowGraph()
    graph.connect(prod, "output", agg, "input")
    return graph, {prod: 1}


# -- results leave out outputs that produced nothing -----------------------------------


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_outputs_that_produced_nothing_are_left_out(mapping, processes):
    """dispel4py gives ``{split: {'even': [...]}}`` when nothing was odd; d4p.run
    itself lists every unconnected output (``'odd': []``)."""
    prod, split = Values([2, 4, 6]), Split()
    graph = WorkflowGraph()
    graph.connect(prod, "output", split, "input")
    got = run(graph, {prod: 1}, mapping, processes)  # split runs several instances on mpi
    assert {pe: {port: sorted(units) for port, units in ports.items()}
            for pe, ports in got.items()} == {split.id: {"even": [2, 4, 6]}}
    assert d4p.run(graph, {prod: 1}) == {split.id: {"even": [2, 4, 6], "odd": []}}
    sink = WorkflowGraph()
    sink.connect(Numbers(), "output", Drop(), "input")
    assert run(sink, None, mapping, processes) == {}


# -- the same two ports connected twice ---------------------------------------------------


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_a_double_connection_delivers_every_unit_twice(mapping, processes):
    prod, double = Numbers(), Double()
    graph = WorkflowGraph()
    graph.connect(prod, "output", double, "input")
    graph.connect(prod, "output", double, "input")
    got = run(graph, {prod: 1}, mapping, processes)
    assert sorted(got[double.id]["output"]) == [2, 2, 4, 4, 6, 6, 8, 8, 10, 10]
    assert draw(graph).count(f'"{prod.id}":out_output -> "{double.id}":in_input;') == 2


# -- composites -------------------------------------------------------------------------------


def test_a_composite_mapped_to_a_missing_port_is_a_graph_error_naming_it():
    inner = Double()
    composite = WorkflowGraph()
    composite.add(inner)
    composite.inputmappings = {"input": (inner, "in")}
    composite.outputmappings = {"output": (inner, "output")}
    prod = Numbers()
    graph = WorkflowGraph()
    graph.connect(prod, "output", composite, "input")  # accepted: dispel4py checks nothing
    assert "subgraph cluster_" in draw(graph)  # and a drawing does not validate
    with pytest.raises(d4p.GraphError) as info:
        simple_process.process_and_return(graph, {prod: 1})
    assert str(info.value) == (
        f"composite 'WorkflowGraph' maps its input 'input' to input 'in' of PE {inner.id!r}, "
        "which has no such input (its inputs: 'input')")


def test_draw_gives_one_cluster_per_composite_and_every_edge():
    def chain(graph):
        first, second = Double(), Double()
        graph.connect(first, "output", second, "input")
        graph._map_input("input", first, "input")
        graph._map_output("output", second, "output")

    outer, inner = CompositePE(chain), CompositePE(chain)
    outer.name, inner.name = "Outer", "Inner"
    prod, last = Numbers(), Double()
    graph = WorkflowGraph()
    graph.connect(prod, "output", outer, "input")
    graph.connect(outer, "output", inner, "input")
    graph.connect(inner, "output", last, "input")
    dot = draw(graph)
    assert dot.count("subgraph cluster_") == 2
    assert 'label = "Outer";' in dot and 'label = "Inner";' in dot
    first_outer, second_outer = outer.get_contained_objects()
    first_inner, _ = inner.get_contained_objects()
    assert f'"{prod.id}":out_output -> "{first_outer.id}":in_input;' in dot
    assert f'"{second_outer.id}":out_output -> "{first_inner.id}":in_input;' in dot
    assert dot.count(" -> ") == 5
    if subprocess.run(["which", "dot"], capture_output=True).returncode == 0:
        done = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    got = simple_process.process_and_return(graph, {prod: 1})
    assert got == {last.id: {"output": [32, 64, 96, 128, 160]}}


def test_pes_are_numbered_as_in_dispel4py():
    WorkflowNode.node_counter = 0
    prod, cons = Numbers(), Double()
    graph = WorkflowGraph()
    graph.connect(prod, "output", cons, "input")
    assert (prod.id, cons.id) == ("Numbers0", "Double1")
    assert [pe.id for pe in graph.getContainedObjects()] == ["Double1", "Numbers0"]


def test_propagate_types_gives_each_pe_the_types_feeding_it():
    class Typed(GenericPE):
        def __init__(self):
            GenericPE.__init__(self)
            self._add_input("input")
            self._add_output("output", tuple_type=["word", "count"])
            self.seen = None

        def setInputTypes(self, types):  # noqa: N802
            self.seen = types

    a, b = Typed(), Typed()
    graph = WorkflowGraph()
    graph.connect(a, "output", b, "input")
    graph.propagate_types()
    assert (a.seen, b.seen) == ({}, {"input": ["word", "count"]})


# -- a module with composites beside its workflow graph ---------------------------------------

MODULE_WITH_COMPOSITE = """
    from d4p.compat.workflow_graph import WorkflowGraph
    from d4p.compat.base import ProducerPE
    from d4p.compat.new.aggregate import parallelSum

    class Values(ProducerPE):
        def _process(self, inputs):
            for v in range(1, 11):
                self.write("output", [v])

    total = parallelSum()        # a composite: skipped when looking for the graph
    graph = WorkflowGraph()
    graph.connect(Values(), "output", total, "input")
"""


def test_load_graph_and_d4p_run_skip_composites(tmp_path):
    path = tmp_path / "summed.py"
    path.write_text(textwrap.dedent(MODULE_WITH_COMPOSITE))
    graph = load_graph(str(path))
    assert graph is not None and not hasattr(graph, "inputmappings")
    assert list(simple_process.process_and_return(graph, None).values()) == [
        {"output": [[55]]}]
    done = subprocess.run([sys.executable, "-m", "d4p", "run", str(path)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[55]" in done.stdout


def test_load_graph_prints_why_it_failed_and_returns_none(tmp_path, capsys):
    assert load_graph(str(tmp_path / "missing.py")) is None
    assert "Failed to load graph from" in capsys.readouterr().out


# -- aggregates -------------------------------------------------------------------------------

VALUES = [3, -7, 12, 0, -2, 9, 4, 4, -11, 8, 1]


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_parallel_aggregates(mapping, processes):
    def only(make, values=VALUES):
        graph, inputs = aggregate_graph(make, values)
        (ports,) = run(graph, inputs, mapping, processes).values()
        (value,) = ports["output"]
        return value

    assert only(aggregate.parallelSum) == [sum(VALUES)]
    assert only(aggregate.parallelCount) == [len(VALUES)]
    assert only(aggregate.parallelMin) == [-11]
    assert only(aggregate.parallelMax, [-5, -3, -9]) == [-3]  # dispel4py's MaxPE gave [0]
    assert only(aggregate.parallelAvg) == [sum(VALUES) / len(VALUES), len(VALUES), sum(VALUES)]
    std, count, total, squares = only(aggregate.parallelStdDev)
    assert math.isclose(std, statistics.stdev(VALUES))
    assert (count, total, squares) == (len(VALUES), sum(VALUES), sum(v * v for v in VALUES))


class Pairs(ProducerPE):
    def _process(self, inputs):
        for v in range(100):
            self.write("output", (v, 2 * v))


class Through(IterativePE):
    def _process(self, data):
        return data


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_partials_of_several_instances_merge_into_one_result(mapping, processes):
    """The aggregates are fed by 3 instances: the plan puts a partial behind each."""
    pairs, through = Pairs(), Through()
    through.numprocesses = 3
    summed, spread = aggregate.parallelSum([0, 1]), aggregate.parallelStdDev(1)
    graph = WorkflowGraph()
    graph.connect(pairs, "output", through, "input")
    graph.connect(through, "output", summed, "input")
    graph.connect(through, "output", spread, "input")
    got = {pe.rstrip("0123456789"): ports["output"]
           for pe, ports in run(graph, {pairs: 1}, mapping, processes).items()}
    assert got["SumPE"] == [[4950, 9900]]
    ((std, count, total, _),) = got["StdDevReducePE"]
    assert (count, total) == (100, 9900)
    assert math.isclose(std, statistics.stdev(2 * v for v in range(100)))


def test_parallel_aggregates_are_d4p_aggregates_with_dispel4pys_ids():
    """Each composite holds one d4p.aggregate PE, numbered as dispel4py's
    merging PE (its partial PE took the number before)."""
    WorkflowNode.node_counter = 0
    made = [make() for make in (aggregate.parallelSum, aggregate.parallelCount,
                                aggregate.parallelMin, aggregate.parallelMax,
                                aggregate.parallelAvg, aggregate.parallelStdDev)]
    pes = [pe for composite in made for pe in composite.get_contained_objects()]
    assert all(isinstance(pe, d4p.aggregate.AggregatePE) for pe in pes)
    assert [pe.id for pe in pes] == ["SumPE1", "CountReduce3", "MinPE5", "MaxPE7",
                                     "AverageReducePE9", "StdDevReducePE11"]
    graph = WorkflowGraph()
    graph.connect(Values([1, 2]), "output", made[0], "input")
    assert "SumPE1.partial" in make_plan(graph, 2).by_pe  # counted next to Values


def test_aggregates_of_no_data():
    """dispel4py's average and standard deviation raised ZeroDivisionError."""
    for make, want in [(aggregate.parallelSum, [[0]]), (aggregate.parallelCount, [[0]]),
                       (aggregate.parallelMin, [[None]]), (aggregate.parallelAvg, None),
                       (aggregate.parallelStdDev, None)]:
        graph, inputs = aggregate_graph(make, [])
        got = simple_process.process_and_return(graph, inputs)
        assert [ports["output"] for ports in got.values()] == ([want] if want else [])


def test_continuous_reduce_writes_each_value_as_it_was():
    class RunningSum(aggregate.ContinuousReducePE):
        def _process(self, data):
            self.value[0] += data[0]

    prod, total = Values([1, 2, 3, 4]), RunningSum()
    graph = WorkflowGraph()
    graph.connect(prod, "output", total, "input")
    got = simple_process.process_and_return(graph, {prod: 1})
    assert got == {total.id: {"output": [[1], [3], [6], [10]]}}


# -- the process APIs -----------------------------------------------------------------------


def test_simple_process_prints_inputs_and_outputs(capsys):
    prod, double = Numbers(), Double()
    graph = WorkflowGraph()
    graph.connect(prod, "output", double, "input")
    assert simple_process.process(graph, {prod: 1}) is None
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Inputs: {{'{prod.id}': 1}}",
                   f"Outputs: {{'{double.id}': {{'output': [2, 4, 6, 8, 10]}}}}"]


def test_multi_process_queue_forms():
    """One item per unit when every instance has its own process, dispel4py's
    partitioned form ``(partition, (pe, port), [units])`` with fewer
    processes or ``args.simple``; ``None`` without ``args.results``."""
    prod, double = Numbers(), Double()
    graph = WorkflowGraph()
    graph.connect(prod, "output", double, "input")
    for num, simple, want in [(2, False, "units"), (1, False, "partitioned"),
                              (4, True, "partitioned")]:
        args = argparse.Namespace(num=num, simple=simple, results=True)
        items = list(iter(multi_process.process(graph, {prod: 1}, args).get,
                          processor.STATUS_TERMINATED))
        if want == "units":
            assert sorted(items) == [(double.id, "output", v) for v in (2, 4, 6, 8, 10)]
        else:
            ((part, (pe_id, port), units),) = items
            assert (part, pe_id, port, sorted(units)) == (
                "SimpleProcessingPE1", double.id, "output", [2, 4, 6, 8, 10])
    assert multi_process.process(graph, {prod: 1}, argparse.Namespace(num=2)) is None


class Divisible(IterativePE):
    """dispel4py's tutorial PE: passes the numbers ``divisor`` divides."""

    def __init__(self, divisor):
        IterativePE.__init__(self)
        self.divisor = divisor

    def _process(self, data):
        if not data[0] % self.divisor:
            return data


class Tally(IterativePE):
    """Writes how many units its instance saw, at the end."""

    def __init__(self):
        IterativePE.__init__(self)
        self.seen = 0

    def _process(self, data):
        self.seen += 1

    def _postprocess(self):
        self.write("output", self.seen)


@pytest.mark.parametrize("mapping", [m for m in ("multi", "mpi") if m in installed_mappings()])
def test_spare_processes_go_to_the_pes_with_inputs_as_in_dispel4py(mapping, capsys):
    """dispel4py's tutorial: ``dispel4py multi myfirstgraph.py -n 4`` prints
    ``Processes: {'IntegerProducer2': [0], 'MyFirstPE3': [1, 2, 3]}``: the
    processes the sources leave are shared by the other PEs in proportion
    to numprocesses (int(numprocesses * (n - sources) / sum of numprocesses)).
    A PE whose instances each write in postprocess shows it. ``d4p.run`` (and
    so ``d4p run``) does the same with a ported graph, and afterwards the PEs
    have their numprocesses again; a d4p graph runs numprocesses instances."""
    prod, divide, tally = Values(range(2, 100)), Divisible(3), Tally()
    tally.numprocesses = 2
    graph = WorkflowGraph()
    graph.connect(prod, "output", divide, "input")  # [2] .. [99]: 33 multiples of 3
    graph.connect(divide, "output", tally, "input")
    if mapping == "mpi":
        from d4p.compat.new import mpi_process

        got = mpi_process.process(graph, {prod: 1}, argparse.Namespace(num=7))
        counts = got[tally.id]["output"]
    else:
        args = argparse.Namespace(num=7, simple=False, results=True)
        items = list(iter(multi_process.process(graph, {prod: 1}, args).get,
                          processor.STATUS_TERMINATED))
        counts = [data for _, _, data in items]
    # 6 processes left: divide 1 * 6 / 3 = 2 instances, tally 2 * 6 / 3 = 4
    assert (len(counts), sum(counts)) == (4, 33)
    assert f"'{tally.id}': [" in capsys.readouterr().out
    assert (divide.numprocesses, tally.numprocesses) == (1, 2)
    assert len(d4p.run(graph, {prod: 1}, mapping=mapping, processes=7)[tally.id]["output"]) == 4
    assert (divide.numprocesses, tally.numprocesses) == (1, 2)
    native = d4p.WorkflowGraph()
    native.connect(prod, "output", divide, "input")
    native.connect(divide, "output", tally, "input")
    assert len(d4p.run(native, {prod: 1}, mapping=mapping, processes=7)[tally.id]["output"]) == 2


@pytest.mark.skipif("multi" not in installed_mappings(), reason="multi mapping not installed")
@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_multi_process_starts_workers_as_the_program_chose(method):
    """A dispel4py program that calls ``multiprocessing.set_start_method``
    gets workers started that way (dispel4py used the default context): a
    module that only the parent has is seen by forked workers only."""
    import multiprocessing
    import types

    class Forked(ProducerPE):
        def _process(self, inputs):
            return "d4p_test_parent_only" in sys.modules

    prod = Forked()
    graph = WorkflowGraph()
    graph.connect(prod, "output", Double(), "input")
    before = multiprocessing.get_start_method(allow_none=True)
    sys.modules["d4p_test_parent_only"] = types.ModuleType("d4p_test_parent_only")
    multiprocessing.set_start_method(method, force=True)
    try:
        args = argparse.Namespace(num=2, simple=False, results=True)
        (item, end) = list(multi_process.process(graph, {prod: 1}, args).queue)
    finally:
        multiprocessing.set_start_method(before, force=True)
        del sys.modules["d4p_test_parent_only"]
    assert item[2] == 2 * (method == "fork")


def test_testing_pes_of_dispel4pys_examples_behave_as_there():
    """dispel4py's tutorial imports ``TestProducer`` from
    ``dispel4py.examples.graph_testing.testing_PEs``; the ported import finds
    the same PEs (values as dispel4py 1.2.1 gives them)."""
    from d4p.compat.examples.graph_testing import testing_PEs as pes

    def outputs(source, pe, iterations, port="input"):
        graph = WorkflowGraph()
        graph.connect(source, next(iter(source.outputconnections)), pe, port)
        return simple_process.process_and_return(graph, {source: iterations})[pe.id]

    assert outputs(pes.TestProducer(), pes.TestOneInOneOut(), 3) == {"output": [1, 2, 3]}
    assert outputs(pes.NumberProducer(3), pes.TestIterative(), 2) == {
        "output": [[0], [1], [2], [0], [2], [4]]}
    assert outputs(pes.IntegerProducer(2, 5), pes.TestOneInOneOutWriter(), 1) == {
        "output": [2, 3, 4]}
    assert outputs(pes.TestMultiProducer(3), pes.TestTwoInOneOut(), 1, "input1") == {
        "output": ["0", "1", "2"]}
    counts = outputs(pes.RandomWordProducer(), pes.WordCounter(), 20)["output"]
    assert len(counts) == 20 and {w for w, _ in counts} <= set(pes.RandomWordProducer.words)
    assert pes.WordCounter().inputconnections["input"]["grouping"] == [0]
    three = pes.TestProducer(numOutputs=3)
    assert list(three.outputconnections) == ["output0", "output1", "output2"]


def test_visualisation_display_hands_the_graph_to_the_notebook(monkeypatch):
    """``from dispel4py.visualisation import display; display(graph)``."""
    display_module = pytest.importorskip("IPython.display")
    from d4p.compat.visualisation import display

    shown = []
    monkeypatch.setattr(display_module, "display", shown.append)
    graph = WorkflowGraph()
    graph.connect(Numbers(), "output", Double(), "input")
    display(graph)
    assert shown == [graph]
    from IPython.core.formatters import format_display_data

    formats, _ = format_display_data(graph)
    assert {"image/svg+xml", "text/html"} & set(formats)


def test_create_inputs_and_load_graph_and_inputs(tmp_path):
    path = tmp_path / "doubled.py"
    path.write_text(textwrap.dedent("""
        from d4p.compat.workflow_graph import WorkflowGraph
        from d4p.compat.base import ProducerPE, IterativePE

        class Count(ProducerPE):
            def _process(self, inputs):
                return 1

        class Double(IterativePE):
            def _process(self, data):
                return 2 * data

        graph = WorkflowGraph()
        graph.connect(Count(), "output", Double(), "input")
    """))
    args = argparse.Namespace(module=str(path), attr=None, file=None, data=None, iter=3)
    graph, inputs = processor.load_graph_and_inputs(args)
    (source,) = [pe for pe in graph.get_contained_objects() if pe.name == "Count"]
    assert inputs == {source.id: 3}
    args.data = '{"Count": [{}, {}]}'
    assert processor.create_inputs(args, graph) == {source.id: [{}, {}]}
    args.data = "{oops"
    with pytest.raises(ValueError, match="-d is not valid JSON"):
        processor.create_inputs(args, graph)


# -- monitoring ----------------------------------------------------------------------------


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS[:2], ids=MAPPING_IDS[:2])
def test_timing_wrappers_log_and_keep_results(mapping, processes, capfd):
    prod = Numbers()
    timed = monitoring.ProcessTimingPE(Double())
    rated = monitoring.ReadTimingWrapper(Double())
    graph = WorkflowGraph()
    graph.connect(prod, "output", timed, "input")
    graph.connect(timed, "output", rated, "input")
    got = run(graph, {prod: 1}, mapping, processes)
    assert sorted(got[rated.id]["output"]) == [4, 8, 12, 16, 20]
    out = capfd.readouterr().out
    assert f"{timed.id}: Average processing time: " in out
    assert f"{rated.id}: Average read rate : " in out


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS[:2], ids=MAPPING_IDS[:2])
def test_monitoring_wrapper_subclass_as_in_dispel4py(mapping, processes, capfd):
    """A wrapper of the user's own, written as for dispel4py 1.2.1: subclass
    ``MonitoringWrapper``, override ``process`` (calling the wrapped PE's) and
    ``_postprocess``. dispel4py logs "units: 5" and gives the doubled numbers."""

    class CountingWrapper(monitoring.MonitoringWrapper):
        def __init__(self, baseObject):  # noqa: N803 (dispel4py API)
            monitoring.MonitoringWrapper.__init__(self, baseObject)
            self.count = 0

        def process(self, inputs):
            self.count += 1
            return self.baseObject.process(inputs)

        def _postprocess(self):
            self.log(f"units: {self.count}")

    prod, counted = Numbers(), CountingWrapper(Double())
    graph = WorkflowGraph()
    graph.connect(prod, "output", counted, "input")
    got = run(graph, {prod: 1}, mapping, processes)
    assert sorted(got[counted.id]["output"]) == [2, 4, 6, 8, 10]
    assert capfd.readouterr().out.count(f"{counted.id}: units: 5\n") == 1


def test_core_never_imports_compat():
    core = Path(d4p.__file__).parent
    for path in core.rglob("*.py"):
        if "compat" in path.relative_to(core).parts:
            continue
        text = path.read_text()
        assert "d4p.compat" not in text and "from .compat" not in text, path


def test_readme_porting_example_prints_what_it_says(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## Porting from dispel4py"):]
    start = section.index("```python\n") + 10
    code = section[start:section.index("\n```", start)]
    (script := tmp_path / "ported.py").write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    promised = code.rstrip().splitlines()[-1].removeprefix("# ")
    assert done.stdout.strip() == promised == "{'SumPE1': {'output': [[385]]}}"
    original = code.replace("d4p.compat", "dispel4py")
    assert [line for line in original.splitlines() if "d4p" in line] == []
