"""The Spark job of one run of the ``spark`` mapping: the RDD of every stage
and the Spark jobs that compute them (see :mod:`d4p_spark.mapping`)."""

from __future__ import annotations

import contextlib
import os
import pickle
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from d4p import D4PError, Outcome, PEUsageError, WorkflowFailed, shipping
from d4p.codec import Unloadable
from d4p.executor import unloadable_results
from d4p.mapping import Gather, StopLine

from .combine import fed_partials, merge_states
from .stages import Layout, broadcast_inputs
from .task import META, ForStage, Kept, StageTask, loading


class Run:
    """One enactment: builds the RDD of every stage, then runs the Spark jobs."""

    def __init__(self, sc, lay: Layout, batch_size: int, progress, tracer,
                 broadcast: bool = True, local: bool = False, control=None) -> None:
        self.sc = sc
        self.layout = lay
        self.batch_size = batch_size
        self.tracer = tracer
        plan = lay.plan
        self.index_of = tuple(i.index for i in plan.instances)
        self.rdds: dict[int, Any] = {}
        self.kept: list = []  # persisted RDDs
        self.shared: list = []  # broadcasts
        self.gather = Gather(progress, tracer)
        self.control = control
        self.local = local
        self.tag = f"d4p-{os.urandom(6).hex()}"
        """The tag of this run's Spark jobs: an abort cancels them."""
        self.stop: tuple[str | None, int | None] = (None, control and control.max_units)
        """Where the sources' tasks hear a graceful stop (the run's :class:`StopLine`),
        and after how many units each source stops."""

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
            if local and not s.downstream and len(s.upstream) == 1
            and (fed := fed_partials(plan, s)) is not None and not fed.keyed  # a global one
            and not self.broadcast_from[s.number]
            and lay.stages[s.upstream[0]].downstream == (s.number,)
            and lay.stages[s.upstream[0]].width > 1}
        """Last stages that run in the driver on a local master: a global aggregate
        reducing the partial states collected from the stage before it (which is
        never a 'first' stage: it has one downstream stage and no broadcast
        inputs). Not after a stage of one partition: that one feeds it in the
        same Spark task already."""
        self.collected |= {(r.targets[0], r.dst_port) for r in plan.routes
                           if stage_number[r.dst_pe] in self.on_driver}
        self.gathered: dict[int, list] = {}
        """Stage → records collected for it: for its 'all' inputs or to run it in the driver."""

    def run(self) -> Outcome:
        if self.control is None:
            return self._run()
        host = "127.0.0.1" if self.local else self.sc.getConf().get("spark.driver.host")
        with StopLine(host) as line:  # executors on other machines reach the driver
            self.control.on_stop(line.request_stop)
            self.stop = (line.address, self.stop[1])
            return self._run()

    def _run(self) -> Outcome:
        stages = self.layout.stages
        done: set[int] = set()
        try:
            for s in stages:
                for u in sorted(set(s.upstream) & self.first - done):
                    self._merge(self._collect(u))
                    done.add(u)
                    if self.gather.failures:  # nothing downstream of a failed PE runs
                        break
                if self.gather.failures:
                    break
                if s.number not in self.on_driver:
                    self.rdds[s.number] = self._stage(s.number)
            else:
                self._collect_all([s.number for s in stages if not s.downstream])
        except BaseException:  # a failure, Ctrl-C: the JVM would run our jobs on
            with contextlib.suppress(Exception):  # (a stopped Spark runs none)
                self.sc.cancelJobsWithTag(self.tag)
            raise
        finally:
            for rdd in self.kept:
                rdd.unpersist(blocking=False)
            for shared in self.shared:
                shared.destroy(blocking=False)
        return self.gather.outcome(placement=self.layout.plan)

    def _collect_all(self, numbers: list[int]) -> None:
        """Run the jobs ending with stages ``numbers`` at the same time."""
        if len(numbers) == 1:
            self._merge(self._job(numbers[0]))
            return
        pool = ThreadPoolExecutor(len(numbers))
        try:
            for summaries in pool.map(self._job, numbers):
                self._merge(summaries)
        finally:  # not waiting for the other jobs: an abort cancels them (see _run)
            pool.shutdown(wait=False)

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
            aggregate = fed_partials(plan, stage)
            if stage.width == 1 and rdd.getNumPartitions() == 1:
                pass  # one partition feeds one: no shuffle, same task
            elif aggregate is not None and aggregate.keyed:  # Spark merges partial states by key
                rdd = merge_states(rdd, aggregate, stage, plan.by_pe[stage.pes[0]],
                                   self.batch_size)
            else:
                rdd = rdd.partitionBy(stage.width, int)  # a record keyed j: partition j
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
                      drop=self.drop, broadcast=shared, stop=self.stop))
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
        self.sc.addJobTag(self.tag)  # of this thread's jobs
        try:
            records = self.rdds[number].filter(Kept(self.collected)).collect()
        except Exception as exc:
            if loading(exc):  # pickled in a task, does not load here
                job, plan = self._job_stages(number), self.layout.plan
                processes = {i.process for iid, i in enumerate(plan.instances)
                             if self.layout.stage_of[iid] in job}
                raise unloadable_results(plan, Unloadable(f"{type(exc).__name__}: {exc}"),
                                         processes) from None
            raise self._translate(number, exc) from None
        finally:
            self.sc.removeJobTag(self.tag)
        summaries = []
        for record in records:
            if record[0] == META:
                summaries.append(record)
            else:
                self.gathered.setdefault(self.layout.stage_of[record[0]], []).append(record)
        return summaries

    def _merge(self, summaries: list[tuple]) -> None:
        summaries.sort(key=lambda m: m[1:3])
        for _, stage, index, results, counts, failure, events, limited in summaries:
            self.gather.add((stage, index), results, counts, events)
            if limited:  # the summary says the run was stopped at max_units
                self.control.limit_reached()
            if failure is not None:
                self.gather.fail(failure, (stage, index))

    def _translate(self, number: int, exc: Exception) -> D4PError:
        """A Spark failure as a d4p error: the Python traceback, not the Java one."""
        text = str(exc)
        if isinstance(exc, pickle.PicklingError) or "could not serialize" in text.lower():
            error = shipping.travel_error(self.layout.plan.pes, exc)
            if error is not None:
                return error
        pes = self._job_pes(number)
        unpicklable = re.search(r"Could not serialize object: ([^\n]*)", text)
        if unpicklable and not isinstance(exc, pickle.PicklingError):  # in a task, not here
            who = f"PE {pes[0]!r}" if len(pes) == 1 else f"PE {', '.join(pes)}: one of them"
            return PEUsageError(f"{who} wrote data that cannot be sent to another Spark task "
                                f"({unpicklable[1]}); {shipping.DATA_FIX}",
                                pe=pes[0] if len(pes) == 1 else None)
        traceback = _python_traceback(text)
        if "exited unexpectedly" in text:
            what = "a Spark Python worker died (os._exit, a crash or out of memory)"
        else:
            what = "a Spark task failed"
        reason = traceback.strip().splitlines()[-1] if traceback else _spark_reason(text)
        advice = next((a for key, a in _ADVICE if key in text), "")
        return WorkflowFailed(f"{what} running PE {', '.join(pes)}: {reason}{advice}",
                              pe=pes[0] if len(pes) == 1 else None,
                              traceback="" if advice else traceback)  # Spark's limit, not a PE's bug

    def _job_stages(self, number: int) -> set[int]:
        """The stages that the Spark job collecting stage ``number`` runs: it and
        the upstream stages it computes (those not shared, hence not persisted)."""
        todo, seen = [number], set()
        while todo:
            n = todo.pop()
            seen.add(n)
            todo += [u for u in self.layout.stages[n].upstream
                     if u not in seen and u not in self.first]
        return seen

    def _job_pes(self, number: int) -> list[str]:
        """The PEs that the Spark job collecting stage ``number`` runs."""
        stages, hidden = self.layout.stages, self.layout.plan.hidden
        pes = [p for n in sorted(self._job_stages(number)) for p in stages[n].pes
               if p not in hidden]
        return pes or list(stages[number].pes)


_MEMORY = ("Spark's JVM ran out of memory: give it more with --conf spark.driver.memory=4g "
           "(a local master runs its executors in the driver's JVM) or "
           "spark.executor.memory=4g on a cluster")
_ADVICE = (
    ("spark.driver.maxResultSize", ". The driver collects the outputs of unconnected ports and "
     "the units of 'all' inputs (to broadcast them): raise the limit (--conf "
     "spark.driver.maxResultSize=4g), give all_grouping='shuffle' for a large 'all' input, "
     "or write large results to files"),
    ("Java heap space", f". {_MEMORY}"),
    ("SparkContext was shut down", f". Spark stopped under the job, most often because {_MEMORY}"),
    ("'i' format requires", ". A Spark record holds at most 2 GiB, and the outputs of the "
     "unconnected ports of one task travel to the driver in one: write large results to "
     "files, or connect the port to a PE that writes them"),
)
"""Text in a Spark failure → what to do about it."""


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
    found = re.search(r"most recent failure: .*?\): (.*)", text) or \
        re.search(r"Job aborted due to stage failure: (.*)", text) or \
        re.search(r"^: (.*)", text, re.MULTILINE)  # py4j's line for the Java exception
    line = found[1] if found else next((t for t in text.splitlines() if t.strip()), "")
    line = re.sub(r"^([\w$]+\.)+[\w$]+(Exception|Error): ", "", line.strip())
    return line.split(". Consider setting")[0].rstrip(" :")[:300] or "unknown error"
