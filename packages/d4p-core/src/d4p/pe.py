"""Processing elements (PEs): the nodes of a workflow.

The classes keep dispel4py's names and behaviour so that a dispel4py workflow
ports by changing its import lines only. :func:`producer`, :func:`iterative`
and :func:`consumer` make a PE class from a plain function.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

from .errors import GraphError, InputError

NAME = "name"
TYPE = "type"
GROUPING = "grouping"


class StopSource(Exception):
    """Raised by a source (a PE without inputs) to end itself: it is called
    no more, what it wrote (in this call too) is processed as usual, and
    the run ends as a finite one does once every source has ended, with
    every ``postprocess`` run. For a source that runs until the stream it
    reads from ends::

        class Feed(d4p.ProducerPE):
            def _process(self, inputs):
                record = self.connection.next()
                if record is None:          # the server closed the stream
                    raise d4p.StopSource
                return record

    It works the same in a ``@d4p.producer`` generator and on every
    mapping. Raised by a PE that has inputs it fails the run (such a PE ends
    when its upstream PEs have ended)."""


class UnitFailed(Exception):
    """Raised by :meth:`GenericPE.process_batch` when one unit of the batch
    fails: ``unit`` and ``error`` (what it raised). The executor reports it as
    the PE's failure on that unit, so the error names it as a call per unit
    would."""

    def __init__(self, unit: Any, error: BaseException) -> None:
        super().__init__(unit, error)
        self.unit, self.error = unit, error


class GenericPE:
    """Base class of every PE.

    Declare ports in ``__init__`` with :meth:`_add_input` and
    :meth:`_add_output`, then override :meth:`process` (a dict of input port to
    data unit in; a dict of output port to data unit, or ``None``, out). Call
    :meth:`write` to emit any number of data units per call. ``preprocess`` runs
    once per instance before the first unit, ``postprocess`` once after the last
    (it may write). ``numprocesses`` is the number of parallel instances.

    Treat data units as immutable: the same object may be delivered to several
    instances in one process (unless the graph sets ``copy_fanout``).
    """

    def __init__(self, numprocesses: int = 1) -> None:
        self.inputconnections: dict[str, dict[str, Any]] = {}
        self.outputconnections: dict[str, dict[str, Any]] = {}
        self.numprocesses = numprocesses
        self.name = type(self).__name__
        self.id = self.name
        self.rank = 0
        self.instance = 0
        self._d4p_emit: dict[str, Callable[[Any], None]] = {}

    # -- ports ---------------------------------------------------------------
    def _add_input(self, name: str, grouping: Any = None, tuple_type: Any = None) -> None:
        """Declare input port ``name``; ``grouping`` decides which instance gets
        each unit (see :mod:`d4p.grouping`); ``tuple_type`` is an optional type
        checked when the port is connected."""
        port: dict[str, Any] = {NAME: name}
        if grouping is not None:
            port[GROUPING] = grouping
        if tuple_type is not None:
            port[TYPE] = tuple_type
        self.inputconnections[name] = port

    def _add_output(self, name: str, tuple_type: Any = None) -> None:
        """Declare output port ``name`` with an optional ``tuple_type``."""
        port: dict[str, Any] = {NAME: name}
        if tuple_type is not None:
            port[TYPE] = tuple_type
        self.outputconnections[name] = port

    # -- life cycle --------------------------------------------------------------
    def preprocess(self) -> None:
        self._preprocess()

    def _preprocess(self) -> None:
        pass

    def process(self, inputs: dict[str, Any]) -> dict[str, Any] | None:
        return self._process(inputs)

    def _process(self, data: Any) -> Any:
        return None

    batch_inputs: frozenset[str] = frozenset()
    """Input ports whose units this PE takes a list at a time: the executor
    calls :meth:`process_batch` with the units of such a port, in their order
    (the units of a transport batch; a writer in the same process: up to
    ``d4p.executor.LOCAL_BATCH`` units, all of them before ``postprocess``),
    instead of :meth:`process` once per unit. For PEs whose state does not
    depend on how units of different ports interleave, such as
    :mod:`d4p.aggregate`'s. A monitored run calls :meth:`process` per unit
    (its timing samples single calls)."""

    def process_batch(self, port: str, units: list) -> None:
        """Process ``units`` arriving on ``port`` (one of :attr:`batch_inputs`),
        writing with :meth:`write`. A unit that fails raises
        :class:`UnitFailed` naming it."""
        for data in units:
            try:
                result = self.process({port: data})
            except (Exception, SystemExit) as exc:  # sys.exit() names the unit too
                raise UnitFailed(data, exc) from None
            for name, value in (result or {}).items():
                self.write(name, value)

    def postprocess(self) -> None:
        self._postprocess()

    def _postprocess(self) -> None:
        pass

    def write(self, name: str, data: Any, metadata: Any = None, **provenance: Any) -> None:
        """Emit ``data`` on output port ``name``. ``metadata`` and other
        keywords (dispel4py's ``self.write(name, data, metadata=...,
        location=..., format=...)``, meant for its provenance recorder) are
        accepted and ignored, as dispel4py's ``write(name, data, **kwargs)``
        did: only ``data`` travels."""
        try:
            emit = self._d4p_emit[name]
        except KeyError:
            raise _unknown_output(self, name) from None
        emit(data)

    _write = write

    def log(self, msg: Any) -> None:
        """Print ``msg`` prefixed with this PE's id, as one line."""
        sys.stdout.write(f"{self.id}: {msg}\n")
        sys.stdout.flush()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_d4p_emit"] = {}  # wiring of a run; never travels with the PE
        return state

    # dispel4py typing hooks, kept so that old PEs overriding them still load
    def setInputTypes(self, types: dict[str, Any]) -> None:  # noqa: N802
        pass

    def getOutputTypes(self) -> dict[str, Any]:  # noqa: N802
        return {n: p.get(TYPE) for n, p in self.outputconnections.items()}


def _unknown_output(pe: GenericPE, name: str) -> GraphError:
    if name in pe.outputconnections:
        return GraphError(f"PE {pe.id!r} wrote to output {name!r} outside of a run")
    from .errors import did_you_mean

    known = ", ".join(repr(n) for n in pe.outputconnections) or "none"
    hint = did_you_mean(name, pe.outputconnections) if isinstance(name, str) else ""
    fix = "" if hint else f" Declare it with self._add_output({name!r})."
    return GraphError(
        f"PE {pe.id!r} ({type(pe).__name__}) wrote to unknown output {name!r}{hint}; "
        f"its outputs are: {known}.{fix}"
    )


class BasePE(GenericPE):
    """A PE with named inputs and outputs given to the constructor; ``num_inputs``
    and ``num_outputs`` add ``input0``, ``input1``, ... and ``output0``, ... (named
    after ``BasePE``'s constants, as in dispel4py, whatever a subclass sets)."""

    INPUT_NAME = "input"
    OUTPUT_NAME = "output"

    def __init__(self, inputs=(), outputs=(), num_inputs=0, num_outputs=0) -> None:
        super().__init__()
        for i in range(num_inputs):
            self._add_input(f"{BasePE.INPUT_NAME}{i}")
        for i in range(num_outputs):
            self._add_output(f"{BasePE.OUTPUT_NAME}{i}")
        for name in inputs:
            self._add_input(name)
        for name in outputs:
            self._add_output(name)


def _no_data(port: str) -> InputError:
    """What a PE that takes a unit on ``port`` in every call raises when
    called without one: a run gave it iterations instead of input items. The
    run reports it naming the PE."""
    return InputError(f"an iteration gives it no data on input {port!r}: give it a list of "
                      f"input items such as [{{{port!r}: value}}], not a number of iterations")


class IterativePE(GenericPE):
    """One input ``'input'``, one output ``'output'``: override ``_process(data)``;
    its return value, unless ``None``, is written to ``'output'``."""

    INPUT_NAME = "input"
    OUTPUT_NAME = "output"

    def __init__(self) -> None:
        super().__init__()
        self._add_input(IterativePE.INPUT_NAME)
        self._add_output(IterativePE.OUTPUT_NAME)

    def process(self, inputs):
        try:
            data = inputs[IterativePE.INPUT_NAME]
        except KeyError:
            raise _no_data(IterativePE.INPUT_NAME) from None
        result = self._process(data)
        if result is not None:
            return {self.OUTPUT_NAME: result}
        return None


class ProducerPE(GenericPE):
    """No inputs, one output ``'output'``: override ``_process(inputs)``."""

    OUTPUT_NAME = "output"

    def __init__(self) -> None:
        super().__init__()
        self._add_output(ProducerPE.OUTPUT_NAME)

    def process(self, inputs):
        result = self._process(inputs)
        if result is not None:
            return {self.OUTPUT_NAME: result}
        return None


class ConsumerPE(GenericPE):
    """One input ``'input'``, no outputs: override ``_process(data)``."""

    INPUT_NAME = "input"

    def __init__(self) -> None:
        super().__init__()
        self._add_input(ConsumerPE.INPUT_NAME)

    def process(self, inputs):
        try:
            data = inputs[ConsumerPE.INPUT_NAME]
        except KeyError:
            raise _no_data(ConsumerPE.INPUT_NAME) from None
        self._process(data)
        return None


class SimpleFunctionPE(IterativePE):
    """An IterativePE calling ``compute_fn(data, **params)``."""

    def __init__(self, compute_fn: Callable | None = None, params: dict | None = None) -> None:
        super().__init__()
        if compute_fn is not None:
            self.name = f"PE_{function_name(compute_fn)}"
            self.id = self.name
        self.compute_fn = compute_fn
        self.params = dict(params or {})

    def _process(self, data):
        return self.compute_fn(data, **self.params)


# -- PEs from functions -------------------------------------------------------------


class _FunctionPE(GenericPE):
    _function: Callable = staticmethod(lambda *a, **k: None)
    _generator = False
    _takes_item = True

    def __init__(self, *args: Any, **params: Any) -> None:
        super().__init__()
        signature = inspect.signature(self._function)
        names = list(signature.parameters)[len(self._leading()):]
        if args:
            given = ", ".join(map(repr, args))
            if not names:
                raise GraphError(f"{type(self).__name__}() takes no parameters, not {given}")
            listed = ", ".join(f"{n}=..." for n in names)
            raise GraphError(f"{type(self).__name__}() takes its parameters by name ({listed}), "
                             f"not {given}")
        try:
            signature.bind_partial(*self._leading(), **params)
        except TypeError as exc:
            from .errors import did_you_mean

            hint = "".join(did_you_mean(k, names) for k in params if k not in names)
            raise GraphError(f"{type(self).__name__}: {exc}{hint}") from None
        self.params = params

    def _leading(self) -> tuple:
        return ()

    def _emit(self, result: Any) -> None:
        if self._generator:
            for value in result:
                self.write("output", value)
        elif result is not None:
            self.write("output", result)


class _ProducerFunctionPE(_FunctionPE):
    def __init__(self, *args: Any, **params: Any) -> None:
        super().__init__(*args, **params)
        self._add_output("output")

    def process(self, inputs):
        if isinstance(inputs, dict) and not inputs:  # an iteration, not an input item
            self._emit(self._function(**self.params))
        elif not self._takes_item:
            from .errors import UsageError

            name = type(self).__name__
            raise UsageError(f"{name}() takes no input item, and was given {inputs!r}: give it "
                             f"a number of iterations, or give {name} a parameter for the item "
                             f"(def {name}(item, ...))")
        else:
            self._emit(self._function(inputs, **self.params))
        return None


def _takes_an_item(fn: Callable) -> bool:
    """Whether ``fn`` has a positional parameter for an input item."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.VAR_POSITIONAL)
    return any(p.kind in kinds for p in inspect.signature(fn).parameters.values())


class _IterativeFunctionPE(_FunctionPE):
    def __init__(self, *args: Any, **params: Any) -> None:
        super().__init__(*args, **params)
        self._add_input("input")
        self._add_output("output")

    def _leading(self) -> tuple:
        return (None,)

    def process(self, inputs):
        try:
            data = inputs["input"]
        except KeyError:
            raise _no_data("input") from None
        self._emit(self._function(data, **self.params))
        return None


class _ConsumerFunctionPE(_FunctionPE):
    def __init__(self, *args: Any, **params: Any) -> None:
        super().__init__(*args, **params)
        self._add_input("input")

    def _leading(self) -> tuple:
        return (None,)

    def process(self, inputs):
        try:
            data = inputs["input"]
        except KeyError:
            raise _no_data("input") from None
        result = self._function(data, **self.params)
        if self._generator:  # drain, so that the body runs
            for _ in result:
                pass
        return None


def function_name(fn: Callable) -> str:
    """The name of function ``fn``, of the function a ``functools.partial``
    wraps, or of the class of a callable object."""
    fn = _unwrapped(fn)
    return getattr(fn, "__name__", None) or type(fn).__name__


def _unwrapped(fn: Callable) -> Callable:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _pe_class(base: type, fn: Callable) -> type:
    if not callable(fn):
        kind = base.__name__.strip("_").replace("FunctionPE", "").lower()
        raise GraphError(f"d4p.{kind} makes a PE class from a function, not from {fn!r}")
    name, inner = function_name(fn), _unwrapped(fn)
    cls = type(
        name,
        (base,),
        {
            "_function": staticmethod(fn),
            "_generator": inspect.isgeneratorfunction(fn),
            "_takes_item": _takes_an_item(fn),
            "__module__": getattr(inner, "__module__", None) or type(inner).__module__,
            "__qualname__": getattr(inner, "__qualname__", name),
            "__doc__": getattr(inner, "__doc__", None),
        },
    )
    functools.update_wrapper(cls, fn, assigned=(), updated=())
    return cls


def producer(fn: Callable) -> type[GenericPE]:
    """Make a source PE class from ``fn(**params)``.

    Each iteration calls ``fn``; a ``yield``-ing function writes every value to
    ``'output'``, a plain one writes its return value unless ``None``. When the
    source is given a list of input items, each item is passed as the first
    argument. Instantiate with the parameters: ``numbers(n=10)``.
    """
    return _pe_class(_ProducerFunctionPE, fn)


def iterative(fn: Callable) -> type[GenericPE]:
    """Make an ``'input'`` → ``'output'`` PE class from ``fn(data, **params)``;
    generators may write many values per unit."""
    return _pe_class(_IterativeFunctionPE, fn)


def consumer(fn: Callable) -> type[GenericPE]:
    """Make a sink PE class (input ``'input'``) from ``fn(data, **params)``."""
    return _pe_class(_ConsumerFunctionPE, fn)
