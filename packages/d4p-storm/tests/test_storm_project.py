"""``d4p storm export``: the streamparse project on disk, from Python and
from the ``d4p`` command."""

import importlib.metadata as metadata
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import d4p
import d4p_storm
import pytest
from d4p import UsageError
from d4p.plan import make_plan
from d4p.testing import get_case
from d4p_storm import export, load_topology
from d4p_storm.project import topology_name

WORKFLOW = textwrap.dedent("""
    import d4p

    class Count(d4p.ProducerPE):
        def _process(self, inputs):
            for i in range(6):
                self.write("output", i)

    class Label(d4p.IterativePE):
        def _process(self, data):
            return f"n{data}"

    graph = d4p.WorkflowGraph()
    graph.connect(Count(), "output", Label(), "input")
""")


def d4p_command(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "d4p", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_export_writes_a_complete_streamparse_project(tmp_path):
    graph, inputs = get_case("pipeline").build()
    project = export(make_plan(graph, 1, inputs), tmp_path / "proj", "pipe line",
                     nimbus="nimbus.example.org", storm_version="1.2.3")
    root = project.folder
    assert project.name == "pipe_line"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    wheels = [f for f in files if f.startswith("wheels/")]  # d4p's packages when not indexed
    assert [f for f in files if f not in wheels] == [
        ".gitignore", "README.md", "config.json", "project.clj", "src/pipe_line_d4p.py",
        "src/pipe_line_plan.pickle", "topologies/pipe_line.py", "virtualenvs/pipe_line.txt"]
    assert all(re.match(r"wheels/d4p_(core|storm)-[\w.]+-py3-none-any\.whl$", w) for w in wheels)
    config = json.loads((root / "config.json").read_text())
    assert config["serializer"] == "json"
    assert config["topology_specs"] == "topologies/"
    assert config["envs"]["prod"]["nimbus"] == "nimbus.example.org"
    clj = (root / "project.clj").read_text()
    assert '(defproject pipe_line "0.0.1-SNAPSHOT"' in clj
    assert '[org.apache.storm/storm-core "1.2.3"]' in clj
    assert '[org.apache.storm/flux-core "1.2.3"]' in clj
    requirements = [line.split("  #")[0] for line in
                    (root / "virtualenvs" / "pipe_line.txt").read_text().splitlines()
                    if line and not line.startswith("#")]
    assert requirements == (["--find-links wheels"] if wheels else []) + [
        f"d4p-core=={d4p.__version__}", f"d4p-storm=={d4p_storm.__version__}",
        f"streamparse=={metadata.version('streamparse')}"]
    readme = (root / "README.md").read_text()
    assert "sparse run -n pipe_line" in readme and "| Double" in readme
    assert oct(root.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode
    assert {s.name for s in load_topology(root).specs} == \
        {c.name for c in project.topology.components}


def test_export_refuses_a_non_empty_folder_and_replaces_it_with_force(tmp_path):
    graph, inputs = get_case("tee").build()
    plan = make_plan(graph, 1, inputs)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="exists and is not an empty folder.*--force"):
        export(plan, tmp_path / "proj", "tee")
    assert (tmp_path / "proj" / "notes.txt").read_text() == "mine"
    export(plan, tmp_path / "proj", "tee", force=True)
    assert not (tmp_path / "proj" / "notes.txt").exists()
    assert (tmp_path / "proj" / "topologies" / "tee.py").exists()
    assert sorted(os.listdir(tmp_path)) == ["proj"]  # no temporary folder left behind
    with pytest.raises(UsageError, match="does not exist"):
        export(plan, tmp_path / "missing" / "proj", "tee")


def test_a_failed_export_leaves_no_half_written_project(tmp_path):
    graph, inputs = get_case("pipeline").build()
    plan = make_plan(graph, 1, inputs)
    next(iter(plan.pes.values())).lock = threading.Lock()  # cannot be pickled
    with pytest.raises(UsageError, match=r"PE 'Numbers0' attribute 'lock' \(lock\) cannot be sent"):
        export(plan, tmp_path / "proj", "pipeline")
    assert os.listdir(tmp_path) == []


def test_topology_names_are_module_names():
    assert topology_name("word count") == "word_count"
    assert topology_name("3d-xcorr") == "wf_3d_xcorr"
    assert topology_name("") == "workflow"


def test_cli_exports_a_workflow_file_with_its_source(tmp_path):
    wf = tmp_path / "labels.py"
    wf.write_text(WORKFLOW)
    done = d4p_command("storm", "export", str(wf), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "topology 'labels': 1 spout, 1 bolt, 2 tasks" in done.stderr
    assert "sparse run -n labels" in done.stderr
    assert "write files" not in done.stderr
    src = tmp_path / "out" / "src"
    assert (src / "d4p_workflow_labels.py").read_text() == WORKFLOW
    components = (src / "labels_d4p.py").read_text()
    assert "class Count0(WorkflowSpout):" in components
    assert "class Label1(WorkflowBolt):" in components
    topology = (tmp_path / "out" / "topologies" / "labels.py").read_text()
    assert "label1 = Label1.spec(" in topology
    assert "count0['output']: Grouping.SHUFFLE," in topology


def test_export_warns_of_pes_that_write_files(tmp_path):
    wf = tmp_path / "logged.py"
    wf.write_text(WORKFLOW.replace('return f"n{data}"', 'open("seen.log", "a").write("x")\n'
                                   '        return f"n{data}"'))
    done = d4p_command("storm", "export", str(wf), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert ("d4p: warning: PEs write files (PE 'Label1': open(..., 'a') in _process()); "
            "on a Storm cluster they run on other machines") in done.stderr
    assert (tmp_path / "out" / "src" / "d4p_workflow_logged.py").is_file()


def test_cli_exports_a_registered_workflow_with_parameters_and_inputs(tmp_path):
    done = d4p_command("storm", "export", "wordcount", str(tmp_path / "wc"), "-p", "counters=4",
                       "--name", "words", "--nimbus", "10.0.0.1")
    assert done.returncode == 0, done.stderr
    topology = (tmp_path / "wc" / "topologies" / "words.py").read_text()
    assert "par=4," in topology and "Grouping.fields('key_" in topology
    assert json.loads((tmp_path / "wc" / "config.json").read_text())["envs"]["prod"]["nimbus"] \
        == "10.0.0.1"


@pytest.mark.parametrize(("args", "message"), [
    (["nowhere.py", "OUT"], "workflow file 'nowhere.py' not found"),
    (["wordcount", "OUT", "-p", "nope=1"], "has no parameter 'nope'"),
    (["wordcount", "OUT", "-d", "{bad"], "-d is not valid JSON"),
])
def test_cli_errors_exit_2_with_one_line(tmp_path, args, message):
    args = [str(tmp_path / a) if a == "OUT" else a for a in args]
    done = d4p_command("storm", "export", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "OUT").exists()


def test_cli_export_into_a_folder_that_cannot_be_written_is_one_line(tmp_path):
    """Before: a traceback from tempfile.mkdtemp, exit status 1."""
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if os.access(parent, os.W_OK):  # root: permissions do not stop it
            parent = Path("/sys")
            if not (parent / "kernel").is_dir():
                pytest.skip("no folder that cannot be written")
        done = d4p_command("storm", "export", "wordcount", str(parent / "wc"), cwd=tmp_path)
    finally:
        (tmp_path / "read-only").chmod(0o755)
    assert done.returncode == 2
    assert done.stderr.startswith(f"d4p: error: cannot write the project to "
                                  f"{str(parent / 'wc')!r}: folder {str(parent)!r} cannot be "
                                  "written ("), done.stderr
    assert done.stderr.endswith("); choose another folder\n"), done.stderr


def test_cli_storm_without_sub_command_shows_its_help():
    done = d4p_command("storm")
    assert done.returncode == 2
    assert "export" in done.stdout


def test_cli_exports_a_module_whose_pes_travel_by_value(tmp_path):
    from d4p_storm import record
    from d4p_storm.harness import LocalCluster

    (tmp_path / "labels_mod.py").write_text(WORKFLOW)
    done = d4p_command("storm", "export", "labels_mod", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp_path / "out" / "src")) == \
        ["graph_d4p.py", "graph_plan.pickle"]  # named after the graph; PEs by value
    results = tmp_path / "results"
    results.mkdir()
    LocalCluster(tmp_path / "out", options={"d4p.results_dir": str(results)},
                 log=io.StringIO()).run(seconds=120, until_idle=True)
    got = record.read(str(results))
    assert got.failure is None
    assert sorted(got.results["Label1"]["output"]) == [f"n{i}" for i in range(6)]


NUMPY_WORKFLOW = """
import d4p
import numpy as np

import storm_req_helper  # beside the workflow: copied into src/, not a requirement


@d4p.producer
def arrays(n=3):
    for i in range(n):
        yield np.full(4, float(i))


@d4p.iterative
def total(a):
    return storm_req_helper.twice(float(a.sum()))


graph = d4p.WorkflowGraph()
graph.connect(arrays(), "output", total(), "input")
"""


@pytest.mark.timeout(600)
def test_the_requirements_install_offline_in_a_fresh_venv_from_local_wheels(tmp_path):
    from d4p_storm.wheels import closure, is_local, wheel_of

    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "numwf.py").write_text(NUMPY_WORKFLOW)
    (folder / "storm_req_helper.py").write_text("def twice(x):\n    return 2 * x\n")
    done = d4p_command("storm", "export", str(folder / "numwf.py"), str(tmp_path / "proj"))
    assert done.returncode == 0, done.stderr
    project = tmp_path / "proj"
    text = (project / "virtualenvs" / "numwf.txt").read_text()
    pins = {line.split("==")[0]: line.split("==")[1].split()[0]
            for line in text.splitlines() if "==" in line and not line.startswith("#")}
    assert pins == {"d4p-core": d4p.__version__, "d4p-storm": d4p_storm.__version__,
                    "numpy": metadata.version("numpy"),
                    "streamparse": metadata.version("streamparse")}
    assert "numpy==" + metadata.version("numpy") + "  # imported by d4p_workflow_numwf.py" in text
    assert "storm_req_helper" not in text and "no installed distribution" not in text
    # the third-party wheels an index would give the workers, made from this environment
    house = tmp_path / "house"
    house.mkdir()
    for name in closure(list(pins)):
        if not is_local(name):
            wheel_of(name, house)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-index", "--find-links",
                           str(house), "-r", "virtualenvs/numwf.txt"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import d4p, d4p_storm.components, numpy, "
         "streamparse; print(d4p.__file__, d4p.__version__, numpy.__version__)"],
        env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    where, version, numpy_version = check.stdout.split()
    assert where.startswith(str(venv)) and version == d4p.__version__
    assert numpy_version == metadata.version("numpy")
    assert (venv / "bin" / "streamparse_run").exists()
