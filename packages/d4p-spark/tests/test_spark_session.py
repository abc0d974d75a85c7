"""Starting Spark: Java, settings, addresses (no SparkContext is started here)."""

import io
import os
import socket
import stat
import subprocess
import sys
from importlib import resources

import d4p
import pytest
from d4p.examples import pipeline
from d4p_spark import java_version, session
from d4p_spark.cluster import check_master


def fake_java(tmp_path, says):
    """A JAVA_HOME whose bin/java prints ``says`` like ``java -version`` does."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{says}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return str(tmp_path / "jdk")


def test_the_machines_java_is_recent_enough():
    assert java_version() >= 17


def test_an_old_java_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", fake_java(tmp_path, 'openjdk version "11.0.22" 2024-01-16'))
    with pytest.raises(d4p.UsageError, match=r"needs Java 17 or newer, but .*/jdk/bin/java is "
                       r"Java 11: install Java 17 or newer \(Debian/Ubuntu: apt-get install "
                       r"openjdk-17-jre-headless\)"):
        java_version()


def test_java_8_is_told_as_8(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", fake_java(tmp_path, 'java version "1.8.0_392"'))
    with pytest.raises(d4p.UsageError, match="is Java 8:"):
        java_version()


def test_a_missing_java_fails_the_run_before_spark_starts(tmp_path, monkeypatch, no_spark):
    from pyspark import SparkContext

    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    graph, inputs = pipeline(3)
    with pytest.raises(d4p.UsageError, match=f"JAVA_HOME={tmp_path} has no bin/java.*set "
                       "JAVA_HOME to its directory") as info:
        d4p.run(graph, inputs, mapping="spark")
    assert info.value.exit_code == 2
    assert SparkContext._active_spark_context is None


def test_no_java_on_path(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(d4p.UsageError, match="there is none \\(no 'java' on PATH\\)"):
        java_version()


def test_local_and_loopback_masters_bind_to_loopback():
    assert session.is_local("local[*]") and session.is_local("local") \
        and session.is_local("local[2,3]")
    assert not session.is_local("spark://127.0.0.1:7077")
    assert session._on_loopback("spark://127.0.0.1:7077")
    assert session._on_loopback("spark://localhost:7077")
    assert not session._on_loopback("spark://192.0.2.77:7077")
    assert not session._on_loopback("yarn")


def test_unknown_options_are_listed():
    graph, inputs = pipeline(3)
    with pytest.raises(d4p.UsageError, match="mapping 'spark' has no option 'masters' \\(did "
                       "you mean 'master'\\?\\); its options are: master, conf, py_files, "
                       "batch_size"):
        d4p.run(graph, inputs, mapping="spark", masters="local")


def test_the_log_configuration_ships_with_the_package():
    path = resources.files("d4p_spark") / "data" / "log4j2.properties"  # what session.py gives
    assert os.path.isfile(path)
    with open(path) as f:
        assert "rootLogger.level = warn" in f.read()


SCRIPT = """
import d4p
from d4p.examples import pipeline
graph, inputs = pipeline(10)
result = d4p.run(graph, inputs, mapping="spark", conf=["spark.app.name={name}"])
print(list(result.values()))
"""


def processes_mentioning(text):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_no_java_process_outlives_a_script_that_ran_spark(tmp_path):
    name = f"d4p-exit-test-{os.getpid()}"
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(name=name)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[{'output': [90]}]"
    assert processes_mentioning(name) == []
    assert "Traceback" not in done.stderr


def test_the_workers_python_is_the_users_when_set(monkeypatch):
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    assert session.worker_python("local[2]", {}) == sys.executable
    assert session.worker_python("spark://127.0.0.1:7077", {}) == sys.executable
    assert session.worker_python("spark://192.0.2.1:7077", {}) is None  # Spark's default
    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/py/bin/python")
    assert session.worker_python("local[2]", {}) == "/opt/py/bin/python"
    assert session.worker_python("spark://192.0.2.1:7077", {}) == "/opt/py/bin/python"
    conf = {"spark.pyspark.python": "./env/bin/python"}
    assert session.worker_python("spark://192.0.2.1:7077", conf) == "./env/bin/python"


def test_a_driver_python_other_than_this_one_is_a_usage_error(no_spark):
    graph, inputs = pipeline(3)
    with pytest.raises(d4p.UsageError, match=r"spark.pyspark.driver.python=/usr/bin/false names "
                       r"another Python than the one running d4p \(.*\), which is Spark's "
                       r"driver: run d4p with that Python"):
        d4p.run(graph, inputs, mapping="spark",
                conf=["spark.pyspark.driver.python=/usr/bin/false"])
    assert session._started is None


def test_a_spark_master_that_nobody_listens_on_is_one_line_before_spark_starts(no_spark):
    with socket.socket() as closed, socket.socket() as listening:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        down, up = (f"127.0.0.1:{s.getsockname()[1]}" for s in (closed, listening))
        graph, inputs = pipeline(3)
        with pytest.raises(d4p.UsageError, match=rf"cannot reach the Spark master spark://{down}"
                           r" \(Connection refused\): start it, or give the option 'master' "
                           r"the URL it prints") as info:
            d4p.run(graph, inputs, mapping="spark", master=f"spark://{down}")
        assert info.value.exit_code == 2 and session._started is None
        check_master(f"spark://{down},{up}")  # a standby master answers


def test_the_jvm_s_stderr_passes_but_for_its_incubator_note_and_pyspark_s_pickling_trace(capfd):
    user = (b"Traceback (most recent call last):\n"
            b'  File "/data/wf.py", line 3, in process\n'
            b"ValueError: a user's own trace\n")
    dumps = (b"Traceback (most recent call last):\n"
             b'  File "/x/pyspark.zip/pyspark/serializers.py", line 467, in dumps\n'
             b"    return cloudpickle.dumps(obj, pickle_protocol)\n"
             b"           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
             b"TypeError: cannot pickle '_thread.lock' object\n")
    unfinished = b"Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n"
    session._relay(io.BytesIO(b"WARNING: Using incubator modules: jdk.incubator.vector\n"
                              + b"a line\n" + dumps + user + b"last\n" + unfinished))
    assert capfd.readouterr().err == ("a line\n" + user.decode() + "last\n"
                                      + unfinished.decode())
