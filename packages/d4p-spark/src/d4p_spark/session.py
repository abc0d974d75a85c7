"""The SparkContext that d4p runs on: the running one (a notebook's, a test
fixture's) or one started with d4p's defaults (UI off, WARN logs, loopback
address for local masters, this interpreter as the workers' Python unless
``spark.pyspark.python`` or ``PYSPARK_PYTHON`` says otherwise), which stays
up for later runs in the process and is stopped, with its JVM, at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from importlib import resources
from urllib.parse import urlsplit

from d4p import UsageError
from d4p.loader import key_values

from .cluster import check_master, check_workers

DEFAULT_MASTER = "local[*]"
JAVA_MINIMUM = 17

_DEFAULTS = {
    "spark.app.name": "d4p",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.python.worker.reuse": "true",
    "spark.python.worker.faulthandler.enabled": "true",
}
_lock = threading.RLock()
_started = None  # the SparkContext this module started, if any
_launched = False  # whether this module launched Spark's JVM


def is_local(master: str) -> bool:
    """True for ``local``, ``local[N]``, ``local[*]``, ``local[N,F]``."""
    return master == "local" or master.startswith("local[")


def java_version() -> int:
    """The major version of the Java that Spark will start (``JAVA_HOME`` first,
    then ``java`` on ``PATH``). Raises :class:`d4p.UsageError` naming the fix
    when there is none or it is older than 17."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    fix = ("install Java 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) "
           "and put its java on PATH or set JAVA_HOME to its directory")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={home} has no bin/java" if home else "no 'java' on PATH"
        raise UsageError(f"the spark mapping needs Java {JAVA_MINIMUM} or newer, and there is "
                         f"none ({where}): {fix}")
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"the spark mapping could not run {java} -version ({exc}): {fix}") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not found:
        raise UsageError(f"the spark mapping could not tell the version of {java} "
                         f"(it said {(done.stderr or done.stdout).strip()[:200]!r}): {fix}")
    major = int(found[1])
    if major == 1 and found[2]:  # 1.8 is Java 8
        major = int(found[2])
    if major < JAVA_MINIMUM:
        raise UsageError(f"the spark mapping needs Java {JAVA_MINIMUM} or newer, but {java} is "
                         f"Java {major}: {fix}")
    return major


def get_context(master: str | None = None, conf=None):
    """The running SparkContext, or a new one for ``master`` (default
    ``local[*]``) with ``conf`` (``key=value`` strings or a dict) on top of
    d4p's defaults.

    Asking for a master or settings that differ from those of the running
    context raises :class:`d4p.UsageError`: Spark runs one context per process.
    """
    from pyspark import SparkConf, SparkContext

    settings = key_values(conf, "option 'conf' of mapping 'spark'", "spark.executor.memory=2g")
    with _lock:
        running = SparkContext._active_spark_context
        if running is not None:
            _check_same(running, master, settings)
            if not is_local(running.master):  # a notebook's context on a cluster: once
                check_workers(running, getattr(running, "pythonExec", None))
            return running
        master = master or DEFAULT_MASTER
        check_master(master)
        java_version()
        _check_driver_python(settings)
        python = worker_python(master, settings)
        if is_local(master) or _on_loopback(master):  # workers on this machine
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        spark_conf = SparkConf().setMaster(master)
        for key, value in {**_DEFAULTS, **settings}.items():
            spark_conf.set(key, value)
        if "spark.driver.extraJavaOptions" not in settings and "spark.log.level" not in settings:
            log4j = resources.files("d4p_spark") / "data" / "log4j2.properties"
            spark_conf.set("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j}")
        global _launched
        _launched = _launched or SparkContext._gateway is None
        before = os.environ.get("PYSPARK_PYTHON")
        if python:
            os.environ["PYSPARK_PYTHON"] = python  # PySpark reads it here, once
        try:
            gateway = None
            if SparkContext._gateway is None:
                from pyspark.java_gateway import launch_gateway

                # the JVM (and its Python workers) in a session of their own: a signal
                # to d4p's process group (Ctrl-C, kill -TERM -PGID) is d4p's to handle
                # (note, or abort), not the end of Spark under the running job
                gateway = launch_gateway(spark_conf, popen_kwargs={"start_new_session": True,
                                                                   "stderr": subprocess.PIPE})
                threading.Thread(target=_relay, args=(gateway.proc.stderr,), daemon=True,
                                 name="d4p-spark-stderr").start()
            interrupt = signal.getsignal(signal.SIGINT)
            sc = SparkContext(conf=spark_conf, gateway=gateway)
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, interrupt)  # PySpark put its own (cancel, raise)
        except Exception as exc:
            java = getattr(exc, "java_exception", None)  # py4j's: say Spark's own message
            said = str(java and java.getMessage() or exc).strip().splitlines() or [repr(exc)]
            raise UsageError(f"Spark did not start for master {master!r}: {said[0]}; check the "
                             "master URL and the 'conf' settings") from None
        finally:
            if before is None:
                os.environ.pop("PYSPARK_PYTHON", None)
            else:
                os.environ["PYSPARK_PYTHON"] = before
        if "spark.log.level" not in settings:
            sc.setLogLevel("WARN")
        global _started
        _started = sc
        if not is_local(master) or python != sys.executable:
            try:
                check_workers(sc, python)
            except UsageError:
                stop()
                raise
        return sc


def _relay(stream) -> None:
    """The JVM's standard error to ours (file descriptor 2, as if inherited),
    without what says nothing to act on: the start-up note on an incubator
    module, which Spark 4 asks for and no setting silences, and the
    tracebacks of PySpark's workers that only precede d4p's one line on the
    failed job (:func:`_echo`)."""
    held: list[bytes] = []  # a traceback, until its last line
    with stream:
        for line in stream:
            if line.startswith(b"WARNING: Using incubator modules"):
                continue
            if held or line.startswith(b"Traceback (most recent call last):"):
                held.append(line)
                if len(held) == 1 or line[:1] in b" \t":
                    continue
                lines, held = held, []
                if not _echo(lines):
                    continue
            else:
                lines = [line]
            with contextlib.suppress(OSError):  # ours is closed: read on, or the JVM waits
                os.write(2, b"".join(lines))
        with contextlib.suppress(OSError):
            os.write(2, b"".join(held))


def _echo(trace: list[bytes]) -> bool:
    """False for the traceback of a Python worker's record that pickle cannot
    copy (PySpark's serializer prints it; the task fails and d4p names the
    PEs) and of a worker whose pipe to the JVM broke (the JVM failed first,
    out of memory, say: d4p says so)."""
    text = b"".join(trace)
    return not (b'pyspark/serializers.py", line' in text and b", in dumps\n" in text
                or b'pyspark/daemon.py", line' in text and trace[-1].startswith(b"BrokenPipeError"))


def worker_python(master: str, settings: dict[str, str]) -> str | None:
    """The Python the workers start: ``spark.pyspark.python`` if set, else
    ``$PYSPARK_PYTHON`` if set (never overwritten), else this interpreter when
    the workers are on this machine (a local master or one on the loopback);
    ``None`` leaves Spark's default (``python3`` on the workers' ``PATH``)."""
    python = settings.get("spark.pyspark.python") or os.environ.get("PYSPARK_PYTHON")
    if python:
        return python
    return sys.executable if is_local(master) or _on_loopback(master) else None


def _check_driver_python(settings: dict[str, str]) -> None:
    """The driver is this process: a ``spark.pyspark.driver.python`` naming
    another Python cannot be honoured, so say how to run d4p with it."""
    driver = settings.get("spark.pyspark.driver.python")
    if not driver:
        return
    found = shutil.which(driver)
    if found and os.path.realpath(found) == os.path.realpath(sys.executable):
        return
    raise UsageError(f"spark.pyspark.driver.python={driver} names another Python than the one "
                     f"running d4p ({sys.executable}), which is Spark's driver: run d4p with "
                     f"that Python ({driver} -m d4p run ...) or leave the setting out")


def stop() -> None:
    """Stop the SparkContext that d4p started, if it is still running. Its JVM
    stays up for a later context and ends with this process."""
    global _started
    with _lock:
        if _started is not None:
            # Spark's driver logs nothing from here on: what stopping a context says
            # (executors lost, connections closed with requests outstanding, thread pools
            # refusing work) is noise after the results; a later context sets its level
            with contextlib.suppress(Exception):  # no JVM any more, or another back end
                log4j = _started._jvm.org.apache.logging.log4j
                log4j.core.config.Configurator.setAllLevels("", log4j.Level.OFF)
            _started.stop()
            _started = None


def _at_exit() -> None:
    """Stop d4p's context and end and reap the JVM that d4p launched, so that
    no Java process outlives this one."""
    if "pyspark" not in sys.modules:  # no Spark was used: nothing to end
        return
    from pyspark import SparkContext

    stop()
    gateway = SparkContext._gateway
    proc = getattr(gateway, "proc", None)
    if not _launched or proc is None:
        return
    try:
        gateway.shutdown()
    except Exception:  # already gone
        pass
    if proc.stdin is not None:
        proc.stdin.close()  # the gateway exits on end of input
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


atexit.register(_at_exit)


def _check_same(sc, master: str | None, settings: dict[str, str]) -> None:
    if master and master != sc.master:
        raise UsageError(f"a SparkContext for master {sc.master!r} is already running in this "
                         f"process, so the spark mapping cannot use master {master!r}: leave the "
                         "'master' option out to run on it, or stop it first (sc.stop())")
    if not settings:
        return
    current = sc.getConf()  # a copy through the JVM gateway: only when there is something to check
    for key, value in settings.items():
        if current.get(key) != value:
            raise UsageError(f"a SparkContext is already running in this process with "
                             f"{key}={current.get(key)}; the 'conf' setting {key}={value} cannot "
                             "change it: leave it out, or stop the context first (sc.stop())")


def _on_loopback(master: str) -> bool:
    """True for a cluster master on this machine's loopback (spark://127.0.0.1:7077)."""
    host = urlsplit(master).hostname if "://" in master else None
    if not host:
        return False
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False
