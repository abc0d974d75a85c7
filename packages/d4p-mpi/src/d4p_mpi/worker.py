"""A rank started by the launcher: ``python -m d4p_mpi.worker RUNDIR PARENT_PID``.

Its run folder (:class:`d4p.mapping.RunFolder`) holds the plan; rank 0
writes ``result.pkl`` there (results, counts, tracing events and the seconds
the enactment took once every rank was ready), every rank its progress when
the caller follows it, a failure, and how its process ended when it died
(the rank runs :func:`~d4p.mapping.supervise`\\ d). A failure ends every rank at
once with ``MPI_Abort``. A rank whose run folder has gone away exits by
itself, as does a rank on the launcher's host whose launcher has, so no rank
outlives its run. A rank on a host that does not see the run folder says so
and exits.
"""

from __future__ import annotations

import os
import sys
import time

from d4p.mapping import Control, RunFolder, supervise, whole_lines

from .environment import env_rank

ABORT_CODE = 17


def _wait_politely(request) -> None:
    """Wait for ``request``, sleeping between tests: MPI's own waits spin, and
    a rank that spins takes the CPU from ranks still starting up."""
    pause = 20e-6
    while not request.Test():
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


def main(argv: list[str] | None = None) -> int:
    path, parent = argv if argv is not None else sys.argv[1:3]
    folder, rank = RunFolder(path), env_rank()
    if not folder.path.is_dir():
        from .launch import UNSEEN

        sys.stderr.write(f"d4p: MPI rank {rank} on host {os.uname().nodename} {UNSEEN} "
                         f"{path}; give the mpi mapping option run_folder a folder on a file "
                         f"system that every host of the run sees\n")
        sys.stderr.flush()
        return ABORT_CODE
    supervise(folder, rank)  # before MPI starts: the process manager knows the supervisor
    sys.stdout, sys.stderr = whole_lines(sys.stdout), whole_lines(sys.stderr)
    control = Control()
    folder.watch(int(parent), control, ABORT_CODE)
    comm = None
    try:
        from .environment import load_mpi

        comm = load_mpi().COMM_WORLD
        rank = comm.Get_rank()
        folder.started(rank)
        from .rank import run_rank

        plan, options = folder.read_plan()
        control.max_units = options.get("max_units")
        _wait_politely(comm.Ibarrier())  # every rank is ready: the enactment starts now
        start = time.perf_counter()
        done = run_rank(comm.Dup(), plan, control=control, batch_size=options["batch_size"],
                        queue_size=options["queue_size"], buffer_mb=options["buffer_mb"],
                        timeout=options["timeout"], trace=options["trace"],
                        report=folder.reporter(rank) if options["report"] else None)
        if done is not None:
            outcome, events = done
            timing = {"enact_seconds": time.perf_counter() - start}
            folder.write("result.pkl", (outcome.results, outcome.counts, events, timing))
    except BaseException as exc:
        folder.fail(rank, exc, f"MPI rank {rank}")
        sys.stdout.flush()
        sys.stderr.flush()
        if comm is not None:
            comm.Abort(ABORT_CODE)
        return ABORT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
