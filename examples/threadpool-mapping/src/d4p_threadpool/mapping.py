"""The ``threadpool`` mapping: each worker of the plan runs in a thread of
the calling process; the threads exchange messages through queues.

An example of a third-party mapping: it uses only the core's public API
(:class:`d4p.Mapping`, :mod:`d4p.driver`, :class:`d4p.executor.Executor`)
and supplies nothing but the transport, a queue per thread. Core's driver
does the rest: instances, routing, batching, end of stream, errors and
timing events. Threads share the GIL, so this gains speed only where PEs
release it (NumPy, I/O); data units are passed by reference, never copied.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any

import d4p

if TYPE_CHECKING:
    from d4p.driver import Control
    from d4p.executor import Executor
    from d4p.plan import Plan


class QueueTransport:
    """A queue per worker; ``send`` never blocks, so nothing waits on anything."""

    def __init__(self, queues: list[queue.SimpleQueue], me: int, control: Control) -> None:
        self.queues, self.inbox, self.control = queues, queues[me], control

    def start(self, absorb) -> None:
        pass

    def send(self, worker: int, message) -> None:
        self.control.check()  # another thread failed: end here
        self.queues[worker].put(message)

    def receive(self, timeout: float | None) -> list:
        try:
            got = [(self.inbox.get(timeout=timeout), 0)] if timeout else []
        except queue.Empty:
            return []
        while not self.inbox.empty():
            got.append((self.inbox.get(), 0))
        return got

    def release(self, nbytes: int) -> None:
        pass

    def close(self) -> None:
        pass


class ThreadPoolMapping(d4p.Mapping):
    """Runs each worker of the plan in a thread; queues carry the messages."""

    name = "threadpool"
    description = "each process of the plan in a thread, queues between threads (example plugin)"
    options = (d4p.Option("batch_size", 256, "data units per message between threads", int,
                          min=1),)
    default_processes = 2

    def run(self, plan: Plan, options: dict[str, Any]) -> d4p.Outcome:
        # imported here, not at the top: d4p imports this module whenever it lists mappings
        from d4p.driver import Control, drive
        from d4p.executor import Executor

        control, trace = Control(), options.get("tracer") is not None
        queues = [queue.SimpleQueue() for _ in range(plan.processes)]
        executors = [Executor(plan, k, transport=QueueTransport(queues, k, control),
                              batch_size=options["batch_size"], trace=trace)
                     for k in range(plan.processes)]
        errors: list[BaseException] = []

        def work(executor: Executor) -> None:
            try:
                drive(executor, executor.transport, control=control)
            except d4p.errors.Aborted:
                pass
            except BaseException as exc:  # handed to the calling thread, which raises it
                errors.append(exc)
                control.abort("a worker failed")

        threads = [threading.Thread(target=work, args=(e,), daemon=True) for e in executors]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)
                    if options.get("progress") is not None:
                        options["progress"](_counts(executors))
        finally:
            control.abort("the run ended")
            if trace:
                for executor in executors:
                    options["tracer"].record(executor.take_events(final=True))
        if errors:
            raise errors[0]
        results: dict[str, dict[str, list]] = {}
        for executor in executors:
            for pe, ports in executor.results.items():
                for port, units in ports.items():
                    results.setdefault(pe, {}).setdefault(port, []).extend(units)
        return d4p.Outcome(results, _counts(executors))


def _counts(executors: list[Executor]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for executor in executors:
        for pe, n in executor.counts().items():
            counts[pe] = counts.get(pe, 0) + n
    return counts


@d4p.hookimpl
def d4p_register_mappings():
    return [ThreadPoolMapping]
