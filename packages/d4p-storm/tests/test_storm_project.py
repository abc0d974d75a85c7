"""``d4p storm export``: the streamparse project on disk, from Python and
from the ``d4p`` command."""

import io
import json
import os
import subprocess
import sys
import textwrap
import threading

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
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        ".gitignore", "README.md", "config.json", "project.clj", "src/pipe_line_d4p.py",
        "src/pipe_line_plan.pickle", "topologies/pipe_line.py", "virtualenvs/pipe_line.txt"]
    config = json.loads((root / "config.json").read_text())
    assert config["serializer"] == "json"
    assert config["topology_specs"] == "topologies/"
    assert config["envs"]["prod"]["nimbus"] == "nimbus.example.org"
    clj = (root / "project.clj").read_text()
    assert '(defproject pipe_line "0.0.1-SNAPSHOT"' in clj
    assert '[org.apache.storm/storm-core "1.2.3"]' in clj
    assert '[org.apache.storm/flux-core "1.2.3"]' in clj
    requirements = (root / "virtualenvs" / "pipe_line.txt").read_text().split()
    assert requirements[0].startswith("d4p-core==") and requirements[1].startswith("d4p-storm==")
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
    with pytest.raises(TypeError):
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
    src = tmp_path / "out" / "src"
    assert (src / "d4p_workflow_labels.py").read_text() == WORKFLOW
    components = (src / "labels_d4p.py").read_text()
    assert "class Count0(WorkflowSpout):" in components
    assert "class Label1(WorkflowBolt):" in components
    topology = (tmp_path / "out" / "topologies" / "labels.py").read_text()
    assert "label1 = Label1.spec(" in topology
    assert "count0['output']: Grouping.SHUFFLE," in topology


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
