"""How workflow code reaches the Spark workers.

Spark workers start a fresh Python, which imports what is installed (d4p,
NumPy, installed packages such as d4p-seismo) but not the modules a driver
loaded from a path of its own: the workflow file given to ``d4p run``, modules
beside it, a test module. For every such module d4p

* registers it with cloudpickle to travel *by value* with the PEs, which is
  all a local master needs, and
* for a cluster master, also ships its file (a package: a zip of it) with
  ``SparkContext.addPyFile``, so that imports made at run time work too.

Anything else (a package the workers lack, data files) is the user's: install
it on the workers, or give ``py_files`` (``.py``, ``.zip``, ``.egg``) or Spark's
own ``spark.archives`` / ``spark.submit.pyFiles`` settings in ``conf``.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from types import ModuleType

from d4p import UsageError, shipping

_shipped: dict[str, set[str]] = {}  # application id → files added with addPyFile


def ship(sc, local: bool, py_files=()) -> None:
    """Make the workflow's own modules and ``py_files`` available to the workers
    of ``sc`` (a local master needs only the by-value registration)."""
    from pyspark import cloudpickle

    modules = shipping.local_modules(shipping.worker_path())
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    files = [] if local else [_file_of(m) for m in modules  # (a file deleted since it was
                              if "." not in m.__name__ and m.__file__.endswith(".py")  # loaded
                              and os.path.exists(m.__file__)]  # travels by value only)
    for path in _as_list(py_files):
        if not os.path.exists(path):
            raise UsageError(f"option 'py_files' of mapping 'spark' names {path!r}, which does "
                             "not exist; give .py, .zip or .egg files (or package directories)")
        files.append(path if os.path.isfile(path) else _zip(path))
    if not files:
        return
    added = _shipped.setdefault(sc.applicationId, set())
    for path in files:
        path = os.path.abspath(path)
        if path not in added:
            sc.addPyFile(path)
            added.add(path)


def _as_list(value) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str | os.PathLike) else [os.fspath(v) for v in value]


def _file_of(module: ModuleType) -> str:
    origin = os.path.abspath(module.__file__)
    if os.path.basename(origin) == "__init__.py":
        return _zip(os.path.dirname(origin))
    return origin


def _zip(directory: str) -> str:
    """A zip of package ``directory`` (its parent is the zip's root), for addPyFile."""
    directory = os.path.abspath(directory)
    name = os.path.basename(directory)
    target = os.path.join(tempfile.mkdtemp(prefix="d4p-spark-"), f"{name}.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, dirs, files in os.walk(directory):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for file in files:
                path = os.path.join(folder, file)
                archive.write(path, os.path.relpath(path, os.path.dirname(directory)))
    return target
