"""The ``multi`` mapping: the plan's processes as OS processes on one machine.

Transport: one pipe per pair of workers that exchange data, written by a
writer thread per destination and read by one reader thread per worker, so
that the worker's own thread never blocks in a system call. Messages are
encoded by :mod:`d4p.codec`: large NumPy buffers travel out of band, straight
from the array's memory into the pipe and into a writable buffer on the
other side.

Backpressure is a budget of bytes per worker (``buffer_mb``): half for what
it has sent and not yet written, half for what it has read and not yet
processed. A sender whose half is spent waits; while it waits it processes
what arrives for its other instances (core's driver), woken by the reader
or writer threads, never by a timer. The reader stops reading when its half
is spent, so the pipe fills and the sender waits in turn: memory does not
grow with the length of the stream or the size of the units. Workers that
wait for each other in a circle (each one's input full of units for its
own waiting instances) are found through a shared table of who waits for
whom, and read past their budget until their sends go out.

Start method: ``fork`` by default on Linux (fast start), ``spawn`` elsewhere
and on request (``start_method="spawn"``): the plan then travels by
:mod:`d4p.shipping` (cloudpickle), so lambdas, local functions and classes of
scripts and notebooks work too.

A PE that raises, a worker that dies, Ctrl-C or SIGTERM end every process:
the parent ends the rest and raises. Workers die with the parent even when
it is killed with SIGKILL.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..mapping import Mapping, Option, Outcome
from ..plugins import hookimpl

if TYPE_CHECKING:
    from ..plan import Plan


def _default_start_method() -> str:
    return "fork" if sys.platform.startswith("linux") else "spawn"


class MultiMapping(Mapping):
    name = "multi"
    description = "parallel OS processes on this machine (multiprocessing)"
    default_processes = None
    options = (
        Option("start_method", _default_start_method(),
               "how worker processes start: fork (default on Linux) or spawn",
               choices=("fork", "spawn", "forkserver")),
        Option("batch_size", 1024, "data units per message between processes (at most; "
               "fewer when units are large)", type=int, min=1),
        Option("queue_size", 64, "messages in flight per destination (backpressure)",
               type=int, min=1),
        Option("buffer_mb", 64, "MiB of data a worker holds sent-but-unwritten plus "
               "received-but-unprocessed before senders wait (backpressure)", type=int, min=1),
    )

    def run(self, plan: Plan, options: dict[str, Any]) -> Outcome:
        from .multi_workers import run

        return run(plan, options)


@hookimpl
def d4p_register_mappings():
    return [MultiMapping]
