"""Finding the workflow a command names: a ``.py`` file, a module, or a
registered workflow, with its inputs."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .errors import UsageError, did_you_mean
from .graph import CompositePE, WorkflowGraph
from .plugins import find_workflow, get_workflow, workflows


@dataclass
class Target:
    """A loaded workflow: its graph, default inputs, a name, and the file or
    module it came from (``None`` for a registered workflow)."""

    graph: WorkflowGraph
    inputs: dict | None
    name: str
    source: str | None = None


def load_target(target: str, attr: str | None = None,
                params: dict[str, str] | None = None) -> Target:
    """Load ``target``: a path to a ``.py`` file, an importable module, or the
    name of a registered workflow (built with ``params``, strings converted to
    the type of each default)."""
    params = params or {}
    if target.endswith((".py", ".ipynb")) or os.sep in target or os.path.isfile(target) \
            or target.rpartition(":")[0].endswith(".py"):
        _check_file(target)
        module = _load_file(target)
        return _graph_in(module, target, attr, params, source=os.path.realpath(target))
    if find_workflow(target) is not None:
        return _build_named(target, params, attr)
    try:
        module = importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            names = sorted(workflows())
            raise UsageError(f"{target!r} is not a file, an importable module or a registered "
                             f"workflow{did_you_mean(target, names)} (registered workflows: "
                             f"{', '.join(names) or 'none'})") from None
        raise _load_failed(target, exc) from None
    except Exception as exc:
        raise _load_failed(target, exc) from None
    return _graph_in(module, target, attr, params, source=target)


WORKFLOW_MODULE_PREFIX = "d4p_workflow_"
"""Workflow files loaded by path become modules named with this prefix and the file's stem."""


def workflow_modules() -> list[ModuleType]:
    """The workflow files loaded by path so far (``d4p run wf.py``), as modules:
    another interpreter must load them again before it can unpickle their PEs."""
    return [m for name, m in list(sys.modules.items())
            if name.startswith(WORKFLOW_MODULE_PREFIX) and getattr(m, "__file__", None)]


def key_values(pairs, what: str = "-p", example: str = "") -> dict[str, str]:
    """``KEY=VALUE`` texts (one, a list, or a dict already) as a dict, for
    ``-p`` and for mapping options such as Spark's ``conf``; a
    :class:`~d4p.UsageError` naming ``what`` for a text without a key."""
    if isinstance(pairs, dict):
        return {str(k): str(v) for k, v in pairs.items()}
    out = {}
    for pair in [pairs] if isinstance(pairs, str) else pairs or ():
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            such = f", such as {example}" if example else ""
            raise UsageError(f"{what} takes KEY=VALUE{such}; got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def _check_file(path: str) -> None:
    """A :class:`~d4p.UsageError` saying what to give instead when ``path`` is
    not a Python file: missing (naming the closest file beside it), a folder,
    a notebook or another kind of file."""
    if os.path.isdir(path):
        raise UsageError(f"workflow file {path!r} is a folder: give the .py file in it that "
                         "defines the graph")
    file, _, attr = path.rpartition(":")
    if not os.path.isfile(path) and os.path.isfile(file):
        raise UsageError(f"workflow file {path!r} not found: to run graph {attr!r} of {file}, "
                         f"give its name with -a: d4p run {file} -a {attr}")
    if not os.path.isfile(path):
        folder = os.path.dirname(path) or "."
        try:
            beside = [os.path.join(os.path.dirname(path), name) for name in os.listdir(folder)
                      if name.endswith(".py")]
        except OSError:
            beside = []
        raise UsageError(f"workflow file {path!r} not found{did_you_mean(path, beside)}")
    if path.endswith(".ipynb"):
        raise UsageError(f"{path!r} is a notebook: run its workflow in the notebook with "
                         f"d4p.run(graph), or export it with 'jupyter nbconvert --to script "
                         f"{path}' and run the .py file")
    if not path.endswith(".py"):
        raise UsageError(f"workflow file {path!r} is not a .py file: d4p loads workflows "
                         "from Python files; rename it to end in .py")


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _load_file(path: str) -> ModuleType:
    name = f"{WORKFLOW_MODULE_PREFIX}{_stem(path)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = os.path.dirname(os.path.realpath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise _load_failed(path, exc) from None
    return module


def _load_failed(target: str, exc: BaseException) -> UsageError:
    """The error, at the user's line that raised it (not d4p's or importlib's)."""
    import traceback

    from .failure import is_users

    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if is_users(f.filename) and "<frozen" not in f.filename]
    where = f" ({user[-1].filename}, line {user[-1].lineno})" if user else ""
    return UsageError(f"loading {target!r} failed: {type(exc).__name__}: {exc}{where}")


def _graph_in(module: ModuleType, target: str, attr: str | None, params: dict,
              source: str) -> Target:
    if params:
        raise UsageError(f"-p parameters apply to registered workflows; {target!r} is a "
                         "file or module (set values in it, or register it as a named workflow)")
    graphs = {k: v for k, v in vars(module).items()
              if isinstance(v, WorkflowGraph) and not _is_composite(v)}
    if attr is not None:
        if attr not in vars(module):
            listed = ", ".join(graphs) or "none"
            raise UsageError(f"{target!r} has no attribute {attr!r}{did_you_mean(attr, graphs)} "
                             f"(its graphs: {listed})")
        graph = vars(module)[attr]
        if not isinstance(graph, WorkflowGraph):
            raise UsageError(f"{target}:{attr} is a {type(graph).__name__}, not a WorkflowGraph")
        return Target(graph, None, attr, source)
    if not graphs:
        raise UsageError(f"no workflow graph found in {target!r}: define a module-level "
                         "WorkflowGraph (or name one with -a)")
    if len(graphs) > 1:
        raise UsageError(f"{target!r} defines several graphs ({', '.join(graphs)}); "
                         "choose one with -a NAME")
    name, graph = next(iter(graphs.items()))
    return Target(graph, None, _stem(target) if target.endswith(".py") else name, source)


def _is_composite(graph: WorkflowGraph) -> bool:
    """A composite PE, or a dispel4py-style one: a plain graph given input or
    output mappings (dispel4py's ``parallelSum()``), which is a part of a
    workflow, not one to run."""
    return isinstance(graph, CompositePE) or bool(
        getattr(graph, "inputmappings", None) or getattr(graph, "outputmappings", None))


def _build_named(name: str, params: dict[str, str], attr: str | None) -> Target:
    if attr is not None:
        raise UsageError(f"-a applies to files and modules; {name!r} is a registered workflow")
    wf = get_workflow(name)
    values: dict[str, Any] = {}
    for key, text in params.items():
        if key not in wf.params:
            known = ", ".join(wf.params) or "none"
            raise UsageError(f"workflow {name!r} has no parameter {key!r}"
                             f"{did_you_mean(key, wf.params)}; its parameters: {known}")
        values[key] = convert(text, wf.params[key], f"-p {key}")
    try:
        graph, inputs = wf.builder()(**values)
    except UsageError:
        raise
    except ValueError as exc:  # how builders reject parameter values
        raise UsageError(f"workflow {name!r}: {exc}") from None
    return Target(graph, inputs, name, None)


def convert(text: str, default: Any, what: str) -> Any:
    """Convert command-line ``text`` to the type of ``default``."""
    if not isinstance(text, str):
        return text
    try:
        if isinstance(default, bool):
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise UsageError(f"{what}: expected {type(default).__name__}, got {text!r}") from None
    return text


def parse_inputs(data: str | None = None, file: str | None = None) -> dict | None:
    """Inputs from ``-d JSON`` or ``-f FILE``: ``{PE name or id: iterations or [items]}``."""
    if file is not None:
        try:
            with open(file) as f:
                data = f.read()
        except FileNotFoundError:
            raise UsageError(f"input file {file!r} not found") from None
        except OSError as exc:
            raise UsageError(f"cannot read input file {file!r}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"input file {file!r} is not JSON text (UTF-8): {exc.reason} at "
                             f"byte {exc.start}") from None
        what = f"input file {file!r}"
    else:
        what = "-d"
    if data is None:
        return None
    import json

    try:
        inputs = json.loads(data)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(inputs, dict):
        raise UsageError(f"{what} must be a JSON object mapping PE names to iterations or "
                         f"lists of input items, not {type(inputs).__name__}")
    return inputs
