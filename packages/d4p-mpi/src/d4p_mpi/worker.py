"""A rank started by the launcher: ``python -m d4p_mpi.worker RUNDIR PARENT_PID``.

Its run folder (:class:`d4p.mapping.RunFolder`) holds the plan; rank 0
writes ``result.pkl`` there (results, counts, tracing events, the seconds
of the enactment once every rank was ready), every rank its progress when
followed, a failure, and how its process ended (each rank runs under
:func:`~d4p.mapping.supervise`). A failure ends every rank with
``MPI_Abort``. A rank ends by itself when the run folder goes, or on the
launcher's host when the launcher does; on a host that does not see the
folder, it says so and exits.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from d4p.mapping import Control, NoStdin, RunFolder, keep_freed_memory, supervise, whole_lines
from d4p.stopping import set_stop_handler

from .environment import env_rank

ABORT_CODE = 17


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
    keep_freed_memory()
    sys.stdout, sys.stderr = whole_lines(sys.stdout), whole_lines(sys.stderr)
    if rank != 0:  # mpiexec gives rank 0 the run's stdin, the others a pipe that never ends
        sys.stdin = NoStdin(f"only MPI rank 0 can read the run's standard input, and this PE "
                            f"runs on rank {rank}: read it in a source that rank 0 runs (the "
                            "run's summary shows where each PE runs) or use mapping multi")
    control = Control()
    folder.watch(control, int(parent), ABORT_CODE)

    def stop(signum, frame) -> None:  # a signal to this rank alone stops the whole run;
        if control.stopping:           # once stopping, a signal ends the rank (an abort)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        control.stop("interrupted")
        folder.request_stop(f"{signal.Signals(signum).name} to MPI rank {rank}")

    set_stop_handler(stop)
    comm = None
    try:
        from .environment import load_mpi

        comm = load_mpi().COMM_WORLD
        rank = comm.Get_rank()
        folder.started(rank)
        _note_shared_memory(folder, rank)
        from .rank import run_rank
        from .transport import poll

        plan, options = folder.read_plan()
        control.max_units = options.get("max_units")
        poll(comm.Ibarrier().Test)  # every rank is ready: the enactment starts now
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


SHARED_MEMORY = ("/dev/shm/mpich_shm_", "/dev/shm/ucx_shm_posix_")
"""The files MPICH (and its UCX module) map for the ranks of one host. They
are removed at ``MPI_Finalize``, so a rank ended by ``MPI_Abort`` or a kill
leaves them, each a few MiB of memory until the machine restarts."""


def _note_shared_memory(folder: RunFolder, rank: int) -> None:
    """Note the MPI shared-memory files this rank mapped in the run folder
    (:meth:`~d4p.mapping.RunFolder.note_files`): removed when every rank has
    ended, or at the next run's start when the launcher was killed."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps}
    except OSError:  # not Linux
        return
    folder.note_files(rank, (p for p in paths if p.startswith(SHARED_MEMORY)
                             and not p.endswith("(deleted)")))


if __name__ == "__main__":
    sys.exit(main())
