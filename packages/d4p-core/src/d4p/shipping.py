"""Shipping a plan to a fresh interpreter: a spawned worker, an MPI rank, a
Spark or Storm worker.

A fresh interpreter imports what is installed and what its ``sys.path``
finds, but not what exists only in this process: classes and functions of
``__main__`` (a script, a notebook cell), of a workflow file loaded by path
(``d4p run wf.py``), of a test module, lambdas, local functions and classes
made at run time. :func:`dumps` pickles the plan with cloudpickle, which
sends such objects *by value* (their code travels with the plan) and
everything importable by reference; the settings made before the run (class
attributes, module settings, logging, NumPy's error handling) travel with it. What cannot travel at
all (open files, sockets, locks) is a :class:`~d4p.UsageError` naming the PE
and attribute.

Every mapping that starts fresh interpreters uses this module; a mapping
whose engine pickles with its own cloudpickle copy (PySpark) registers
:func:`local_modules` with it.
"""

from __future__ import annotations

import ast
import collections
import functools
import inspect
import io
import logging
import marshal
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import types
import warnings
from collections.abc import Sequence
from importlib.machinery import PathFinder
from types import ModuleType
from typing import Any

from .errors import UsageError

_FIX = ("create open files, connections, locks and generators in preprocess(), not in __init__ "
        "or at module level")
DATA_FIX = ("write data that pickle can copy (numbers, strings, NumPy arrays, and tuples, "
            "lists and dicts of them), or run the workflow on one process")
"""What to do about data that cannot travel between processes."""
LOAD_FIX = ("give a class whose __init__ takes required arguments (an exception, say) a "
            "__reduce__, or write its fields instead (a tuple or dict), or run the workflow on "
            "one process")
"""What to do about data that pickles but does not load in another process."""


def dumps(obj: Any, *, pes: dict | None = None,
          by_value: list[ModuleType] | None = None) -> bytes:
    """``obj`` (usually a :class:`~d4p.plan.Plan`) as bytes that a fresh
    interpreter with the same ``sys.path`` can load with :func:`loads`.

    ``pes`` (PE id → PE, default ``obj.pes`` when it has them) names the PE
    at fault when something cannot be pickled. ``by_value``: the modules
    whose objects travel by value (default :func:`local_modules`)."""
    import cloudpickle

    _refuse_handles(pes if pes is not None else getattr(obj, "pes", {}))
    modules = local_modules() if by_value is None else by_value
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    pes = pes if pes is not None else getattr(obj, "pes", {})
    try:
        return _dump(cloudpickle, _Registering(obj, _definitions(modules, pes), _class_state(pes),
                                               _module_state(pes, modules), _process_state()))
    except Exception:
        pass  # something a module defines cannot travel: the object alone, as before
    try:
        return _dump(cloudpickle, obj)
    except Exception as exc:
        raise travel_error(pes, exc) or UsageError(
            f"the workflow's inputs cannot be sent to another process ({_reason(exc)}); give "
            "inputs that pickle (numbers, strings, lists, dicts, NumPy arrays)") from None
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def _dump(cloudpickle: ModuleType, obj: Any) -> bytes:
    out = io.BytesIO()
    _pickler(cloudpickle)(out, protocol=5).dump(obj)
    return out.getvalue()


def _definitions(modules: list[ModuleType], pes: dict) -> dict[str, dict[str, Any]]:
    """The classes each of ``modules`` (those that travel by value) defines
    at its top level, and the top-level functions of theirs that the PEs'
    code names (:func:`_named_functions`), by module name (dotted names left
    out: their packages would have to be made up too). Other functions stay
    out: one the plan does not use could take large globals with it."""
    found = {}
    main = sys.modules.get("__main__")  # by value too (cloudpickle's rule): a notebook's
    for module in [*modules, *([main] if main is not None else [])]:  # classes, a script's
        name = module.__name__
        if "." not in name:
            found[name] = {attr: value for attr, value in vars(module).items()
                           if isinstance(value, type) and value.__module__ == name}
    for name, functions in _named_functions(pes, set(found)).items():
        found[name].update(functions)
    return found


def _named_functions(pes: dict, modules: set[str]) -> dict[str, dict[str, Any]]:
    """The top-level functions of ``modules`` that the PEs' code names, and
    those that these name, by module name: where they travel by value, a
    worker makes them its module's again, so that a PE may hand one to
    pickle, which finds a function by its module and name (the tasks of a
    ``multiprocessing.Pool``)."""
    found: dict[str, dict[str, Any]] = {}
    todo = _pe_functions(pes)
    seen: set[int] = set()
    while todo:
        function = todo.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        for name in _names(function.__code__):
            value = function.__globals__.get(name)
            if isinstance(value, types.FunctionType) and value.__module__ in modules \
                    and value.__qualname__ == name:
                found.setdefault(value.__module__, {})[name] = value
                todo.append(value)
    return found


def _names(code: types.CodeType) -> set[str]:
    """The global names ``code`` reads, with those of the code nested in it
    (lambdas, comprehensions, local functions)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _class_state(pes: dict) -> list[tuple[type, dict[str, Any]]]:
    """The data attributes of the PEs' classes (d4p's own left out) as they
    are now, for the classes that a fresh interpreter imports by reference:
    a workflow that sets ``Scale.factor = 7`` on a class of an importable
    module before the run has its workers see 7, as under fork, not what
    the import gives. Values that pickle cannot copy stay as imported."""
    state = []
    seen: set[type] = set()
    for pe in pes.values():
        for cls in type(pe).__mro__:
            if cls in seen or cls.__module__.partition(".")[0] in ("d4p", "builtins"):
                continue
            seen.add(cls)
            attrs = {}
            for name, value in vars(cls).items():
                if name.startswith("__") or hasattr(value, "__get__") or isinstance(value, type):
                    continue  # methods, properties, descriptors, nested classes
                try:
                    pickle.dumps(value, protocol=5)
                except Exception:
                    continue
                attrs[name] = value
            if attrs:
                state.append((cls, attrs))
    return state


_SETTINGS = (bool, int, float, complex, str, bytes, type(None))


def _is_setting(value: Any) -> bool:
    """A value whose copy is as good as the value: an immutable number, text
    or ``None``, or a tuple or frozenset of them."""
    if isinstance(value, tuple | frozenset):
        return all(_is_setting(v) for v in value)
    return type(value) in _SETTINGS


def _module_state(pes: dict, by_value: list[ModuleType]) -> dict[str, dict[str, Any]]:
    """The settings (:func:`_is_setting`) of the user's own importable modules
    that the PEs' code uses (neither the standard library, installed
    packages, d4p, nor those that travel by value) as they are now, by
    module name: a workflow that sets ``mylib.THRESHOLD = 5`` before the run
    has its workers see 5, as under fork, not what the import gives. Mutable
    values (a dict, an object) stay as imported: their copy would not be the
    object other modules hold."""
    installed = tuple(os.path.join(os.path.realpath(p), "") for p in
                      {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
    skip = {id(m) for m in by_value}
    state = {}
    for module in _used_modules(pes):
        name, origin = module.__name__, getattr(module, "__file__", None)
        top = name.partition(".")[0]
        if (origin is None or name == "__main__" or id(module) in skip or _is_d4p(top)
                or top in sys.stdlib_module_names
                or "site-packages" in origin or "dist-packages" in origin
                or os.path.realpath(origin).startswith(installed)):
            continue
        settings = {attr: value for attr, value in vars(module).items()
                    if not attr.startswith("__") and _is_setting(value)}
        if settings:
            state[name] = settings
    return state


def _used_modules(pes: dict) -> list[ModuleType]:
    """The modules whose globals the PEs' functions read: the modules of
    their classes' methods and of the functions they hold (a
    ``SimpleFunctionPE``'s), and the modules those functions name
    (``mylib`` in ``mylib.THRESHOLD``)."""
    found: dict[int, ModuleType] = {}
    for function in _pe_functions(pes):
        module = sys.modules.get(function.__module__ or "")
        if module is not None:
            found[id(module)] = module
        for name in function.__code__.co_names:
            value = function.__globals__.get(name)
            if isinstance(value, ModuleType):
                found[id(value)] = value
    return list(found.values())


_NUMPY_ERRORS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}
"""NumPy's floating-point error handling in a fresh interpreter (``np.geterr()``)."""


def _process_state() -> dict[str, Any]:
    """How this process logs (:func:`_logging_state`) and how NumPy handles
    floating-point errors here when a workflow changed it
    (``np.seterr(all="raise")``), for a fresh interpreter
    (:func:`_set_up_process`)."""
    state: dict[str, Any] = {"logging": _logging_state()}
    numpy = sys.modules.get("numpy")
    if numpy is not None and numpy.geterr() != _NUMPY_ERRORS:
        state["numpy_errors"] = numpy.geterr()
    return state


def _set_up_process(state: dict[str, Any]) -> None:
    """In a fresh interpreter: log and handle NumPy's floating-point errors as
    the process that shipped the plan did (:func:`_process_state`)."""
    _set_up_logging(state.get("logging", {}))
    if "numpy_errors" in state:
        import numpy

        numpy.seterr(**state["numpy_errors"])


def _logging_state() -> dict[str, Any]:
    """How this process logs, for a fresh interpreter (:func:`_set_up_logging`):
    the levels of the root logger and of the loggers given one, and the root
    logger's handlers that write to stderr or stdout (their level and
    format): ``logging.basicConfig(level=logging.INFO)`` in a workflow file
    shows the PEs' log lines as under fork. Other handlers (a file) stay
    behind: each worker would write its own."""
    root = logging.getLogger()
    consoles = []
    for handler in root.handlers:
        stream = _console(handler)
        if stream is not None:
            formatter = handler.formatter
            try:
                pickle.dumps(formatter, protocol=5)
            except Exception:
                formatter = None  # a class of the workflow file: the plain format
            consoles.append((stream, handler.level, formatter))
    levels = {name: logger.level for name, logger in root.manager.loggerDict.items()
              if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET}
    return {"root": root.level, "levels": levels, "consoles": consoles}


def _console(handler: logging.Handler) -> str | None:
    """``"stderr"`` or ``"stdout"`` for a plain stream handler writing there."""
    if type(handler) is not logging.StreamHandler:
        return None
    for name in ("stderr", "stdout"):
        if handler.stream is not None and handler.stream in (getattr(sys, name),
                                                             getattr(sys, f"__{name}__")):
            return name
    return None


def _set_up_logging(state: dict[str, Any]) -> None:
    """In a fresh interpreter whose root logger has no handler yet (its import
    of the main script set up none): log as the process that shipped the
    plan did (:func:`_logging_state`), to this process's own stderr and
    stdout (which a worker passes on to the caller's)."""
    root = logging.getLogger()
    if root.handlers or not state:
        return
    root.setLevel(state["root"])
    for name, level in state["levels"].items():
        logging.getLogger(name).setLevel(level)
    for stream, level, formatter in state["consoles"]:
        handler = logging.StreamHandler(getattr(sys, stream))
        handler.setLevel(level)
        handler.setFormatter(formatter)
        root.addHandler(handler)


def _pe_functions(pes: dict) -> list[types.FunctionType]:
    """The methods of the PEs' classes and the functions the PEs hold (a
    ``SimpleFunctionPE``'s)."""
    functions = []
    for pe in pes.values():
        for cls in type(pe).__mro__:
            functions += [f for f in vars(cls).values() if isinstance(f, types.FunctionType)]
        functions += [f for f in vars(pe).values() if isinstance(f, types.FunctionType)]
    return functions


class _Registering:
    """Pickles as ``obj`` that, where it is loaded, first makes the modules
    that travelled by value importable by their names, gives the PEs'
    classes and the user's modules their data attributes and sets up logging
    and NumPy's error handling (:func:`_register`)."""

    def __init__(self, obj: Any, definitions: dict[str, dict[str, Any]],
                 state: list[tuple[type, dict[str, Any]]] = (),
                 settings: dict[str, dict[str, Any]] | None = None,
                 process: dict[str, Any] | None = None) -> None:
        self.obj, self.definitions, self.state = obj, definitions, state
        self.settings, self.process = settings or {}, process or {}

    def __reduce__(self):
        return _register, (self.definitions, self.obj, self.state, self.settings, self.process)


def _register(definitions: dict[str, dict[str, Any]], obj: Any,
              state: list[tuple[type, dict[str, Any]]] = (),
              settings: dict[str, dict[str, Any]] | None = None,
              process: dict[str, Any] | None = None) -> Any:
    """In a fresh interpreter: each module of ``definitions`` that it cannot
    import becomes a module of that name holding the classes that travelled
    (the very objects ``obj`` uses), and its ``__main__`` gets those of the
    launcher's ``__main__`` that it lacks, so that data units made of them (a
    dataclass of a workflow file or a notebook) pickle between workers by
    reference, as under fork; the classes of ``state`` get the data attributes
    they had where the plan was shipped (:func:`_class_state`), the loaded
    modules of ``settings`` their settings (:func:`_module_state`), and
    logging and NumPy's error handling are set up as ``process`` says
    (:func:`_set_up_process`). Returns
    ``obj``."""
    for name, attrs in definitions.items():
        module = sys.modules.get(name)
        if module is None:
            module = sys.modules[name] = types.ModuleType(name)
        for attr, value in attrs.items():  # the worker's own __main__ (a notebook's classes
            if not hasattr(module, attr):  # are in no file it could run) keeps its names
                setattr(module, attr, value)
    for cls, attrs in state:
        for name, value in attrs.items():
            setattr(cls, name, value)
    for name, attrs in (settings or {}).items():
        module = sys.modules.get(name)  # loaded by unpickling obj, if the plan uses it
        for attr, value in attrs.items() if module is not None else ():
            setattr(module, attr, value)
    _set_up_process(process or {})
    return obj


@functools.cache
def _pickler(cloudpickle: ModuleType) -> type:
    """cloudpickle's pickler, except that code travels with the name of its
    file (cloudpickle writes ``<dynamic-code>``): a PE that fails in a
    spawned worker or an MPI rank shows the user's file, line and source in
    its traceback, as it does under fork."""

    class Pickler(cloudpickle.Pickler):
        dispatch_table = collections.ChainMap({types.CodeType: _code_with_its_file,
                                               io.TextIOWrapper: _no_open_file},
                                              cloudpickle.Pickler.dispatch_table)

    return Pickler


def _code_with_its_file(code: types.CodeType) -> tuple:
    return marshal.loads, (marshal.dumps(code),)


def _no_open_file(file: io.TextIOWrapper) -> tuple:
    """An open text file held in a list, a dict or a global of the workflow
    file is refused as one held by a PE is (:func:`_refuse_handles`):
    cloudpickle would send a copy of its whole text. ``sys.stdout`` and
    ``sys.stderr`` stand for those of the process that loads them."""
    for name in ("stdout", "stderr"):
        if file is getattr(sys, name):
            return getattr, (sys, name)
    raise TypeError(f"cannot pickle open file {getattr(file, 'name', '')!r}")


def loads(data: bytes) -> Any:
    """The object that :func:`dumps` pickled."""
    return pickle.loads(data)


def local_modules(path: Sequence[str] | None = None) -> list[ModuleType]:
    """Loaded modules that a fresh interpreter could not import by name from
    the same file: ``__main__``, workflow files loaded by path, test modules,
    modules of a notebook. Their objects must travel by value.

    ``path`` is the fresh interpreter's ``sys.path`` (default: this one's,
    the current folder included, as in a worker started here); a worker
    started elsewhere has :func:`worker_path`."""
    path = tuple(sys.path) if path is None else tuple(path)
    found = []
    for name, module in list(sys.modules.items()):
        if name == "__main__" or module is None:
            continue
        origin = getattr(module, "__file__", None)
        if origin is None:
            continue
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            continue
        if _is_d4p(top):  # every worker has d4p (and the plugins it runs): never by value,
            continue       # or its objects (groupings, PE base classes) would be copies
        top_module = sys.modules.get(top)
        top_file = getattr(top_module, "__file__", None) if top_module is not None else None
        if not _importable(top, os.path.abspath(top_file) if top_file else None, path):
            found.append(module)
    return found


def source_of(module: ModuleType) -> str | None:
    """What to copy to ship ``module`` as files: the file of its top-level
    module, or that package's folder (``None`` when it has no file)."""
    top = sys.modules.get(module.__name__.partition(".")[0])
    origin = getattr(top, "__file__", None)
    if origin is None:
        return None
    origin = os.path.abspath(origin)
    return os.path.dirname(origin) if os.path.basename(origin) == "__init__.py" else origin


def _is_d4p(top: str) -> bool:
    from .loader import WORKFLOW_MODULE_PREFIX

    return top == "d4p" or (top.startswith("d4p_") and not top.startswith(WORKFLOW_MODULE_PREFIX))


@functools.cache
def worker_path(isolated: bool = False) -> tuple[str, ...]:
    """``sys.path`` of a fresh interpreter of this Python started in another
    folder (a Spark executor's, a Storm worker's): this environment's
    packages and ``PYTHONPATH`` (not even that when ``isolated``: the
    workers may not share this shell's environment), without the current
    folder, so modules beside a workflow file must travel."""
    flags = ["-I"] if isolated else []
    done = subprocess.run([sys.executable, *flags, "-c", "import sys; print(repr(sys.path))"],
                          capture_output=True, text=True, timeout=60)
    try:
        paths = ast.literal_eval(done.stdout.strip())
    except (ValueError, SyntaxError):
        return ()
    return tuple(os.path.abspath(p) for p in paths if p)


@functools.lru_cache(maxsize=4096)
def _importable(top: str, origin: str | None, path: tuple[str, ...]) -> bool:
    try:
        spec = PathFinder.find_spec(top, [p or os.curdir for p in path])
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if origin is None:  # a namespace package
        return True
    return spec.origin is not None and os.path.abspath(spec.origin) == origin


def _refuse_handles(pes: dict) -> None:
    """Open files, sockets and locks belong to one process: refuse them
    (cloudpickle would send a file opened for reading as a copy of its text)."""
    import io
    import socket

    lock_types = (type(threading.Lock()), type(threading.RLock()))
    for pe_id, pe in pes.items():
        for attr, value in vars(pe).items():
            if isinstance(value, (io.IOBase, socket.socket, *lock_types)):
                raise UsageError(f"PE {pe_id!r} attribute {attr!r} ({type(value).__name__}) "
                                 f"cannot be sent to another process; {_FIX}")


def travel_error(pes: dict, exc: Exception) -> UsageError | None:
    """The clearest error for ``exc``, raised by pickling a plan or task: the
    PE and attribute that cannot be pickled, or ``None`` when every PE of
    ``pes`` (PE id → PE) can be."""
    import cloudpickle

    for pe_id, pe in pes.items():
        for attr, value in vars(pe).items():
            if attr.startswith("_d4p"):
                continue
            try:
                _dump(cloudpickle, value)
            except Exception as err:
                return UsageError(
                    f"PE {pe_id!r} attribute {attr!r} ({type(value).__name__}) cannot be sent "
                    f"to another process ({_reason(err)}); {_FIX}")
        try:
            _dump(cloudpickle, pe)
        except Exception as err:
            return _global_error(cloudpickle, pe_id, pe) or UsageError(
                f"PE {pe_id!r} ({type(pe).__name__}) cannot be sent to another process "
                f"({_reason(err)}); {_FIX}")
    return None


def _global_error(cloudpickle: ModuleType, pe_id: str, pe) -> UsageError | None:
    """The error naming the global variable that the code of ``pe``'s class
    reads and that cannot be pickled (a lock or a file of a workflow file's
    top level: the code of such a class travels by value, with the globals
    it reads)."""
    by_value = {"__main__", *(module.__name__ for module in local_modules())}
    for cls in type(pe).__mro__:
        if cls.__module__ not in by_value:
            continue
        for value in vars(cls).values():
            function = getattr(value, "__func__", value)
            if not isinstance(function, types.FunctionType):
                continue
            for name in _names(function.__code__):
                if name not in function.__globals__:
                    continue
                found = function.__globals__[name]
                try:
                    _dump(cloudpickle, found)
                except Exception as err:
                    return UsageError(
                        f"PE {pe_id!r} ({type(pe).__name__}) uses global {name!r} "
                        f"({type(found).__name__}) of {function.__code__.co_filename}, which cannot be "
                        f"sent to another process ({_reason(err)}); {_FIX}")
    return None


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


# -- code that writes files ---------------------------------------------------------------


class LocalFilesWarning(UserWarning):
    """PEs write files, which on other machines land on those machines' disks."""


_WRITERS = {
    "write_text", "write_bytes", "to_csv", "to_parquet", "to_hdf", "to_netcdf", "to_excel",
    "to_feather", "savefig", "savetxt", "savez", "savez_compressed", "tofile", "copyfile",
    "copy", "copy2", "copytree", "move", "makedirs", "mkdir",
}
"""Calls that write files, besides ``open`` with a writing mode (those of
``shutil`` only when called as ``shutil.copy(...)``)."""
_SHUTIL = {"copy", "copy2", "copytree", "move"}


def file_writers(plan) -> dict[str, list[str]]:
    """PE id → the file-writing calls in its code (``open(..., 'w')`` in
    ``_process``, ``np.savez`` in ``postprocess``…), found by reading the
    source of its methods and functions (not d4p's own classes)."""
    found: dict[str, list[str]] = {}
    for pe_id, pe in plan.pes.items():
        if pe_id in plan.hidden:
            continue
        funcs = [getattr(v, "__func__", v) for k in type(pe).__mro__
                 if k.__module__.split(".")[0] not in ("d4p", "builtins")
                 for v in vars(k).values()]  # methods, static and class methods
        funcs += list(vars(pe).values())  # functions given to d4p.iterative & co
        calls = [f"{call} in {f.__name__}()" for f in funcs if inspect.isfunction(f)
                 for call in _writes_in(f)]
        if calls:
            found[pe_id] = list(dict.fromkeys(calls))
    return found


def warn_file_writers(plan, where: str) -> None:
    """A :class:`LocalFilesWarning` naming the PEs that write files, which run
    ``where`` (``"on master spark://h:7077"``)."""
    writes = file_writers(plan)
    if writes:
        named = "; ".join(f"PE {pe!r}: {', '.join(calls[:3])}" for pe, calls in writes.items())
        warnings.warn(f"PEs write files ({named}); {where} they run on other machines, so the "
                      "files land on those machines' disks (relative paths in their working "
                      "folders), not on this one: write to a shared file system or object "
                      "storage, or make the data an output of the workflow",
                      LocalFilesWarning, stacklevel=3)


def _writes_in(func) -> list[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return []
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = node.func
        name = getattr(called, "id", None) or getattr(called, "attr", None)
        if name == "open":
            mode = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "mode"), None)
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and \
                    set(mode.value) & set("wax+"):
                calls.append(f"open(..., {mode.value!r})")
        elif name in _WRITERS and (name not in _SHUTIL or ast.unparse(called).startswith(
                "shutil.")):
            calls.append(f"{ast.unparse(called)}(...)")
    return calls
