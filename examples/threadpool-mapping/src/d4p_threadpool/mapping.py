"""The ``threadpool`` mapping: each worker of the plan in a thread of the calling process,
a queue as its inbox. An example third-party mapping: it uses only :mod:`d4p.mapping` and
supplies only the transport; core's driver does the rest. Threads share the GIL: faster
only where PEs release it (NumPy, I/O). Units are passed by reference."""

from __future__ import annotations

import queue
import threading

import d4p
from d4p.mapping import Transport


class QueueTransport(Transport):
    """A queue per worker; ``send`` never blocks, so nothing waits on anything."""

    def __init__(self, queues: list[queue.SimpleQueue], me: int, control) -> None:
        self.queues, self.inbox, self.control = queues, queues[me], control

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


class ThreadPoolMapping(d4p.Mapping):
    """Runs each worker of the plan in a thread; queues carry the messages."""

    name = "threadpool"
    description = "each process of the plan in a thread, queues between threads (example plugin)"
    options = (d4p.Option("batch_size", 256, "data units per message", int, min=1),)
    default_processes = 2

    def run(self, plan, options):
        from d4p.mapping import Executor, Gather, drive  # loaded when a run needs them

        control, gather = options["control"], Gather(options["progress"], options["tracer"])
        queues = [queue.SimpleQueue() for _ in range(plan.processes)]
        executors = [Executor(plan, k, transport=QueueTransport(queues, k, control),
                              batch_size=options["batch_size"], trace=gather.listening)
                     for k in range(plan.processes)]

        def work(executor: Executor) -> None:
            try:
                drive(executor, executor.transport, control=control)
            except d4p.errors.Aborted:
                pass
            except BaseException as exc:  # the calling thread raises it
                gather.fail(exc)
                control.abort("a worker failed")

        threads = [threading.Thread(target=work, args=(e,), daemon=True) for e in executors]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)
                    for k, executor in enumerate(executors):
                        gather.report(k, executor.counts())
        finally:
            if any(thread.is_alive() for thread in threads):  # the caller was interrupted
                control.abort("the run ended")
            for k, executor in enumerate(executors):
                gather.add(k, executor.results, executor.counts(), executor.take_events(True))
        return gather.outcome()


@d4p.hookimpl
def d4p_register_mappings():
    return [ThreadPoolMapping]
