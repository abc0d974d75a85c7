"""How the workflow reaches the component processes, and how data units
travel in tuples.

The plan (PEs with their state, groupings, inputs) is pickled with cloudpickle
into the project's ``src/``. Storm starts every component in a fresh Python
whose import path holds the project's ``src/`` (packaged as ``resources/``)
and the installed packages, so

* a workflow file that ``d4p run`` / ``d4p storm export`` loaded (module
  ``d4p_workflow_<stem>``) is copied into ``src/`` under that module name and
  its classes are pickled by reference: the components import it;
* anything else a fresh interpreter could not import (``__main__``, modules
  beside the workflow file, test modules) travels by value inside the plan;
* installed packages (d4p, d4p-seismo, NumPy...) are imported by reference.

Data units travel as the ``unit`` field of a tuple: base64 text of their
pickle (protocol 5), since Storm's JSON multi-lang serializer carries only
JSON values.
"""

from __future__ import annotations

import ast
import base64
import functools
import os
import pickle
import shutil
import subprocess
import sys
from importlib.machinery import PathFinder
from types import ModuleType
from typing import Any

from d4p.plan import Plan

WORKFLOW_PREFIX = "d4p_workflow_"


def encode(unit: Any) -> str:
    """A data unit as JSON-safe text."""
    return base64.b64encode(pickle.dumps(unit, protocol=5)).decode("ascii")


def decode(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def workflow_modules() -> list[ModuleType]:
    """Workflow files loaded by path (``d4p run wf.py``), as modules."""
    return [m for name, m in list(sys.modules.items())
            if name.startswith(WORKFLOW_PREFIX) and getattr(m, "__file__", None)]


def copy_workflow_files(src: str, names: list[str]) -> list[str]:
    """Copy the workflow files of modules ``names`` into ``src`` under their
    module names; returns the file names written."""
    written = []
    for module in workflow_modules():
        if module.__name__ in names:
            target = os.path.join(src, f"{module.__name__}.py")
            shutil.copyfile(module.__file__, target)
            written.append(os.path.basename(target))
    return sorted(written)


def dump_plan(plan: Plan, path: str) -> list[str]:
    """Pickle ``plan`` to ``path`` for the components (see the module
    docstring); returns the workflow modules the pickle refers to."""
    import cloudpickle

    by_value = [m for m in _local_modules() if not m.__name__.startswith(WORKFLOW_PREFIX)]
    for module in by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        data = cloudpickle.dumps(plan, protocol=5)
    finally:
        for module in by_value:
            cloudpickle.unregister_pickle_by_value(module)
    with open(path, "wb") as out:
        out.write(data)
    return [m.__name__ for m in workflow_modules() if m.__name__.encode() in data]


def load_plan(path: str) -> Plan:
    with open(path, "rb") as f:
        return pickle.load(f)


def _local_modules() -> list[ModuleType]:
    """Loaded modules that a fresh interpreter would not import from the same file."""
    found = []
    for name, module in list(sys.modules.items()):
        if module is None or name == "__main__" or not getattr(module, "__file__", None):
            continue
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names:
            continue
        origin = getattr(sys.modules.get(top), "__file__", None)
        if origin is None or not _importable(top, os.path.abspath(origin)):
            found.append(module)
    return found


@functools.cache
def _fresh_path() -> tuple[str, ...]:
    """``sys.path`` of a fresh interpreter of this Python (its site-packages
    and editable installs), without the current directory."""
    done = subprocess.run([sys.executable, "-I", "-c", "import sys; print(repr(sys.path))"],
                          capture_output=True, text=True, timeout=60)
    try:
        paths = ast.literal_eval(done.stdout.strip())
    except (ValueError, SyntaxError):
        return ()
    return tuple(os.path.abspath(p) for p in paths if p)


@functools.cache
def _importable(top: str, origin: str) -> bool:
    spec = PathFinder.find_spec(top, list(_fresh_path()))
    return spec is not None and spec.origin is not None and os.path.abspath(spec.origin) == origin
