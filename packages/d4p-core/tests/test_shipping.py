import importlib
import json
import sys
import traceback

import pytest
from d4p import shipping
from d4p.plugins import installed_mappings


def test_a_module_from_a_folder_of_this_process_only_travels_to_workers_started_elsewhere(
        tmp_path, monkeypatch):
    (tmp_path / "beside_wf.py").write_text("def f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("beside_wf")
    try:
        assert module not in shipping.local_modules()  # a worker started here finds it
        assert str(tmp_path) not in shipping.worker_path()
        assert module in shipping.local_modules(shipping.worker_path())
        assert sys.modules["d4p"] not in shipping.local_modules(shipping.worker_path())
    finally:
        del sys.modules["beside_wf"]


def test_the_isolated_worker_path_ignores_pythonpath(tmp_path, monkeypatch):
    shipping.worker_path.cache_clear()
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    try:
        assert str(tmp_path) in shipping.worker_path()
        assert str(tmp_path) not in shipping.worker_path(isolated=True)
    finally:
        monkeypatch.undo()
        shipping.worker_path.cache_clear()


def test_code_that_travels_by_value_keeps_its_file_and_lines():
    """Before, cloudpickle wrote '<dynamic-code>' for the file: a PE failing in
    a spawned worker or an MPI rank showed neither the file nor the line's
    source in its traceback."""

    def fails(x):
        raise ValueError(f"cannot take {x}")

    travelled = shipping.loads(shipping.dumps(fails))
    assert travelled is not fails  # a local function travels by value
    assert travelled.__code__.co_filename == __file__
    assert travelled.__code__.co_firstlineno == fails.__code__.co_firstlineno
    try:
        travelled(7)
    except ValueError:
        text = traceback.format_exc()
    assert f'File "{__file__}"' in text and 'raise ValueError(f"cannot take {x}")' in text


def test_only_the_settings_of_modules_the_pes_use_travel(tmp_path, monkeypatch):
    # a module the PEs do not use stays out of the plan (a Storm export copies
    # the files whose module names the plan holds)
    (tmp_path / "used_lib.py").write_text("LIMIT = 1\n")
    (tmp_path / "unused_lib.py").write_text("OTHER = 1\n")
    (tmp_path / "uses.py").write_text(
        "import d4p\nimport used_lib\n\n"
        "class Limit(d4p.IterativePE):\n"
        "    def _process(self, x):\n"
        "        return min(x, used_lib.LIMIT)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import unused_lib
    import used_lib
    import uses

    try:
        used_lib.LIMIT, unused_lib.OTHER = 3, 4
        pe = uses.Limit()
        state = shipping._module_state({pe.id: pe}, [])
        assert state == {"used_lib": {"LIMIT": 3}}
        assert b"unused_lib" not in shipping.dumps(pe, pes={pe.id: pe}, by_value=[])
    finally:
        for name in ("used_lib", "unused_lib", "uses"):
            sys.modules.pop(name, None)


POOL_WORKFLOW = '''
import multiprocessing

import d4p


def square(x):
    return x * x


@d4p.producer
def rows():
    for i in range(3):
        yield list(range(i, i + 4))


class PoolSquares(d4p.IterativePE):
    def _process(self, data):
        with multiprocessing.get_context("fork").Pool(2) as pool:
            return sum(pool.map(square, data))


graph = d4p.WorkflowGraph()
graph.connect(rows(), "output", PoolSquares(), "input")
'''


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("mapping", "options"), [
    (m, o) for m, o in (("multi", ["--start-method", "spawn"]), ("mpi", []))
    if m in installed_mappings()])
def test_a_pe_hands_a_function_of_its_workflow_file_to_a_pool(tmp_path, mapping, options):
    """A PE of a workflow file run by path hands one of the file's functions
    to a ``multiprocessing.Pool``, which pickles it by name. Before, in a
    spawned worker or an MPI rank the file's module held only its classes:
    "PicklingError: Can't pickle <function square>: attribute lookup square
    on d4p_workflow_pool_wf failed"."""
    from d4p.cli import main

    workflow, out = tmp_path / "pool_wf.py", tmp_path / "results.json"
    workflow.write_text(POOL_WORKFLOW)
    assert main(["run", str(workflow), "-m", mapping, "-n", "2", *options, "-q",
                 "-o", str(out)]) == 0
    assert sorted(json.loads(out.read_text())["results"]["PoolSquares1"]["output"]) == [
        14, 30, 54]
