"""d4p: abstract stream-based workflows.

Write a workflow once as processing elements (PEs) connected by ports, run it
sequentially, on multiprocessing, MPI, Spark or Storm::

    import d4p

    @d4p.producer
    def numbers(n=10):
        yield from range(n)

    @d4p.iterative
    def square(x):
        return x * x

    graph = d4p.WorkflowGraph()
    graph.connect(numbers(n=5), "output", square(), "input")
    print(d4p.run(graph))        # {'square1': {'output': [0, 1, 4, 9, 16]}}
"""

from typing import TYPE_CHECKING

from .__about__ import __version__
from ._lazy import lazy_exports as _lazy_exports

_WHERE = {
    "run": "enact", "RunInfo": "enact", "RunResult": "enact", "RunSummary": "enact",
    "D4PError": "errors", "GraphError": "errors", "InputError": "errors",
    "PEUsageError": "errors", "PluginError": "errors", "UsageError": "errors",
    "WorkflowFailed": "errors",
    "CompositePE": "graph", "WorkflowGraph": "graph", "WorkflowNode": "graph",
    "create_iterative_chain": "graph",
    "ALL": "grouping", "GLOBAL": "grouping", "SHUFFLE": "grouping", "Grouping": "grouping",
    "group_by": "grouping", "stable_hash": "grouping",
    "Mapping": "mapping", "Option": "mapping", "Outcome": "mapping",
    "BasePE": "pe", "ConsumerPE": "pe", "GenericPE": "pe", "IterativePE": "pe",
    "ProducerPE": "pe", "SimpleFunctionPE": "pe", "StopSource": "pe", "consumer": "pe",
    "iterative": "pe", "producer": "pe",
    "NamedWorkflow": "plugins", "get_mapping": "plugins", "get_plugin_manager": "plugins",
    "hookimpl": "plugins", "installed_mappings": "plugins", "workflows": "plugins",
}
"""Where each public name lives: imported on first use, so that ``import d4p``
(every worker process, every command) pays only for what it touches."""

_SUBMODULES = ("aggregate", "cli", "codec", "compat", "driver", "enact", "errors", "examples",
               "executor", "failure", "graph", "grouping", "hookspecs", "launcher", "loader", "mapping",
               "mappings", "notebook", "output", "pe", "plan", "plugins", "progress", "shipping",
               "stopping", "testing", "tracing", "window")
"""Modules reached as attributes (``d4p.plan.make_plan``) even before anything imported them."""

__getattr__ = _lazy_exports(__name__, _WHERE, submodules=_SUBMODULES)

__all__ = [
    "ALL", "GLOBAL", "SHUFFLE", "BasePE", "CompositePE", "ConsumerPE", "D4PError", "GenericPE",
    "GraphError", "Grouping", "InputError", "IterativePE", "Mapping", "NamedWorkflow", "Option",
    "Outcome", "aggregate", "window",
    "PEUsageError", "PluginError", "ProducerPE", "RunInfo", "RunResult", "RunSummary", "SimpleFunctionPE",
    "StopSource", "UsageError", "WorkflowFailed", "WorkflowGraph", "WorkflowNode", "__version__",
    "consumer", "create_iterative_chain", "get_mapping", "get_plugin_manager", "group_by", "hookimpl",
    "installed_mappings", "iterative", "producer", "run", "stable_hash", "workflows",
]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from . import aggregate, window
    from .enact import RunInfo, RunResult, RunSummary, run
    from .errors import (
        D4PError,
        GraphError,
        InputError,
        PEUsageError,
        PluginError,
        UsageError,
        WorkflowFailed,
    )
    from .graph import CompositePE, WorkflowGraph, WorkflowNode, create_iterative_chain
    from .grouping import ALL, GLOBAL, SHUFFLE, Grouping, group_by, stable_hash
    from .mapping import Mapping, Option, Outcome
    from .pe import (
        BasePE,
        ConsumerPE,
        GenericPE,
        IterativePE,
        ProducerPE,
        SimpleFunctionPE,
        StopSource,
        consumer,
        iterative,
        producer,
    )
    from .plugins import (
        NamedWorkflow,
        get_mapping,
        get_plugin_manager,
        hookimpl,
        installed_mappings,
        workflows,
    )

if "IPython" in __import__("sys").modules:  # in a notebook: failures shown short
    from .notebook import install as _install_notebook_display

    _install_notebook_display()
