"""d4p in a real Jupyter kernel (nbclient + ipykernel): what a notebook shows."""

from __future__ import annotations

import importlib.util
import re

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

WORKFLOW = '''
import d4p

@d4p.producer
def numbers(n=5):
    yield from range(n)

@d4p.iterative
def inverse(x):
    print("got", x)
    return 1 / (x - 3)

graph = d4p.WorkflowGraph()
graph.connect(numbers(), "output", inverse(), "input")
graph
'''
RERUN = ("again = d4p.WorkflowGraph()\n"
         "again.connect(numbers(n=1), 'output', inverse(), 'input')\nprint(list(d4p.run(again)))")
FORKED = "d4p.run(ok, mapping='multi', processes=2, fuse=False, start_method='fork')"
PROGRESS = """
import time
from d4p.progress import NotebookProgress

@d4p.iterative
def slowly(x):
    time.sleep(0.001)
    return x

timed = d4p.WorkflowGraph()
timed.connect(numbers(n=1500), "output", slowly(), "input")
progress = NotebookProgress("simple")
r = d4p.run(timed, progress=progress)
progress.finish(r.summary.units, r.summary.processes, r.summary.instances)
"""
MISTAKE = """
os.environ.pop("D4P_DEBUG")

@d4p.iterative
def read(path):
    raise d4p.UsageError(f"station file {path!r} not found: give an existing file")

bad = d4p.WorkflowGraph()
bad.add(read())
d4p.run(bad, {"read": [{"input": "x.xml"}]})
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _execute(*cells: str) -> list:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True)
    client.execute()  # starts the kernel and shuts it down, also on failure
    return [cell.outputs for cell in nb.cells]


def _error_lines(outputs) -> list[str]:
    (error,) = [o for o in outputs if o.output_type == "error"]
    return ANSI.sub("", "\n".join(error.traceback)).splitlines()


@pytest.fixture(scope="module")
def cells():
    return _execute(WORKFLOW, "ok = d4p.WorkflowGraph()\n"
                    "ok.connect(numbers(n=3), 'output', inverse(), 'input')\nr = d4p.run(ok)",
                    "d4p.run(graph)", RERUN, RERUN,
                    "import os\nos.environ['D4P_DEBUG'] = '1'\nd4p.run(graph)", FORKED,
                    PROGRESS, "import d4p.notebook\nprint(d4p.notebook.in_kernel())",
                    FORKED.replace("'fork'", "'spawn'"),
                    "d4p.run(ok, mapping='mpi', processes=2, fuse=False)",
                    MISTAKE)


def test_a_graph_shows_itself_as_svg_or_html(cells):
    (shown,) = [o for o in cells[0] if o.output_type == "execute_result"]
    assert {"image/svg+xml", "text/html"} & set(shown.data)
    if "text/html" in shown.data:
        assert "<b>numbers0</b>.output &rarr; <b>inverse1</b>.input" in shown.data["text/html"]


def test_print_in_a_pe_appears_in_the_cell(cells):
    text = "".join(o.text for o in cells[1] if o.output_type == "stream")
    assert text == "got 0\ngot 1\ngot 2\n"


def test_a_failing_pe_shows_the_message_and_the_users_lines_only(cells):
    lines = _error_lines(cells[2])
    assert len(lines) <= 15, lines
    assert "    d4p.run(graph)" in lines
    assert "    return 1 / (x - 3)" in lines
    assert ("WorkflowFailed: PE 'inverse1' (instance 0) failed on input 'input' with data 3: "
            "ZeroDivisionError: division by zero") in lines
    assert not any("d4p/enact.py" in line or "d4p/executor.py" in line for line in lines)


def test_a_usage_error_of_a_pe_shows_its_message_without_the_pes_lines(cells):
    cell, call, message, hint = _error_lines(cells[11])
    assert call == '    d4p.run(bad, {"read": [{"input": "x.xml"}]})' and "line 9" in cell
    assert re.fullmatch(r"PEUsageError: PE 'read\d+': station file 'x.xml' not found: give an "
                        "existing file", message), message
    assert hint == "(D4P_DEBUG=1 shows d4p's own frames too)"


def test_a_re_run_cell_gives_the_same_result_keys(cells):
    first, second = ("".join(o.text for o in cell if o.output_type == "stream")
                     for cell in cells[3:5])
    assert first == second == "got 0\n['inverse1']\n"


def test_d4p_debug_shows_the_internal_frames(cells):
    lines = _error_lines(cells[5])
    assert any("d4p/enact.py" in line for line in lines)
    assert len(lines) > 15


@pytest.mark.parametrize("cell", [6, 9, 10], ids=["multi-fork", "multi-spawn", "mpi"])
def test_print_in_worker_processes_appears_in_the_cell(cells, cell):
    if cell == 10 and importlib.util.find_spec("d4p_mpi") is None:
        pytest.skip("d4p-mpi is not installed")
    text = "".join(o.text for o in cells[cell] if o.output_type == "stream")
    assert sorted(text.splitlines()) == ["got 0", "got 1", "got 2"]


def test_notebook_progress_ends_with_the_final_figures(cells):
    (shown,) = [o for o in cells[7] if o.output_type == "display_data"]  # updated in place
    page = shown.data["text/html"]
    assert "<i>simple, 1 process · done · " in page
    assert "<tr><td>slowly1</td><td>1,500</td>" in page
    assert "<tr><td>numbers0</td><td>1</td>" in page


def test_in_kernel_tells_a_kernel_from_a_plain_interpreter(cells):
    import d4p.notebook

    assert [o.text for o in cells[8] if o.output_type == "stream"] == ["True\n"]
    assert d4p.notebook.in_kernel() is False
