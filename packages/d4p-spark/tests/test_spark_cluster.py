"""A real Spark standalone cluster (master and worker on 127.0.0.1, started
from pyspark's own jars): the workflow's modules and ``py_files`` reach the
executors, which run in JVMs and Python workers of their own."""

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time

import d4p
import d4p_spark
import pyspark
import pytest

WORKFLOW = '''
import importlib

import d4p
import spark_cluster_helper  # loaded by the driver: shipped automatically
import spark_cluster_pkg  # a package beside it: shipped as a zip


class Shift(d4p.IterativePE):
    def _process(self, x):
        # imports on the executor: the files must be there, not only pickled values
        helper = importlib.import_module("spark_cluster_helper")
        extra = importlib.import_module("spark_cluster_extra")  # only in py_files
        inner = importlib.import_module("spark_cluster_pkg.inner")  # never loaded by the driver
        more = importlib.import_module("spark_cluster_more.values")  # a package in py_files
        return helper.shift(x) + extra.EXTRA + inner.TEN + more.MORE


def build():
    graph = d4p.WorkflowGraph()
    shift = Shift()
    shift.numprocesses = 2

    @d4p.producer
    def numbers(n=6):
        yield from range(n)

    graph.connect(numbers(), "output", shift, "input")
    return graph
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(path, text, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{path.name} ended: {path.read_text()[-2000:]}")
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.5)
    raise RuntimeError(f"no {text!r} in {path} after {seconds} s: {path.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, no_spark):
    """spark://127.0.0.1:PORT with one worker of one core."""
    home = os.path.dirname(pyspark.__file__)  # the pip package is a Spark home
    folder = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable}
    port = free_port()
    master_url = f"spark://127.0.0.1:{port}"
    cls = os.path.join(home, "bin", "spark-class")
    started = []
    try:
        log = folder / "master.log"
        master = subprocess.Popen(
            [cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(free_port())],
            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        started.append(master)
        wait_for(log, "Starting Spark master", master)
        log = folder / "worker.log"
        worker = subprocess.Popen(
            [cls, "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
             "--cores", "1", "--memory", "1g", "--webui-port", str(free_port()),
             "--work-dir", str(folder / "work")],
            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        started.append(worker)
        wait_for(log, "Successfully registered with master", worker)
        yield master_url
    finally:
        d4p_spark.stop()  # before its master goes
        for process in reversed(started):  # each leads a process group: the JVM, executors
            stop_group(process)


def stop_group(process):
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + wait  # the executors the worker started
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def test_a_workflow_file_runs_on_a_standalone_cluster(cluster, tmp_path):
    folder = tmp_path / "workflow"
    folder.mkdir()
    (folder / "spark_cluster_helper.py").write_text("def shift(x):\n    return x + 100\n")
    (folder / "spark_cluster_pkg").mkdir()
    (folder / "spark_cluster_pkg" / "__init__.py").write_text("")
    (folder / "spark_cluster_pkg" / "inner.py").write_text("TEN = 10\n")
    extra = tmp_path / "spark_cluster_extra.py"
    extra.write_text("EXTRA = 1000\n")
    more = tmp_path / "spark_cluster_more"
    more.mkdir()
    (more / "__init__.py").write_text("")
    (more / "values.py").write_text("MORE = 10000\n")
    path = folder / "spark_cluster_wf.py"
    path.write_text(WORKFLOW)
    sys.path.insert(0, str(folder))  # as `d4p run FILE` does for the driver only
    try:
        spec = importlib.util.spec_from_file_location("spark_cluster_wf", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["spark_cluster_wf"] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))

    result = d4p.run(module.build(), mapping="spark", master=cluster,
                     conf=["spark.executor.memory=512m", "spark.cores.max=1"],
                     py_files=[str(extra), str(more)])
    (outputs,) = result.values()
    assert sorted(outputs["output"]) == [11110, 11111, 11112, 11113, 11114, 11115]
    sc = d4p_spark.get_context()
    assert sc.master == cluster
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"


def _venv(folder, packages=()):
    """A venv whose Python sees this environment's third-party packages
    (pyspark, NumPy: through a .pth line, as if installed) but not d4p, plus
    copies of ``packages`` (d4p's source packages) as if installed; and
    ``bin/d4p-python``, which starts it without the PYTHONPATH the test
    worker inherits (that has this worktree's d4p on it)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = next((folder / "lib").glob("python3*/site-packages"))
    (site / "third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for package in packages:
        module = importlib.import_module(package)
        shutil.copytree(os.path.dirname(module.__file__), site / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    wrapper = folder / "bin" / "d4p-python"
    wrapper.write_text('#!/bin/sh\nunset PYTHONPATH\nexec "$(dirname "$0")/python" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


WHERE = """
import d4p


@d4p.iterative
def where_d4p_is(x):
    import d4p as worker_d4p
    import numpy as np

    return x, worker_d4p.__file__, float(np.arange(x + 1).sum())


@d4p.producer
def numbers(n=4):
    yield from range(n)


def build():
    graph = d4p.WorkflowGraph()
    graph.connect(numbers(), "output", where_d4p_is(), "input")
    return graph
"""


def _where_graph(tmp_path):
    """numbers → where_d4p_is, from a workflow file (shipped to the workers by value)."""
    path = tmp_path / "spark_where_wf.py"
    path.write_text(WHERE)
    spec = importlib.util.spec_from_file_location("spark_where_wf", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["spark_where_wf"] = module
    spec.loader.exec_module(module)
    return module.build()


CLUSTER_CONF = ["spark.executor.memory=512m", "spark.cores.max=1"]


def test_a_worker_python_without_d4p_is_one_line_naming_it(cluster, tmp_path):
    python = _venv(tmp_path / "bare")
    d4p_spark.stop()
    with pytest.raises(d4p.UsageError) as info:
        d4p.run(_where_graph(tmp_path), mapping="spark", master=cluster,
                conf=[*CLUSTER_CONF, f"spark.pyspark.python={python}"])
    text = str(info.value)
    assert "\n" not in text
    assert re.match(rf"the Spark workers' Python {tmp_path}/bare/bin/python \(3\.\d+\.\d+\) "
                    r"cannot import d4p \(ModuleNotFoundError: No module named 'd4p'\): install "
                    "d4p-core and d4p-spark there", text), text
    assert pyspark.SparkContext._active_spark_context is None  # stopped, not left half-checked


def test_pyspark_python_in_the_environment_is_honoured(cluster, tmp_path, monkeypatch):
    python = _venv(tmp_path / "bare")
    monkeypatch.setenv("PYSPARK_PYTHON", str(python))
    d4p_spark.stop()
    with pytest.raises(d4p.UsageError, match=f"Python {tmp_path}/bare/bin/python "):
        d4p.run(_where_graph(tmp_path), mapping="spark", master=cluster, conf=CLUSTER_CONF)
    assert os.environ["PYSPARK_PYTHON"] == str(python)  # never overwritten
    monkeypatch.setenv("PYSPARK_PYTHON", str(tmp_path / "missing" / "python"))
    with pytest.raises(d4p.UsageError, match=f"the Spark workers cannot run their Python "
                       f"{tmp_path}/missing/python: Cannot run program"):
        d4p.run(_where_graph(tmp_path), mapping="spark", master=cluster, conf=CLUSTER_CONF)


def test_an_environment_shipped_with_spark_archives_runs_the_workflow(cluster, tmp_path):
    _venv(tmp_path / "env", packages=("d4p", "d4p_spark"))
    archive = tmp_path / "env.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:  # what venv-pack -o env.tar.gz writes
        tar.add(tmp_path / "env", arcname=".")
    shutil.rmtree(tmp_path / "env")  # the workers have only the archive
    d4p_spark.stop()
    result = d4p.run(_where_graph(tmp_path), mapping="spark", master=cluster,
                     conf=[*CLUSTER_CONF, f"spark.archives={archive}#env",
                           "spark.pyspark.python=./env/bin/d4p-python"])
    (outputs,) = result.values()
    got = sorted(outputs["output"])
    assert [(x, total) for x, _, total in got] == [(0, 0.0), (1, 1.0), (2, 3.0), (3, 6.0)]
    for _, file, _ in got:  # d4p came from the archive, unpacked in the executor's folder
        assert re.search(r"/env/lib/python3\.\d+/site-packages/d4p/__init__\.py$", file), file
        assert not file.startswith(str(tmp_path))
    d4p_spark.stop()


USER_WORKFLOW = '''
import d4p
import numpy as np

import helper  # a module beside the workflow file
from mylib.scale import factor  # a local package (not installed)


@d4p.producer
def readings(n=40):
    for i in range(n):
        yield [i % 5, np.full(4, float(i))]


class KeyTotal(d4p.GenericPE):
    def __init__(self):
        super().__init__()
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.totals = {}

    def _process(self, inputs):
        key, values = inputs["input"]
        self.totals[key] = self.totals.get(key, 0.0) + helper.weigh(values) * factor()
        with open("seen.log", "a") as log:  # lands on the worker: d4p warns
            log.write(str(key))

    def postprocess(self):
        for key, total in sorted(self.totals.items()):
            self.write("output", [key, total])


def build():
    graph = d4p.WorkflowGraph()
    totals = KeyTotal()
    totals.numprocesses = 2
    graph.connect(readings(), "output", totals, "input")
    return graph


graph = build()
'''

JAVA_TRACE = re.compile(r"^\s+at [\w.$]+\(|Exception|^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (WARN|ERROR)")


def test_a_user_folder_workflow_from_the_command_line_equals_simple_and_ends_quietly(cluster,
                                                                                  tmp_path):
    folder = tmp_path / "project"
    (folder / "mylib").mkdir(parents=True)
    (folder / "mylib" / "__init__.py").write_text("")
    (folder / "mylib" / "scale.py").write_text("def factor():\n    return 0.5\n")
    (folder / "helper.py").write_text("def weigh(values):\n    return float(values.sum())\n")
    (folder / "user_wf.py").write_text(USER_WORKFLOW)
    exe = os.path.join(os.path.dirname(sys.executable), "d4p")
    temp = tmp_path / "temp"  # where d4p zips mylib for addPyFile
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYSPARK_PYTHON"} | {"TMPDIR": str(temp)}
    outputs = {}
    for mapping, extra in (("simple", []), ("spark", ["--master", cluster, *[
            a for c in CLUSTER_CONF for a in ("--conf", c)]])):
        done = subprocess.run([exe, "run", "user_wf.py", "-m", mapping, "-q", "-o",
                               f"{mapping}.json", *extra], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        (pe_outputs,) = json.loads((folder / f"{mapping}.json").read_text())["results"].values()
        outputs[mapping] = sorted(map(tuple, pe_outputs["output"]))
        lines = done.stderr.splitlines()
        if mapping == "spark":
            warning = next(ln for ln in lines if "write files" in ln)
            assert warning.startswith("d4p: warning: PEs write files (PE 'KeyTotal")
            assert "open(..., 'a') in _process()" in warning and cluster in warning
            end = lines.index(next(ln for ln in lines if ln.startswith("results written")))
            assert not [ln for ln in lines[end:] if JAVA_TRACE.search(ln)], lines[end:]
            assert not [ln for ln in lines if re.match(r"^\s+at [\w.$]+\(", ln)], done.stderr
        else:
            assert not [ln for ln in lines if "write files" in ln]
    expected = [(k, sum(4 * i * 0.5 for i in range(40) if i % 5 == k)) for k in range(5)]
    assert outputs["simple"] == expected
    assert not list(temp.glob("d4p-spark-*")), "the zips made for addPyFile were left behind"
    assert outputs["spark"] == outputs["simple"]


def test_a_running_context_on_a_cluster_is_checked_too(cluster, tmp_path, monkeypatch):
    """A context the user started (a notebook's) whose workers lack d4p: the
    first run on it says so, and d4p leaves the user's context running."""
    python = _venv(tmp_path / "bare")
    d4p_spark.stop()
    monkeypatch.setenv("PYSPARK_PYTHON", str(python))
    conf = pyspark.SparkConf().setMaster(cluster).setAll(
        [tuple(c.split("=", 1)) for c in CLUSTER_CONF])
    sc = pyspark.SparkContext(conf=conf)
    try:
        with pytest.raises(d4p.UsageError, match=f"Python {tmp_path}/bare/bin/python "
                           r"\(3\.\d+\.\d+\) cannot import d4p"):
            d4p.run(_where_graph(tmp_path), mapping="spark")
        assert pyspark.SparkContext._active_spark_context is sc
    finally:
        sc.stop()


@pytest.mark.timeout(300)  # without the stop, the source never ends
def test_a_graceful_stop_reaches_the_sources_on_the_executors(cluster):
    """The executors share no folder with the driver: the stop travels on the
    driver's StopLine. The run drains and returns its count."""
    import threading

    from d4p.testing.workflows import endless

    stop = threading.Event()
    threading.Timer(20, stop.set).start()  # the executor started and counts meanwhile
    result = d4p.run(endless(), mapping="spark", master=cluster, conf=CLUSTER_CONF, stop=stop)
    assert result.summary.stopped == "the stop event was set"
    (count,) = result["Count1"]["output"]
    assert count > 0
