"""What running on a cluster needs checked before the first job:
:func:`check_master` (a ``spark://`` master answers) and :func:`check_workers`
(one tiny job: the workers' Python starts and imports d4p), else one line
saying what is wrong and what to do.
"""

from __future__ import annotations

import re
import socket
from typing import Any

from d4p import UsageError
from d4p.shipping import LocalFilesWarning  # noqa: F401 (d4p_spark.LocalFilesWarning)

_checked: set[str] = set()  # application ids whose workers passed

_PROBE = '''
def probe(_):
    import sys
    try:
        import d4p  # noqa: F401
        import d4p_spark  # noqa: F401
        missing = None
    except Exception as exc:
        missing = f"{type(exc).__name__}: {exc}"
    return sys.executable, "%d.%d.%d" % tuple(sys.version_info[:3]), missing
'''


def _probe():
    """The probe function, made in a module of its own that no worker has,
    so that cloudpickle sends it by value (importing ``d4p_spark`` to unpickle
    it would fail before it could say why)."""
    namespace: dict[str, Any] = {"__name__": "d4p_spark_worker_probe"}
    exec(compile(_PROBE, "<d4p worker probe>", "exec"), namespace)  # noqa: S102
    return namespace["probe"]


def check_master(master: str) -> None:
    """Raise :class:`d4p.UsageError` when no master of a ``spark://`` URL accepts
    connections (Spark would retry for a minute with Java traces, then fail)."""
    if not master.startswith("spark://"):
        return
    for address in master[len("spark://"):].split(","):  # standby masters too
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), port), timeout=10).close()
            return
        except OSError as exc:
            why = exc.strerror or exc
    raise UsageError(f"cannot reach the Spark master {master} ({why}): start it, or give the "
                     "option 'master' the URL it prints (spark://HOST:PORT)")


def check_workers(sc, python: str | None) -> None:
    """Raise :class:`d4p.UsageError` (one line) unless the Python workers of
    ``sc`` start and import d4p; ``python`` is the worker Python asked for
    (shown when it cannot start). Once per Spark application."""
    if sc.applicationId in _checked:
        return
    tasks = max(1, min(sc.defaultParallelism, 16))
    asked = python or "python3 (Spark's default)"
    try:
        found = sc.parallelize(range(tasks), tasks).map(_probe()).distinct().collect()
    except Exception as exc:
        raise UsageError(f"the Spark workers cannot run their Python {asked}: "
                         f"{_cause(str(exc))}; set spark.pyspark.python (or PYSPARK_PYTHON) to "
                         "a Python with d4p installed on every worker, or ship an environment "
                         "with spark.archives (see the d4p-spark README)") from None
    for executable, version, missing in sorted(found, key=lambda f: f[2] is None):
        if missing is not None:
            raise UsageError(f"the Spark workers' Python {executable} ({version}) cannot import "
                             f"d4p ({missing}): install d4p-core and d4p-spark there, set "
                             "spark.pyspark.python to a Python that has them, or ship an "
                             "environment with spark.archives (see the d4p-spark README)")
    _checked.add(sc.applicationId)


def _cause(text: str) -> str:
    """The reason a Python worker did not start, from a Spark job failure."""
    for pattern in (r'Cannot run program "[^"]*"[^\n]*?(?:No such file or directory|'
                    r'Permission denied|error=\d+[^\n]*)',
                    r"Python in worker has different version[^\n]*",
                    r"\w*(?:Error|Exception): [^\n]*"):
        found = re.search(pattern, text)
        if found:
            return found[0].strip().rstrip(".")
    lines = [t for t in text.splitlines() if t.strip()]
    return lines[0][:300] if lines else "unknown error"
