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
import shutil
import tempfile

from d4p import UsageError, shipping

_shipped: dict[str, set[str]] = {}  # application id → files added with addPyFile


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
    """A zip of the ``package`` folder (its parent is the zip's root), for addPyFile."""
    base = os.path.join(tempfile.mkdtemp(prefix="d4p-spark-"), os.path.basename(package))
    return shutil.make_archive(base, "zip", os.path.dirname(package), os.path.basename(package))
