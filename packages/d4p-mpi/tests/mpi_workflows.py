"""Workflows of the d4p-mpi tests. The PEs live at the top level of this file
so that the MPI ranks can load them (the launcher ships this file's path)."""

from __future__ import annotations

import os
import signal
import time

import d4p
import numpy as np


class Numbers(d4p.ProducerPE):
    """Writes 0 .. n-1 in a single call (so all its sends happen inside PE code)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def _process(self, inputs):
        for i in range(self.n):
            self.write("output", i)


class Fragile(d4p.IterativePE):
    """Doubles its input; fails on ``bad``."""

    def __init__(self, bad: int) -> None:
        super().__init__()
        self.bad = bad

    def _process(self, data):
        if data == self.bad:
            raise ValueError(f"cannot take {data}")
        return 2 * data


class Suicidal(d4p.IterativePE):
    """Kills its own rank with SIGKILL on ``fatal`` (or exits with status
    ``exit``), after writing ``(rank, instance)`` to the file ``record``."""

    def __init__(self, fatal: int, record: str = "", exit: int = 0) -> None:
        super().__init__()
        self.fatal, self.record, self.exit = fatal, record, exit

    def _process(self, data):
        if data == self.fatal:
            if self.record:
                with open(self.record, "w") as out:
                    out.write(f"{os.environ['PMI_RANK']} {self.instance}")
            if self.exit:
                os._exit(self.exit)
            os.kill(os.getpid(), signal.SIGKILL)
        return data


class Sleeper(d4p.IterativePE):
    """Sleeps ``seconds`` on every unit."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def _process(self, data):
        time.sleep(self.seconds)
        return data


class Total(d4p.GenericPE):
    """Sums its inputs; writes ``(instance, total, count)`` at the end."""

    def __init__(self) -> None:
        super().__init__()
        self._add_input("input")
        self._add_output("output")
        self.total = 0
        self.count = 0

    def process(self, inputs):
        self.total += inputs["input"]
        self.count += 1

    def postprocess(self):
        self.write("output", (self.instance, self.total, self.count))


class Arrays(d4p.ProducerPE):
    """Writes ``n`` float64 arrays of ``size`` elements, array k filled with k."""

    def __init__(self, n: int, size: int) -> None:
        super().__init__()
        self.n, self.size = n, size

    def _process(self, inputs):
        for k in range(self.n):
            self.write("output", np.full(self.size, float(k)))


class ArrayStats(d4p.IterativePE):
    """Writes ``(first value, sum, length, writeable)`` of each array."""

    def _process(self, data):
        return (float(data[0]), float(data.sum()), len(data), bool(data.flags.writeable))


def failing(n: int = 1000, bad: int = 500) -> tuple[d4p.WorkflowGraph, dict]:
    """numbers → fragile (2 instances) → total; fragile fails on ``bad``."""
    graph = d4p.WorkflowGraph()
    numbers, fragile, total = Numbers(n), Fragile(bad), Total()
    fragile.numprocesses = 2
    graph.connect(numbers, "output", fragile, "input")
    graph.connect(fragile, "output", total, "input")
    return graph, {numbers: 1}


def killing(n: int = 1000, fatal: int = 300, record: str = "", exit: int = 0
            ) -> tuple[d4p.WorkflowGraph, dict]:
    """numbers → suicidal (2 instances) → total; a rank dies on ``fatal``."""
    graph = d4p.WorkflowGraph()
    numbers, suicidal, total = Numbers(n), Suicidal(fatal, record, exit), Total()
    suicidal.numprocesses = 2
    graph.connect(numbers, "output", suicidal, "input")
    graph.connect(suicidal, "output", total, "input")
    return graph, {numbers: 1}


def sleeping(seconds: float = 1000.0) -> tuple[d4p.WorkflowGraph, dict]:
    """numbers → sleeper (2 instances) → total, where the sleeper never ends in time."""
    graph = d4p.WorkflowGraph()
    numbers, sleeper, total = Numbers(4), Sleeper(seconds), Total()
    sleeper.numprocesses = 2
    graph.connect(numbers, "output", sleeper, "input")
    graph.connect(sleeper, "output", total, "input")
    return graph, {numbers: 1}


def crossing(n: int = 20_000) -> tuple[d4p.WorkflowGraph, dict]:
    """Two independent producer → total pairs; on two processes each producer
    and the total it feeds land on different ranks, so the ranks send to each
    other at the same time from inside PE code."""
    graph = d4p.WorkflowGraph()
    a, b = Numbers(n), Numbers(n)
    ta, tb = Total(), Total()
    ta.numprocesses = tb.numprocesses = 2
    graph.connect(a, "output", ta, "input")
    graph.connect(b, "output", tb, "input")
    return graph, {a: 1, b: 1}


def arrays(n: int = 20, size: int = 50_000) -> tuple[d4p.WorkflowGraph, dict]:
    """arrays → stats (2 instances): NumPy arrays between ranks."""
    graph = d4p.WorkflowGraph()
    source, stats = Arrays(n, size), ArrayStats()
    stats.numprocesses = 2
    graph.connect(source, "output", stats, "input")
    return graph, {source: 1}


class Printer(d4p.ConsumerPE):
    """Prints every unit with its instance."""

    def _process(self, data):
        print(f"unit {data} on instance {self.instance}")


def printing(n: int = 5) -> tuple[d4p.WorkflowGraph, dict]:
    graph = d4p.WorkflowGraph()
    printer = Printer()
    printer.numprocesses = 2
    graph.connect(Numbers(n), "output", printer, "input")
    return graph, {}


def stuck(seconds: float = 1000.0) -> tuple[d4p.WorkflowGraph, dict]:
    """numbers → sleeper on one process: nothing waits for a message, the
    only rank is inside PE code."""
    graph = d4p.WorkflowGraph()
    graph.connect(Numbers(3), "output", Sleeper(seconds), "input")
    return graph, {}


class MarkAtEnd(d4p.ConsumerPE):
    """Takes anything; its postprocess leaves the file ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def _process(self, data):
        pass

    def postprocess(self):
        open(self.path, "w").close()  # noqa: SIM115


def endless_marking(path: str) -> tuple[d4p.WorkflowGraph, dict]:
    """An endless source → :class:`MarkAtEnd` on one process: nothing waits
    for a message, so only the launcher ends it."""
    from d4p.testing.workflows import Endless

    graph = d4p.WorkflowGraph()
    graph.connect(Endless(), "output", MarkAtEnd(path), "input")
    return graph, {}


class Repeat(d4p.ProducerPE):
    """Writes ``text`` ``times`` times in a single call."""

    def __init__(self, text: str, times: int) -> None:
        super().__init__()
        self.text = text
        self.times = times

    def _process(self, inputs):
        for _ in range(self.times):
            self.write("output", self.text)


class Environment(d4p.IterativePE):
    """Writes (its instance, the value of the environment variable its input names)."""

    def _process(self, name):
        return (self.instance, os.environ.get(name))


def environment(name: str, instances: int = 2) -> tuple[d4p.WorkflowGraph, dict]:
    """The value of variable ``name`` as seen by ``instances`` instances."""
    graph = d4p.WorkflowGraph()
    probe = Environment()
    probe.numprocesses = instances
    graph.connect(Repeat(name, instances), "output", probe, "input")
    return graph, {}


class Poison:
    """Pickles, but raises when loaded (its ``__setstate__``)."""

    def __init__(self) -> None:
        self.state = 1

    def __setstate__(self, state):
        raise ValueError("Poison does not load")


class Poisoner(d4p.GenericPE):
    """Writes a :class:`Poison` at unit ``at``, between two pauses of
    ``seconds``: its rank takes no input meanwhile, so its feeder waits to send."""

    def __init__(self, at: int, seconds: float) -> None:
        super().__init__()
        self._add_input("input")
        self._add_output("output")
        self.at, self.seconds, self.seen = at, seconds, 0

    def process(self, inputs):
        self.seen += 1
        if self.seen == self.at:
            time.sleep(self.seconds)
            self.write("output", Poison())
            time.sleep(self.seconds)


def poisoned(n: int = 40) -> tuple[d4p.WorkflowGraph, dict]:
    """arrays (1 MiB) → poisoner → a sink on the arrays' rank: the poison
    reaches that rank while its source waits to send (with a small
    ``buffer_mb``)."""
    graph = d4p.WorkflowGraph()
    source, poisoner, sink = Arrays(n, 1 << 17), Poisoner(3, 2.0), Total()
    graph.connect(source, "output", poisoner, "input")
    graph.connect(poisoner, "output", sink, "input")
    graph.partitions = [[source, sink], [poisoner]]
    return graph, {source: 1}
