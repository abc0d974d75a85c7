"""The ``mpi`` mapping: the plan's processes are MPI ranks.

From a plain Python process it launches ``mpiexec`` itself (see
:mod:`d4p_mpi.launch`); under ``mpiexec`` (``mpiexec -n 4 d4p run wf.py
--mapping mpi``) it runs in place on every rank: rank 0 returns the results,
the other ranks return empty results; their outcome and any exception they
raise carry ``primary = False`` so that a command line can stay quiet there.
"""

from __future__ import annotations

import os
import sys

import d4p
from d4p import Mapping, Option, Outcome, UsageError

from .environment import env_rank, under_mpiexec, world_size


def _folder(text: str) -> str:
    """An existing folder (the ``run_folder`` option)."""
    if text and not os.path.isdir(text):
        raise ValueError("no such folder; name an existing folder that every host of the "
                         "run sees")
    return text


class MPIMapping(Mapping):
    """Runs the plan's processes as MPI ranks (mpi4py over MPICH by default)."""

    name = "mpi"
    description = "MPI ranks (mpi4py, MPICH); starts mpiexec itself unless run under it"
    options = (
        Option("timeout", 0.0, "seconds after which the run is stopped (0: no limit)", float,
               min=0),
        Option("batch_size", 1024, "data units sent to another rank in one message (at most; "
               "fewer when units are large)", int, min=1),
        Option("queue_size", 16, "messages in flight to one rank before a sender waits "
                                "(backpressure)", int, min=1),
        Option("buffer_mb", 64, "MiB a rank holds in flight plus received-but-unprocessed "
               "before senders wait (backpressure)", int, min=1),
        Option("mpiexec", "", "mpiexec command to launch with (default: the one of the "
                              "mpich wheel beside this Python, else on PATH)"),
        Option("run_folder", "", "folder for the run's files, on a file system every host "
               "sees (default: the temporary folder, or the current folder when mpiexec names "
               "other hosts)", _folder),
    )
    default_processes = world_size()
    """Under mpiexec: the number of ranks; else the machine's CPU count."""
    primary = not under_mpiexec() or env_rank() == 0
    """False on ranks other than 0 under mpiexec: they return empty results,
    and a command line should print nothing there."""

    def run(self, plan, options):
        if under_mpiexec():
            outcome = _run_in_place(plan, options)
        else:
            from .launch import launch

            outcome = launch(plan, options)
        progress = options.get("progress")
        if progress is not None:
            progress(dict(outcome.counts))
        return outcome


def _run_in_place(plan, options) -> Outcome:
    from .environment import load_mpi

    mpi = load_mpi()
    world = mpi.COMM_WORLD
    if world.Get_size() < plan.processes:
        error = UsageError(f"the plan needs {plan.processes} MPI ranks but mpiexec started "
                           f"{world.Get_size()}; run mpiexec -n {plan.processes}, or give "
                           f"-n {world.Get_size()} to d4p")
        error.primary = world.Get_rank() == 0  # said once, by rank 0, not by every rank
        raise error
    from d4p.mapping import whole_lines

    from .rank import run_rank

    sys.stdout, sys.stderr = whole_lines(sys.stdout), whole_lines(sys.stderr)  # lines never mix
    comm = world.Dup()  # our messages never meet the user's own MPI traffic
    tracer = options.get("tracer")
    try:
        done = run_rank(comm, plan, batch_size=options["batch_size"],
                        queue_size=options["queue_size"], buffer_mb=options["buffer_mb"],
                        timeout=options.get("timeout") or 0.0, announce=True,
                        trace=tracer is not None, control=options.get("control"))
    except BaseException as exc:
        if world.Get_rank() != 0:
            exc.primary = False  # rank 0 reports it; a command line stays quiet here
        raise
    comm.Free()
    if done is None:
        outcome = Outcome({}, {})
        outcome.primary = False  # only rank 0 holds the results
        return outcome
    outcome, events = done
    if tracer is not None and events:
        tracer.record(events)
    return outcome


@d4p.hookimpl
def d4p_register_mappings():
    return [MPIMapping]
