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

from . import aggregate, window
from .__about__ import __version__
from .enact import RunInfo, RunResult, RunSummary, run
from .errors import D4PError, GraphError, InputError, PluginError, UsageError, WorkflowFailed
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

__all__ = [
    "ALL", "GLOBAL", "SHUFFLE", "BasePE", "CompositePE", "ConsumerPE", "D4PError", "GenericPE",
    "GraphError", "Grouping", "InputError", "IterativePE", "Mapping", "NamedWorkflow", "Option",
    "Outcome", "aggregate", "window",
    "PluginError", "ProducerPE", "RunInfo", "RunResult", "RunSummary", "SimpleFunctionPE",
    "StopSource", "UsageError", "WorkflowFailed", "WorkflowGraph", "WorkflowNode", "__version__",
    "consumer", "create_iterative_chain", "get_mapping", "get_plugin_manager", "group_by", "hookimpl",
    "installed_mappings", "iterative", "producer", "run", "stable_hash", "workflows",
]

if "IPython" in __import__("sys").modules:  # in a notebook: failures shown short
    from .notebook import install as _install_notebook_display

    _install_notebook_display()
