"""dispel4py workflows run on d4p after changing their import lines only.

The workflows in ``dispel4py_workflows/`` are written against the dispel4py
1.2.1 API (``dispel4py.core``, ``dispel4py.base``, ``dispel4py.workflow_graph``),
modelled on dispel4py's own ``examples/graph_testing``. This test makes the
one change porting needs (``dispel4py`` becomes ``d4p.compat`` in import
lines), changes nothing else, and runs the workflows on d4p. (dispel4py's own
tests and examples run the same way in test_compat_upstream.py.)

The expected values are what dispel4py 1.2.1 itself gave, obtained by running
``dispel4py_workflows/reference_run.py`` in the venv that
``bench/dispel4py_env.py`` makes (dispel4py 1.2.1 from PyPI, networkx 3.6.1,
Python 3.11), e.g.::

    bench/.venv-dispel4py/bin/python \\
        packages/d4p-core/tests/dispel4py_workflows/reference_run.py word_count multi -n 4

dispel4py's ``simple`` mapping forces one instance per PE, while its ``multi``
mapping runs ``numprocesses`` instances when given enough processes; d4p runs
``numprocesses`` instances in every mapping, so the workflows with several
instances are compared with dispel4py ``multi`` (as multisets: order within a
port is not compared, as no parallel mapping fixes it).

The last tests cover dispel4py bugs that must not exist in d4p; each says what
dispel4py 1.2.1 does.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import json
import re
import sys
from pathlib import Path

import d4p
import networkx as nx
import numpy as np
import pytest
from d4p.plan import make_plan
from d4p.plugins import installed_mappings

WORKFLOWS = Path(__file__).parent / "dispel4py_workflows"


MAPPINGS = [("simple", 1)]
if "multi" in installed_mappings():
    MAPPINGS += [("multi", 2), ("multi", 3)]
MAPPING_IDS = [f"{m}-n{n}" for m, n in MAPPINGS]


def port_to_d4p(source: str) -> str:
    """The one change a dispel4py workflow needs: ``dispel4py`` becomes
    ``d4p.compat`` in its import lines."""
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if re.match(r"(from|import) dispel4py\b", line):
            lines[i] = re.sub(r"\bdispel4py\b", "d4p.compat", line, count=1)
    return "".join(lines)


@pytest.fixture(scope="module")
def ported(tmp_path_factory):
    """Import a workflow module of dispel4py_workflows/ ported to d4p.

    The ported files are written to a temporary folder put on ``sys.path``, so
    that worker processes (fork or spawn) import the same PE classes."""
    folder = tmp_path_factory.mktemp("ported")
    names = []
    for path in sorted(WORKFLOWS.glob("*.py")):
        if path.name == "reference_run.py":
            continue
        (folder / path.name).write_text(port_to_d4p(path.read_text()))
        names.append(path.stem)
    for path in [*WORKFLOWS.glob("*.json"), *WORKFLOWS.glob("*.txt")]:
        (folder / path.name).write_text(path.read_text())
    for name in names:
        assert name not in sys.modules, f"a module called {name!r} is already imported"
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(str(folder))
        for name in names:
            sys.modules.pop(name, None)


def normalise(results: dict) -> dict:
    """``{pe_id: {port: [units]}}`` → ``{pe name: [{port: sorted units}, ...]}``,
    as ``reference_run.py`` prints dispel4py's results: PE ids are numbered
    differently, names are the same; empty outputs are left out."""
    by_name: dict[str, list] = {}
    for pe_id, ports in results.items():
        entry = {port: sorted(units, key=_unit_key) for port, units in ports.items() if units}
        if entry:
            by_name.setdefault(re.sub(r"\d+$", "", pe_id), []).append(
                json.loads(json.dumps(entry)))
    return {name: sorted(entries, key=repr) for name, entries in sorted(by_name.items())}


def _unit_key(unit):
    return (0, unit, "") if isinstance(unit, int | float) else (1, 0, repr(unit))


def run_ported(ported, workflow: str, mapping: str, processes: int, **params):
    graph, inputs = ported(workflow).build(**params)
    result = d4p.run(graph, inputs, mapping=mapping, processes=processes)
    return normalise(result), result


def numbers(*values):
    return [{"output": list(values)}]


WORDS = ["analysis", "computing", "data", "dispel4py", "mpi", "processing", "simple"]

# RESULT lines printed by reference_run.py under dispel4py 1.2.1 (see the module
# docstring); the comment names the command after "reference_run.py".
EXPECTED = {
    # pipeline simple  (same with: pipeline multi -n 6)
    "pipeline": {"TestOneInOneOut": numbers(1, 2, 3, 4, 5)},
    # split_merge simple  (same with: split_merge multi -n 4)
    "split_merge": {"TestTwoInOneOut": [{"output": ["1", "1", "2", "2", "3", "3"]}]},
    # teecopy simple  (same with: teecopy multi -n 3)
    "teecopy": {"TestOneInOneOut": numbers(1, 2, 3, 4) * 2},
    # parallel_pipeline simple  (same with: parallel_pipeline multi -n 4)
    "parallel_pipeline": {"TestOneInOneOut": numbers(*range(1, 11)) * 2},
    # grouping_onetoall multi -n 3  (2 instances of cons, each gets every unit;
    # dispel4py simple runs 1 instance and gives 1..5 once)
    "grouping_onetoall": {"TestOneInOneOut": numbers(1, 1, 2, 2, 3, 3, 4, 4, 5, 5)},
    # grouping_alltoone multi -n 11  (5 + 5 instances, one instance of cons2 gets all)
    "grouping_alltoone": {"TestOneInOneOut": numbers(*range(1, 11))},
    # pipeline_composite simple --snapshot-nodes  (and multi -n 5 --snapshot-nodes):
    # plain dispel4py cannot flatten a composite on networkx >= 2, see
    # test_composite_flattening_on_networkx_3
    "pipeline_composite": {"PE_subtract": numbers(5.0, 7.0, 9.0)},
    # word_count multi -n 4  (3 counter instances grouped by word; same as simple)
    "word_count": {"WordCounter": [{"output": [[w, c] for w in WORDS for c in (1, 2, 3)
                                              if (w, c) != ("simple", 3)]}]},
    # multi_producer simple  (same with: multi_producer multi -n 3)
    "multi_producer": {"TestOneInOneOut": numbers(*range(10))},
}


def test_porting_changes_only_import_lines():
    for path in sorted(WORKFLOWS.glob("*.py")):
        if path.name == "reference_run.py":
            continue
        old = path.read_text().splitlines()
        new = port_to_d4p(path.read_text()).splitlines()
        changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
        assert changed, f"{path.name} does not import dispel4py"
        assert all(a.startswith("from dispel4py.") and b.startswith("from d4p.compat.")
                   for a, b in changed), changed
        assert "dispel4py" not in "\n".join(line for line in new if "import" in line)


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
@pytest.mark.parametrize("workflow", sorted(EXPECTED))
def test_dispel4py_workflow_gives_dispel4py_results(ported, workflow, mapping, processes):
    got, _ = run_ported(ported, workflow, mapping, processes)
    assert got == EXPECTED[workflow]


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_several_instances_run_as_declared(ported, mapping, processes):
    """numprocesses is honoured in every mapping (dispel4py simple forces 1)."""
    _, result = run_ported(ported, "grouping_alltoone", mapping, processes)
    assert sorted(result.summary.instances.values()) == [1, 1, 5]
    assert sorted(result.summary.units.values()) == [10, 10, 10]  # iterations, units, units
    _, result = run_ported(ported, "word_count", mapping, processes)
    assert sorted(result.summary.instances.values()) == [1, 3]
    assert result.summary.units[next(p for p in result.summary.units
                                     if p.startswith("WordCounter"))] == 20


# -- dispel4py bugs that must not exist here -------------------------------------------


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_composite_flattening_on_networkx_3(ported, mapping, processes):
    """dispel4py 1.2.1 ``WorkflowGraph.flatten()`` adds nodes while iterating
    over ``graph.nodes()``: "RuntimeError: dictionary changed size during
    iteration" on networkx >= 2, so no composite (create_iterative_chain)
    workflow runs at all (reference_run.py pipeline_composite simple)."""
    assert int(nx.__version__.split(".")[0]) >= 3
    graph, inputs = ported("pipeline_composite").build()
    graph.flatten()  # the dispel4py API, in place
    assert sorted(pe.name for pe in graph.get_contained_objects()) == [
        "PE_addTwo", "PE_divideByTwo", "PE_multiplyByFour", "PE_subtract", "TestProducer"]
    result = d4p.run(graph, inputs, mapping=mapping, processes=processes)
    assert normalise(result) == EXPECTED["pipeline_composite"]
    got, _ = run_ported(ported, "pipeline_composite", mapping, processes)  # unflattened
    assert got == EXPECTED["pipeline_composite"]


def test_partitions_are_honoured_by_the_plan(ported):
    graph, inputs = ported("parallel_pipeline").build(partitioned=True)
    prod, cons1, cons2 = graph.partitions[0]
    (cons3,) = graph.partitions[1]
    for processes in (1, 2, 3):
        plan = make_plan(graph, processes, inputs)
        where = plan.assignment()
        assert where[prod.id] == where[cons1.id] == where[cons2.id]
        if processes > 1:
            assert where[cons3.id] != where[prod.id]


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_partitioned_enactment(ported, mapping, processes):
    """dispel4py 1.2.1 multi with ``graph.partitions`` crashes in
    create_partitioned ("RuntimeError: dictionary changed size during
    iteration": reference_run.py parallel_pipeline multi -n 3 --partitioned);
    with that worked around (--snapshot-nodes) it runs but drops the output of
    cons2, which is inside a partition: {"TestOneInOneOut": [1..10]} once.
    The right result is dispel4py simple's: both unconnected outputs."""
    got, result = run_ported(ported, "parallel_pipeline", mapping, processes, partitioned=True)
    assert got == EXPECTED["parallel_pipeline"]
    assert result.summary.processes == min(processes, 2)  # one per partition at most


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_fewer_processes_than_pes(ported, mapping, processes):
    """dispel4py 1.2.1 multi with fewer processes than PE instances falls back
    to partitioning and crashes: "RuntimeError: dictionary changed size during
    iteration" (reference_run.py parallel_pipeline multi -n 3, 4 PEs) or
    "TypeError: cannot unpack non-iterable NoneType object"
    (reference_run.py fan_in multi -n 4, 5 instances)."""
    got, result = run_ported(ported, "parallel_pipeline", mapping, processes)
    assert got == EXPECTED["parallel_pipeline"]
    assert len(result.summary.units) == 4 > processes


FAN_IN = {"Collector": [{"output": [[*range(10), *range(100, 110)]]}]}
"""reference_run.py fan_in simple (one instance of the merging PE)."""


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_two_edges_into_one_input_of_a_parallel_pe_finishes(ported, mapping, processes):
    """Two producers feed the one input of a PE with 2 instances. dispel4py
    1.2.1 multi never finishes (reference_run.py fan_in multi -n 5 was killed
    after 20 s): the merging PE's instances share one list of sources that is
    extended once per instance, so they wait for end-of-stream signals that
    never come. Here it finishes, with every unit exactly once."""
    got, result = run_ported(ported, "fan_in", mapping, processes)
    assert got == FAN_IN
    merge = next(p for p in result.summary.instances if p.startswith("TestIterative"))
    assert result.summary.instances[merge] == 2
    assert result.summary.units[merge] == 20


NONROOT = {"TestOneInOneOut": numbers(2, 4, 6, 200, 400)}
"""Double gets 1, 2, 3 from the producer and 100, 200 from the file."""


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_file_inputs_for_a_non_root_pe(ported, mapping, processes):
    """An input file naming a PE that has upstream PEs: dispel4py 1.2.1 simple
    fails with "TypeError: list indices must be integers or slices, not str"
    (reference_run.py nonroot_inputs simple -f nonroot_inputs.json), and its
    multi silently drops the producer's units (gives [200, 400])."""
    graph, _ = ported("nonroot_inputs").build()
    inputs = json.loads((WORKFLOWS / "nonroot_inputs.json").read_text())
    result = d4p.run(graph, inputs, mapping=mapping, processes=processes)
    assert normalise(result) == NONROOT


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=MAPPING_IDS)
def test_file_inputs_for_a_non_root_pe_on_the_command_line(ported, tmp_path, mapping,
                                                           processes):
    """The same through ``d4p run FILE -f inputs.json``, as with ``dispel4py simple``."""
    cli = pytest.importorskip("d4p.cli")
    module = ported("nonroot_inputs")
    out = tmp_path / "results.json"
    code = cli.main([
        "run", module.__file__, "-f", str(Path(module.__file__).with_suffix(".json")),
        "-m", mapping, "-n", str(processes), "-q", "-o", str(out)])
    assert code == 0
    assert normalise(json.loads(out.read_text())["results"]) == NONROOT


@pytest.mark.skipif("multi" not in installed_mappings(), reason="multi mapping not installed")
def test_ported_workflows_run_under_spawn(ported):
    """Ported PE classes are importable by spawned workers (they pickle by name)."""
    for workflow in ("word_count", "pipeline_composite"):
        graph, inputs = ported(workflow).build()
        result = d4p.run(graph, inputs, mapping="multi", processes=2, start_method="spawn")
        assert normalise(result) == EXPECTED[workflow]


# -- ported programs through dispel4py's own entry points ----------------------------------
#
# Programs written as users write them for dispel4py 1.2.1 (sentiment, astro,
# seismo-like numpy chains, word count from a file, nested composites, ...), run
# through the ported API: simple_process.process_and_return,
# multi_process.process (fork, and spawn chosen with
# multiprocessing.set_start_method as a dispel4py program does) and
# mpi_process.process, on 4 processes. The expected values are what
# dispel4py 1.2.1 gives: "reference_run.py PROGRAM multi -n 8 --snapshot-nodes"
# (on -n 4 dispel4py falls back to partitions, which 1.2.1 cannot run:
# "TypeError: cannot unpack non-iterable NoneType object"), the same under
# mpiexec -n 8 where dispel4py mpi runs the program, and simple where noted.

PROGRAMS = {
    # self.write(..., metadata=...) and group-by on a list index, 'global' top
    "sentiment_metadata": {"Top": [{"output": [[["pos", 4, 16], ["neg", 2, -10]]]}]},
    # the root PE's data given as [{"input": ...}] (internal-extinction style)
    "astro_coordinates": {"Collect": [{"output": [[4.0, 8.0, 18.5, 16.0, 20.0]]}]},
    # numpy traces through create_iterative_chain with (fn, kwargs) steps
    "seismo_chain": {"PE_summarise": [{"output": [
        ["ST01", 8, 4.0, -4.7253], ["ST02", 8, 4.0, -2.9938], ["ST03", 8, 4.0, -2.7111],
        ["ST04", 8, 4.0, -2.3856]]}]},
    # a CompositePE(create_graph, params) holding a create_iterative_chain, twice
    "nested_composite": {"PE_square": [{"output": [1, 4, 9, 16]},
                                       {"output": [9, 25, 49, 81]}]},
    # dispel4py's examples/wordcount.py: composite with a re-declared 'global' input
    "wordcount_file": {"CountByGroup": [{"output": [
        ["barks", 1], ["brown", 1], ["dog", 2], ["fox", 2], ["jumps", 1], ["lazy", 1],
        ["over", 1], ["quick", 3], ["the", 3]]}]},
    # every stage writes in postprocess (dispel4py simple, one Batch: [6, 10, 15, 24])
    "postprocess_cascade": {"Final": [{"parts": [[9, 12, 16, 18]], "total": [55]}]},
    # grouping=['station'] on dict units beside grouping=[0]; dispel4py simple
    # (its multi never ends: two edges into one input of a parallel PE)
    "join_two_inputs": {"Join": [{"orphans": ["EEE"]}], "Label": [{"output": [
        "AAA@10:0.0,6.0", "BBB@20:1.5", "CCC@30:3.0,7.5", "DDD@40:4.5"]}]},
    # a 'global' grouping set in inputconnections after IterativePE.__init__
    "producer_iterations": {"RunningSum": [{"output": [[4, 20]]}]},
    # a plain WorkflowGraph given inputmappings/outputmappings, inside another
    "plain_graph_composite": {"SumByKey": [{"output": [["A", 180], ["B", 120],
                                                       ["C", 150]]}]},
    # one output to 3 PEs that change their input in place (numpy, as ObsPy does),
    # one of them an 'all' input of 2 instances (dispel4py simple runs 1 and
    # gives one Demean list, multi -n 8 gives 3: see the spare processes)
    "tee_inplace": {
        "Archive": [{"output": [["ST0", [0.0, 1.0, 2.0, 3.0]], ["ST1", [0.0, 2.0, 4.0, 6.0]],
                                ["ST2", [0.0, 3.0, 6.0, 9.0]], ["ST3", [0.0, 4.0, 8.0, 12.0]]]}],
        "Demean": [{"output": [[4.0, 8.0, 12.0, 16.0]] * 2}],
        "Whiten": [{"output": [[f"ST{i}", [0.0, 0.333, 0.667, 1.0]] for i in range(4)]}]},
    # dispel4py's tutorial, with TestProducer from dispel4py.examples (multi -n 4)
    "tutorial_divisible": {"MyFirstPE": [{"output": [3, 6, 9, 12, 15, 18]}]},
    # the training material's EvenOdd: one output to two filters of one class,
    # a GenericPE overriding _process, writing in _postprocess (simple, multi -n 4)
    "even_odd": {"PairProducer": [{"left": [1], "output": [[1, 4], [5, 6], [9, 4], [9, 6]]}]},
    # the training material's compression: IterativePE and ConsumerPE overriding
    # process itself (simple, multi -n 4)
    "compression": {"ZlibDeCompression": [{"output": [["111", True, 12], ["222", True, 12],
                                                       ["333", True, 12], ["444", True, 12]]}]},
    # the training material's WordCount: _postprocess writes a defaultdict, logs
    # self.rank (multi -n 4; dispel4py simple has no self.rank: AttributeError)
    "tutorial_wordcount": {"CountWords": [{"output": [{
        "Hello": 3, "algo": 1, "mas": 1, "World": 3, "the": 2, "is": 1, "world": 1,
        "again": 1}]}]},
    # propagate_types through a ProcessTimingPE-wrapped PE that derives its output
    # type from its input types; self._write (simple, multi -n 4)
    "typed_graph": {"Report": [{"output": [
        [["station", "value", "tag"], ["ST0", 20, "t"]],
        [["station", "value", "tag"], ["ST1", 10, "t"]],
        [["station", "value", "tag"], ["ST1", 30, "t"]]]}]},
    # self.write with the keywords of dispel4py's provenance recorder (location=,
    # format=, dep=, control=), which 1.2.1 ignores (simple, multi -n 4 and -n 8)
    "provenance_keywords": {"StationPeak": [{"output": [["ST0", 5], ["ST1", 9], ["ST2", 3]]}]},
    # inputs {"Sensor": 4} by the name of two PEs of one class: each runs 4
    # iterations; process() returns one or two outputs (simple, multi -n 4, -n 8)
    "twin_sensors": {"Difference": [{"alarms": ["t=2: 23 degrees"],
                                     "output": [[1, 19], [2, 23], [3, 17], [4, 21]]}]},
    # PageRank.py of dispel4py's benchmarks, one iteration in memory: grouped
    # stages of 3 and 2 instances writing everything in postprocess (defaultdicts),
    # a 'global' input fed by two PEs (simple, multi -n 8; 1.2.1 multi -n 16 hangs)
    "pagerank_iteration": {"Check": [{"ranks": [[0.2375, 0.0958, 0.3083, 0.0958, 0.2375,
                                                 0.025]]}],
                           "Timer": [{"output": [[["end", 1, 6], ["start", 1]]]}]},
}

ENTRY_POINTS = [("simple", None)]
if "multi" in installed_mappings():
    ENTRY_POINTS += [("multi", "fork"), ("multi", "spawn")]
if "mpi" in installed_mappings():
    ENTRY_POINTS += [("mpi", None)]
ENTRY_IDS = [m if s is None else f"{m}-{s}" for m, s in ENTRY_POINTS]


def run_through_dispel4py_api(graph, inputs, mapping: str, start_method: str | None = None,
                              processes: int = 4) -> dict:
    """``{pe_id: {port: [units]}}`` as the ported program gets them from
    dispel4py's entry point for ``mapping``."""
    import argparse
    import multiprocessing

    if mapping == "simple":
        from d4p.compat.new.simple_process import process_and_return

        return process_and_return(graph, inputs)
    if mapping == "mpi":
        from d4p.compat.new.mpi_process import process

        return process(graph, inputs, argparse.Namespace(num=processes, simple=False))
    from d4p.compat.new.multi_process import STATUS_TERMINATED, process

    before = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(start_method, force=True)
    try:
        queue = process(graph, inputs, argparse.Namespace(num=processes, simple=False,
                                                          results=True))
    finally:
        multiprocessing.set_start_method(before, force=True)
    results: dict = {}
    for pe_id, port, data in iter(queue.get, STATUS_TERMINATED):
        if isinstance(port, tuple):  # run in partitions: (partition, (pe, port), [data])
            (pe_id, port), units = port, data
        else:
            units = [data]
        results.setdefault(pe_id, {}).setdefault(port, []).extend(units)
    return results


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mapping", "start_method"), ENTRY_POINTS, ids=ENTRY_IDS)
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_ported_program_gives_dispel4py_results(ported, program, mapping, start_method):
    graph, inputs = ported(program).build()
    got = run_through_dispel4py_api(graph, inputs, mapping, start_method)
    assert normalise(got) == PROGRAMS[program]


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mapping", "start_method"), ENTRY_POINTS, ids=ENTRY_IDS)
def test_ported_program_with_per_instance_counts(ported, mapping, start_method):
    """direct_connections: Split (numprocesses 3, group-by [0, 1] and an 'all'
    input, ports declared in inputconnections) writes its count of units per
    instance. dispel4py multi -n 4 gives 3 counts summing to 12 (which
    instance gets which key follows Python's salted hash: [0, 6, 6] in one run)
    and -n 8 seven (its spare processes go to Split: [0, 0, 2, 2, 2, 2, 4]);
    dispel4py simple forces one instance ([12]), d4p runs numprocesses."""
    graph, inputs = ported("direct_connections").build()
    got = run_through_dispel4py_api(graph, inputs, mapping, start_method)
    (split,) = got.values()
    counts = split.pop("count")
    assert sum(counts) == 12
    assert len(counts) == 3
    high = [["st0", "HHN", 9], ["st0", "HHZ", 6], ["st1", "HHN", 7], ["st1", "HHZ", 10],
            ["st2", "HHN", 11], ["st2", "HHZ", 8]]
    low = [["st0", "HHN", 3], ["st0", "HHZ", 0], ["st1", "HHN", 1], ["st1", "HHZ", 4],
           ["st2", "HHN", 5], ["st2", "HHZ", 2]]
    assert normalise(got) == {"Split": [{"high": high, "low": low}]}
    if mapping == "multi" and start_method == "fork":
        graph, inputs = ported("direct_connections").build()
        got = run_through_dispel4py_api(graph, inputs, mapping, start_method, processes=8)
        counts = next(iter(got.values()))["count"]
        assert (len(counts), sum(counts)) == (7, 12)


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mapping", "start_method"), ENTRY_POINTS, ids=ENTRY_IDS)
def test_ported_internal_extinction(ported, monkeypatch, mapping, start_method):
    """dispel4py's internal-extinction workflow (a local table for VizieR): a
    root PE with no declared input given ``[{"input": FILE}]``, a name set
    before connecting, an attribute set after construction. dispel4py 1.2.1
    simple and multi -n 4 give these (multi -n 4 -s crashes in 1.2.1: "dictionary
    changed size during iteration")."""
    module = ported("internal_extinction")
    monkeypatch.chdir(Path(module.__file__).parent)  # the file is named relative to it
    graph, inputs = module.build()
    got = normalise(run_through_dispel4py_api(graph, inputs, mapping, start_method))
    assert got == {"InternalExtinction": [{"output": [
        [1, "16.48295", "4.0905", "Sb", 0.11, 3.0, 0.164],
        [2, "24.8595", "14.5519", "E", 0.04, -5.0, -0.0],
        [3, "31.15", "-2.6", "SBc", 0.35, 6.0, 0.614],
        [4, "40.0", "1.5", None, 0.2, -10.0, -0.0]]}]}


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mapping", "start_method"), ENTRY_POINTS, ids=ENTRY_IDS)
def test_ported_xcorr_writes_the_files_dispel4py_writes(ported, tmp_path, monkeypatch,
                                                      mapping, start_method):
    """xcorr_files (dispel4py's realtime_xcorr.py on synthetic traces): the
    results are files written by ConsumerPEs. dispel4py 1.2.1 (simple, multi
    -n 4 and -n 8) writes 20 files: per pair of the 5 stations, the
    cross-correlation (.npy) and its peak; these are their sums and texts."""
    module = ported("xcorr_files")
    monkeypatch.chdir(tmp_path)
    graph, inputs = module.build()
    assert run_through_dispel4py_api(graph, inputs, mapping, start_method) == {}
    written = module.summary()
    traces = [np.load(tmp_path / f"xcorr_output/DATA/ST{s}.npy") for s in range(5)]
    expected = {}
    for i, j in itertools.combinations(range(5), 2):
        xc = module.xcorrf(traces[i], traces[j], 8)
        expected[f"XCORR/{i}_{j}/Xcorr_{i}_{j}.out.npy"] = round(float(xc.sum()), 4)
        expected[f"XCORR/Xcorr_{i}_{j}.peak"] = f"{int(np.argmax(xc))} {float(np.max(xc)):.4f}"
    assert written == dict(sorted(expected.items()))
    assert (written["XCORR/0_1/Xcorr_0_1.out.npy"], written["XCORR/3_4/Xcorr_3_4.out.npy"],
            written["XCORR/Xcorr_3_4.peak"]) == (7.3046, 149.7244, "1 10.8702")


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mapping", "start_method"), ENTRY_POINTS, ids=ENTRY_IDS)
def test_ported_program_whose_pe_raises(ported, mapping, start_method):
    """exception_raiser (dispel4py's test_exceptions.py): under dispel4py
    1.2.1's simple mapping, ``process_and_return`` raises the PE's own
    ValueError, which the program may catch; here too, with a note naming the
    PE and the data. Its multi printed the error in a worker and returned
    partial results; d4p's parallel mappings raise WorkflowFailed naming the PE."""
    graph, inputs = ported("exception_raiser").build()
    if mapping == "simple":
        with pytest.raises(ValueError) as info:
            run_through_dispel4py_api(graph, inputs, mapping, start_method)
        assert str(info.value) == "Not an even number!"
        (note,) = info.value.__notes__
        assert re.fullmatch(r"PE 'ExceptionRaiser\d+' \(instance 0\) failed on input 'input' "
                            r"with data 1: ValueError: Not an even number!", note)
    else:
        with pytest.raises(d4p.WorkflowFailed, match=r"PE 'ExceptionRaiser\d+' .*ValueError"):
            run_through_dispel4py_api(graph, inputs, mapping, start_method)


def test_a_second_run_gives_the_same_results(ported):
    """dispel4py 1.2.1's simple mapping runs the graph's PE objects in place:
    after even_odd the producer's counter is 9 and a second run goes on from
    it (pairs [1, 0], [9, 4], ...: squares of 10 to 18). Here a run leaves the
    objects as they were and gives the same results again."""
    graph, inputs = ported("even_odd").build()
    first = normalise(run_through_dispel4py_api(graph, inputs, "simple"))
    assert normalise(run_through_dispel4py_api(graph, inputs, "simple")) == first \
        == PROGRAMS["even_odd"]
    (producer,) = inputs
    assert producer.n == 0


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mapping", "start_method"), ENTRY_POINTS, ids=ENTRY_IDS)
def test_ported_program_with_aggregates(ported, mapping, start_method):
    """aggregate_stats: a SimpleFunctionPE of 2 instances feeds parallelSum,
    parallelCount, parallelAvg, parallelMax and a ContinuousReducePE subclass.
    dispel4py 1.2.1 (simple, and multi -n 16, both --snapshot-nodes) gives
    these; the running maximum written per unit depends on the order in which
    the 2 instances' units arrive, so only its count and last value compare."""
    graph, inputs = ported("aggregate_stats").build()
    got = normalise(run_through_dispel4py_api(graph, inputs, mapping, start_method))
    running = got.pop("RunningMax")[0]["output"]
    assert (len(running), max(running)) == (12, [24])
    assert got == {"AverageReducePE": [{"output": [[13.0, 12, 156]]}],
                   "CountReduce": [{"output": [[12]]}], "MaxPE": [{"output": [[24]]}],
                   "SumPE": [{"output": [[156]]}]}


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mapping", "start_method"), ENTRY_POINTS[:2], ids=ENTRY_IDS[:2])
def test_ported_programs_on_the_command_line(ported, tmp_path, capfd, mapping, start_method):
    """``dispel4py simple PROGRAM -d JSON`` / ``-i N`` become ``d4p run PROGRAM
    -d JSON`` / ``-i N`` with the same JSON (PE names as keys); the outputs are
    what dispel4py 1.2.1 printed for the same command (for wordcount_file,
    which 1.2.1 cannot flatten, with --snapshot-nodes as above)."""
    cli = pytest.importorskip("d4p.cli")
    options = ["-m", mapping, "-n", "4", "-q"]
    out = tmp_path / "results.json"
    astro = ported("astro_coordinates").__file__
    assert cli.main(["run", astro, "-d", '{"ReadRaDec": [{"input": "1,2;3,4"}]}',
                     *options, "-o", str(out)]) == 0
    assert normalise(json.loads(out.read_text())["results"]) == {
        "Collect": [{"output": [[-1.5, -2.5]]}]}
    counting = ported("producer_iterations").__file__
    assert cli.main(["run", counting, "-i", "6", *options, "-o", str(out)]) == 0
    assert normalise(json.loads(out.read_text())["results"]) == {
        "RunningSum": [{"output": [[3, 12]]}]}
    if mapping == "multi":  # reference_run.py grouping_onetoall multi -n 4: cons runs 3
        onetoall = ported("grouping_onetoall").__file__  # instances ('all'), not 2
        assert cli.main(["run", onetoall, "-i", "5", *options, "-o", str(out)]) == 0
        assert normalise(json.loads(out.read_text())["results"]) == {
            "TestOneInOneOut": numbers(*sorted([1, 2, 3, 4, 5] * 3))}
    tutorial = ported("tutorial_divisible").__file__
    assert cli.main(["run", tutorial, "-i", "20", *options, "-o", str(out)]) == 0
    assert normalise(json.loads(out.read_text())["results"]) == PROGRAMS["tutorial_divisible"]
    capfd.readouterr()
    words = ported("wordcount_file").__file__  # the graph ends in Print, which logs
    assert cli.main(["run", words, "-d", '{"SplitTextFile": [{"input": "words.txt"}]}',
                     *options]) == 0
    printed = [re.sub(r"^Print\d+: ", "", line) for line in capfd.readouterr().out.splitlines()
               if line.startswith("Print")]
    assert sorted(printed) == ["barks: 1", "brown: 1", "dog: 2", "fox: 2", "jumps: 1",
                               "lazy: 1", "over: 1", "quick: 3", "the: 3"]


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mapping", "start_method"), ENTRY_POINTS[:2], ids=ENTRY_IDS[:2])
def test_ported_root_with_an_input_runs_the_iterations(ported, tmp_path, mapping, start_method):
    """station_defaults: the root PE declares an input for optional parameters.
    dispel4py 1.2.1's ``-i 2`` runs every PE that nothing feeds twice, and
    without ``-i`` or ``-d`` once (its default is ``-i 1``), whatever inputs
    it declares (simple and multi -n 4 print these)."""
    cli = pytest.importorskip("d4p.cli")
    program = ported("station_defaults").__file__
    out = tmp_path / "results.json"
    once = ["1:ST1:1.0", "1:ST2:5.0", "1:ST3:10.0"]
    for given, expected in ((["-i", "2"], once + ["2:ST1:1.0", "2:ST2:5.0", "2:ST3:10.0"]),
                            ([], once),
                            (["-d", '{"ReadStations": [{"input": ["ST9 3 4"]}]}'], ["1:ST9:5.0"])):
        assert cli.main(["run", program, *given, "-m", mapping, "-n", "4", "-q",
                         "-o", str(out)]) == 0
        assert normalise(json.loads(out.read_text())["results"]) == {
            "Distance": [{"output": expected}]}, given


@pytest.mark.timeout(240)
def test_ported_command_line_through_the_processor_module(ported):
    """``python -m dispel4py.new.processor simple prog.py -i 9`` and ``python -m
    dispel4py multi prog.py -n 4 -i 9`` ported (``dispel4py`` → ``d4p.compat``)
    run the program and print what dispel4py 1.2.1 printed (the outputs, in
    another order; the PE's log line); a target that is no mapping is one line
    naming it and the choices."""
    import subprocess

    program = ported("even_odd").__file__

    def command(*args):
        done = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                              timeout=200, cwd=Path(program).parent)
        return done.returncode, done.stdout, done.stderr

    code, out, err = command("d4p.compat.new.processor", "simple", program, "-i", "9")
    assert code == 0, err
    printed = ast.literal_eval(out.split("Outputs: ", 1)[1].strip())
    assert {re.sub(r"\d+$", "", k): {p: sorted(u) for p, u in v.items()}
            for k, v in printed.items()} == {
        "PairProducer": {"left": [1], "output": [(1, 4), (5, 6), (9, 4), (9, 6)]}}
    assert "Processing 9 iterations." in out
    assert "We are left behind: odd: [81], even: []" in out
    code, out, err = command("d4p.compat", "multi", program, "-n", "4", "-i", "9")
    assert code == 0, err
    assert "We are left behind: odd: [81], even: []" in out
    code, out, err = command("d4p.compat.new.processor", "spark", program)
    assert code == 2
    assert err.strip().splitlines() == [
        "d4p: error: unknown target 'spark': use simple, multi or mpi (for d4p's other "
        f"mappings: d4p run {program} -m MAPPING)"]


def test_ported_simple_command_takes_a_process_count(ported, capsys):
    """``dispel4py simple prog.py -n 4 -i 9`` ran in dispel4py 1.2.1 (its
    simple target ignored ``-n``, so a script switches mappings by the target
    word alone); ported, it runs too and prints the same outputs. Other
    options are refused as dispel4py's multi refuses them."""
    from d4p.compat.new.processor import main

    program = ported("even_odd").__file__
    assert main(["simple", program, "-n", "4", "-i", "9"]) == 0
    out = capsys.readouterr().out
    printed = ast.literal_eval(out.split("Outputs: ", 1)[1].strip())
    assert {re.sub(r"\d+$", "", k): {p: sorted(u) for p, u in v.items()}
            for k, v in printed.items()} == {
        "PairProducer": {"left": [1], "output": [(1, 4), (5, 6), (9, 4), (9, 6)]}}
    with pytest.raises(SystemExit) as info:
        main(["simple", program, "-n", "4", "--nmu", "4"])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == \
        "dispel4py: error: unrecognized arguments: --nmu 4"


@pytest.mark.timeout(240)
def test_ported_command_line_under_mpiexec(ported):
    """``mpiexec -n 4 dispel4py mpi prog.py -d JSON`` ported: ``mpiexec -n 4
    python -m d4p.compat.new.processor mpi prog.py -d JSON``; every rank runs
    it and the graph runs on the 4 ranks, with dispel4py 1.2.1's log lines."""
    import subprocess

    pytest.importorskip("d4p_mpi")
    from d4p_mpi.environment import mpiexec_command

    program = Path(ported("internal_extinction").__file__)
    done = subprocess.run(
        [*mpiexec_command(), "-n", "4", sys.executable, "-m", "d4p.compat.new.processor", "mpi",
         program.name, "-d", '{"read": [{"input": "coordinates.txt"}]}'],
        capture_output=True, text=True, timeout=200, cwd=program.parent)
    assert done.returncode == 0, done.stderr
    lines = [re.sub(r"^(\w+?)\d+: ", r"\1: ", line) for line in done.stdout.splitlines()]
    assert lines.count("read: Reading file coordinates.txt") == 1
    assert lines.count("InternalExtinction: KIG5: failed to calculate internal extinction") == 1
    assert sum(line.startswith("Processes: ") for line in lines) == 1  # rank 0 only

