"""The interface every mapping implements, built-in or third-party, and
every name a mapping needs (import them from here).

A mapping receives a :class:`Plan` (instances, their processes, routes) and
runs it: for each of its workers it makes an :class:`Executor` and calls
:func:`drive` with a :class:`Transport` of its own (how messages reach the
other workers). Core does the rest: preprocess, sources, routing, batching,
end of stream, postprocess, progress, errors, stopping.

A mapping runs every instance of a one-process plan in the calling process
with nothing but this: a complete minimal mapping plugin::

    import d4p
    from d4p.mapping import Executor, Mapping, Outcome, drive

    class Sequential(Mapping):
        \"\"\"Runs every instance in this process.\"\"\"
        name = "sequential"
        description = "every instance in the calling process"
        max_processes = 1

        def run(self, plan, options):
            executor = Executor(plan, 0)
            drive(executor, control=options["control"])  # stop_after, max_units, Ctrl-C
            return Outcome(executor.results, executor.counts())

    @d4p.hookimpl
    def d4p_register_mappings():
        return [Sequential]

and in its ``pyproject.toml``: ``[project.entry-points.d4p] sequential = "my_module"``.
``examples/threadpool-mapping`` is a complete one with a transport (a queue
per thread). A plan for one process per instance: ``plan.with_processes(lambda
i: i.iid)``. To start a fresh interpreter, ship the plan with
:func:`d4p.shipping.dumps`; a mapping whose workers run on other machines
warns of PEs that write files there with :func:`d4p.shipping.warn_file_writers`.

A mapping whose workers are processes of their own collects what they report
with :class:`Gather` and names a worker that died with :func:`worker_died`;
one that starts them through another program (``mpiexec``) shares a
:class:`RunFolder` with them, runs that program as a :class:`Child`, and has
each worker call :func:`supervise` (see :mod:`d4p.launcher`); ``Child(...,
stdin=True)`` hands it the run's standard input, and a worker that cannot
read it sets ``sys.stdin`` to a :class:`NoStdin`. Workers start
inside :func:`share_cores` and call :func:`keep_freed_memory`. A graceful
stop reaches workers or tasks in other processes through a :class:`RunFolder`:
the driver calls ``folder.request_stop()`` (``control.on_stop(...)``), each
worker ``folder.watch(control)`` (with ``launcher=pid``, a worker also ends
when its launcher or the folder is gone), and once they have ended the
launcher's ``folder.tell(control)`` gives the summary the reason a worker
stopped for (a signal to it alone, ``max_units``); to workers on machines that share
no folder with the driver, through a :class:`StopLine`. An engine that pulls results
(Spark's partition iterators, Storm's spouts) runs the
executor behind a :class:`Handoff`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ._lazy import lazy_exports
from .errors import UsageError

if TYPE_CHECKING:
    from .driver import Control, Data, EndOfStream, Handoff, Message, Report, Transport, drive
    from .executor import Executor
    from .launcher import (
        Child,
        Gather,
        NoStdin,
        RunFolder,
        StopLine,
        supervise,
        whole_lines,
        worker_died,
    )
    from .plan import Instance, Plan, Route

__getattr__ = lazy_exports(__name__, {
    "Control": "driver", "Data": "driver", "EndOfStream": "driver", "Handoff": "driver",
    "Message": "driver",
    "Report": "driver", "Transport": "driver", "drive": "driver", "Executor": "executor",
    "Instance": "plan", "Plan": "plan", "Route": "plan", "Child": "launcher",
    "Gather": "launcher", "NoStdin": "launcher", "RunFolder": "launcher", "StopLine": "launcher", "supervise": "launcher",
    "whole_lines": "launcher", "worker_died": "launcher",
})  # imported on first use: ``import d4p`` and a plugin that only registers its mapping stay light

__all__ = ["Child", "Control", "Data", "EndOfStream", "Executor", "Gather", "Handoff", "Instance",
           "Mapping", "Message", "NoStdin", "Option", "Outcome", "Plan", "Report", "Route", "RunFolder", "StopLine", "Transport",
           "drive", "keep_freed_memory", "share_cores", "supervise", "whole_lines", "worker_died"]


@dataclass(frozen=True)
class Option:
    """An option of a mapping: ``d4p.run(..., name=value)`` and ``d4p run --name VALUE``.

    ``type`` converts text given on the command line (``int``, ``float``,
    ``str`` or any function); ``min`` and ``choices`` bound the value. Every
    value, from Python or the command line, is checked by :meth:`check`."""

    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = str
    multiple: bool = False
    choices: tuple | None = None
    min: float | None = None

    def check(self, value: Any, mapping: str = "") -> Any:
        """``value`` converted and checked; a :class:`~d4p.UsageError` naming
        the option and what it accepts otherwise."""
        where = f"option {self.name!r}" + (f" of mapping {mapping!r}" if mapping else "")
        if self.multiple and isinstance(value, list | tuple):
            return [self._one(v, where) for v in value]
        return self._one(value, where)

    def parse(self, text: str, where: str) -> Any:
        """``text`` (from the command line) converted by ``type``; a
        :class:`~d4p.UsageError` naming ``where`` (the option) otherwise."""
        try:
            return self.type(text)
        except (TypeError, ValueError) as exc:
            if self.type in (int, float):
                number = "a whole number" if self.type is int else "a number"
                raise UsageError(f"{where} must be {number}, not {text!r}") from None
            raise UsageError(f"{where}: invalid value {text!r} ({exc})") from None

    def _one(self, value: Any, where: str) -> Any:
        kind = self.type if self.type in (int, float, str) else None
        if isinstance(value, str) and self.type is not str:
            value = self.parse(value, where)
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageError(f"{where} must be a whole number, not {value!r}")
        if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise UsageError(f"{where} must be a number, not {value!r}")
        if self.choices is not None and value not in self.choices:
            raise UsageError(f"{where} must be one of {', '.join(map(str, self.choices))}, "
                             f"not {value!r}")
        if self.min is not None and value < self.min:
            raise UsageError(f"{where} must be at least {self.min:g}, not {value!r}")
        return value


@dataclass
class Outcome:
    """What a mapping's ``run`` returns: the unconnected outputs
    (``{pe_id: {port: [units]}}``) and the units processed per PE."""

    results: dict[str, dict[str, list]]
    counts: dict[str, int] = field(default_factory=dict)
    placement: Plan | None = None
    """The plan as the mapping placed it, when it renumbers processes (Spark
    runs every instance in a partition of its own); the run summary reports it."""


class Mapping:
    """Base class of mappings. Subclasses set ``name``, ``description`` and
    ``options`` and implement :meth:`run`, which enacts a :class:`~d4p.plan.Plan`.

    ``options`` passed to :meth:`run` always hold every declared option (with
    its default when not given, checked by :meth:`Option.check`) plus
    ``progress``: ``None`` or a callable taking ``{pe_id: units processed}``
    that a mapping calls now and then, and ``tracer``: ``None`` or the
    monitoring tracer, whose ``record(events)`` takes what
    ``Executor.take_events()`` returns (``drive``'s ``report`` hands them
    over in worker processes), and ``control``: the run's
    :class:`~d4p.driver.Control`, which ``drive`` takes (``stop_after``,
    ``max_units``, the ``stop`` event and Ctrl-C stop the sources through it).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    default_processes: ClassVar[int | None] = 1
    """Processes used when the caller gives none (``None``: the machine's CPU count)."""
    max_processes: ClassVar[int | None] = None
    """The most processes this mapping can use (``None``: no limit)."""
    primary: ClassVar[bool] = True
    """``False`` in a process that runs part of a job whose results another
    process reports (an MPI rank other than 0): the command line then prints
    nothing there and no tracer is made."""

    def run(self, plan: Plan, options: dict[str, Any]) -> Outcome:
        raise NotImplementedError


NATIVE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                           "BLIS_NUM_THREADS")


@contextlib.contextmanager
def share_cores(processes: int) -> Iterator[int]:
    """While in this context, native libraries' thread pools (BLAS, OpenMP) of
    this process, and of processes started from it, have their share of the
    machine's cores for ``processes`` processes of a run; yields the threads
    per pool.

    Each such library starts a thread per core in every process, so a run of
    one process per core would have each core shared by as many threads as
    processes, spinning against each other (NumPy's BLAS made the xcorr
    workflow on ``multi -n 2`` no faster than on one process). Mappings start
    their worker processes in this context: forked workers inherit the
    limits, others the environment variables. A limit the user set in one of
    :data:`NATIVE_THREAD_VARIABLES` is kept.
    """
    threads = max(1, (os.cpu_count() or 1) // max(processes, 1))
    if any(var in os.environ for var in NATIVE_THREAD_VARIABLES) or threads == os.cpu_count():
        yield threads
        return
    limits = None
    if _native_pools_loaded():  # the variables reach only libraries loaded later
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(threads)
    os.environ.update(dict.fromkeys(NATIVE_THREAD_VARIABLES, str(threads)))
    try:
        yield threads
    finally:
        for var in NATIVE_THREAD_VARIABLES:
            del os.environ[var]
        if limits is not None:
            limits.restore_original_limits()


_memory_kept = False


def keep_freed_memory() -> None:
    """For a worker process of a run (never the user's own process): once
    per process, glibc's allocator serves blocks up to 32 MiB from its heap
    and keeps up to 128 MiB of freed memory, instead of its adaptive
    thresholds, which give the MB-sized arrays of a stream (those that
    arrive, and NumPy's temporaries) fresh pages from the kernel again and
    again. Measured: an FFT cross-correlation in a Spark worker thread 1.5 to
    2.5 times faster, 8 MiB arrays through mpi 40% less CPU. Nothing
    elsewhere than glibc, nor when the user set glibc's thresholds
    (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``)."""
    global _memory_kept
    if _memory_kept:
        return
    _memory_kept = True
    if any(os.environ.get(v) for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                       "GLIBC_TUNABLES")):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD


def _native_pools_loaded() -> bool:
    """Whether this process has loaded a library with a thread pool (BLAS,
    OpenMP); on systems without ``/proc/self/maps``, assume so. (Importing
    threadpoolctl to ask it costs 10-40 ms, a third of a small run.)"""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read().lower()
    except OSError:
        return True
    return any(name in maps for name in ("blas", "omp", "mkl", "blis", "lapack"))
