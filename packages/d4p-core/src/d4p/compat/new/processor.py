"""``dispel4py.new.processor``: what the mappings share: command-line
arguments, inputs, loading a graph, and the status codes."""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from typing import Any

import d4p
from d4p.errors import D4PError, UsageError
from d4p.grouping import stable_hash
from d4p.loader import parse_inputs

STATUS_ACTIVE = 10
STATUS_INACTIVE = 11
STATUS_TERMINATED = 12
STATUS = {STATUS_ACTIVE: "ACTIVE", STATUS_INACTIVE: "INACTIVE", STATUS_TERMINATED: "TERMINATED"}


def get_inputs(pe, inputs: dict) -> Any:
    """The inputs given for ``pe``: by the PE itself, its name or its id."""
    for key in (pe, pe.name, pe.id):
        try:
            return inputs[key]
        except (KeyError, TypeError):
            pass
    return None


def create_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Submit a dispel4py graph for processing.")
    parser.add_argument("target", help="target execution platform")
    parser.add_argument("module", help="module that creates a dispel4py graph "
                        "(python module or file name)")
    parser.add_argument("-a", "--attr", metavar="attribute",
                        help="name of graph variable in the module")
    parser.add_argument("-f", "--file", metavar="inputfile",
                        help="file containing input dataset in JSON format")
    parser.add_argument("-d", "--data", metavar="inputdata", help="input dataset in JSON format")
    parser.add_argument("-i", "--iter", metavar="iterations", type=int,
                        help="number of iterations", default=1)
    return parser


def create_inputs(args, graph) -> dict:
    """Inputs from ``args.file`` (JSON), else ``args.data`` (JSON), else
    ``args.iter`` iterations of every root PE; keys become PE ids. Bad JSON or
    a missing file raise ``ValueError``, as in dispel4py."""
    file = getattr(args, "file", None) or None
    data = getattr(args, "data", None) or None
    if file or data:
        try:
            inputs = parse_inputs(None if file else data, file)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
    else:
        n = args.iter
        print("Processing 1 iteration." if n == 1 else f"Processing {n} iterations.")
        inputs = {node.obj: n for node in graph.graph.nodes if _is_root(node, graph)}
    for node in graph.graph.nodes:
        pe = node.obj
        for key in (pe, getattr(pe, "name", None)):
            if key is not None and key in inputs:
                inputs[pe.id] = inputs.pop(key)
    return inputs


def load_graph_and_inputs(args):
    """``(graph, inputs)`` for ``args.module`` / ``args.attr``, flattened;
    ``(None, None)`` when the graph cannot be loaded."""
    from ..utils import load_graph

    graph = load_graph(args.module, getattr(args, "attr", None))
    if graph is None:
        return None, None
    graph.flatten()
    return graph, create_inputs(args, graph)


TARGETS = {"simple": "simple_process", "multi": "multi_process", "mpi": "mpi_process"}


def main(argv: list[str] | None = None) -> int:
    """``python -m d4p.compat.new.processor TARGET MODULE [options]``, dispel4py's
    ``dispel4py TARGET MODULE [options]`` command: load the graph of MODULE
    and its inputs (``-a``, ``-f``, ``-d``, ``-i``) and run it with the
    ``process`` of TARGET (``simple``, ``multi`` with ``-n``, ``mpi``), which
    prints what dispel4py's printed. Returns the exit status. New code runs
    ``d4p run MODULE -m TARGET``."""
    from d4p.cli import _failure

    args, remaining = create_arg_parser().parse_known_args(argv)
    try:
        if args.target not in TARGETS:
            raise UsageError(f"unknown target {args.target!r}: use simple, multi or mpi (for "
                             f"d4p's other mappings: d4p run {args.module} -m MAPPING)")
        target = import_module(f"{__package__}.{TARGETS[args.target]}")
        args = target.parse_args(remaining, args)  # its own options (-n); refuses others
        graph, inputs = load_graph_and_inputs(args)
        if graph is None:
            return 1
        target.process(graph, inputs, args)
    except (D4PError, ValueError) as exc:
        sys.stdout.flush()
        print(_failure(exc) if isinstance(exc, D4PError) else f"d4p: error: {exc}",
              file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    return 0


def _is_root(node, workflow) -> bool:
    """True when nothing in ``workflow`` feeds ``node``."""
    return workflow.graph.in_degree(node) == 0


# How dispel4py's groupings pick destination processes; d4p's executor routes
# the same way (group-by: the stable hash of the key modulo the instances).


class ShuffleCommunication:
    def __init__(self, rank, sources, destinations) -> None:
        self.destinations = destinations
        self.currentIndex = (sources.index(rank) % len(destinations)) - 1
        self.name = None

    def getDestination(self, data):  # noqa: N802 (dispel4py API)
        self.currentIndex = (self.currentIndex + 1) % len(self.destinations)
        return [self.destinations[self.currentIndex]]


class GroupByCommunication:
    def __init__(self, destinations, input_name, groupby) -> None:
        self.destinations = destinations
        self.input_name = input_name
        self.groupby = groupby
        self.name = groupby

    def getDestination(self, data):  # noqa: N802 (dispel4py API)
        unit = data[self.input_name]
        key = d4p.group_by(*self.groupby).key_of(unit)
        return [self.destinations[stable_hash(key) % len(self.destinations)]]


class AllToOneCommunication:
    def __init__(self, destinations) -> None:
        self.destinations = destinations
        self.name = "global"

    def getDestination(self, data):  # noqa: N802 (dispel4py API)
        return [self.destinations[0]]


class OneToAllCommunication:
    def __init__(self, destinations) -> None:
        self.destinations = destinations
        self.name = "all"

    def getDestination(self, data):  # noqa: N802 (dispel4py API)
        return self.destinations


if __name__ == "__main__":
    sys.exit(main())
