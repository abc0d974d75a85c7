"""The d4p command, run as users run it: in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest


def d4p(*args: str, cwd: Path | None = None, timeout: float = 120,
        env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "d4p", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**os.environ, **(env or {})})


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


PIPELINE = """
    from d4p import WorkflowGraph, ProducerPE, IterativePE, ConsumerPE

    class Numbers(ProducerPE):
        def _process(self, inputs):
            for i in range(10):
                self.write("output", i)

    class Square(IterativePE):
        def _process(self, x):
            return x * x

    graph = WorkflowGraph()
    graph.connect(Numbers(), "output", Square(), "input")
"""


def test_run_file_prints_results(tmp_path):
    wf = write(tmp_path / "wf.py", PIPELINE)
    done = d4p("run", str(wf))
    assert done.returncode == 0, done.stderr
    assert "Square1.output: 10 values" in done.stdout
    assert "  81" in done.stdout
    assert "simple mapping, 1 process" in done.stderr


def test_run_named_workflow_with_params_and_output_file(tmp_path):
    out = tmp_path / "results.json"
    done = d4p("run", "pipeline", "-p", "n=100", "-o", str(out))
    assert done.returncode == 0, done.stderr
    saved = json.loads(out.read_text())
    (summer,) = saved["results"]
    assert saved["results"][summer]["output"] == [2 * sum(range(100))]
    assert saved["summary"]["units"]["Doubler1"] == 100


@pytest.mark.parametrize(("workflow", "param", "said"), [
    ("wordcount", "counters=0", "counters must be at least 1, not 0"),
    ("wordcount_plain", "vocabulary=0", "vocabulary must be at least 1, not 0"),
    ("wordcount", "words=-1", "words must be at least 0, not -1"),
    ("pipeline", "n=-5", "n must be at least 0, not -5"),
])
def test_a_parameter_value_the_builder_rejects_is_one_line(workflow, param, said):
    """Before, vocabulary=0 failed the run in WordProducer (IndexError, exit
    status 1) and a negative count of words or numbers ran on nothing."""
    done = d4p("run", workflow, "-p", param)
    assert (done.returncode, done.stderr.strip()) == (2, f"d4p: error: workflow {workflow!r}: "
                                                         f"{said}")


def test_iterations_apply_to_every_source(tmp_path):
    wf = write(tmp_path / "wf.py", PIPELINE)
    done = d4p("run", str(wf), "-i", "3")
    assert done.returncode == 0, done.stderr
    assert "Square1.output: 30 values" in done.stdout


def test_inputs_from_json_data_and_file(tmp_path):
    wf = write(tmp_path / "wf.py", """
        from d4p import WorkflowGraph, ProducerPE, IterativePE

        class Echo(ProducerPE):
            def _process(self, inputs):
                return inputs["value"]

        class Negate(IterativePE):
            def _process(self, x):
                return -x

        graph = WorkflowGraph()
        graph.connect(Echo(), "output", Negate(), "input")
    """)
    done = d4p("run", str(wf), "-d", '{"Echo": [{"value": 1}, {"value": 2}]}')
    assert done.returncode == 0, done.stderr
    assert "Negate1.output: 2 values\n  -1\n  -2" in done.stdout
    inputs = tmp_path / "inputs.json"
    inputs.write_text('{"Echo": [{"value": 1}], "Negate": [{"input": 5}]}')
    done = d4p("run", str(wf), "-f", str(inputs))  # a non-source PE fed from a file, too
    assert done.returncode == 0, done.stderr
    assert "Negate1.output: 2 values" in done.stdout
    assert sorted(done.stdout.split("values\n")[1].split()) == ["-1", "-5"]


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_failing_pe_exits_1_naming_pe_port_and_data(tmp_path, mapping):
    wf = write(tmp_path / "wf.py", """
        from d4p import WorkflowGraph, ProducerPE, IterativePE

        class Numbers(ProducerPE):
            def _process(self, inputs):
                for i in range(5):
                    self.write("output", i)

        class Divide(IterativePE):
            def _process(self, x):
                return 10 / (x - 3)

        graph = WorkflowGraph()
        graph.connect(Numbers(), "output", Divide(), "input")
    """)
    done = d4p("run", str(wf), "--mapping", mapping, "-n", "2")
    assert done.returncode == 1
    assert "PE 'Divide1' (instance 0) failed on input 'input' with data 3: " \
           "ZeroDivisionError: division by zero" in done.stderr
    lines = done.stderr.splitlines()
    assert lines[1:] == [f'  File "{wf}", line 11, in _process',  # the user's lines only
                         "    return 10 / (x - 3)",
                         "           ~~~^~~~~~~~~",
                         "(D4P_DEBUG=1 shows d4p's own frames too)"]
    done = d4p("run", str(wf), "--mapping", mapping, "-n", "2", env={"D4P_DEBUG": "1"})
    assert "Original traceback:" in done.stderr and "d4p/executor.py" in done.stderr


USER_ERRORS = [
    (["run", "missing.py"], "workflow file 'missing.py' not found"),
    (["run", "no_such_thing"], "'no_such_thing' is not a file, an importable module or a "
                               "registered workflow"),
    (["run", "empty.py"], "no workflow graph found in 'empty.py'"),
    (["run", "two.py"], "'two.py' defines several graphs (first, second); choose one with -a NAME"),
    (["run", "two.py", "-a", "third"], "'two.py' has no attribute 'third'"),
    (["run", "two.py", "-a", "secnd"], "'two.py' has no attribute 'secnd' (did you mean "
                                       "'second'?) (its graphs: first, second)"),
    (["run", "pipeline", "--mapping", "nope"], "unknown mapping 'nope'; installed mappings: simple"),
    (["run", "pipeline", "-d", "{bad json"], "-d is not valid JSON"),
    (["run", "pipeline", "-d", "[1, 2]"], "-d must be a JSON object"),
    (["run", "pipeline", "-d", '{"NumberProducer": 2}', "-i", "5"],
     "-i and -d both give inputs: give the iterations in the JSON, such as {\"PE\": 5}, or "
     "leave the JSON out"),
    (["run", "pipeline", "-f", "nowhere.json"], "input file 'nowhere.json' not found"),
    (["run", "pipeline", "-f", "latin1.json"], "input file 'latin1.json' is not JSON text "
                                               "(UTF-8): invalid continuation byte at byte 24"),
    (["run", "pipeline", "-p", "m=3"], "workflow 'pipeline' has no parameter 'm'; "
                                       "its parameters: n"),
    (["run", "pipeline", "-p", "n=many"], "-p n: expected int, got 'many'"),
    (["run", "wordcount", "-p", "counter=3"], "workflow 'wordcount' has no parameter 'counter' "
                                              "(did you mean 'counters'?); its parameters: "),
    (["draw", "wordcont"], "'wordcont' is not a file, an importable module or a registered "
                           "workflow (did you mean 'wordcount'?) (registered workflows: "),
    (["run", "pipeline", "-d", '{"Nobody": 3}'], "inputs name 'Nobody', which is not a PE"),
    (["run", "pipeline", "-d", '{"NumberProduce": 3}'], "inputs name 'NumberProduce', which is "
                                                        "not a PE of this workflow (did you mean "
                                                        "'NumberProducer'?)"),
    (["run", "pipeline", "-d", '{"Doubler": 3}'], "PE 'Doubler1' is not a source"),
    (["run", "broken.py"], "loading 'broken.py' failed: NameError: name 'undefined_name' is not "
                           "defined"),
    (["run", "pipeline", "--mapping", "multi", "--start-method", "teleport"],
     "option 'start_method' of mapping 'multi' must be one of fork, spawn, forkserver"),
    (["run", "pipeline", "--bogus", "1"], "unknown option '--bogus' for mapping 'simple'"),
    (["run", "pipeline", "--start-method=spawn"], "unknown option '--start-method' for mapping "
                                                  "'simple' (an option of mapping 'multi')"),
    (["run", "pipeline", "-m", "multi", "--bach-size", "8"], "unknown option '--bach-size' for "
                                                             "mapping 'multi' (did you mean "
                                                             "'--batch-size'?)"),
    (["run", "pipeline", "-m", "multi", "--batch-size", "x"], "error: --batch-size must be a "
                                                              "whole number, not 'x'"),
    (["draw", "pipeline", "-o", "graph.pdf"], "cannot draw 'graph.pdf'"),
    (["run", "pipeline", "-o", "."], "cannot write results to '.': it is a folder; give a "
                                     "file name such as 'results.json'"),
    (["draw", "pipeline", "-o", "nowhere/graph.dot"], "cannot write the drawing to "
                                                      "'nowhere/graph.dot': '"),
    (["draw", "pipeline", "-o", "."], "cannot write the drawing to '.': it is a folder; give a "
                                      "file name such as 'graph.dot'"),
    (["run", "pipeline", "-o", "empty.py/results.json"], "cannot write results to "
                                                         "'empty.py/results.json': '"),
    (["run", "flow.ipynb"], "'flow.ipynb' is a notebook: run its workflow in the notebook with "
                            "d4p.run(graph), or export it with 'jupyter nbconvert --to script "
                            "flow.ipynb' and run the .py file"),
    (["run", "flow.txt"], "workflow file 'flow.txt' is not a .py file"),
    (["run", "./folder"], "workflow file './folder' is a folder: give the .py file in it"),
    (["run", "two.py", "-a", "first", "-o", "./two.py"], "-o './two.py' is the workflow file: "
                                                         "writing the results there would "
                                                         "replace it; give another file name"),
    (["run", "pipeline", "-f", "in.json", "-o", "in.json"], "-o 'in.json' is the input file: "),
    (["run", "pipeline", "-n", "0"], "d4p: error: argument -n/--processes: must be at least 1, "
                                     "not 0; see 'd4p run --help'"),
    (["draw"], "d4p: error: the following arguments are required: target; see 'd4p draw --help'"),
    (["storm", "export", "pipeline"], "the following arguments are required: dir; see 'd4p "
                                      "storm export --help'"),
    (["--bogus"], "d4p: error: unrecognized arguments: --bogus; see 'd4p --help'"),
    (["run", "my", "flow.py"], "unexpected argument 'flow.py': d4p run takes one TARGET (quote a "
                               "path that has spaces)"),
    (["draw", "./tow.py"], "workflow file './tow.py' not found (did you mean './two.py'?)"),
    (["run", "two.py:second"], "workflow file 'two.py:second' not found: to run graph 'second' "
                               "of two.py, give its name with -a: d4p run two.py -a second"),
]


@pytest.mark.parametrize(("args", "message"), USER_ERRORS, ids=[" ".join(a) for a, _ in USER_ERRORS])
def test_user_errors_are_one_clear_line_and_exit_2(tmp_path, args, message):
    write(tmp_path / "empty.py", "x = 1\n")
    write(tmp_path / "two.py", """
        from d4p import WorkflowGraph
        first = WorkflowGraph()
        second = WorkflowGraph()
    """)
    write(tmp_path / "broken.py", "undefined_name\n")
    write(tmp_path / "flow.ipynb", '{"cells": [], "nbformat": 4, "nbformat_minor": 5}')
    write(tmp_path / "flow.txt", "from d4p import WorkflowGraph\ngraph = WorkflowGraph()\n")
    (tmp_path / "folder").mkdir()
    write(tmp_path / "in.json", '{"NumberProducer": 1}')
    (tmp_path / "latin1.json").write_bytes('{"Doubler": [{"input": "é"}]}'.encode("latin-1"))
    done = d4p(*args, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("d4p: error: ")
    assert message in lines[0]
    assert "Traceback" not in done.stderr
    assert "first = WorkflowGraph()" in (tmp_path / "two.py").read_text()  # nothing replaced
    assert json.loads((tmp_path / "in.json").read_text()) == {"NumberProducer": 1}


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder no file can be created in: a read-only one, or /sys for root
    (whom permissions do not stop)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if not os.access(folder, os.W_OK):
            yield folder
        elif Path("/sys/kernel").is_dir():
            yield Path("/sys")
        else:
            pytest.skip("no folder that cannot be written")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("command", ["run", "draw"])
def test_an_output_file_in_a_folder_that_cannot_be_written_is_refused_first(
        unwritable_folder, command):
    """Before, the run went to its end, then writing the results (or the
    drawing) failed with a traceback: the run's work was lost, exit status 1."""
    out = unwritable_folder / "out.dot"
    done = d4p(command, "pipeline", "-o", str(out))
    what = "results" if command == "run" else "the drawing"
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"d4p: error: cannot write {what} to {str(out)!r}: folder "
                                  f"{str(unwritable_folder)!r} cannot be written (")
    assert done.stderr.endswith("); choose another folder\n"), done.stderr
    assert done.stdout == ""  # refused before the run


@pytest.mark.parametrize("command", ["run", "draw"])
def test_an_output_file_gets_the_permissions_of_a_new_file(tmp_path, command):
    """Before, results written with -o were readable by their owner only (0600)."""
    umask = os.umask(0o022)
    try:
        done = d4p(command, "pipeline", "-o", str(tmp_path / "out.dot"))
    finally:
        os.umask(umask)
    assert done.returncode == 0, done.stderr
    assert oct((tmp_path / "out.dot").stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == ["out.dot"]


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_closed_standard_streams_read_as_empty_and_write_nowhere(tmp_path, mapping):
    """Before: with stdin closed (<&-) a PE reading it failed (sys.stdin is
    None: a TypeError, exit 1); with stderr closed (2>&-) every run failed
    silently, exit 1."""
    wf = write(tmp_path / "wf.py", """
        import sys
        import d4p

        @d4p.producer
        def lines():
            for line in sys.stdin:
                yield line.strip()

        graph = d4p.WorkflowGraph()
        graph.add(lines())
    """)
    done = subprocess.run(["bash", "-c", 'exec "$@" <&- 2>&-', "d4p", sys.executable, "-m",
                           "d4p", "run", str(wf), "-m", mapping], capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stdout) == (0, "lines0.output: 0 values\n"), done.stdout


def test_a_library_leaving_a_file_open_adds_no_warning_to_an_error(tmp_path):
    """Before: 'd4p: warning: unclosed file <_io.FileIO ...>' lines after the
    error (Spark's gateway, when its master URL is wrong)."""
    wf = write(tmp_path / "wf.py", """
        import d4p

        leak = [open(__file__, "rb")]
        leak.clear()
        graph = d4p.WorkflowGraph()
    """)
    done = d4p("run", str(wf))
    assert (done.returncode, done.stderr) == (
        2, "d4p: error: the workflow graph is empty: connect some PEs first\n")


@pytest.mark.parametrize(("signum", "said"), [(signal.SIGINT, "Ctrl-C"),
                                               (signal.SIGTERM, "SIGTERM"),
                                               (signal.SIGHUP, "SIGHUP")])
def test_a_signal_while_the_workflow_file_loads_says_only_that(tmp_path, signum, said):
    """Before: "every worker was ended", though no worker had started; SIGTERM
    and SIGHUP killed d4p without a word (status -15, -1)."""
    wf = write(tmp_path / "wf.py", """
        import time
        print("loading", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    try:
        assert proc.stdout.readline() == "loading\n"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert (proc.returncode, err) == (128 + signum, f"d4p: interrupted ({said})\n")


TOOL_PE = """
    import subprocess
    from d4p import WorkflowGraph, ProducerPE, IterativePE

    class One(ProducerPE):
        def _process(self, inputs):
            self.write("output", 1)

    class Tool(IterativePE):
        def _process(self, x):
            tool = subprocess.Popen(["sleep", "600"])
            with open(PID_FILE, "w") as out:  # the test waits for it
                out.write(str(tool.pid))
            tool.wait()
            return x

    graph = WorkflowGraph()
    graph.connect(One(), "output", Tool(), "input")
"""


def _gone(pid: int) -> bool:
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


@pytest.mark.parametrize("mapping", [["simple"], ["multi", "-n", "2", "--no-fuse"],
                                     ["multi", "-n", "2", "--no-fuse", "--start-method", "spawn"]])
def test_sighup_aborts_the_run_and_ends_the_programs_its_pes_started(tmp_path, mapping):
    """Before: SIGHUP (the terminal closed, ``kill -HUP``) killed d4p at once,
    silently: the program a PE had started lived on, orphaned."""
    pid_file = tmp_path / "tool.pid"
    wf = write(tmp_path / "wf.py", f"PID_FILE = {str(pid_file)!r}\n" + textwrap.dedent(TOOL_PE))
    out = tmp_path / "out.json"
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "-m", *mapping, "-o",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    tool = None
    try:
        deadline = time.monotonic() + 60
        while tool is None and time.monotonic() < deadline and proc.poll() is None:
            text = pid_file.read_text() if pid_file.exists() else ""
            tool = int(text) if text else None
            time.sleep(0.05)
        assert tool is not None, proc.communicate(timeout=60)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=60)
        while not _gone(tool) and time.monotonic() < deadline + 60:
            time.sleep(0.05)
        assert _gone(tool)
    finally:
        proc.kill()
        proc.wait()
        if tool is not None and not _gone(tool):
            os.kill(tool, signal.SIGKILL)
    assert (proc.returncode, err) == (129, "d4p: interrupted (SIGHUP); every worker was ended\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tool.pid", "wf.py"]


def test_output_file_is_not_half_written_on_failure(tmp_path):
    wf = write(tmp_path / "wf.py", """
        from d4p import WorkflowGraph, ProducerPE, IterativePE

        class Numbers(ProducerPE):
            def _process(self, inputs):
                self.write("output", 1)

        class Fail(IterativePE):
            def _process(self, x):
                raise RuntimeError("no")

        graph = WorkflowGraph()
        graph.connect(Numbers(), "output", Fail(), "input")
    """)
    out = tmp_path / "out.json"
    done = d4p("run", str(wf), "-o", str(out))
    assert done.returncode == 1
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


MISTAKE = """
    from d4p.testing.workflows import user_mistake

    graph, _ = user_mistake()  # CheckRate raises a d4p.UsageError on station 7
"""


@pytest.mark.parametrize("mapping", [["simple"], ["multi", "-n", "3"],
                                     ["multi", "-n", "3", "--start-method", "spawn"]],
                         ids=["simple", "multi-fork", "multi-spawn"])
def test_a_usage_error_raised_by_a_pe_is_one_line_and_exit_2(tmp_path, mapping):
    """Before, a PE's d4p.UsageError (a missing station file, data at a wrong
    sampling rate) was shown as a failure with its traceback, exit status 1."""
    wf = write(tmp_path / "wf.py", MISTAKE)
    out = tmp_path / "out.json"
    done = d4p("run", str(wf), "-m", *mapping, "-o", str(out), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, (
        "d4p: error: PE 'CheckRate2': station 7 is sampled at 25 Hz, the others at 20 Hz: "
        "resample it to 20 Hz\n")), done.stderr
    assert done.stdout == ""  # no results are reported for a failed run, as for any failure
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    if mapping == ["simple"]:
        done = d4p("run", str(wf), env={"D4P_DEBUG": "1"})
        assert done.returncode == 2
        assert "Original traceback:" in done.stderr and 'd4p/testing/workflows.py"' in done.stderr


HEADLESS = """
    from d4p import WorkflowGraph, IterativePE

    class ReadTraces(IterativePE):
        def _process(self, path):
            return path.upper()

    class Count(IterativePE):
        def _process(self, x):
            return len(x)

    graph = WorkflowGraph()
    graph.connect(ReadTraces(), "output", Count(), "input")
"""


def test_raw_items_for_a_first_pe_with_input_ports_say_the_shape_it_needs(tmp_path):
    """Before, the item reached IterativePE.process as its inputs dict: a
    TypeError with a traceback."""
    wf = write(tmp_path / "wf.py", HEADLESS)
    done = d4p("run", str(wf), "-d", '{"ReadTraces": ["a.mseed"]}')
    assert (done.returncode, done.stderr) == (2, (
        "d4p: error: input item 0 for PE 'ReadTraces0' must be a dict of input port to data, "
        "such as {'input': 'a.mseed'}; got 'a.mseed'\n"))
    done = d4p("run", str(wf), "-d", '{"ReadTraces": 2}')
    assert (done.returncode, done.stderr) == (2, (
        "d4p: error: PE 'ReadTraces0': an iteration gives it no data on input 'input': give it "
        "a list of input items such as [{'input': value}], not a number of iterations\n"))
    done = d4p("run", str(wf), "-d", '{"ReadTraces": [{"input": "a.mseed"}]}')
    assert done.returncode == 0, done.stderr
    assert "Count1.output: 1 value\n  7\n" in done.stdout


def test_mappings_lists_name_package_version_description():
    done = d4p("mappings")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["MAPPING", "PACKAGE", "DESCRIPTION"]
    rows = {line.split()[0]: line for line in lines[1:] if line[:1].strip()}
    assert "d4p-core" in rows["simple"] and "sequential" in rows["simple"]
    assert max(map(len, lines)) <= 100
    assert "d4p-core" in rows["multi"] and "parallel" in rows["multi"]


def test_mappings_name_shows_options_with_types_defaults_and_help():
    done = d4p("mappings", "multi")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("multi: parallel OS processes")
    assert "  --batch-size INT  (default: 1024; at least 1)\n      data units per message" \
        in done.stdout
    assert "one of fork, spawn, forkserver" in done.stdout
    assert max(map(len, done.stdout.splitlines())) <= 100


def test_run_help_of_a_mapping_lists_its_options():
    done = d4p("run", "-m", "multi", "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: d4p run" in done.stdout and "--no-fuse" in done.stdout
    assert "options of mapping 'multi'" in done.stdout and "--queue-size INT" in done.stdout


def test_workflows_fit_100_columns_and_name_shows_parameters():
    done = d4p("workflows", env={"COLUMNS": "200"})
    assert done.returncode == 0
    rows = done.stdout.splitlines()
    assert rows[0].split() == ["WORKFLOW", "PACKAGE", "DESCRIPTION"]
    assert any(r.startswith("pipeline ") and "d4p-core" in r for r in rows)
    assert max(map(len, rows)) <= 100
    done = d4p("workflows", "wordcount")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("wordcount (d4p-core ")
    assert "  counters=2  (int)" in lines
    assert "      instances of the count by word (d4p.aggregate.count)" in lines
    done = d4p("workflows", "wordcount_plain")
    assert "      instances of the word counter (group-by word)" in done.stdout.splitlines()


def test_unknown_workflow_name_suggests_one():
    done = d4p("workflows", "wordcont")
    assert done.returncode == 2
    assert done.stderr.startswith("d4p: error: unknown workflow 'wordcont' (did you mean "
                                  "'wordcount'?)")


def test_draw_writes_dot_and_mermaid(tmp_path):
    done = d4p("draw", "wordcount", "-o", str(tmp_path / "wc.dot"))
    assert done.returncode == 0, done.stderr
    dot = (tmp_path / "wc.dot").read_text()
    assert '"WordProducer0":out_output -> "count1":in_input [label="group_by(0)"]' in dot
    done = d4p("draw", "wordcount", "-o", str(tmp_path / "wc.mmd"))
    mmd = (tmp_path / "wc.mmd").read_text()
    assert mmd.startswith("flowchart LR")
    assert "count1 ×2" in mmd and "(global)" in mmd


def test_progress_is_quiet_when_piped(tmp_path):
    done = d4p("run", "pipeline", "-p", "n=300000")
    assert "\x1b[" not in done.stderr and "running" not in done.stderr


PRINTING = """
    import sys, time
    from d4p import WorkflowGraph, ProducerPE, ConsumerPE

    class Numbers(ProducerPE):
        def _process(self, inputs):
            for i in range(40):
                time.sleep(0.05)
                self.write("output", i)

    class Show(ConsumerPE):
        def _process(self, x):
            print(f"got {x} " + "=" * 70)
            print(f"err {x}", file=sys.stderr)

    graph = WorkflowGraph()
    graph.connect(Numbers(), "output", Show(), "input")
"""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _on_a_terminal(*args: str, columns: int = 60) -> str:
    """Run d4p with stdout and stderr on a pseudo-terminal; what it showed."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "d4p", *args], stdout=follower,
                            stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the command ended
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(timeout=120) == 0, seen.decode(errors="replace")
    finally:
        proc.kill()
        os.close(leader)
    return seen.decode()


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_progress_panel_keeps_every_printed_line_whole(tmp_path, mapping):
    wf = write(tmp_path / "wf.py", PRINTING)
    text = _on_a_terminal("run", str(wf), "-m", mapping, "-n", "2", "--no-fuse")
    # what lies between two control sequences or line ends: a garbled line would be cut
    lines = [line.strip() for line in re.split(r"[\r\n]+", ANSI.sub("\n", text))]
    for i in range(40):
        assert f"got {i} " + "=" * 70 in lines, i  # whole, on a line of its own
        assert f"err {i}" in lines, i
    processes = 1 if mapping == "simple" else 2
    assert f"{mapping} · running · " in text  # the panel, shown while the run went on
    final = [line for line in lines if line.startswith(f"{mapping}, {processes} process")]
    assert final[0].startswith(f"{mapping}, {processes} process{'es' * (processes > 1)} · done")
    assert any(line.startswith("Show1") and line.split()[1] == "40" for line in lines)
    assert max(len(line) for line in lines if "=" not in line) <= 60


def test_no_progress_on_a_terminal_shows_no_panel(tmp_path):
    wf = write(tmp_path / "wf.py", PRINTING)
    text = _on_a_terminal("run", str(wf), "--no-progress")
    assert "running" not in text and "\x1b[" not in text
    assert "got 39 " in text


def test_fewer_processes_than_asked_are_explained(tmp_path):
    wf = write(tmp_path / "wf.py", PIPELINE)
    done = d4p("run", str(wf), "-m", "multi", "-n", "4")
    assert done.returncode == 0, done.stderr
    assert ("4 processes asked, 1 used: chains of PEs are fused into one process each; "
            "see --no-fuse") in done.stderr
    done = d4p("run", str(wf), "-m", "multi", "-n", "4", "--no-fuse")
    assert done.returncode == 0, done.stderr
    assert "multi mapping, 2 processes" in done.stderr
    assert ("4 processes asked, 2 used: the workflow has 2 PE instances (give a PE more "
            "with pe.numprocesses = k)") in done.stderr


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """``d4p ... | head -1``: the reader has gone before d4p writes."""
    read, write = os.pipe()
    os.close(read)
    out = tmp_path / "r.json"
    try:
        done = subprocess.run([sys.executable, "-m", "d4p", "run", "pipeline", "-p", "n=5",
                               "-o", str(out)], stdout=write, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 0
    assert "BrokenPipeError" not in done.stderr and "Traceback" not in done.stderr
    assert json.loads(out.read_text())["results"]["Summer2"]["output"] == [20]


PRINTER = """
import d4p


@d4p.producer
def numbers():
    yield from range(100_000)


@d4p.consumer
def show(x):
    print(x)


graph = d4p.WorkflowGraph()
graph.connect(numbers(), "output", show(), "input")
"""


@pytest.mark.parametrize("mapping", [["-m", "simple"], ["-m", "multi", "-n", "2"]])
def test_a_pe_printing_to_a_reader_that_has_gone_ends_quietly(tmp_path, mapping):
    """``d4p run wf.py | head -1`` with a PE that prints: once head has its
    line, d4p ends without a word and with status 0 on every mapping (simple
    reported the PE's BrokenPipeError as a failure, status 1)."""
    wf = write(tmp_path / "wf.py", PRINTER)
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", str(wf), "-q", *mapping],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "0\n"
        proc.stdout.close()  # as head -1 does
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 0, err
        assert err == ""
    finally:
        proc.kill()
        proc.wait()


def _core_only(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """d4p as with d4p-core alone: the plugins of d4p's other packages blocked."""
    code = ("import sys\nfrom d4p import plugins\n"
            "for name in ('monitor', 'storm', 'spark', 'mpi', 'xcorr', 'misfit', 'int_ext'):\n"
            "    plugins._plugins().pm.set_blocked(name)\n"
            "from d4p.cli import main\nsys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_a_plugin_command_or_monitoring_without_its_package_says_what_to_install(tmp_path):
    done = _core_only("monitor", "runs")
    assert done.returncode == 2
    assert done.stderr == ("d4p: error: 'd4p monitor' comes with d4p-monitor, which is not "
                           "installed: pip install d4p-monitor\n")
    wf = write(tmp_path / "wf.py", PIPELINE)
    done = _core_only("run", str(wf), "--monitor")
    assert done.returncode == 2
    assert done.stderr == ("d4p: error: --monitor needs a monitoring plugin, and none is "
                           "installed: pip install d4p-monitor\n")


def test_an_unknown_command_suggests_one():
    done = d4p("runn", "wf.py")
    assert done.returncode == 2
    assert done.stderr.startswith("d4p: error: unknown command 'runn' (did you mean 'run'?); "
                                  "commands: run, mappings, workflows, draw")


def test_a_load_error_points_at_the_users_line(tmp_path):
    write(tmp_path / "wf.py", """
        import d4p

        @d4p.iterative
        def f(x):
            return x

        graph = d4p.WorkflowGraph()
        graph.connect(f(), "outptu", f(), "input")
    """)
    done = d4p("run", "wf.py", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.rstrip().endswith(f"({tmp_path / 'wf.py'}, line 9)")


@pytest.mark.parametrize(("line", "expected"), [("d4p run -m mu", ["multi"]),
                                                ("d4p run wordc", ["wordcount", "wordcount_plain"]),
                                                ("d4p mappings si", ["simple"]),
                                                ("d4p run w", ["wf.py", "wordcount",
                                                                 "wordcount_plain"])])
def test_shell_completion_offers_commands_mappings_workflows_and_files(tmp_path, line, expected):
    pytest.importorskip("argcomplete")
    write(tmp_path / "wf.py", PIPELINE)
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    done = subprocess.run([sys.executable, "-m", "d4p"], env=env, cwd=tmp_path, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(c.strip() for c in out.read_text().split("\x0b")) == expected
