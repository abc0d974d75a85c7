"""What running on a cluster needs checked before the first job.

* :func:`check_workers`: the workers' Python can import d4p (one tiny Spark
  job when a context starts); when it cannot, one line names that Python,
  its version and what to do, instead of a ``ModuleNotFoundError`` deep in
  the first task.
* :func:`local_writes` / :func:`warn_local_files`: PEs whose code writes
  files. On a cluster master they run on the workers, so the files land on
  the workers' disks (in the executors' working folders for relative paths):
  a :class:`LocalFilesWarning` says so before the run.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import warnings
from typing import Any

from d4p import UsageError
from d4p.plan import Plan

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


class LocalFilesWarning(UserWarning):
    """PEs write files, which on a cluster land on the workers' disks."""


_OPEN_MODES = re.compile(r"[wax+]")
_WRITERS = {
    "write_text", "write_bytes", "to_csv", "to_parquet", "to_hdf", "to_netcdf", "to_excel",
    "to_feather", "savefig", "savetxt", "savez", "savez_compressed", "tofile", "copyfile",
    "copy", "copy2", "copytree", "move", "makedirs", "mkdir",
}
"""Calls that write files, besides ``open`` with a writing mode."""
_WRITER_OWNERS = {"copy": "shutil", "copy2": "shutil", "copytree": "shutil", "move": "shutil"}


def local_writes(plan: Plan) -> dict[str, list[str]]:
    """PE id → the file-writing calls in its code (``open(..., 'w')`` in
    ``_process``, ``np.savez`` in ``postprocess``…), found by reading the
    source of its methods and functions (not d4p's own classes)."""
    found: dict[str, list[str]] = {}
    hidden = getattr(plan, "hidden", frozenset())
    for pe_id, pe in plan.pes.items():
        if pe_id in hidden:
            continue
        calls = []
        for func in _functions_of(pe):
            calls += [f"{call} in {func.__name__}()" for call in _writes_in(func)]
        if calls:
            found[pe_id] = list(dict.fromkeys(calls))
    return found


def warn_local_files(plan: Plan, master: str) -> None:
    """A :class:`LocalFilesWarning` naming the PEs that write files on ``master``."""
    writes = local_writes(plan)
    if not writes:
        return
    named = "; ".join(f"PE {pe!r}: {', '.join(calls[:3])}" for pe, calls in writes.items())
    warnings.warn(f"PEs write files ({named}); on master {master} they run on the workers, "
                  "so the files land on the workers' disks (relative paths in the executors' "
                  "working folders), not on this machine: write to a shared file system or "
                  "object storage, or make the data an output of the workflow",
                  LocalFilesWarning, stacklevel=3)


def _functions_of(pe) -> list:
    funcs = []
    for klass in type(pe).__mro__:
        if klass.__module__.split(".")[0] in ("d4p", "builtins"):
            continue
        for value in vars(klass).values():
            value = getattr(value, "__func__", value)  # staticmethod, classmethod
            if inspect.isfunction(value):
                funcs.append(value)
    funcs += [v for v in vars(pe).values() if inspect.isfunction(v)]
    return funcs


def _writes_in(func) -> list[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return []
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else \
            node.func.attr if isinstance(node.func, ast.Attribute) else None
        if name == "open":
            mode = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "mode"), None)
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and \
                    _OPEN_MODES.search(mode.value):
                calls.append(f"open(..., {mode.value!r})")
        elif name in _WRITERS:
            owner = _WRITER_OWNERS.get(name)
            base = node.func.value if isinstance(node.func, ast.Attribute) else None
            if owner and not (isinstance(base, ast.Name) and base.id == owner):
                continue
            calls.append(f"{ast.unparse(node.func)}(...)")
    return calls
