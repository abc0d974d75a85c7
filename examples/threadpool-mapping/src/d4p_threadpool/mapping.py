"""The ``threadpool`` mapping: each process of the plan runs in a thread of
the calling process; the threads exchange batches of data units through
queues.

It is an example of a third-party mapping: it uses only the core's public API
(:class:`d4p.Mapping`, :class:`d4p.executor.Executor`, :func:`d4p.hookimpl`)
and supplies nothing but the transport, a queue per thread. The executor
does the rest: instances, routing, batching, end of stream, error messages
and, when the run is monitored, timing events for the tracer.

Threads share the GIL, so this mapping gains speed only where PEs release it
(NumPy, I/O); data units are passed by reference, never copied.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import d4p
from d4p.executor import Executor
from d4p.plan import Plan

_POLL = 0.05
"""Seconds a thread waits on its queue before it looks whether the run was stopped."""


class _Stopped(BaseException):
    """Raised inside a worker thread when another thread failed. Not an
    ``Exception``, so that the executor does not report it as a PE failure."""


class QueueTransport:
    """The executor's transport: ``send`` puts the message on the queue of the
    thread that runs ``process``."""

    def __init__(self, processes: int, stop: threading.Event) -> None:
        self.queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(processes)]
        self.stop = stop

    def send(self, process: int, message: tuple) -> None:
        if self.stop.is_set():  # a source writing many units per call stops here
            raise _Stopped
        self.queues[process].put(message)


class _Worker(threading.Thread):
    """Runs the instances of one process of the plan."""

    def __init__(self, plan: Plan, process: int, transport: QueueTransport,
                 stop: threading.Event, batch_size: int, finished: queue.SimpleQueue,
                 trace: bool) -> None:
        super().__init__(name=f"d4p-threadpool-{process}", daemon=True)
        self.plan, self.process, self.transport = plan, process, transport
        self.stop, self.batch_size, self.finished = stop, batch_size, finished
        self.trace = trace
        self.executor: Executor | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._enact()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the calling thread, which re-raises it
            self.error = exc
            self.stop.set()
        finally:
            self.finished.put(self)

    def _enact(self) -> None:
        executor = Executor(self.plan, self.process, transport=self.transport,
                            batch_size=self.batch_size, trace=self.trace)
        self.executor = executor
        inbox = self.transport.queues[self.process]

        def handle(message: tuple) -> None:
            if message[0] == "data":
                executor.receive(message[1])
            else:
                _, source, target = message
                executor.end_of_stream(source, target)

        def poll() -> None:
            if self.stop.is_set():
                raise _Stopped
            while True:
                try:
                    message = inbox.get_nowait()
                except queue.Empty:
                    return
                handle(message)

        executor.preprocess()
        executor.run_sources(between=poll)
        executor.flush()
        while not executor.done:
            if self.stop.is_set():
                raise _Stopped
            try:
                message = inbox.get(timeout=_POLL)
            except queue.Empty:
                continue
            handle(message)
            poll()
            executor.flush()


class ThreadPoolMapping(d4p.Mapping):
    """Runs each process of the plan in a thread; queues carry the batches."""

    name = "threadpool"
    description = "each process of the plan in a thread, queues between threads (example plugin)"
    options = (
        d4p.Option("batch_size", 256, "data units per message between threads", int),
    )
    default_processes = 2

    def run(self, plan: Plan, options: dict[str, Any]) -> d4p.Outcome:
        batch_size = options.get("batch_size", 256)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise d4p.UsageError(f"option 'batch_size' of mapping 'threadpool' must be a "
                                 f"positive integer, not {batch_size!r}")
        stop = threading.Event()
        transport = QueueTransport(plan.processes, stop)
        finished: queue.SimpleQueue = queue.SimpleQueue()
        tracer = options.get("tracer")
        workers = [_Worker(plan, p, transport, stop, batch_size, finished, tracer is not None)
                   for p in range(plan.processes)]
        progress = options.get("progress")
        running = 0
        try:
            for worker in workers:
                worker.start()
                running += 1
            while running:
                try:
                    worker = finished.get(timeout=0.5)
                except queue.Empty:
                    if progress is not None:
                        progress(_merge_counts(workers))
                    continue
                running -= 1
                if worker.error is not None:
                    break
        finally:
            if running:  # a worker failed, or the caller was interrupted: stop the others
                stop.set()
            for worker in workers:
                if worker.ident is not None:
                    worker.join()
            if tracer is not None:  # timing events, recorded from the calling thread
                for worker in workers:
                    if worker.executor is not None:
                        tracer.record(worker.executor.take_events(final=True))
        errors = [w.error for w in workers if w.error is not None]
        if errors:
            raise errors[0]
        return d4p.Outcome(_merge_results(workers), _merge_counts(workers))


def _merge_results(workers: list[_Worker]) -> dict[str, dict[str, list]]:
    merged: dict[str, dict[str, list]] = {}
    for w in workers:
        for pe, ports in w.executor.results.items():
            for port, units in ports.items():
                merged.setdefault(pe, {}).setdefault(port, []).extend(units)
    return merged


def _merge_counts(workers: list[_Worker]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in workers:
        if w.executor is not None:
            for pe, n in w.executor.counts().items():
                counts[pe] = counts.get(pe, 0) + n
    return counts


@d4p.hookimpl
def d4p_register_mappings():
    return [ThreadPoolMapping]
