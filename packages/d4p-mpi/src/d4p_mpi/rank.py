"""What every rank does: run its share of the plan through the core's
executor over the MPI transport, then gather results and counts on rank 0.

Ranks numbered ``plan.processes`` or more host nothing: they only take part
in the final barrier and gather, and exit cleanly.
"""

from __future__ import annotations

import time

from d4p import Outcome
from d4p.codec import Unloadable
from d4p.errors import as_failure
from d4p.executor import unloadable_results
from d4p.mapping import Control, Executor, Gather, Plan, Report, drive

from .transport import MPITransport

REPORT_EVERY = 0.5
"""Seconds between two progress reports of a rank (when someone listens)."""


def run_rank(comm, plan: Plan, *, batch_size: int = 1024, queue_size: int = 16,
             buffer_mb: int = 64, timeout: float = 0.0, announce: bool = False,
             trace: bool = False, report: Report | None = None, control: Control | None = None
             ) -> tuple[Outcome, list[dict]] | None:
    """Run the instances of ``plan`` placed on this rank of ``comm``.

    Returns, on rank 0, the merged :class:`d4p.Outcome` of all ranks and their
    tracing events (``trace``), and ``None`` elsewhere. ``queue_size`` bounds
    the messages in flight to each rank and ``buffer_mb`` the MiB a rank holds
    in flight plus received (backpressure); ``timeout`` (seconds, 0: none)
    ends waits for other ranks with :class:`d4p.WorkflowFailed`; ``report``
    hears this rank's progress every :data:`REPORT_EVERY` seconds; ``control``
    stops its sources gracefully or aborts it.
    A failure raises :class:`d4p.WorkflowFailed`; with ``announce`` the
    failing rank first tells the others, which raise the same failure (used
    when running in place under ``mpiexec``, where no parent process collects
    failures).
    """
    deadline = time.monotonic() + timeout if timeout else None
    transport = MPITransport(comm, window=queue_size, budget=buffer_mb << 20,
                             deadline=deadline)
    rank = comm.Get_rank()
    results: dict = {}
    counts: dict = {}
    events: list = []
    try:
        if rank < plan.processes:
            executor = Executor(plan, rank, transport=transport, batch_size=batch_size,
                                trace=trace)
            drive(executor, transport, control=control, report=report,
                  report_every=REPORT_EVERY)
            results, counts = executor.results, executor.counts()
            events = executor.take_events(final=True)
        transport.wait_request(comm.Ibarrier())
    except BaseException as exc:
        if announce and not getattr(exc, "announced", False):
            transport.announce(as_failure(exc, f"MPI rank {rank}"))
        raise
    try:
        gathered = comm.gather((results, counts, events, bool(control and control.limited)), 0)
    except Exception as exc:  # pickling this rank's part failed, or loading another's (root)
        from mpi4py import MPI

        unloaded = rank == 0 and not isinstance(exc, MPI.Exception)
        raise (executor.unsendable_results() if results else None) or (
            unloadable_results(plan, Unloadable(f"{type(exc).__name__}: {exc}"))
            if unloaded else exc) from None
    if rank != 0:
        return None
    merged = Gather()
    for k, (rank_results, rank_counts, _, limited) in enumerate(gathered):
        merged.add(k, rank_results, rank_counts)
        if limited:  # a source of rank k reached max_units: the summary says so
            control.limit_reached()
    return merged.outcome(), [e for _, _, ev, _ in gathered for e in ev]
