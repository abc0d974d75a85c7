"""A real Spark standalone cluster (master and worker on 127.0.0.1, started
from pyspark's own jars): the workflow's modules and ``py_files`` reach the
executors, which run in JVMs and Python workers of their own."""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time

import d4p
import d4p_spark
import pyspark
import pytest

WORKFLOW = '''
import importlib

import d4p
import spark_cluster_helper  # loaded by the driver: shipped automatically


class Shift(d4p.IterativePE):
    def _process(self, x):
        # imports on the executor: the files must be there, not only pickled values
        helper = importlib.import_module("spark_cluster_helper")
        extra = importlib.import_module("spark_cluster_extra")  # only in py_files
        return helper.shift(x) + extra.EXTRA


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
    extra = tmp_path / "spark_cluster_extra.py"
    extra.write_text("EXTRA = 1000\n")
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
                     py_files=[str(extra)])
    (outputs,) = result.values()
    assert sorted(outputs["output"]) == [1100, 1101, 1102, 1103, 1104, 1105]
    sc = d4p_spark.get_context()
    assert sc.master == cluster
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"
