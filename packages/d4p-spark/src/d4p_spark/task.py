"""What runs on the Spark workers: one partition of one stage, through the
d4p executor.

A stage partition yields *records*: ``(iid, port, units)`` for every batch its
instances send to an instance of a later stage, then one summary record
``(META, stage, partition, results, counts, error, events)`` with the
outputs of unconnected ports, the units processed per PE, the
:class:`d4p.D4PError` that stopped it, if any, and the executor's timing
events when the run is traced. Summary records of upstream stages that run in the
same Spark job pass through to the stage's output, so one ``collect`` of the
last stage's summaries gathers those of the whole chain.

Batches for an 'all' input (see :func:`d4p_spark.stages.broadcast_inputs`)
are sent for its instance 0 only; the stage that reads them gets them from a
Spark broadcast of what the driver collected, and gives each partition's
instance its own copy.

A PE that raises is reported in that record, not as a failed Spark task, so
Spark never retries a deterministic user error and the driver raises the
original :class:`d4p.WorkflowFailed`.

The executor runs in a thread of the task and hands its batches over through a
small bounded queue, so a source that writes millions of units streams them
to Spark as it goes instead of holding them all in memory (the queue blocks
the PEs while Spark catches up).
"""

from __future__ import annotations

import copy
import ctypes
import itertools
import math
import pickle
import queue
import threading
from collections.abc import Iterable, Iterator

from d4p import D4PError
from d4p.driver import Data, EndOfStream, Message, Transport, drive
from d4p.executor import Executor
from d4p.plan import Plan

from .stages import Stage

META = -1

_BACKLOG = 8
"""Batches a stage task may hold before its PEs wait for Spark to take them."""


_malloc_tuned = False


def _keep_freed_memory() -> None:
    """Once per worker process (glibc only): serve blocks up to 32 MiB from the
    heap and keep up to 128 MiB of freed memory, instead of glibc's adaptive
    thresholds, which in a Spark worker often hand NumPy's MB-sized temporary
    arrays fresh pages from the kernel on every call (page faults that made an
    FFT cross-correlation 1.5 to 2.5 times slower, depending on the thread and
    the worker's history)."""
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD


class _Closed(Exception):
    """Spark stopped reading the task's output: the executor thread ends."""


class _Stream(Transport):
    """The executor's transport. What it receives is the partition's records:
    first those of the stage's broadcast 'all' inputs, then those routed to
    it, each as a :class:`~d4p.driver.Data` message, and at the end an
    :class:`~d4p.driver.EndOfStream` from every upstream instance in other
    stages (a stage's input ends only when every upstream stage has
    finished). Summary records of upstream stages pass straight to the
    output. Batches for later stages go into a bounded queue that the task's
    generator drains."""

    def __init__(self, drop: frozenset = frozenset()) -> None:
        self.queue: queue.Queue = queue.Queue(_BACKLOG)
        self.closed = threading.Event()
        self.records: Iterator[tuple] = iter(())
        self.ends: list[EndOfStream] | None = []
        self.drop = drop
        """(iid, port) of the copies for instances other than 0 of 'all' inputs."""

    def receive(self, timeout: float | None) -> list[tuple[Message, int]]:
        for batch in self.records:
            if batch[0] == META:
                self.put([batch])
            else:
                return [(Data([batch]), 0)]
        if self.ends is None:
            raise RuntimeError("a stage task's input ended before its instances finished")
        ends, self.ends = self.ends, None
        return [(end, 0) for end in ends]

    def send(self, process: int, message) -> None:
        if type(message) is not Data:
            return
        batches = message.batches
        if self.drop:
            batches = [b for b in batches if (b[0], b[1]) not in self.drop]
            if not batches:
                return
        self.put(batches)

    def put(self, item: list | BaseException | None) -> None:
        """Hand ``item`` to the task's generator: records to yield, an error to
        raise, or ``None`` at the end."""
        while True:
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self.closed.is_set():
                    raise _Closed from None


class StageTask:
    """``mapPartitionsWithIndex`` function of a stage: partition *j* runs
    instance *j* of the stage's PEs over the records routed to it.

    ``drop`` is passed to the transport (see :class:`_Stream`); ``broadcast``
    is ``(Spark broadcast of pickled records, {iid of instance 0: iids of
    every instance})``: the records for this stage's 'all' inputs, which every
    partition reads first."""

    def __init__(self, plan: Plan, stage: Stage, batch_size: int, trace: bool = False,
                 drop: frozenset = frozenset(), broadcast: tuple | None = None,
                 in_worker: bool = True) -> None:
        self.plan = plan
        self.stage = stage
        self.batch_size = batch_size
        self.trace = trace
        self.drop = drop
        self.broadcast = broadcast
        self.in_worker = in_worker
        """False for a stage run in the driver: leave the user's process as it is."""

    def __call__(self, index: int, records: Iterable) -> Iterator[tuple]:
        if self.in_worker:
            _keep_freed_memory()
        stream = _Stream(self.drop)
        worker = threading.Thread(target=self._life, args=(index, records, stream),
                                  name=f"d4p stage {self.stage.number}.{index}", daemon=True)
        worker.start()
        try:
            while (item := stream.queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            stream.closed.set()

    def _life(self, index: int, records: Iterable, stream: _Stream) -> None:
        """The instances' life cycle, in the task's executor thread."""
        plan, stage = self.plan, self.stage
        process = stage.first_process + index
        executor = None
        try:
            if stage.source is not None and isinstance(plan.inputs[stage.source], list):
                plan = copy.copy(plan)  # a worker may run several tasks on one plan object
                plan.inputs = {**plan.inputs, stage.source: list(records)}
                records = ()
            executor = Executor(plan, process, transport=stream, batch_size=self.batch_size,
                                latency=math.inf, trace=self.trace)
            stream.records = itertools.chain(self._shared(index), (b for _, b in records))
            stream.ends = [EndOfStream(source, target) for target in executor.local
                           for source in plan.upstream[target]
                           if plan.instances[source].process != process]
            drive(executor, stream)
            for _ in stream.records:  # a source stage never reads its (empty) partition:
                pass  # PySpark reuses a Python worker only once its input is read to the end
            summary = (META, stage.number, index, executor.results, executor.counts(), None,
                       executor.take_events(final=True))
        except _Closed:
            return
        except D4PError as exc:
            counts, events = {}, []
            if executor is not None:
                counts, events = executor.counts(), executor.take_events(final=True)
            summary = (META, stage.number, index, {}, counts, exc, events)
        except BaseException as exc:  # a bug, not a PE's error: the Spark task fails
            summary = exc
        try:
            stream.put(summary if isinstance(summary, BaseException) else [summary])
            stream.put(None)
        except _Closed:
            pass

    def _shared(self, index: int) -> Iterator[tuple]:
        """The records of the stage's 'all' inputs, for partition ``index``."""
        if self.broadcast is None:
            return
        shared, instances = self.broadcast
        for iid, port, units in pickle.loads(shared.value):
            yield instances[iid][index], port, units


class ForStage:
    """Picks the records bound for stage ``number``, keyed by the partition of
    their target instance (its instance index); passes summary records on (to
    partition 0) when ``summaries``. Records whose (iid, port) is in ``skip``
    (those the stage reads from a broadcast) stay behind."""

    def __init__(self, stage_of: tuple[int, ...], index_of: tuple[int, ...], number: int,
                 summaries: bool, skip: frozenset = frozenset()) -> None:
        self.stage_of = stage_of
        self.index_of = index_of
        self.number = number
        self.summaries = summaries
        self.skip = skip

    def __call__(self, records: Iterable[tuple]) -> Iterator[tuple[int, tuple]]:
        stage_of, index_of, number, skip = self.stage_of, self.index_of, self.number, self.skip
        for record in records:
            iid = record[0]
            if iid >= 0:
                if stage_of[iid] == number and not (skip and (iid, record[1]) in skip):
                    yield index_of[iid], record
            elif self.summaries:
                yield 0, record


class MetaOr:
    """Filter: summary records and the records whose (iid, port) is in ``keys``."""

    def __init__(self, keys: frozenset) -> None:
        self.keys = keys

    def __call__(self, record: tuple) -> bool:
        return record[0] == META or (record[0], record[1]) in self.keys


def by_index(key: int) -> int:
    """Partitioner: a record keyed *j* goes to partition *j*."""
    return key


def is_meta(record: tuple) -> bool:
    return record[0] == META
