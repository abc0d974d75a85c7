"""How workflow code reaches the Spark workers (the package README, "Running
on a cluster", tells the user's side): the modules the driver loaded from
paths of its own travel by value with the PEs (cloudpickle), and on a cluster
master also as files (a package as a zip) through ``SparkContext.addPyFile``,
so that imports made at run time work too; ``py_files`` adds others.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from d4p import UsageError, shipping
from d4p.mapping import RunFolder

_shipped: dict[str, set[str]] = {}  # application id → files added with addPyFile
_zips: RunFolder | None = None


def ship(sc, local: bool, py_files=()) -> None:
    """Make the workflow's own modules and ``py_files`` available to the workers
    of ``sc`` (a local master needs only the by-value registration)."""
    from pyspark import cloudpickle

    modules = shipping.local_modules(shipping.worker_path())
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    # top-level modules and packages as files (one deleted since it was loaded: by value only)
    files = [] if local else [shipping.source_of(m) for m in modules if "." not in m.__name__
                              and m.__file__.endswith(".py") and os.path.exists(m.__file__)]
    given = [py_files] if isinstance(py_files, str | os.PathLike) else py_files or ()
    for path in map(os.fspath, given):
        if not os.path.exists(path):
            raise UsageError(f"option 'py_files' of mapping 'spark' names {path!r}, which does "
                             "not exist; give .py, .zip or .egg files (or package directories)")
        files.append(os.path.abspath(path))
    added = _shipped.setdefault(sc.applicationId, set())
    for path in files:
        if path not in added:
            sc.addPyFile(_zip(path) if os.path.isdir(path) else path)
            added.add(path)


def _zip(package: str) -> str:
    """A zip of the ``package`` folder (its parent is the zip's root), for addPyFile,
    in this process's folder of zips, removed at exit (or, if this process was
    killed, by the next one's :meth:`~d4p.mapping.RunFolder.create`)."""
    global _zips
    if _zips is None:
        _zips = RunFolder.create("d4p-spark-zips-")
        atexit.register(_zips.__exit__)
    base = os.path.join(tempfile.mkdtemp(dir=_zips.path), os.path.basename(package))
    return shutil.make_archive(base, "zip", os.path.dirname(package), os.path.basename(package))
