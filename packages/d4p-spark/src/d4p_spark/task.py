"""What runs on the Spark workers: one partition of one stage, through the
d4p executor behind a :class:`d4p.driver.Handoff` (so a source streams into
Spark as it writes). The package README tells the design ("How a workflow
becomes Spark jobs", "When a PE fails").

A stage partition yields *records*: ``(iid, port, units)`` for every batch its
instances send to an instance of a later stage, then one summary record
``(META, stage, partition, results, counts, error, events, limited)``: the
outputs of unconnected ports, the units processed per PE, the
:class:`d4p.D4PError` that stopped it (a PE's error is data, so Spark never
retries it), the timing events of a traced run and whether a source
reached ``max_units``. Summary records of upstream stages in the same Spark
job pass through, so one ``collect`` gathers those of the whole chain.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
import pickle
from collections.abc import Iterable, Iterator

from d4p import D4PError
from d4p.codec import Unloadable
from d4p.driver import Control, Data, EndOfStream, Handoff, Message, Transport, drive
from d4p.executor import BATCH_BYTES, Executor
from d4p.mapping import StopLine, keep_freed_memory
from d4p.plan import Plan
from d4p.tracing import pickled_size

from .stages import Stage

META = -1

_BACKLOG = 8
"""Batches a stage task may hold before its PEs wait for Spark to take them."""


class _Stream(Transport):
    """The executor's transport. What it receives is the partition's records:
    first those of the stage's broadcast 'all' inputs, then those routed to
    it, each as a :class:`~d4p.driver.Data` message, and at the end an
    :class:`~d4p.driver.EndOfStream` from every upstream instance in other
    stages (a stage's input ends only when every upstream stage has
    finished). Summary records of upstream stages pass straight to the
    output. Batches for later stages go to ``put`` (the task's handoff)."""

    def __init__(self, put, drop: frozenset) -> None:
        self.put = put
        self.records: Iterator[tuple] = iter(())
        self.ends: list[EndOfStream] | None = []
        self.drop = drop
        """(iid, port) of the copies for instances other than 0 of 'all' inputs."""

    def receive(self, timeout: float | None) -> list[tuple[Message, int]]:
        try:
            for batch in self.records:
                if batch[0] == META:
                    self.put([batch])
                else:
                    return [(Data([batch]), 0)]
        except Exception as exc:
            if loading(exc):  # the executor names the PEs that may have written it
                raise Unloadable(f"{type(exc).__name__}: {exc}") from exc
            raise
        if self.ends is None:
            raise RuntimeError("a stage task's input ended before its instances finished")
        ends, self.ends = self.ends, None
        return [(end, 0) for end in ends]

    def send(self, process: int, message) -> int | None:
        """Hands the batches on, as records of about :data:`BATCH_BYTES` or one
        unit each; returns their size, which sets how many units the executor
        batches next (so large arrays travel a few per record, not all of
        those for an instance in one at the end, past Spark's 2 GiB)."""
        if type(message) is not Data:
            return None
        batches = message.batches
        if self.drop:
            batches = [b for b in batches if (b[0], b[1]) not in self.drop]
            if not batches:
                return None
        try:
            size = _estimated_size(batches)
            records = [batches] if size <= 2 * BATCH_BYTES or sum(
                len(b[2]) for b in batches) == 1 else [
                [(iid, port, part)] for iid, port, units in batches for part in _parts(units)]
        except Exception:  # plain pickle cannot measure them (Spark's pickler says why, if
            self.put(batches)  # it cannot either; a class of the workflow file it can send)
            return None
        for record in records:
            self.put(record)
        return size


SAMPLE = 8
"""Units of a batch pickled to estimate its size (pickling all of a batch of
small units to measure it cost the word count 8%)."""


def _estimated_size(batches: list) -> int:
    """The pickled size of ``batches``, from up to :data:`SAMPLE` of their
    units spread over them (arrays are counted, not copied)."""
    units = [unit for _, _, part in batches for unit in part]
    if len(units) <= SAMPLE:
        return pickled_size(units)
    sample = units[::len(units) // SAMPLE][:SAMPLE]
    return pickled_size(sample) * len(units) // len(sample)


def _parts(units: list) -> Iterator[list]:
    """``units`` cut into lists of about :data:`BATCH_BYTES` (or one unit)."""
    part, size = [], 0
    for unit in units:
        n = pickled_size([unit])
        if part and size + n > BATCH_BYTES:
            yield part
            part, size = [], 0
        part.append(unit)
        size += n
    if part:
        yield part


class StageTask:
    """``mapPartitionsWithIndex`` function of a stage: partition *j* runs
    instance *j* of the stage's PEs over the records routed to it.

    ``drop`` is passed to the transport (see :class:`_Stream`); ``broadcast``
    is ``(Spark broadcast of pickled records, {iid of instance 0: iids of
    every instance})``: the records for this stage's 'all' inputs, which every
    partition reads first."""

    def __init__(self, plan: Plan, stage: Stage, batch_size: int, trace: bool = False,
                 drop: frozenset = frozenset(), broadcast: tuple | None = None,
                 in_worker: bool = True, stop: tuple[str | None, int | None] = (None, None)
                 ) -> None:
        self.plan = plan
        self.stage = stage
        self.batch_size = batch_size
        self.trace = trace
        self.drop = drop
        self.broadcast = broadcast
        self.in_worker = in_worker
        """False for a stage run in the driver: leave the user's process as it is."""
        self.stop_line, self.max_units = stop
        """The address of the driver's :class:`~d4p.mapping.StopLine`, and after
        how many units the sources stop."""

    def __call__(self, index: int, records: Iterable) -> Iterator[tuple]:
        if self.in_worker:
            keep_freed_memory()
        handoff = Handoff(functools.partial(self._life, index, records), _BACKLOG,
                          name=f"d4p stage {self.stage.number}.{index}")
        try:
            for batches in handoff:
                yield from batches
        finally:
            handoff.close()

    def _life(self, index: int, records: Iterable, put) -> None:
        """The instances' life cycle, in the task's executor thread; a bug (not
        a PE's error) is raised to the task, which fails."""
        plan, stage = self.plan, self.stage
        process = stage.first_process + index
        stream = _Stream(put, self.drop)
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
            control = Control(max_units=self.max_units)
            if self.stop_line is not None and stage.source is not None:
                StopLine.watch(self.stop_line, control)
            try:
                drive(executor, stream, control=control)
            finally:
                control.stop("the task ended")  # ends the watch
            for _ in stream.records:  # a source stage never reads its (empty) partition:
                pass  # PySpark reuses a Python worker only once its input is read to the end
            summary = (META, stage.number, index, executor.results, executor.counts(), None,
                       executor.take_events(final=True), control.limited)
        except D4PError as exc:
            counts, events = {}, []
            if executor is not None:
                counts, events = executor.counts(), executor.take_events(final=True)
            summary = (META, stage.number, index, {}, counts, exc, events, False)
        put([summary])

    def _shared(self, index: int) -> Iterator[tuple]:
        """The records of the stage's 'all' inputs, for partition ``index``."""
        if self.broadcast is None:
            return
        shared, instances = self.broadcast
        for iid, port, units in pickle.loads(shared.value):
            yield instances[iid][index], port, units


def loading(exc: BaseException) -> bool:
    """True when ``exc`` was raised while PySpark's serializer loaded a record
    (data that pickled in another task but does not load here)."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "loads" and code.co_filename.endswith("pyspark/serializers.py"):
            return True
        tb = tb.tb_next
    return False


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


class Kept:
    """Filter: summary records and the records whose (iid, port) is in ``keys``
    (those the driver collects: for a broadcast, or for a stage it runs)."""

    def __init__(self, keys: frozenset) -> None:
        self.keys = keys

    def __call__(self, record: tuple) -> bool:
        return record[0] == META or (record[0], record[1]) in self.keys
