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

from typing import TYPE_CHECKING, Any

from d4p import Mapping, Option, Outcome

if TYPE_CHECKING:
    from d4p.plan import Plan


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
        from . import cluster, session, shipping  # Spark's modules, only when a run needs them
        from .job import Run
        from .stages import layout

        _quiet_py4j_on_interrupt()
        sc = session.get_context(options.get("master"), options.get("conf"))
        shipping.ship(sc, session.is_local(sc.master), options.get("py_files"))
        if not session.is_local(sc.master):
            cluster.warn_local_files(plan, sc.master)
        return Run(sc, layout(plan), batch_size, options.get("progress"),
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
