"""The ``simple`` mapping: every instance in the calling process, in order.

Writes are direct calls from PE to PE, so a workflow runs about as fast as
plain Python calling the same methods.
"""

from __future__ import annotations

import threading

from ..mapping import Mapping, Outcome
from ..plugins import hookimpl


class SimpleMapping(Mapping):
    name = "simple"
    description = "sequential, in this process (for development and small runs)"

    max_processes = 1

    def run(self, plan, options):
        from ..driver import drive
        from ..executor import Executor

        tracer = options.get("tracer")
        executor = Executor(plan, 0, trace=tracer is not None)
        progress = options.get("progress")
        stop = threading.Event()
        if progress is not None:
            def report():
                while not stop.wait(0.5):
                    progress(executor.counts())
            threading.Thread(target=report, daemon=True).start()
        try:
            drive(executor, control=options.get("control"))
        finally:
            stop.set()
            if tracer is not None:
                tracer.record(executor.take_events(final=True))
        return Outcome(executor.results, executor.counts())


@hookimpl
def d4p_register_mappings():
    return [SimpleMapping]
