"""A rank started by the launcher: ``python -m d4p_mpi.worker RUNDIR PARENT_PID``.

Reads ``RUNDIR/job.pkl``, runs its share of the plan and, on rank 0, writes
``RUNDIR/result.pkl`` (results, counts, tracing events and the seconds the
enactment took once every rank was ready). When the caller follows progress
or traces, every rank also writes ``RUNDIR/progress-RANK-SEQ.pkl`` now and then. A failure is written to ``RUNDIR/failure-RANK.pkl``
and ends every rank at once with ``MPI_Abort``. A rank whose launching
process or run folder has gone away exits by itself, so no rank outlives its run.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import threading
import time
from pathlib import Path

from d4p.driver import Control
from d4p.errors import as_failure

from .environment import env_rank

ABORT_CODE = 17


def write_atomic(path: Path, obj: object) -> None:
    """Pickle ``obj`` to ``path`` so that readers see all of it or nothing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        pickle.dump(obj, out, protocol=5)
    os.replace(tmp, path)


def _watch_parent(pid: int, rundir: Path, control: Control) -> None:
    """End this rank when the launching process or the run folder is gone;
    stop its sources gracefully when the launcher leaves a ``stop`` file."""
    def watch() -> None:
        while True:
            time.sleep(0.2)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(ABORT_CODE)
            except PermissionError:
                pass
            if not rundir.is_dir():
                os._exit(ABORT_CODE)
            if not control.stopping and (rundir / "stop").exists():
                control.stop("stopped by the launcher")

    threading.Thread(target=watch, name="d4p-mpi-parent-watch", daemon=True).start()


def whole_lines(stream):
    """``stream`` writing each line in one system call as soon as it ends (even
    under PYTHONUNBUFFERED), so that the lines of different ranks never mix."""
    stream.flush()
    raw = io.FileIO(stream.fileno(), "w", closefd=False)
    wrapped = io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding=stream.encoding,
                               errors=stream.errors, line_buffering=True)
    wrapped.d4p_whole_lines = True
    return wrapped


def _reporter(rundir: Path, rank: int):
    """Progress reports as files ``progress-RANK-SEQ.pkl`` that the launcher
    reads and removes: (units per PE so far, tracing events since the last)."""
    seq = 0

    def report(counts: dict[str, int], events: list[dict]) -> None:
        nonlocal seq
        write_atomic(rundir / f"progress-{rank}-{seq:08d}.pkl", (counts, events))
        seq += 1

    return report


def _wait_politely(request) -> None:
    """Wait for ``request``, sleeping between tests: MPI's own waits spin, and
    a rank that spins takes the CPU from ranks still starting up."""
    pause = 20e-6
    while not request.Test():
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


def main(argv: list[str] | None = None) -> int:
    rundir, parent = argv if argv is not None else sys.argv[1:3]
    rundir = Path(rundir)
    sys.stdout, sys.stderr = whole_lines(sys.stdout), whole_lines(sys.stderr)
    control = Control()
    _watch_parent(int(parent), rundir, control)
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
        control.max_units = options.get("max_units")
        _wait_politely(comm.Ibarrier())  # every rank is ready: the enactment starts now
        start = time.perf_counter()
        done = run_rank(comm.Dup(), plan, control=control, batch_size=options["batch_size"],
                        queue_size=options["queue_size"], buffer_mb=options["buffer_mb"],
                        timeout=options["timeout"],
                        trace=options["trace"],
                        report=_reporter(rundir, rank) if options["report"] else None)
        if done is not None:
            outcome, events = done
            timing = {"enact_seconds": time.perf_counter() - start}
            write_atomic(rundir / "result.pkl",
                         (outcome.results, outcome.counts, events, timing))
    except BaseException as exc:
        write_atomic(rundir / f"failure-{rank}.pkl",
                     (time.time(), as_failure(exc, f"MPI rank {rank}")))
        sys.stdout.flush()
        sys.stderr.flush()
        if comm is not None:
            comm.Abort(ABORT_CODE)
        return ABORT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
