"""The launching side: a plain Python process runs a plan on MPI by starting
``mpiexec -n P python -m d4p_mpi.worker RUNDIR PID`` and reading back what
rank 0 wrote.

Everything lives in a temporary run folder (job, result, failures, mpiexec's
stderr) removed afterwards. ``mpiexec`` runs in a process group of its own,
which is killed on timeout, on Ctrl-C and on any error, with any rank of the
run still alive; ranks also end by themselves when the launching process or
the run folder goes away. No rank outlives the call.
"""

from __future__ import annotations

import os
import pickle
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from d4p import D4PError, Outcome, UsageError, WorkflowFailed
from d4p.mapping import share_cores
from d4p.plan import Plan

from .environment import INSTALL_HINT, mpiexec_command, rank_environment
from .job import write_job

LAST_RUN: dict[str, float] = {}
"""Timing of the last successful launch in this process: ``enact_seconds``
(from every rank ready to results gathered, so without the start-up of
mpiexec and the interpreters) and ``processes``. For benchmarks."""

GRACE = 3.0
"""Seconds the launcher waits past the ranks' own timeout before killing them."""


def launch(plan: Plan, options: dict[str, Any]) -> Outcome:
    """Run ``plan`` on ``plan.processes`` fresh MPI ranks and return their outcome."""
    command = mpiexec_command(options.get("mpiexec") or "")
    _remove_stale_run_folders()
    rundir = Path(tempfile.mkdtemp(prefix=RUNDIR_PREFIX))
    (rundir / "owner").write_text(str(os.getpid()))
    try:
        write_job(rundir / "job.pkl", plan, _job_options(options))
        control = options.get("control")
        if control is not None:  # a graceful stop: the ranks look for this file
            control.on_stop(lambda: _touch(rundir / "stop"))
        argv = [*command, "-n", str(plan.processes), sys.executable, "-m", "d4p_mpi.worker",
                str(rundir), str(os.getpid())]
        listener = _Listener(rundir, options.get("progress"), options.get("tracer"))
        with share_cores(plan.processes):  # the ranks' BLAS threads: their share of the cores
            env = rank_environment(options.get("mpiexec") or "")
        code, report = _run(argv, env, rundir, options.get("timeout") or 0.0, listener)
        return _outcome(rundir, code, report, plan, listener)
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


RUNDIR_PREFIX = "d4p-mpi-"


def _remove_stale_run_folders() -> None:
    """Remove the run folders of launchers that were killed before they could
    (their ``owner`` process is gone); ranks of such a run have ended by
    themselves, since they watch the launcher."""
    for folder in Path(tempfile.gettempdir()).glob(RUNDIR_PREFIX + "*"):
        try:
            owner = int((folder / "owner").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):  # not ours, or another user's live run
            continue


def _touch(path: Path) -> None:
    try:
        path.touch()
    except OSError:  # the run has ended and its folder is gone
        pass


def _job_options(options: dict[str, Any]) -> dict[str, Any]:
    tracing = options.get("tracer") is not None
    return {"batch_size": options["batch_size"], "queue_size": options["queue_size"],
            "buffer_mb": options["buffer_mb"],
            "max_units": getattr(options.get("control"), "max_units", None),
            "timeout": options.get("timeout") or 0.0, "trace": tracing,
            "report": tracing or options.get("progress") is not None}


class _Listener:
    """Hands the ranks' progress files to ``progress`` (units per PE so far)
    and ``tracer`` (timing events), and removes them."""

    def __init__(self, rundir: Path, progress, tracer) -> None:
        self.rundir = rundir
        self.progress = progress
        self.tracer = tracer
        self.active = progress is not None or tracer is not None
        self.latest: dict[str, dict[str, int]] = {}

    def poll(self) -> None:
        if not self.active:
            return
        heard = False
        for path in sorted(self.rundir.glob("progress-*.pkl")):
            try:
                with open(path, "rb") as src:
                    counts, events = pickle.load(src)
                path.unlink()
            except (OSError, EOFError, pickle.UnpicklingError):
                continue
            heard = True
            self.latest[path.name.split("-")[1]] = counts
            if self.tracer is not None and events:
                self.tracer.record(events)
        if heard and self.progress is not None:
            total: dict[str, int] = {}
            for counts in self.latest.values():
                for pe, n in counts.items():
                    total[pe] = total.get(pe, 0) + n
            self.progress(total)

    def finish(self, events: list[dict]) -> None:
        self.poll()
        if self.tracer is not None and events:
            self.tracer.record(events)


def _run(argv: list[str], env: dict[str, str], rundir: Path, timeout: float,
         listener: _Listener) -> tuple[int, str]:
    """Run mpiexec; return its exit status and its report of a dead rank, if any.
    What the ranks print reaches this process's stdout as they print it."""
    with open(rundir / "stderr", "wb") as err:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=err, env=env, start_new_session=True)
        except OSError as exc:
            raise UsageError(f"cannot start {argv[0]} ({exc}); {INSTALL_HINT}") from None
        relay = _Relay(proc.stdout)
        try:
            code = _wait(proc, timeout + GRACE if timeout else None, listener)
        except subprocess.TimeoutExpired:
            _kill(proc, rundir)
            raise WorkflowFailed(f"the mpi run exceeded its timeout of {timeout:g} s and was "
                                 "stopped; raise the 'timeout' option or look for a PE that "
                                 "never finishes") from None
        except BaseException:
            _kill(proc, rundir)
            raise
        finally:
            if proc.poll() is None:
                _kill(proc, rundir)
            relay.join()
    return code, relay.report


def _wait(proc: subprocess.Popen, limit: float | None, listener: _Listener) -> int:
    """mpiexec's exit status, listening to progress meanwhile; raises
    :class:`subprocess.TimeoutExpired` after ``limit`` seconds.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which would be
    added to every run that has a timeout or a listener; a pidfd (Linux)
    wakes up as soon as mpiexec exits."""
    if not listener.active and limit is None:
        return proc.wait()
    deadline = time.monotonic() + limit if limit else None
    exited = _exit_watch(proc)
    try:
        while True:
            step = 0.5 if listener.active else 3600.0
            if deadline is not None:
                step = max(0.0, min(step, deadline - time.monotonic()))
            exited(step)
            if proc.poll() is not None:
                return proc.returncode
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(proc.args, limit)
            listener.poll()
    finally:
        exited(None)


def _exit_watch(proc: subprocess.Popen):
    """A function that waits up to its argument's seconds for ``proc`` to
    exit (``None``: release what it holds)."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux, or an old kernel
        fd = None

    def wait(seconds: float | None) -> None:
        if seconds is None:
            if fd is not None:
                os.close(fd)
        elif fd is not None:
            select.select([fd], [], [], seconds)
        else:
            try:
                proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                pass

    return wait


class _Relay(threading.Thread):
    """Copies mpiexec's stdout to ours line by line, keeping back mpiexec's own
    report of a dead rank (a line of '=' signs, then 'BAD TERMINATION ...')."""

    def __init__(self, stream) -> None:
        super().__init__(name="d4p-mpi-stdout", daemon=True)
        self.stream = stream
        self.report = ""
        self.start()

    def run(self) -> None:
        held: list[bytes] = []  # blank lines and a line of '=' that may open the report
        banner: list[bytes] = []
        for line in self.stream:
            if banner:
                banner.append(line)
            elif b"BAD TERMINATION" in line and held and held[-1].startswith(_BANNER):
                banner += [*held, line]
                held = []
            elif not line.strip() or line.startswith(_BANNER):
                held.append(line)
            else:
                self._write(b"".join(held) + line)
                held = []
        if held:
            self._write(b"".join(held))
        self.stream.close()
        self.report = b"".join(banner).decode(errors="replace")

    @staticmethod
    def _write(data: bytes) -> None:
        try:
            sys.stdout.write(data.decode(errors="replace"))
            sys.stdout.flush()
        except (OSError, ValueError):  # our stdout is closed: drop the output
            pass


def _kill(proc: subprocess.Popen, rundir: Path) -> None:
    """End mpiexec (which ends its proxies and ranks), then any rank of this
    run still alive (they run in sessions of their own)."""
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    for pid in _ranks_of(rundir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _ranks_of(rundir: Path) -> list[int]:
    """Pids of live worker processes of this run (from /proc, on Linux)."""
    marker = str(rundir).encode()
    pids = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return pids
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as src:
                words = src.read().split(b"\0")
        except OSError:
            continue
        if b"d4p_mpi.worker" in words and marker in words:
            pids.append(int(entry))
    return pids


def _outcome(rundir: Path, code: int, report: str, plan: Plan,
             listener: _Listener) -> Outcome:
    processes = plan.processes
    try:
        said = (rundir / "stderr").read_text(errors="replace") + report
    except OSError:
        said = report
    failures = []
    for path in rundir.glob("failure-*.pkl"):
        with open(path, "rb") as src:
            failures.append(pickle.load(src))
    if failures:
        _, first = min(failures, key=lambda f: f[0])
        if isinstance(first, D4PError):
            raise first
        raise WorkflowFailed(str(first))
    result = rundir / "result.pkl"
    if code == 0 and result.is_file():
        with open(result, "rb") as src:
            results, counts, events, timing = pickle.load(src)
        listener.finish(events)
        LAST_RUN.clear()
        LAST_RUN.update(timing, processes=processes)
        if said:
            sys.stderr.write(said)
            sys.stderr.flush()
        return Outcome(results, counts)
    tail = "\n".join(said.strip().splitlines()[-20:])
    started = len(list(rundir.glob("started-*")))
    if started == 0:
        raise UsageError(f"mpiexec could not start the MPI ranks (exit status {code}); "
                         f"{INSTALL_HINT}." + (f"\nmpiexec said:\n{tail}" if tail else ""))
    signal_number = _signal_of(said, code)
    if signal_number:
        how = f"killed by signal {signal_number} ({_signal_name(signal_number)})"
    else:
        how = f"mpiexec exit status {code}"
    placed = "; ".join(f"rank {k}: " + ", ".join(f"{i.pe_id}[{i.index}]"
                                                 for i in plan.on_process(k))
                       for k in range(processes))
    raise WorkflowFailed(f"an MPI rank died without reporting an error: {how}; {started} of "
                         f"{processes} ranks had started. Look for a PE that crashes the "
                         f"interpreter or runs out of memory (mpiexec ends every rank when one "
                         f"dies, so it cannot say which; the ranks ran {placed})."
                         + (f"\nmpiexec said:\n{tail}" if tail else ""))


_BANNER = b"=" * 20


def _signal_of(said: str, code: int) -> int | None:
    if code < 0:
        return -code
    match = re.search(r"\(signal (\d+)\)", said)
    return int(match.group(1)) if match else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"
