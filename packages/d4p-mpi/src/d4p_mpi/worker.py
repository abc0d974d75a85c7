"""A rank started by the launcher: ``python -m d4p_mpi.worker RUNDIR PARENT_PID``.

Reads ``RUNDIR/job.pkl``, runs its share of the plan and, on rank 0, writes
``RUNDIR/result.pkl`` (results, counts and the seconds the enactment took once
every rank was ready). A failure is written to ``RUNDIR/failure-RANK.pkl``
and ends every rank at once with ``MPI_Abort``. A rank whose launching
process or run folder has gone away exits by itself, so no rank outlives its run.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
import traceback
from pathlib import Path

from d4p import D4PError, WorkflowFailed

from .environment import env_rank

ABORT_CODE = 17


def write_atomic(path: Path, obj: object) -> None:
    """Pickle ``obj`` to ``path`` so that readers see all of it or nothing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        pickle.dump(obj, out, protocol=5)
    os.replace(tmp, path)


def _watch_parent(pid: int, rundir: Path) -> None:
    """End this rank when the launching process or the run folder is gone."""
    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(ABORT_CODE)
            except PermissionError:
                pass
            if not rundir.is_dir():
                os._exit(ABORT_CODE)

    threading.Thread(target=watch, name="d4p-mpi-parent-watch", daemon=True).start()


def _failure_record(exc: BaseException, rank: int) -> BaseException:
    if isinstance(exc, D4PError):
        try:
            pickle.dumps(exc)
            return exc
        except Exception:
            pass
    return WorkflowFailed(f"MPI rank {rank} failed: {type(exc).__name__}: {exc}",
                          traceback="".join(traceback.format_exception(exc)))


def main(argv: list[str] | None = None) -> int:
    rundir, parent = argv if argv is not None else sys.argv[1:3]
    rundir = Path(rundir)
    _watch_parent(int(parent), rundir)
    rank = env_rank()
    comm = None
    try:
        from .environment import load_mpi

        mpi = load_mpi()
        comm = mpi.COMM_WORLD
        rank = comm.Get_rank()
        (rundir / f"started-{rank}").touch()
        from .job import read_job
        from .rank import run_rank

        plan, options = read_job(rundir / "job.pkl")
        comm.Barrier()  # every rank is ready: the enactment starts now
        start = time.perf_counter()
        outcome = run_rank(comm.Dup(), plan, batch_size=options["batch_size"],
                           queue_size=options["queue_size"],
                           timeout=options["timeout"])
        if outcome is not None:
            timing = {"enact_seconds": time.perf_counter() - start}
            write_atomic(rundir / "result.pkl", (outcome.results, outcome.counts, timing))
    except BaseException as exc:
        write_atomic(rundir / f"failure-{rank}.pkl", (time.time(), _failure_record(exc, rank)))
        sys.stdout.flush()
        if comm is not None:
            comm.Abort(ABORT_CODE)
        return ABORT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
