"""The job file: the plan and options, written by the launching process and
loaded by every rank.

The plan travels by :mod:`d4p.shipping` (cloudpickle): classes and
functions of a workflow file, a script's ``__main__``, a notebook, lambdas
and classes made at run time travel by value, so the ranks need neither the
workflow file nor the same folder layout; installed packages are imported
by reference, on the ``sys.path`` the job carries.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

from d4p import shipping
from d4p.plan import Plan


def write_job(path: Path, plan: Plan, options: dict[str, Any]) -> None:
    """Write ``plan`` and ``options`` to ``path`` for the ranks; a PE that
    cannot travel is a :class:`d4p.UsageError` naming it and its attribute."""
    body = shipping.dumps(plan)
    header = {"sys_path": [p for p in sys.path if p], "options": options}
    with open(path, "wb") as out:
        pickle.dump(header, out, protocol=5)
        out.write(body)


def read_job(path: Path) -> tuple[Plan, dict[str, Any]]:
    """Load the job written by :func:`write_job`."""
    with open(path, "rb") as src:
        header = pickle.load(src)
        for entry in reversed(header["sys_path"]):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        plan = shipping.loads(src.read())
    return plan, header["options"]
