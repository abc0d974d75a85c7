"""How the workflow reaches the component processes, and how data units
travel in tuples.

The plan (PEs with their state, groupings, inputs) is pickled with cloudpickle
into the project's ``src/``. Storm starts every component in a fresh Python
whose import path holds the project's ``src/`` (packaged as ``resources/``)
and the installed packages, so

* a workflow file that ``d4p run`` / ``d4p storm export`` loaded (module
  ``d4p_workflow_<stem>``) is copied into ``src/`` under that module name,
  with the local modules and packages beside it (it may import them), and
  their classes are pickled by reference: the components import them;
* anything else a fresh interpreter could not import (``__main__``, test
  modules, modules elsewhere) travels by value inside the plan;
* installed packages (d4p, d4p-seismo, NumPy...) are imported by reference.

Data units travel as the ``unit`` field of a tuple: base64 text of their
pickle (protocol 5), since Storm's JSON multi-lang serializer carries only
JSON values; with the ``msgpack`` serializer, the pickle's bytes.
"""

from __future__ import annotations

import base64
import os
import pickle
import shutil
import sys
from types import ModuleType
from typing import Any

from d4p import shipping
from d4p.loader import WORKFLOW_MODULE_PREFIX, workflow_modules
from d4p.plan import Plan

SERIALIZERS = ("json", "msgpack")
"""The multi-lang serializers of an exported project: ``json`` (Storm's
default) carries a unit as base64 text of its pickle; ``msgpack`` (pystorm's
``MsgpackSerializer``; Storm needs a msgpack ``topology.multilang.serializer``
class on the topology's classpath) carries the pickle's bytes as they are."""


def encode(unit: Any, binary: bool = False) -> str | bytes:
    """A data unit as a tuple value: its pickle's bytes (``binary``, for
    msgpack), else JSON-safe base64 text of them."""
    data = pickle.dumps(unit, protocol=5)
    return data if binary else base64.b64encode(data).decode("ascii")


def decode(value: str | bytes) -> Any:
    """The data unit of a tuple value made by :func:`encode` (either form)."""
    if isinstance(value, str):
        value = base64.b64decode(value)
    return pickle.loads(value)


def ship(plan: Plan, src: str, plan_file: str) -> list[str]:
    """Pickle ``plan`` into ``src/plan_file`` and copy the files the
    components import into ``src``; returns the names of the copied files.

    Copied, and pickled by reference: the workflow files the plan refers to
    and the local modules beside them (which they may import); local modules
    elsewhere travel by value.
    """
    local = shipping.local_modules(shipping.worker_path(isolated=True))
    folders = {os.path.dirname(os.path.abspath(m.__file__)) for m in workflow_modules()}
    beside = {m.__name__: m for m in local
              if m.__name__.startswith(WORKFLOW_MODULE_PREFIX) or _top_folder(m) in folders}
    data = shipping.dumps(plan, by_value=[m for m in local if m.__name__ not in beside])
    with open(os.path.join(src, plan_file), "wb") as out:
        out.write(data)
    used = {name for name in beside if name.encode() in data}
    used_folders = {_top_folder(beside[name]) for name in used}
    copy = {name.partition(".")[0] for name, m in beside.items()
            if name in used or _top_folder(m) in used_folders}
    written = []
    for top in sorted(copy):
        source = shipping.source_of(sys.modules[top])
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(src, top),
                            ignore=shutil.ignore_patterns("__pycache__"))
            written.append(top + "/")
        else:
            shutil.copyfile(source, os.path.join(src, f"{top}.py"))
            written.append(f"{top}.py")
    return written


def _top_folder(module: ModuleType) -> str | None:
    """The folder holding the top-level module or package of ``module``."""
    source = shipping.source_of(module)
    return source and os.path.dirname(source)


def load_plan(path: str) -> Plan:
    with open(path, "rb") as f:
        return pickle.load(f)
