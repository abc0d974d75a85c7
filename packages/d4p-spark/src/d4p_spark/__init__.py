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

import importlib

from .__about__ import __version__

_WHERE = {
    "LocalFilesWarning": "cluster",
    "SparkMapping": "mapping",
    "get_context": "session",
    "java_version": "session",
    "stop": "session",
}
"""Public name → its module, imported on first use: the plugin's entry point
imports this package, and loading a plugin must stay light."""


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LocalFilesWarning", "SparkMapping", "__version__", "get_context", "java_version", "stop"]
