"""dispel4py's own unit tests and example workflows, run on ``d4p.compat``.

``dispel4py_upstream/`` holds them as dispel4py has them (Apache 2.0, with
attribution). :func:`port` makes the one mechanical change a dispel4py
program needs: in import lines, ``dispel4py`` becomes ``d4p.compat``.
dispel4py's example workflows are a package of dispel4py itself
(``dispel4py.examples.graph_testing``); for a ported program they are the
user's own modules, so that package name becomes ``graph_testing`` (the
folder the ported examples are written to). nose, which the tests import, no
longer runs on current Python: ``dispel4py_upstream/nose`` provides the three
functions they use.

A test that encodes a dispel4py bug or a refusal d4p does not make is an
expected failure (``DIVERGES``), with the reason.
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import sys
from pathlib import Path

import pytest
from d4p import GraphError

UPSTREAM = Path(__file__).parent / "dispel4py_upstream"
EXAMPLES = "dispel4py.examples.graph_testing"


def port(source: str) -> str:
    """A dispel4py program ported to d4p: ``dispel4py`` → ``d4p.compat`` in
    import lines (and dispel4py's example package → the ported examples)."""
    source = source.replace(EXAMPLES, "graph_testing")
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if re.match(r"\s*(from|import)\s+dispel4py\b", line):
            lines[i] = re.sub(r"\bdispel4py\b", "d4p.compat", line, count=1)
    return "".join(lines)


def test_porting_changes_only_import_lines_and_the_example_package():
    for path in sorted(UPSTREAM.glob("*/*.py")):
        old = path.read_text().splitlines()
        new = port(path.read_text()).splitlines()
        for a, b in zip(old, new, strict=True):
            if a != b:
                assert re.match(r"\s*(from|import) ", a) or EXAMPLES in a, (path.name, a)
        assert not any(re.match(r"\s*(from|import)\s+dispel4py\b", line) for line in new)


@pytest.fixture(scope="session")
def ported_folder(tmp_path_factory):
    """The ported files in a folder on ``sys.path``: ``graph_testing/``
    (examples), the tests as top-level modules, and ``nose``."""
    folder = tmp_path_factory.mktemp("dispel4py_ported")
    (folder / "graph_testing").mkdir()
    for path in (UPSTREAM / "graph_testing").glob("*.py"):
        (folder / "graph_testing" / path.name).write_text(port(path.read_text()))
    for path in (UPSTREAM / "test").glob("*.py"):
        (folder / path.name).write_text(port(path.read_text()))
    shutil.copytree(UPSTREAM / "nose", folder / "nose")
    names = ["graph_testing", "nose", *(p.stem for p in (UPSTREAM / "test").glob("*.py"))]
    for name in names:
        assert name not in sys.modules, f"a module called {name!r} is already imported"
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))
        for name in list(sys.modules):
            if name.split(".")[0] in names:
                del sys.modules[name]


def _unit_tests() -> list[tuple[str, str]]:
    found = []
    for path in sorted((UPSTREAM / "test").glob("*_test.py")):
        if path.stem == "mpi_process_test":  # a script for mpiexec, see test_mpi_process_test
            continue
        tree = ast.parse(path.read_text())
        found += [(path.stem, node.name) for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.lower().startswith("test")]
    return found


DIVERGES = {
    ("multi_process_test", "testNotEnoughProcesses"): (
        TypeError,  # "in" on the queue of results: it is not an error message
        "dispel4py multi refuses a graph with more partitions than processes ('Not enough "
        "processes'); d4p runs them on the processes it has"),
    ("aggregate_test", "testStdDev"): (
        AssertionError,
        "the test encodes dispel4py's bug in parallelStdDev's merge (it reads the partials' "
        "fields shifted by one and reports their count as the sum); d4p gives "
        "(stddev, 1000, 499500, sum of squares): see test_compat.py"),
    ("processor_test", "test_roots"): (
        GraphError,
        "the test connects to input 'input2', which TestTwoInOneOut does not have: "
        "dispel4py's connect does not check port names, d4p's does"),
}


@pytest.mark.parametrize(("module", "function"), _unit_tests(),
                         ids=[f"{m}.{f}" for m, f in _unit_tests()])
def test_dispel4py_unit_test(ported_folder, module, function):
    if (module, function) in DIVERGES:
        pytest.xfail(DIVERGES[(module, function)][1])
    test = getattr(importlib.import_module(module), function)
    test()


@pytest.mark.parametrize(("module", "function"), sorted(DIVERGES))
def test_divergent_dispel4py_unit_tests_do_fail(ported_folder, module, function):
    """The expected failures above fail for the reason given, not another."""
    test = getattr(importlib.import_module(module), function)
    with pytest.raises(DIVERGES[(module, function)][0]):
        test()
