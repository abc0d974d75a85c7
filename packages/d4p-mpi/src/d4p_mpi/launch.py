"""The launching side: a plain Python process runs a plan on MPI by starting
``mpiexec -n P python -m d4p_mpi.worker RUNDIR PID`` and reading back what
rank 0 wrote to the run folder (:class:`d4p.mapping.RunFolder`: plan,
result, failures, progress, mpiexec's stderr; removed afterwards). It is in
the temporary folder, unless mpiexec may start ranks on other hosts: then a
hidden folder in the current folder (on a cluster, one every node sees), or
in the ``run_folder`` option's folder.

``mpiexec`` runs as a :class:`d4p.mapping.Child`, ended on timeout, Ctrl-C,
any error and the launcher's death, and ends every rank on every host; ranks
also end when the run folder goes, or the launcher on their host. A rank
that dies is named with its PEs (each rank is supervised).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from d4p import UsageError, WorkflowFailed
from d4p.mapping import Child, Gather, Outcome, Plan, RunFolder, share_cores, worker_died

from .environment import INSTALL_HINT, mpiexec_command, other_hosts, rank_environment

LAST_RUN: dict[str, float] = {}
"""Timing of the last successful launch in this process: ``enact_seconds``
(from every rank ready to results gathered, so without the start-up of
mpiexec and the interpreters) and ``processes``. For benchmarks."""

GRACE = 3.0
"""Seconds the launcher waits past the ranks' own timeout before killing them."""

RUNDIR_PREFIX = "d4p-mpi-"

UNSEEN = "cannot see the run folder"
"""What a rank says (on stderr) when the run folder is not on its host."""


def launch(plan: Plan, options: dict[str, Any]) -> Outcome:
    """Run ``plan`` on ``plan.processes`` fresh MPI ranks and return their outcome."""
    command = mpiexec_command(options.get("mpiexec") or "")
    gather = Gather(options.get("progress"), options.get("tracer"))
    timeout = options.get("timeout") or 0.0
    with _run_folder(options) as folder:
        folder.write_plan(plan, {
            "batch_size": options["batch_size"], "queue_size": options["queue_size"],
            "buffer_mb": options["buffer_mb"], "timeout": timeout,
            "max_units": getattr(options.get("control"), "max_units", None),
            "trace": gather.tracer is not None, "report": gather.listening})
        if options.get("control") is not None:  # a graceful stop: the ranks look for a file
            options["control"].on_stop(folder.request_stop)
        argv = [*command, "-n", str(plan.processes), sys.executable, "-m", "d4p_mpi.worker",
                str(folder.path), str(os.getpid())]
        with share_cores(plan.processes):  # the ranks' BLAS threads: their share of the cores
            env = rank_environment(options.get("mpiexec") or "")
        banner = _Banner()
        with open(folder.path / "stderr", "wb") as err:
            try:
                mpiexec = Child(argv, env=env, lines=banner, stderr=err, stdin=True)
            except OSError as exc:
                raise UsageError(f"cannot start {argv[0]} ({exc}); {INSTALL_HINT}") from None
        try:
            with mpiexec:
                try:
                    code = mpiexec.wait(timeout + GRACE if timeout else None,
                                        every=0.5 if gather.listening else 3600.0,
                                        tick=lambda: folder.take_progress(gather))
                except subprocess.TimeoutExpired:
                    raise WorkflowFailed(f"the mpi run exceeded its timeout of {timeout:g} s "
                                         "and was stopped; raise the 'timeout' option or look "
                                         "for a PE that never finishes") from None
                finally:
                    if mpiexec.proc.poll() is None or folder.processes():
                        mpiexec.kill(also=folder.processes)
        finally:
            folder.remove_noted()  # MPI's shared memory, left by ranks that did not finalize
            folder.take_progress(gather)  # also what ranks did before a failure or an abort
        folder.tell(options.get("control"))  # a signal to a rank alone, max_units reached
        return _outcome(folder, code, banner.report, plan, gather,
                        other_hosts(options.get("mpiexec") or ""))


def _run_folder(options: dict[str, Any]) -> RunFolder:
    where = options.get("run_folder") or None
    if where is None and other_hosts(options.get("mpiexec") or ""):
        where = os.getcwd()  # hidden there; on a cluster, a folder every node sees
    try:
        return RunFolder.create(RUNDIR_PREFIX if where is None else "." + RUNDIR_PREFIX, where)
    except OSError as exc:
        raise UsageError(f"the mpi mapping cannot make its run folder in {str(where)!r} "
                         f"({exc.strerror or exc}); give option run_folder a folder you can "
                         f"write that every host of the run sees") from None


class _Banner:
    """Passes mpiexec's stdout on, keeping back its own report of a dead rank
    (a line of '=' signs, then 'BAD TERMINATION ...', to the end): it names
    the process that hydra saw end first, which is not always the one that died."""

    def __init__(self) -> None:
        self.held: list[bytes] = []  # blank lines and a line of '=' that may open the report
        self.report = ""

    def __call__(self, line: bytes | None) -> None:
        if self.report:
            self.report += (line or b"").decode(errors="replace")
        elif line is not None and b"BAD TERMINATION" in line and self.held \
                and self.held[-1].startswith(b"=" * 20):
            self.report = b"".join([*self.held, line]).decode(errors="replace")
        elif line is not None and (not line.strip() or line.startswith(b"=" * 20)):
            self.held.append(line)
        else:
            Child.echo(b"".join(self.held) + (line or b""))
            self.held = []


def _outcome(folder: RunFolder, code: int, report: str, plan: Plan, gather: Gather,
             hosts: list[str]) -> Outcome:
    try:
        said = (folder.path / "stderr").read_text(errors="replace") + report
    except OSError:
        said = report
    failure = folder.failure()
    if failure is not None:
        raise failure
    if code == 0 and (folder.path / "result.pkl").is_file():
        results, counts, events, timing = folder.read("result.pkl")
        gather.record(events)
        LAST_RUN.clear()
        LAST_RUN.update(timing, processes=plan.processes)
        if said:
            sys.stderr.write(said)
            sys.stderr.flush()
        return Outcome(results, counts)
    tail = "\n".join(said.strip().splitlines()[-20:])
    started = folder.started_workers()
    unseen = [line for line in said.splitlines() if UNSEEN in line]
    if unseen:  # a rank on a host without the folder: the others were ended by mpiexec
        raise UsageError(unseen[0].removeprefix("d4p: "))
    if started == 0:
        hint = (f"check that it reaches {', '.join(hosts)} (the host names, and ssh to them "
                "without a password)" if hosts else INSTALL_HINT)
        raise UsageError(f"mpiexec could not start the MPI ranks (exit status {code}); {hint}."
                         + (f"\nmpiexec said:\n{tail}" if tail else ""))
    died = folder.first_death()
    if died is not None:
        raise worker_died(plan, *died, what="MPI rank", hint="; look for a PE that crashes "
                          "the interpreter or runs out of memory")
    raise WorkflowFailed(f"an MPI rank died without reporting an error (mpiexec exit status "
                         f"{code}; {started} of {plan.processes} ranks had started)"
                         + (f"\nmpiexec said:\n{tail}" if tail else ""))
