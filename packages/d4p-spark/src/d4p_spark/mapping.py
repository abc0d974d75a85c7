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

A chain of stages runs as one Spark job (each stage passes the summaries of
its upstream stages on, so one ``collect`` of the last stage's summaries
gathers them all). A stage that several stages read is persisted and computed
by a job of its own first, so no PE runs twice; stages that end the workflow
are collected at the same time.
"""

from __future__ import annotations

import pickle
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from d4p import D4PError, GraphError, Mapping, Option, Outcome, UsageError, WorkflowFailed
from d4p.plan import Plan

from . import session, shipping
from .stages import Layout, layout
from .task import ForStage, StageTask, by_index, is_meta


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
        Option("batch_size", 1024, "data units per record sent between stages", type=int),
    )
    default_processes = 1
    """Spark's parallelism comes from the PEs' instances (``numprocesses``) and the
    master's cores; the number of processes is not used."""

    def run(self, plan: Plan, options: dict[str, Any]) -> Outcome:
        batch_size = options.get("batch_size", 1024)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise UsageError(f"option 'batch_size' of mapping 'spark' must be a positive "
                             f"integer, not {batch_size!r}")
        sc = session.get_context(options.get("master"), options.get("conf"))
        shipping.ship(sc, session.is_local(sc.master), options.get("py_files"))
        return _Run(sc, layout(plan), batch_size, options.get("progress"),
                    options.get("tracer")).run()


class _Run:
    """One enactment: builds the RDD of every stage, then runs the Spark jobs."""

    def __init__(self, sc, lay: Layout, batch_size: int, progress, tracer) -> None:
        self.sc = sc
        self.layout = lay
        self.batch_size = batch_size
        self.progress = progress
        self.tracer = tracer
        self.index_of = tuple(i.index for i in lay.plan.instances)
        self.rdds: dict[int, Any] = {}
        self.kept: list = []
        self.results: dict[str, dict[str, list]] = {}
        self.counts: dict[str, int] = {}
        self.failures: list[tuple[int, int, D4PError]] = []

    def run(self) -> Outcome:
        stages = self.layout.stages
        shared = [s.number for s in stages if len(s.downstream) > 1]
        try:
            for s in stages:
                self.rdds[s.number] = self._stage(s.number, s.number in shared)
            for number in shared:  # computed once, before the stages that read them
                self._merge(self._collect(number))
                if self.failures:  # nothing downstream of a failed PE runs
                    break
            else:
                self._collect_all([s.number for s in stages if not s.downstream])
        finally:
            for rdd in self.kept:
                rdd.unpersist(blocking=False)
        if self.failures:
            raise min(self.failures, key=lambda f: f[:2])[2]
        return Outcome(self.results, self.counts, placement=self.layout.plan)

    def _collect_all(self, numbers: list[int]) -> None:
        """Run the jobs ending with stages ``numbers`` at the same time."""
        if len(numbers) == 1:
            self._merge(self._collect(numbers[0]))
            return
        with ThreadPoolExecutor(len(numbers)) as pool:
            for summaries in pool.map(self._collect, numbers):
                self._merge(summaries)

    def _stage(self, number: int, shared: bool):
        """The output RDD of stage ``number``, reading the RDDs of its upstream
        stages; a ``shared`` one is persisted (several stages read it)."""
        from pyspark import StorageLevel

        sc, lay = self.sc, self.layout
        stage = lay.stages[number]
        plan = lay.plan
        if stage.source is not None:
            given = plan.inputs[stage.source]
            rdd = sc.parallelize(given if isinstance(given, list) else [], 1)
        elif not stage.upstream:
            rdd = sc.parallelize([], stage.width)
        else:
            parts = [self.rdds[u].mapPartitions(
                ForStage(lay.stage_of, self.index_of, number,
                         summaries=len(lay.stages[u].downstream) == 1))
                for u in stage.upstream]
            rdd = parts[0] if len(parts) == 1 else sc.union(parts)
            if stage.width == 1 and rdd.getNumPartitions() == 1:
                pass  # one partition feeds one: no shuffle, same task
            else:
                rdd = rdd.partitionBy(stage.width, by_index)
        out = rdd.mapPartitionsWithIndex(
            StageTask(plan, stage, self.batch_size, trace=self.tracer is not None))
        try:
            out.setName(f"d4p stage {number}: {lay.describe(number)}")  # pickles the task
        except pickle.PicklingError as exc:
            raise self._translate(number, exc) from None
        if shared:
            out.persist(StorageLevel.MEMORY_AND_DISK)
            self.kept.append(out)
        return out

    def _collect(self, number: int) -> list[tuple]:
        try:
            return self.rdds[number].filter(is_meta).collect()
        except Exception as exc:
            raise self._translate(number, exc) from None

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
            todo += [u for u in stages[n].upstream
                     if u not in seen and len(stages[u].downstream) == 1]
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
