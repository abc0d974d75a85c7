"""The ``spark`` mapping: a d4p plan as a chain of Spark RDD stages.

Each stage (a PE and the PEs fused to it, see :mod:`d4p_spark.stages`) is a
``mapPartitionsWithIndex`` over one partition per instance, running the PE
life cycle through the d4p executor (:mod:`d4p_spark.task`). Sources are
``parallelize`` of their input items in one partition. What a stage sends to a
later stage is a record tagged with the target instance; the later stage's
input is the union of those records from its upstream stages, partitioned by
the target's instance index (``partitionBy``; no shuffle at all when one
partition feeds one), which reproduces shuffle, group-by, 'all' and 'global'
exactly as the plan routes them.

An input with the 'all' grouping and several instances gets its units from a
Spark broadcast instead (``all_grouping="broadcast"``, the default): the
stages feeding it send one copy, which the driver collects and broadcasts
once, rather than one copy per instance through a shuffle (see
:mod:`d4p_spark.stages`).

A keyed aggregate (:mod:`d4p.aggregate`) reads the partial states that the
plan's partial aggregates send it through ``reduceByKey`` instead of
``partitionBy`` (see :mod:`d4p_spark.combine`): Spark merges them before and
after its shuffle, and the aggregate gets one state per key.

On a local master, a last stage of one instance that reads from one other,
parallel stage (a 'global' collector, say) runs in the driver (``final_pe="driver"``,
the default), like the end of a Spark action: its input is collected with the
job that computes the stage before it, which saves a Spark stage and its
tasks. Its PEs run exactly as in a task: same executor, errors and summary.

A chain of stages runs as one Spark job (each stage passes the summaries of
its upstream stages on, so one ``collect`` of the last stage's summaries
gathers them all). A stage that several stages read, or that feeds a
broadcast, is computed by a job of its own first (persisted when a later
stage reads it through a shuffle), so no PE runs twice; stages that end the
workflow are collected at the same time.
"""

from __future__ import annotations

import pickle
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from d4p import D4PError, GraphError, Mapping, Option, Outcome, WorkflowFailed
from d4p.plan import Plan

from . import cluster, session, shipping
from .combine import combinable, merge_states
from .stages import Layout, broadcast_inputs, layout
from .task import META, ForStage, MetaOr, StageTask, by_index, is_meta


class SparkMapping(Mapping):
    """Runs the workflow on Apache Spark (pyspark), ``local[*]`` unless told."""

    name = "spark"
    description = "Apache Spark: each PE a mapPartitions stage, groupings as partitioners"
    options = (
        Option("master", None, "Spark master URL: local[*], local[4], spark://host:7077, yarn "
               "(default: the running SparkContext, else local[*])"),
        Option("conf", (), "a Spark setting key=value, such as spark.executor.memory=2g "
               "(repeatable)", multiple=True),
        Option("py_files", (), "a .py, .zip or .egg file (or package directory) the workers "
               "need besides the workflow's own modules, which are shipped automatically "
               "(repeatable)", multiple=True),
        Option("batch_size", 1024, "data units per record sent between stages", type=int,
               min=1),
        Option("all_grouping", "broadcast", "how the units of an input with the 'all' grouping "
               "reach its instances: broadcast (sent once, through the driver, which holds "
               "them all for a moment) or shuffle (one copy per instance written by the "
               "sender: for streams larger than the driver's memory)",
               choices=("broadcast", "shuffle")),
        Option("final_pe", "driver", "where the last stage runs on a local master when it is "
               "one instance reading from one other stage (a 'global' collector): driver (its "
               "input is collected to the driver, like a Spark action's result: one Spark "
               "stage less) or spark (a Spark stage of its own, as on a cluster)",
               choices=("driver", "spark")),
    )
    default_processes = 1
    """Spark's parallelism comes from the PEs' instances (``numprocesses``) and the
    master's cores; the number of processes is not used."""

    def run(self, plan: Plan, options: dict[str, Any]) -> Outcome:
        batch_size = options.get("batch_size", 1024)
        _quiet_py4j_on_interrupt()
        sc = session.get_context(options.get("master"), options.get("conf"))
        shipping.ship(sc, session.is_local(sc.master), options.get("py_files"))
        if not session.is_local(sc.master):
            cluster.warn_local_files(plan, sc.master)
        return _Run(sc, layout(plan), batch_size, options.get("progress"),
                    options.get("tracer"),
                    broadcast=options.get("all_grouping", "broadcast") == "broadcast",
                    final_on_driver=options.get("final_pe", "driver") == "driver"
                    and session.is_local(sc.master)).run()


def _quiet_py4j_on_interrupt() -> None:
    """py4j logs an ERROR with a traceback when Ctrl-C or a second SIGTERM
    interrupts a call to the JVM; d4p reports the interrupt in one line."""
    import logging

    for name in ("", "py4j.clientserver", "py4j.java_gateway"):  # py4j logs on both
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoInterrupts) for f in logger.filters):
            logger.addFilter(_NoInterrupts())


class _NoInterrupts:
    """Drops log records about an exception caused by an interrupt."""

    def filter(self, record) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, KeyboardInterrupt):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


class _Run:
    """One enactment: builds the RDD of every stage, then runs the Spark jobs."""

    def __init__(self, sc, lay: Layout, batch_size: int, progress, tracer,
                 broadcast: bool = True, final_on_driver: bool = False) -> None:
        self.sc = sc
        self.layout = lay
        self.batch_size = batch_size
        self.progress = progress
        self.tracer = tracer
        plan = lay.plan
        self.index_of = tuple(i.index for i in plan.instances)
        self.rdds: dict[int, Any] = {}
        self.kept: list = []  # persisted RDDs
        self.shared: list = []  # broadcasts
        self.results: dict[str, dict[str, list]] = {}
        self.counts: dict[str, int] = {}
        self.failures: list[tuple[int, int, D4PError]] = []

        inputs = broadcast_inputs(plan) if broadcast else {}
        self.drop = frozenset((iid, port) for (_, port), iids in inputs.items()
                              for iid in iids[1:])
        self.collected = frozenset((iids[0], port) for (_, port), iids in inputs.items())
        self.instances_of = {iids[0]: iids for iids in inputs.values()}
        stage_number = {pe: s.number for s in lay.stages for pe in s.pes}
        self.shuffled_from: list[set[int]] = [set() for _ in lay.stages]
        self.broadcast_from: list[set[int]] = [set() for _ in lay.stages]
        for r in plan.routes:
            a, b = stage_number[r.src_pe], stage_number[r.dst_pe]
            if a != b:
                via = self.broadcast_from if (r.dst_pe, r.dst_port) in inputs else \
                    self.shuffled_from
                via[b].add(a)
        self.first = {s.number for s in lay.stages if len(s.downstream) > 1
                      or any(s.number in b for b in self.broadcast_from)}
        """Stages computed by a job of their own before the stages that read them."""
        self.on_driver = {
            s.number for s in lay.stages
            if final_on_driver and s.width == 1 and not s.downstream and s.source is None
            and len(s.upstream) == 1 and not self.broadcast_from[s.number]
            and lay.stages[s.upstream[0]].downstream == (s.number,)
            and lay.stages[s.upstream[0]].width > 1}
        """Last stages that run in the driver, on the records collected from the stage
        before them (which is never a 'first' stage: it has one downstream stage and
        no broadcast inputs). Not after a stage of one partition: that one feeds
        them in the same Spark task already, streaming."""
        self.collected |= {(r.targets[0], r.dst_port) for r in plan.routes
                           if stage_number[r.dst_pe] in self.on_driver}
        self.gathered: dict[int, list] = {}
        """Stage → records collected for it: for its 'all' inputs or to run it in the driver."""

    def run(self) -> Outcome:
        stages = self.layout.stages
        done: set[int] = set()
        try:
            for s in stages:
                for u in sorted(set(s.upstream) & self.first - done):
                    self._merge(self._collect(u))
                    done.add(u)
                    if self.failures:  # nothing downstream of a failed PE runs
                        break
                if self.failures:
                    break
                if s.number not in self.on_driver:
                    self.rdds[s.number] = self._stage(s.number)
            else:
                self._collect_all([s.number for s in stages if not s.downstream])
        finally:
            for rdd in self.kept:
                rdd.unpersist(blocking=False)
            for shared in self.shared:
                shared.destroy(blocking=False)
        if self.failures:
            raise min(self.failures, key=lambda f: f[:2])[2]
        return Outcome(self.results, self.counts, placement=self.layout.plan)

    def _collect_all(self, numbers: list[int]) -> None:
        """Run the jobs ending with stages ``numbers`` at the same time."""
        if len(numbers) == 1:
            self._merge(self._job(numbers[0]))
            return
        with ThreadPoolExecutor(len(numbers)) as pool:
            for summaries in pool.map(self._job, numbers):
                self._merge(summaries)

    def _job(self, number: int) -> list[tuple]:
        """The summaries of the job that ends with stage ``number``."""
        if number not in self.on_driver:
            return self._collect(number)
        summaries = self._collect(self.layout.stages[number].upstream[0])
        if any(m[5] is not None for m in summaries):  # nothing downstream of a failed PE runs
            return summaries
        records = ((0, r) for r in self.gathered.pop(number, ()))
        task = StageTask(self.layout.plan, self.layout.stages[number], self.batch_size,
                         trace=self.tracer is not None, in_worker=False)
        return summaries + [r for r in task(0, records) if r[0] == META]

    def _stage(self, number: int):
        """The output RDD of stage ``number``, reading the RDDs of its upstream
        stages and the broadcast of the records collected for it; persisted
        when it is computed first and a later stage reads it through a shuffle."""
        from pyspark import StorageLevel

        sc, lay = self.sc, self.layout
        stage = lay.stages[number]
        plan = lay.plan
        upstream = sorted(self.shuffled_from[number])
        if stage.source is not None:
            given = plan.inputs[stage.source]
            rdd = sc.parallelize(given if isinstance(given, list) else [], 1)
        elif not upstream:
            rdd = sc.parallelize([], stage.width)
        else:
            parts = [self.rdds[u].mapPartitions(
                ForStage(lay.stage_of, self.index_of, number, summaries=u not in self.first,
                         skip=self.collected))
                for u in upstream]
            rdd = parts[0] if len(parts) == 1 else sc.union(parts)
            aggregate = combinable(plan, stage)
            if stage.width == 1 and rdd.getNumPartitions() == 1:
                pass  # one partition feeds one: no shuffle, same task
            elif aggregate is not None:  # Spark merges the partial states by key
                rdd = merge_states(rdd, aggregate, stage, plan.by_pe[stage.pes[0]],
                                   self.batch_size)
            else:
                rdd = rdd.partitionBy(stage.width, by_index)
        shared = None
        if self.broadcast_from[number]:
            from pyspark import cloudpickle

            # pickled here as Spark pickles records (a broadcast would use plain
            # pickle, which cannot send objects of the workflow's own modules)
            records = cloudpickle.dumps(self.gathered.pop(number, []), pickle.HIGHEST_PROTOCOL)
            shared = (sc.broadcast(records), self.instances_of)
            self.shared.append(shared[0])
        out = rdd.mapPartitionsWithIndex(
            StageTask(plan, stage, self.batch_size, trace=self.tracer is not None,
                      drop=self.drop, broadcast=shared))
        try:
            out.setName(f"d4p stage {number}: {lay.describe(number)}")  # pickles the task
        except pickle.PicklingError as exc:
            raise self._translate(number, exc) from None
        if number in self.first and any(number in s for s in self.shuffled_from):
            out.persist(StorageLevel.MEMORY_AND_DISK)
            self.kept.append(out)
        return out

    def _collect(self, number: int) -> list[tuple]:
        """Run the job that computes stage ``number``: its summaries (and those
        of the stages it computes), after keeping the records it sends to
        broadcasts or to a stage that runs in the driver."""
        keep = MetaOr(self.collected) if self.collected and (
            number in self.first or any(d in self.on_driver for d in
                                        self.layout.stages[number].downstream)) else is_meta
        try:
            records = self.rdds[number].filter(keep).collect()
        except Exception as exc:
            raise self._translate(number, exc) from None
        if keep is is_meta:
            return records
        summaries = []
        for record in records:
            if record[0] == META:
                summaries.append(record)
            else:
                self.gathered.setdefault(self.layout.stage_of[record[0]], []).append(record)
        return summaries

    def _merge(self, summaries: list[tuple]) -> None:
        summaries.sort(key=lambda m: m[1:3])
        for _, stage, index, results, counts, failure, events in summaries:
            if events and self.tracer is not None:
                self.tracer.record(events)
            for pe, n in counts.items():
                self.counts[pe] = self.counts.get(pe, 0) + n
            for pe, ports in results.items():
                mine = self.results.setdefault(pe, {})
                for port, units in ports.items():
                    mine.setdefault(port, []).extend(units)
            if failure is not None:
                self.failures.append((stage, index, failure))
        if self.progress is not None:
            self.progress(dict(self.counts))

    def _translate(self, number: int, exc: Exception) -> D4PError:
        """A Spark failure as a d4p error: the Python traceback, not the Java one."""
        text = str(exc)
        if isinstance(exc, pickle.PicklingError) or "could not serialize" in text.lower():
            culprit = _unpicklable(self.layout.plan)
            if culprit is not None:
                pe, reason = culprit
                return GraphError(f"PE {pe!r} cannot be sent to the Spark workers ({reason}); "
                                  "create resources such as open files, locks or connections "
                                  "in preprocess()")
        pes = self._job_pes(number)
        traceback = _python_traceback(text)
        if "exited unexpectedly" in text:
            what = "a Spark Python worker died (os._exit, a crash or out of memory)"
        else:
            what = "a Spark task failed"
        reason = traceback.strip().splitlines()[-1] if traceback else _spark_reason(text)
        return WorkflowFailed(f"{what} running PE {', '.join(pes)}: {reason}",
                              pe=pes[0] if len(pes) == 1 else None, traceback=traceback)

    def _job_pes(self, number: int) -> list[str]:
        """The PEs that the Spark job collecting stage ``number`` runs: the stage
        and the upstream stages it computes (those not shared, hence not persisted)."""
        stages, hidden = self.layout.stages, self.layout.plan.hidden
        todo, seen = [number], set()
        while todo:
            n = todo.pop()
            seen.add(n)
            todo += [u for u in stages[n].upstream if u not in seen and u not in self.first]
        pes = [p for n in sorted(seen) for p in stages[n].pes if p not in hidden]
        return pes or list(stages[number].pes)


def _python_traceback(text: str) -> str:
    start = text.find("Traceback (most recent call last):")
    if start < 0:
        return ""
    lines = []
    for line in text[start:].splitlines():
        if re.match(r"\s+at [\w.$]+\(", line) or line.startswith("\tat "):
            break
        line = re.sub(r"\s*SQLSTATE: \w+$", "", line)  # Spark's error class, not Python's
        if line.strip():
            lines.append(line)
    return "\n".join(lines).rstrip() + "\n"


def _spark_reason(text: str) -> str:
    """The cause of a failed Spark job, without Java class names and stacks."""
    found = re.search(r"most recent failure: .*?\): (.*)", text)
    line = found[1] if found else next((t for t in text.splitlines() if t.strip()), "")
    line = re.sub(r"^([\w$]+\.)+[\w$]+(Exception|Error): ", "", line.strip())
    return line.split(". Consider setting")[0].rstrip(" :")[:300] or "unknown error"


def _unpicklable(plan: Plan) -> tuple[str, str] | None:
    from pyspark import cloudpickle

    for pe_id, pe in plan.pes.items():
        try:
            cloudpickle.dumps(pe)
        except Exception as exc:
            return pe_id, f"{type(exc).__name__}: {exc}"
    return None
