"""The job file: the plan and options, pickled by the launching process and
loaded by every rank.

PEs travel by pickle, so their classes (and functions they hold) must be
importable on the ranks. Classes of a workflow file run as a script
(``__main__``) or loaded by path (``d4p run wf.py``) are found again by
loading the same file on the ranks, as :mod:`multiprocessing` does: code of
such a file outside ``if __name__ == "__main__":`` runs on every rank.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pickle
import sys
from pathlib import Path
from typing import Any

from d4p import UsageError
from d4p.plan import Plan

MAIN_ALIAS = "__d4p_main__"

_FIX = ("define PE classes and the functions they use at the top level of a module or "
        "workflow file (not inside a function, not a lambda), and open files or connections "
        "in preprocess()")


def write_job(path: Path, plan: Plan, options: dict[str, Any]) -> None:
    """Pickle ``plan`` and ``options`` to ``path`` for the ranks; a PE that
    cannot travel is a :class:`UsageError` naming it."""
    header = {"sys_path": [p for p in sys.path if p], "modules": _modules_of(plan),
              "options": options}
    try:
        body = pickle.dumps(plan, protocol=5)
    except Exception as exc:
        for pe_id, pe in plan.pes.items():
            try:
                pickle.dumps(pe, protocol=5)
            except Exception as pe_exc:
                raise UsageError(f"PE {pe_id!r} ({type(pe).__name__}) cannot be sent to the MPI "
                                 f"ranks ({type(pe_exc).__name__}: {pe_exc}); {_FIX}") from None
        raise UsageError(f"the inputs of this run cannot be sent to the MPI ranks "
                         f"({type(exc).__name__}: {exc}); give inputs that pickle "
                         "(numbers, strings, lists, dicts, NumPy arrays)") from None
    with open(path, "wb") as out:
        pickle.dump(header, out, protocol=5)
        out.write(body)


def read_job(path: Path) -> tuple[Plan, dict[str, Any]]:
    """Load the job written by :func:`write_job`, importing the modules of its PEs."""
    with open(path, "rb") as src:
        header = pickle.load(src)
        for entry in reversed(header["sys_path"]):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        for name, file in header["modules"].items():
            _ensure_module(name, file)
        try:
            plan = pickle.load(src)
        except Exception as exc:
            raise UsageError(f"the MPI ranks cannot load the workflow's PEs "
                             f"({type(exc).__name__}: {exc}); {_FIX}") from None
    return plan, header["options"]


def _modules_of(plan: Plan) -> dict[str, str | None]:
    """Module name → file of every module that defines a PE class or a function
    a PE holds (``None``: imported by name on the ranks)."""
    found: dict[str, str | None] = {}
    for pe_id, pe in plan.pes.items():
        objects = list(type(pe).__mro__)
        objects += [v for v in vars(pe).values() if inspect.isfunction(v) or inspect.isclass(v)]
        for obj in objects:
            name = getattr(obj, "__module__", None)
            if not name or name in found or name == "builtins":
                continue
            module = sys.modules.get(name)
            file = getattr(module, "__file__", None)
            if name == "__main__" and not file:
                raise UsageError(f"PE {pe_id!r} uses {obj.__qualname__!r}, defined in an "
                                 "interactive session, which MPI ranks cannot import; move it "
                                 "into a .py file or module and import it from there")
            found[name] = file
    return found


def _ensure_module(name: str, file: str | None) -> None:
    if name == "__main__":
        module = sys.modules.get(MAIN_ALIAS) or _load_file(MAIN_ALIAS, file)
        sys.modules["__main__"] = module
        return
    if name in sys.modules:
        return
    try:
        importlib.import_module(name)
        return
    except ImportError:
        if not file or not Path(file).is_file():
            raise UsageError(f"the MPI ranks cannot import module {name!r}, which defines PEs "
                             "of this workflow; make it importable (install it or add its "
                             "folder to PYTHONPATH)") from None
    _load_file(name, file)


def _load_file(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        raise UsageError(f"the MPI ranks failed to load {file} ({type(exc).__name__}: {exc}); "
                         "guard code that should run once with "
                         "if __name__ == '__main__':") from None
    return module
