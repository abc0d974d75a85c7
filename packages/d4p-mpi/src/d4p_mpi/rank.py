"""What every rank does: run its share of the plan through the core's
executor over the MPI transport, then gather results and counts on rank 0.

Ranks numbered ``plan.processes`` or more host nothing: they only take part
in the final barrier and gather, and exit cleanly.
"""

from __future__ import annotations

import time
import traceback

from d4p import Outcome, WorkflowFailed
from d4p.executor import Executor
from d4p.plan import Plan

from .transport import MPITransport

FLUSH_EVERY = 0.05
"""Seconds after which a source's partial batches are sent even if not full."""


def run_rank(comm, plan: Plan, *, batch_size: int = 256, queue_size: int = 16,
             timeout: float = 0.0, announce: bool = False) -> Outcome | None:
    """Run the instances of ``plan`` placed on this rank of ``comm``.

    Returns the merged :class:`d4p.Outcome` of all ranks on rank 0 and
    ``None`` elsewhere. ``queue_size`` bounds the messages in flight to
    each rank (backpressure); ``timeout`` (seconds, 0: none) ends waits for
    other ranks with :class:`d4p.WorkflowFailed`. A failure raises :class:`d4p.WorkflowFailed`; with
    ``announce`` the failing rank first tells the others, which raise the same
    failure (used when running in place under ``mpiexec``, where no parent
    process collects failures).
    """
    deadline = time.monotonic() + timeout if timeout else None
    transport = MPITransport(comm, window=queue_size, deadline=deadline)
    rank = comm.Get_rank()
    results: dict = {}
    counts: dict = {}
    try:
        if rank < plan.processes:
            executor = Executor(plan, rank, transport=transport, batch_size=batch_size)
            _run(executor, transport)
            results, counts = executor.results, executor.counts()
        transport.wait_request(comm.Ibarrier())
    except BaseException as exc:
        if announce and not getattr(exc, "announced", False):
            transport.announce(_as_failure(exc, rank))
        raise
    gathered = comm.gather((results, counts), root=0)
    if rank != 0:
        return None
    return merge(gathered)


def _run(executor: Executor, transport: MPITransport) -> None:
    executor.preprocess()
    last_flush = time.monotonic()

    def between() -> None:
        nonlocal last_flush
        transport.deliver(executor)
        now = time.monotonic()
        if now - last_flush > FLUSH_EVERY:
            executor.flush()
            last_flush = now

    executor.run_sources(between=between)
    while not executor.done:
        if not transport.deliver(executor):
            executor.flush()
            transport.wait_for_message()
    executor.flush()
    transport.drain()


def merge(gathered: list[tuple[dict, dict]]) -> Outcome:
    """One outcome from the per-rank ``(results, counts)``, in rank order."""
    results: dict[str, dict[str, list]] = {}
    counts: dict[str, int] = {}
    for rank_results, rank_counts in gathered:
        for pe, ports in rank_results.items():
            mine = results.setdefault(pe, {})
            for port, units in ports.items():
                mine.setdefault(port, []).extend(units)
        for pe, n in rank_counts.items():
            counts[pe] = counts.get(pe, 0) + n
    return Outcome(results, counts)


def _as_failure(exc: BaseException, rank: int) -> WorkflowFailed:
    if isinstance(exc, WorkflowFailed):
        return exc
    return WorkflowFailed(f"MPI rank {rank} failed: {type(exc).__name__}: {exc}",
                          traceback="".join(traceback.format_exception(exc)))
