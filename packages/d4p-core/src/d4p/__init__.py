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

from . import aggregate
from . import mappings as _builtin_mappings  # noqa: F401  (see below)
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
    consumer,
    iterative,
    producer,
)

# ``d4p.mappings()`` lists installed mappings; the sub-package of built-in
# mappings was imported above, so importing its modules later does not rebind
# the name ``d4p.mappings`` to the package.
from .plugins import NamedWorkflow, get_mapping, get_plugin_manager, hookimpl, mappings, workflows

__all__ = [
    "ALL", "GLOBAL", "SHUFFLE", "BasePE", "CompositePE", "ConsumerPE", "D4PError", "GenericPE",
    "GraphError", "Grouping", "InputError", "IterativePE", "Mapping", "NamedWorkflow", "Option",
    "Outcome", "aggregate",
    "PluginError", "ProducerPE", "RunInfo", "RunResult", "RunSummary", "SimpleFunctionPE",
    "UsageError", "WorkflowFailed", "WorkflowGraph", "WorkflowNode", "__version__", "consumer",
    "create_iterative_chain", "get_mapping", "get_plugin_manager", "group_by", "hookimpl",
    "iterative", "mappings", "producer", "run", "stable_hash", "workflows",
]
