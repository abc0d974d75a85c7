"""The ``spark`` mapping: a d4p plan as a chain of Spark RDD stages.

How a plan becomes Spark jobs is told in the package README ("How a workflow
becomes Spark jobs"). In short: :mod:`~d4p_spark.stages` cuts the plan into
stages (a PE and the PEs fused to it), :mod:`~d4p_spark.job` makes an RDD of
each stage, partitioned by target instance (``reduceByKey`` for keyed
aggregates, :mod:`~d4p_spark.combine`; a broadcast for 'all' inputs) and
runs the Spark jobs, and :mod:`~d4p_spark.task` runs one partition of a
stage through the d4p executor.
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
    )
    default_processes = 1
    """Spark's parallelism comes from the PEs' instances (``numprocesses``) and the
    master's cores; the number of processes is not used."""

    def run(self, plan: Plan, options: dict[str, Any]) -> Outcome:
        import logging

        from d4p.shipping import warn_file_writers

        from . import session, shipping  # Spark's modules, only when a run needs them
        from .job import Run
        from .stages import layout

        for name in ("", "py4j.clientserver", "py4j.java_gateway"):  # py4j logs on both
            if _not_interrupted not in logging.getLogger(name).filters:
                logging.getLogger(name).addFilter(_not_interrupted)
        sc = session.get_context(options["master"], options["conf"])
        local = session.is_local(sc.master)
        shipping.ship(sc, local, options["py_files"])
        if not local:
            warn_file_writers(plan, f"on master {sc.master}")
        return Run(sc, layout(plan), options["batch_size"], options["progress"],
                   options["tracer"], broadcast=options["all_grouping"] == "broadcast",
                   local=local, control=options["control"]).run()


def _not_interrupted(record) -> bool:
    """Log filter: py4j logs an ERROR with a traceback when Ctrl-C or a second
    SIGTERM interrupts a call to the JVM; d4p reports the interrupt in one line."""
    exc = record.exc_info[1] if record.exc_info else None
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt):
            return False
        exc = exc.__cause__ or exc.__context__
    return True
