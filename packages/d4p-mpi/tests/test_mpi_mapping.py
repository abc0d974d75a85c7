"""The mpi mapping launched from a plain Python process: same outputs as
simple, NumPy arrays, backpressure, PEs from files and scripts, usage errors."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import d4p
import mpi_workflows
import numpy as np
import pytest
from d4p.examples import Summer, pipeline, wordcount
from d4p.testing.workflows import LOGGED, NOTEBOOK_CELL, SETUP_WORKFLOW
from d4p_mpi import MPIMapping
from mpi_processes import assert_no_leftovers


def _values(result) -> list:
    return sorted(repr(v) for ports in result.values() for units in ports.values() for v in units)


def test_mpi_is_a_registered_mapping_with_its_options():
    assert d4p.get_mapping("mpi") is MPIMapping
    assert [o.name for o in MPIMapping.options] == ["timeout", "batch_size", "queue_size",
                                                    "buffer_mb", "mpiexec", "run_folder"]


@pytest.mark.parametrize("processes", [2, 3, 4])
def test_wordcount_matches_simple(processes):
    graph, inputs = wordcount(20_000, counters=3)
    result = d4p.run(graph, inputs, mapping="mpi", processes=processes, timeout=60)
    assert _values(result) == _values(d4p.run(*wordcount(20_000, counters=3)))
    assert result.summary.processes == processes
    assert result.summary.units["count1.partial"] == 20_000
    assert_no_leftovers()


def test_pipeline_matches_simple():
    result = d4p.run(*pipeline(50_000), mapping="mpi", processes=2, timeout=60)
    assert _values(result) == [repr(2 * sum(range(50_000)))]


def test_numpy_arrays_cross_ranks_intact():
    graph, inputs = mpi_workflows.arrays(n=20, size=50_000)
    result = d4p.run(graph, inputs, mapping="mpi", processes=3, timeout=60)
    (stats,) = result.values()
    assert sorted(stats["output"]) == [(float(k), 50_000.0 * k, 50_000, True) for k in range(20)]
    assert set(result.summary.assignment[next(iter(result))]) == {1, 2}  # not on the source's rank


def test_ranks_feeding_each_other_with_a_tiny_window_finish():
    graph, inputs = mpi_workflows.crossing(20_000)
    result = d4p.run(graph, inputs, mapping="mpi", processes=2, timeout=60, queue_size=1,
                    batch_size=4)
    placed = result.summary.assignment
    producers = [pe for pe in placed if pe.startswith("Numbers")]
    assert sorted(placed[p][0] for p in producers) == [0, 1]
    for ports in result.values():
        assert sorted(t[1:] for t in ports["output"]) == [(99_990_000, 10_000),
                                                          (100_000_000, 10_000)]


def test_what_pes_print_reaches_the_callers_stdout(capfd):
    graph, inputs = mpi_workflows.printing(6)
    d4p.run(graph, inputs, mapping="mpi", processes=3, timeout=60)
    lines = sorted(line for line in capfd.readouterr().out.splitlines()
                   if line.startswith("unit "))
    assert lines == sorted(f"unit {i} on instance {i % 2}" for i in range(6))


def test_progress_is_told_the_final_counts():
    seen = []
    d4p.run(*pipeline(1000), mapping="mpi", processes=2, progress=seen.append, timeout=60)
    assert seen and sum(seen[-1].values()) == 1 + 1000 + 1000


WORKFLOW_FILE = '''
import d4p

class Numbers(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(100):
            self.write("output", i)

@d4p.iterative
def square(x):
    return x * x

graph = d4p.WorkflowGraph()
sq = square()
sq.numprocesses = 2
graph.connect(Numbers(), "output", sq, "input")

if __name__ == "__main__":
    result = d4p.run(graph, mapping="mpi", processes=3, timeout=60)
    (ports,) = result.values()
    print("SUM", sum(ports["output"]))
'''


def test_script_whose_pes_live_in_main(tmp_path):
    script = tmp_path / "squares.py"
    script.write_text(textwrap.dedent(WORKFLOW_FILE))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"SUM {sum(i * i for i in range(100))}" in run.stdout


def test_cli_launches_mpiexec_for_a_workflow_file(tmp_path):
    (tmp_path / "squares.py").write_text(textwrap.dedent(WORKFLOW_FILE))
    d4p_command = os.path.join(os.path.dirname(sys.executable), "d4p")
    run = subprocess.run([d4p_command, "run", "squares.py", "--mapping", "mpi", "-n", "3"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "mpi mapping, 3 processes" in run.stdout + run.stderr
    assert "square1.output: 100 values" in run.stdout
    assert "\n  324\n" in run.stdout  # 18 * 18, among the values shown


SCALE_LIB = """
import d4p

class Scale(d4p.IterativePE):
    factor = 1
    def _process(self, x):
        return x * self.factor
"""
SCALED_WORKFLOW = """
from d4p import WorkflowGraph
from d4p.examples import NumberProducer
from scale_lib import Scale

Scale.factor = 7
graph = WorkflowGraph()
scale = Scale()
scale.numprocesses = 2
graph.connect(NumberProducer(6), "output", scale, "input")
"""


SETTINGS_LIB = """
THRESHOLD = 1
NAMES = ("a",)
"""
SETTINGS_WORKFLOW = """
import settings_lib
from d4p import IterativePE, WorkflowGraph
from d4p.examples import NumberProducer

settings_lib.THRESHOLD = 7
settings_lib.NAMES = ("b", "c")


class Scale(IterativePE):
    def _process(self, x):
        return x * settings_lib.THRESHOLD, settings_lib.NAMES

graph = WorkflowGraph()
scale = Scale()
scale.numprocesses = 2
graph.connect(NumberProducer(4), "output", scale, "input")
"""


@pytest.mark.parametrize(("lib", "workflow", "want"), [
    # before, the ranks imported the library afresh: factor 1, values 0..3
    (SCALE_LIB, SCALED_WORKFLOW.replace("NumberProducer(6)", "NumberProducer(4)"),
     [0, 7, 14, 21]),
    # ... and THRESHOLD 1, NAMES ("a",)
    (SETTINGS_LIB, SETTINGS_WORKFLOW, [[x, ["b", "c"]] for x in (0, 7, 14, 21)]),
], ids=["class-attribute", "module-setting"])
def test_what_the_workflow_file_sets_reaches_the_ranks(tmp_path, lib, workflow, want):
    (tmp_path / "scale_lib.py").write_text(lib)
    (tmp_path / "settings_lib.py").write_text(lib)
    (tmp_path / "wf.py").write_text(workflow)
    d4p_command = os.path.join(os.path.dirname(sys.executable), "d4p")
    run = subprocess.run([d4p_command, "run", "wf.py", "-m", "mpi", "-n", "3", "-o",
                          "out.json"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (values,) = [ports["output"] for ports in
                 json.loads((tmp_path / "out.json").read_text())["results"].values()]
    assert sorted(values) == want


def test_a_dataclass_of_a_notebook_travels_between_ranks(tmp_path):
    # before: "PE 'Points0' wrote data ... that cannot be sent to PE 'Move1' in
    # another process (PicklingError: Can't pickle <class '__main__.Point'>...)"
    (tmp_path / "kernel.py").write_text(NOTEBOOK_CELL)
    done = subprocess.run([sys.executable, "kernel.py", "mpi"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "RESULT [(1, 0), (2, 1), (3, 4), (4, 9), (5, 16)]" in done.stdout
    assert_no_leftovers()


def test_logging_and_numpy_errors_set_up_by_the_workflow_file_reach_the_ranks(tmp_path):
    # before: the ranks had no log handler and level WARNING (the PE's INFO
    # lines were lost), and NumPy only warned of a division by zero
    (tmp_path / "setup.py").write_text(SETUP_WORKFLOW)
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "setup.py", "-m", "mpi", "-n",
                           "2", "--no-fuse", "-o", "out.json"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "LOG" in line] == LOGGED
    results = json.loads((tmp_path / "out.json").read_text())["results"]
    assert [ports["output"] for ports in results.values()] == [["raised"] * 3]
    assert_no_leftovers()


class TermsItsOwnRank(d4p.ProducerPE):
    """Endless, but sends SIGTERM to its own rank after 100 units (as an
    administrator or a batch system might)."""

    def _process(self, inputs):
        for i in range(10**9):
            self.write("output", i)
            if i == 100:
                os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_to_one_rank_stops_the_whole_run_gracefully_and_says_so():
    # before: that rank died: "an MPI rank died without reporting an error
    # (mpiexec exit status 15 ...)" and mpiexec's BAD TERMINATION banner
    graph = d4p.WorkflowGraph()
    source, total = TermsItsOwnRank(), Summer()
    graph.connect(source, "output", total, "input")
    result = d4p.run(graph, mapping="mpi", processes=2, fuse=False, timeout=60)
    (rank,) = result.summary.assignment[source.id]
    assert result.summary.stopped == f"SIGTERM to MPI rank {rank}"
    (n,) = result[total.id]["output"]
    assert n >= sum(range(101))
    assert_no_leftovers()


class Local(d4p.IterativePE):
    def __init__(self):
        super().__init__()
        self.fn = lambda x: x + 1  # travels by value (cloudpickle)

    def _process(self, data):
        return self.fn(data)


def test_a_pe_holding_a_lambda_runs_on_the_ranks():
    graph = d4p.WorkflowGraph()
    local = Local()
    graph.connect(mpi_workflows.Numbers(10), "output", local, "input")
    result = d4p.run(graph, mapping="mpi", processes=2, timeout=60)
    assert sorted(result[local.id]["output"]) == list(range(1, 11))
    assert_no_leftovers()


def test_a_pe_class_defined_in_a_function_runs_on_the_ranks():
    class Inner(d4p.IterativePE):
        def _process(self, data):
            return data * 10

    graph = d4p.WorkflowGraph()
    inner = Inner()
    inner.numprocesses = 2
    graph.connect(mpi_workflows.Numbers(10), "output", inner, "input")
    result = d4p.run(graph, mapping="mpi", processes=3, timeout=60)
    assert sorted(result[inner.id]["output"]) == [10 * i for i in range(10)]


def test_a_pe_holding_an_open_file_is_named(tmp_path):
    graph = d4p.WorkflowGraph()
    local = Local()
    local.log = open(tmp_path / "log.txt", "w")  # noqa: SIM115
    try:
        graph.connect(mpi_workflows.Numbers(10), "output", local, "input")
        with pytest.raises(d4p.UsageError) as info:
            d4p.run(graph, mapping="mpi", processes=2)
    finally:
        local.log.close()
    assert f"PE {local.id!r} attribute 'log' (TextIOWrapper) cannot be sent" in str(info.value)
    assert "preprocess()" in str(info.value)


@pytest.mark.parametrize(("option", "value"), [("queue_size", 0), ("batch_size", -1)])
def test_bad_option_values_are_usage_errors(option, value):
    with pytest.raises(d4p.UsageError, match=rf"option {option!r} of mapping 'mpi' must be"):
        d4p.run(*pipeline(10), mapping="mpi", processes=2, **{option: value})


def test_array_results_come_back_to_the_caller():
    arrays_only = d4p.WorkflowGraph()
    source = mpi_workflows.Arrays(2, 100_000)
    arrays_only.add(source)
    result = d4p.run(arrays_only, mapping="mpi", processes=2, timeout=60)
    (ports,) = result.values()
    assert [float(a[0]) for a in ports["output"]] == [0.0, 1.0]
    assert all(isinstance(a, np.ndarray) and a.shape == (100_000,) for a in ports["output"])
