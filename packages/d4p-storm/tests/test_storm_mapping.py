"""The ``storm`` mapping: without Storm a clear usage error; with the harness
in place of ``sparse run`` (mapping ``storm-harness``) the same export,
components, results folder, failures, time-outs and clean-up; with a real
Storm (not installable here) a local run."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import d4p
import pytest
from d4p.loader import load_target
from d4p.testing import get_case, normalise, normalise_counts
from d4p.testing.workflows import Numbers

NO_STORM = ("Apache Storm is not installable here (no package registry this machine reaches "
            "carries it), so the real local run is skipped; the harness tests prove the "
            "components against Storm's multi-lang protocol")


def simple(case):
    graph, inputs = get_case(case).build()
    return d4p.run(graph, inputs)


def storm_processes(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd and str(os.getpid()) != pid:
            found.append(cmd)
    return found


# -- without Storm -------------------------------------------------------------------------------


@pytest.fixture
def no_storm_path(monkeypatch, tmp_path):
    """A PATH with this Python's scripts and no storm or lein on it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sparse", "streamparse_run"):
        (bin_dir / name).symlink_to(os.path.join(os.path.dirname(sys.executable), name))
    monkeypatch.setenv("PATH", str(bin_dir))
    return str(bin_dir)


def test_without_storm_the_mapping_says_what_to_install_and_what_works(no_storm_path):
    graph, inputs = get_case("pipeline").build()
    with pytest.raises(d4p.UsageError) as info:
        d4p.run(graph, inputs, mapping="storm")
    text = str(info.value)
    assert info.value.exit_code == 2
    for part in ("Apache Storm was not found", "not on PATH: storm, lein", "storm.apache.org",
                 "d4p storm export TARGET DIR"):
        assert part in text


def test_without_storm_d4p_run_exits_2_with_one_line(no_storm_path, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wordcount", "--mapping", "storm"],
                          capture_output=True, text=True, timeout=120, cwd=work)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("d4p: error: Apache Storm was not found")
    assert os.listdir(work) == []


def test_submit_needs_a_nimbus_host():
    graph, inputs = get_case("pipeline").build()
    with pytest.raises(d4p.UsageError, match="needs the Nimbus host: --nimbus HOST"):
        d4p.run(graph, inputs, mapping="storm", submit=True)
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wordcount", "--mapping", "storm",
                           "--submit"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--nimbus HOST" in done.stderr


def test_submit_without_leiningen_says_so(no_storm_path):
    graph, inputs = get_case("pipeline").build()
    with pytest.raises(d4p.UsageError, match=r"Leiningen was not found \(not on PATH: lein\)"):
        d4p.run(graph, inputs, mapping="storm", submit=True, nimbus="127.0.0.1")


def test_options_are_listed_and_checked():
    cls = d4p.get_mapping("storm")
    assert [o.name for o in cls.options] == ["submit", "nimbus", "topology", "timeout",
                                             "serializer"]
    with pytest.raises(d4p.UsageError, match="has no option 'master'"):
        d4p.run(*get_case("pipeline").build(), mapping="storm", master="x")


@pytest.mark.skipif(shutil.which("storm") is None or shutil.which("lein") is None, reason=NO_STORM)
def test_local_run_on_a_real_storm():  # pragma: no cover - needs Storm 1.2 and Leiningen
    graph, inputs = get_case("wordcount").build()
    result = d4p.run(graph, inputs, mapping="storm", timeout=600)
    assert normalise(result) == normalise(simple("wordcount"))


# -- through the harness ------------------------------------------------------------------------


def test_results_and_units_processed_match_simple():
    graph, inputs = get_case("grouping_group_by").build()
    seen = []
    result = d4p.run(graph, inputs, mapping="storm-harness", topology="by_key",
                     progress=seen.append)
    want = simple("grouping_group_by")
    assert seen and all(set(counts) <= set(result.summary.units) for counts in seen)
    assert normalise(result) == normalise(want)
    assert normalise_counts(result.summary.units) == normalise_counts(want.summary.units)
    assert result.summary.mapping == "storm-harness"
    assert normalise_counts(result.summary.instances) == normalise_counts(want.summary.instances)


def test_a_workflow_file_travels_as_a_module_of_the_project(tmp_path):
    wf = tmp_path / "labels.py"
    wf.write_text(textwrap.dedent("""
        import d4p

        class Count(d4p.ProducerPE):
            def _process(self, inputs):
                for i in range(6):
                    self.write("output", i)

        class Label(d4p.IterativePE):
            def _process(self, data):
                return f"n{data}"

        graph = d4p.WorkflowGraph()
        label = Label()
        label.numprocesses = 2
        graph.connect(Count(), "output", label, "input")
    """))
    target = load_target(str(wf))
    result = d4p.run(target.graph, mapping="storm-harness")
    (label,) = [pe for pe in result if pe.startswith("Label")]
    assert sorted(result[label]["output"]) == [f"n{i}" for i in range(6)]


def test_modules_beside_the_workflow_file_travel_with_it(tmp_path):
    from d4p.plan import make_plan
    from d4p_storm import export

    (tmp_path / "helpers_storm.py").write_text(textwrap.dedent("""
        import d4p

        class Twice(d4p.IterativePE):
            def _process(self, data):
                return [data, data]
    """))
    wf = tmp_path / "uses_helpers.py"
    wf.write_text(textwrap.dedent("""
        import d4p
        from d4p.testing.workflows import Numbers
        from helpers_storm import Twice

        graph = d4p.WorkflowGraph()
        graph.connect(Numbers(3), "output", Twice(), "input")
    """))
    target = load_target(str(wf))
    project = export(make_plan(target.graph, 1, None), tmp_path / "project", "helpers")
    assert sorted(os.listdir(project.folder / "src")) == [
        "d4p_workflow_uses_helpers.py", "helpers_d4p.py", "helpers_plan.pickle",
        "helpers_storm.py"]
    result = d4p.run(target.graph, mapping="storm-harness")
    (twice,) = result
    assert sorted(result[twice]["output"]) == [[0, 0], [1, 1], [2, 2]]


class Shout(d4p.IterativePE):
    """Defined in this test module, which the components cannot import: it
    travels by value inside the plan."""

    def _process(self, data):
        return str(data).upper() + "!"


def test_pes_of_modules_the_workers_cannot_import_travel_by_value():
    graph = d4p.WorkflowGraph()
    src, shout = Numbers(4), Shout()
    graph.connect(src, "output", shout, "input")
    result = d4p.run(graph, mapping="storm-harness")
    assert sorted(result[shout.id]["output"]) == ["0!", "1!", "2!", "3!"]


class Sleepy(d4p.IterativePE):
    def _process(self, data):
        time.sleep(60)
        return data


class Dies(d4p.IterativePE):
    def _process(self, data):
        if data == 3:
            os._exit(7)
        return data


class NoDatabase(d4p.IterativePE):
    def preprocess(self):
        raise ConnectionError("no database at db.invalid")

    def _process(self, data):
        return data


def chain(pe, n=5):
    graph = d4p.WorkflowGraph()
    graph.connect(Numbers(n), "output", pe, "input")
    return graph


@pytest.mark.timeout(60)
def test_timeout_stops_the_run_and_every_process():
    with pytest.raises(d4p.WorkflowFailed, match=r"did not finish within 2 s \(option 'timeout'"):
        d4p.run(chain(Sleepy()), mapping="storm-harness", topology="slow_orphans", timeout=2)
    assert storm_processes("slow_orphans") == []


@pytest.mark.timeout(90)
def test_a_dying_component_ends_the_run_without_hanging():
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(chain(Dies()), mapping="storm-harness", topology="dying_orphans")
    text = str(info.value)
    assert "the Storm run ended (exit status 1) before the workflow finished" in text
    assert "closed its pipes" in text and "exit status 7" in text
    assert storm_processes("dying_orphans") == []


def test_a_failing_preprocess_names_the_pe():
    pe = NoDatabase()
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(chain(pe), mapping="storm-harness")
    assert info.value.pe == pe.id
    assert "preprocess" in str(info.value) and "no database at db.invalid" in str(info.value)


class Unsendable(d4p.IterativePE):
    def _process(self, data):
        return threading.Lock()


def test_a_unit_that_cannot_travel_fails_the_run_naming_the_writer():
    pe = Unsendable()
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(chain(pe, n=1), mapping="storm-harness")
    failure = info.value
    assert (failure.pe, failure.instance, failure.port, failure.data) == (pe.id, 0, "input", "0")
    assert "cannot be sent through Storm: TypeError" in str(failure)


@pytest.mark.skipif(os.geteuid() != 0, reason="LEIN_ROOT matters to root only")
def test_as_root_lein_root_is_set_for_sparse_unless_the_user_set_it(monkeypatch):
    from d4p_storm.mapping import _environment

    monkeypatch.delenv("LEIN_ROOT", raising=False)
    assert _environment()["LEIN_ROOT"] == "1"
    monkeypatch.setenv("LEIN_ROOT", "yes")
    assert _environment()["LEIN_ROOT"] == "yes"


# -- stopping a local run -------------------------------------------------------------------------


@pytest.mark.parametrize(("how", "why"), [({"stop_after": 3}, "stop_after=3 s"),
                                          ({"max_units": 2500}, "max_units=2500")])
def test_a_graceful_stop_drains_the_topology(how, why):
    """The spouts stop their sources at the run's stop file (or count max_units
    themselves); the end of stream reaches every bolt, postprocess runs."""
    from d4p.testing.workflows import endless

    graph = endless()
    (count,) = [pe for pe in graph.pes() if pe.name == "Count"]
    result = d4p.run(graph, mapping="storm-harness", topology="stopped_gracefully",
                     timeout=120, **how)
    (counted,) = result[count.id]["output"]
    if "max_units" in how:
        assert counted == 2500
    else:
        assert counted > 0
    assert result.summary.stopped == why  # max_units: None before
    assert storm_processes("stopped_gracefully") == []


def test_a_source_that_ends_itself_ends_the_topology():
    check = get_case("source_ends_itself")
    graph, inputs = check.build()
    result = d4p.run(graph, inputs, mapping="storm-harness")
    assert normalise(result) == normalise(simple("source_ends_itself"))
    assert result.summary.stopped is None


SIGNALLED = """
import sys

import d4p
from d4p.cli import main
from d4p_storm.harness import HarnessMapping


class Plugin:
    @d4p.hookimpl
    def d4p_register_mappings(self):
        return [HarnessMapping]


d4p.get_plugin_manager().register(Plugin(), "storm-harness")
sys.exit(main(["run", sys.argv[1], "-m", "storm-harness", "--topology", "signalled", "-q"]))
"""


@pytest.mark.parametrize("twice", [False, True], ids=["once", "twice"])
def test_a_signal_to_a_local_run(tmp_path, twice):
    """SIGINT: the sources stop, the counts come out, exit 0. A second SIGINT
    while a postprocess sleeps: exit 130 at once, no component left."""
    from d4p.testing.workflows import ENDLESS_FILE

    wf = tmp_path / "endless.py"
    wf.write_text(ENDLESS_FILE.replace("endless()", "endless(pause_at_end=60)") if twice
                  else ENDLESS_FILE)
    script = tmp_path / "run.py"
    script.write_text(SIGNALLED)
    proc = subprocess.Popen([sys.executable, str(script), str(wf)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(storm_processes("signalled")) < 3:  # the harness and two components
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the topology did not start"
            time.sleep(0.1)
        time.sleep(2.0)  # the source writes
        proc.send_signal(signal.SIGINT)
        if twice:
            time.sleep(3.0)  # the source has stopped; Count's postprocess sleeps 60 s
            assert proc.poll() is None
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if twice:
        assert proc.returncode == 130, err
    else:
        assert proc.returncode == 0, err
        assert out.splitlines()[0] == "Count1.output: 1 value" and int(out.splitlines()[1]) > 0
        assert "stopped after" in err and "(SIGINT)" in err
    deadline = time.monotonic() + 10
    while storm_processes("signalled") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert storm_processes("signalled") == []
