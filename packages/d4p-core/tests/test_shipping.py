import importlib
import json
import subprocess
import sys
import textwrap
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


def test_a_global_that_cannot_travel_is_named(tmp_path):
    """Before: "PE 'Locked1' (Locked) cannot be sent to another process
    (TypeError: cannot pickle '_thread.lock' object)", which left the user to
    search the file for what the PE's code holds."""
    wf = tmp_path / "wf.py"
    wf.write_text(textwrap.dedent("""
        import threading
        import d4p
        from d4p.examples import NumberProducer

        LIMIT = 10
        LOCK = threading.Lock()

        class Locked(d4p.IterativePE):
            def _process(self, x):
                with LOCK:
                    return min(x, LIMIT)

        graph = d4p.WorkflowGraph()
        graph.connect(NumberProducer(3), "output", Locked(), "input")
    """))
    run = subprocess.run([sys.executable, "-m", "d4p", "run", str(wf), "-m", "multi",
                          "--start-method", "spawn"], capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stderr) == (2, (
        f"d4p: error: PE 'Locked1' (Locked) uses global 'LOCK' (lock) of {wf}, which cannot be "
        "sent to another process (TypeError: cannot pickle '_thread.lock' object); create open "
        "files, connections, locks and generators in preprocess(), not in __init__ or at module "
        "level\n"))


def test_a_generator_held_by_a_pe_is_named_with_where_to_make_it():
    """Before, the advice named open files, connections and locks only."""
    import d4p
    import pytest

    class Reads(d4p.IterativePE):
        def __init__(self):
            super().__init__()
            self.lines = (line for line in ["a", "b"])

        def _process(self, x):
            return next(self.lines)

    pe = Reads()
    with pytest.raises(d4p.UsageError) as raised:
        shipping.dumps(pe, pes={pe.id: pe})
    assert str(raised.value) == (
        f"PE {pe.id!r} attribute 'lines' (generator) cannot be sent to another process "
        "(TypeError: cannot pickle 'generator' object); create open files, connections, locks "
        "and generators in preprocess(), not in __init__ or at module level")


def test_an_open_file_in_a_pes_container_is_named_and_the_standard_streams_travel(
        tmp_path, monkeypatch):
    """Before, a text file opened for reading inside a dict or a list of a PE
    travelled as a copy of its whole text (one held directly was refused)."""
    import d4p
    import pytest

    (tmp_path / "big.csv").write_text("a,b\n")

    class Holds(d4p.IterativePE):
        def __init__(self, held):
            super().__init__()
            self.held = held

        def _process(self, x):
            return x

    with open(tmp_path / "big.csv") as src:
        pe = Holds({"csv": src})
        with pytest.raises(d4p.UsageError) as raised:
            shipping.dumps(pe, pes={pe.id: pe})
    assert str(raised.value).startswith(
        f"PE {pe.id!r} attribute 'held' (dict) cannot be sent to another process (TypeError: "
        f"cannot pickle open file '{tmp_path / 'big.csv'}'); create open files")
    with open(tmp_path / "stderr", "w") as stderr:  # a file, as outside pytest's capture
        monkeypatch.setattr(sys, "stderr", stderr)
        pe = Holds([sys.stderr])
        assert shipping.loads(shipping.dumps(pe, pes={pe.id: pe})).held == [stderr]


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
