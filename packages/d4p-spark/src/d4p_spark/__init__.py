"""d4p-spark: run d4p workflows on Apache Spark.

Installing the package registers the mapping ``spark``::

    import d4p
    from d4p.examples import wordcount

    graph, inputs = wordcount(words=10_000)
    result = d4p.run(graph, inputs, mapping="spark")                  # local[*]
    result = d4p.run(graph, inputs, mapping="spark", master="local[2]",
                     conf=["spark.driver.memory=2g"])

:func:`get_context` gives the SparkContext d4p runs on (the running one, or a
new one with d4p's defaults); :func:`stop` stops the one d4p started.
"""

from d4p.plugins import lazy_exports

from .__about__ import __version__

__getattr__ = lazy_exports(__name__, {
    "LocalFilesWarning": "cluster",
    "SparkMapping": "mapping",
    "get_context": "session",
    "java_version": "session",
    "stop": "session",
})  # imported on first use: loading the plugin stays light


__all__ = ["LocalFilesWarning", "SparkMapping", "__version__", "get_context", "java_version", "stop"]
