"""The one exception hierarchy of d4p.

``UsageError`` and its subclasses are mistakes in what the user asked for (a
bad graph, unknown PE, missing file): the command line prints the message and
exits with status 2. ``WorkflowFailed`` means the workflow itself failed while
running (a PE raised, a worker died): exit status 1. A PE that raises a
``UsageError`` (a station file that is missing, data it cannot use) fails the
run with a :class:`PEUsageError`, which is both: the command line prints its
one line and exits with status 2.
"""

from __future__ import annotations

from collections.abc import Iterable


class D4PError(Exception):
    """Base class of every error d4p raises on purpose."""

    exit_code = 1


class UsageError(D4PError):
    """The user asked for something that cannot work; the message says what to do."""

    exit_code = 2


class GraphError(UsageError):
    """The workflow graph is invalid (unknown port, cycle, incompatible types...)."""


class InputError(UsageError):
    """The inputs given to a run do not fit the graph."""


class PluginError(UsageError):
    """A mapping or named workflow was not found, or a plugin is broken."""


class WorkflowFailed(D4PError):
    """A PE raised an exception, or a worker process died, during a run.

    Attributes name where it happened so that the message can be acted on:
    ``pe`` (PE id), ``instance`` (instance index), ``port`` (input port or
    ``None`` for a source / postprocess), ``data`` (short repr of the data unit)
    and ``traceback`` (the original traceback, as text).
    """

    def __init__(
        self,
        message: str,
        *,
        pe: str | None = None,
        instance: int | None = None,
        port: str | None = None,
        data: str | None = None,
        traceback: str = "",
    ) -> None:
        super().__init__(message)
        self.pe = pe
        self.instance = instance
        self.port = port
        self.data = data
        self.traceback = traceback

    def __reduce__(self):  # the fields travel too (from a worker to the parent)
        return type(self), (self.args[0],), {
            "pe": self.pe, "instance": self.instance, "port": self.port, "data": self.data,
            "traceback": self.traceback}

    def __str__(self) -> str:
        text = self.args[0]
        if self.traceback:
            text += "\n\nOriginal traceback:\n" + self.traceback.rstrip()
        return text


class PEUsageError(WorkflowFailed, UsageError):
    """A PE raised a :class:`UsageError` during a run: the user's mistake (a
    missing file, data the PE cannot use), not a bug. The message names the
    PE and says what the PE said; ``except d4p.UsageError`` and ``except
    d4p.WorkflowFailed`` both catch it. The command line shows this one line
    (the traceback, kept in ``traceback``, only with ``D4P_DEBUG=1``) and
    exits with status 2."""

    exit_code = 2

    def __str__(self) -> str:
        return self.args[0]


def as_failure(exc: BaseException, where: str) -> D4PError:
    """``exc``, raised in ``where`` (e.g. ``"worker process 2"``), as an error
    that another process can receive: a :class:`D4PError` that pickles as it
    is, anything else (a bug, a lost connection) as :class:`WorkflowFailed`
    naming ``where``, with the original traceback."""
    if isinstance(exc, D4PError):
        import pickle

        try:
            pickle.dumps(exc)
            return exc
        except Exception:
            pass
    import traceback

    return WorkflowFailed(f"{where} failed: {type(exc).__name__}: {exc}",
                          traceback="".join(traceback.format_exception(exc)))


class Aborted(D4PError):
    """The run was aborted: another worker failed, or a second interrupt. Not
    a failure of any PE; the failure that caused it is reported instead."""

    exit_code = 130


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'NAME'?)`` naming the one of ``known`` closest to the
    misspelt ``name``, or ``""`` when none is close."""
    import difflib  # here: only an error pays for it

    hint = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""
