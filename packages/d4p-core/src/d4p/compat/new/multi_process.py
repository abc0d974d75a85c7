"""``dispel4py.new.multi_process``: run a graph on several processes (d4p's
``multi`` mapping)."""

from __future__ import annotations

import argparse
import multiprocessing
import queue

from .. import _run
from .processor import STATUS_TERMINATED


def parse_args(args, namespace):
    parser = argparse.ArgumentParser(prog="dispel4py",
                                     description="Submit a dispel4py graph to multiprocessing.")
    parser.add_argument("-s", "--simple", help="force simple processing", action="store_true")
    parser.add_argument("-n", "--num", metavar="num_processes", required=True, type=int,
                        help="number of processes to run")
    return parser.parse_args(args, namespace)


def process(workflow, inputs, args):
    """Run ``workflow`` on ``args.num`` processes.

    With ``args.results`` true, returns a queue of the unconnected outputs'
    data ending with ``STATUS_TERMINATED``: ``(pe_id, output, data)`` per data
    unit, or, with ``args.simple`` (the graph run in partitions: its own, or
    the sources and the rest), ``(partition, (pe_id, output), [data, ...])``
    per output, as dispel4py gives them. dispel4py also runs in partitions
    when the graph has more PE instances than processes, and so does this.
    Otherwise returns ``None``.

    As in dispel4py, the processes the sources leave are shared by the other
    PEs in proportion to their ``numprocesses`` (see ``WorkflowGraph``). The
    workers start as the program chose with ``multiprocessing.set_start_method``
    (dispel4py used the default context), else with d4p's default.

    Unlike dispel4py, a graph with more partitions than processes is not
    refused ("Not enough processes"): they share the processes."""
    simple = bool(getattr(args, "simple", False)) or _run.instances(workflow) > args.num
    partitions = None
    if simple:
        partitions = getattr(workflow, "partitions", None) or _run.default_partitions(workflow)
        print("Partitions: " + ", ".join(
            "[" + ", ".join(pe.id for pe in part) + "]" for part in partitions))
    method = multiprocessing.get_start_method(allow_none=True)  # as the program set it
    options = {"start_method": method} if method else {}
    result = _run.run(workflow, inputs, "multi", args.num, partitions, **options)
    print(f"Processes: {result.summary.assignment}")
    if not getattr(args, "results", False):
        return None
    results: queue.Queue = queue.Queue()
    for pe_id, ports in _run.outputs(result).items():
        for port, units in ports.items():
            if simple:
                part = next(k for k, members in enumerate(partitions)
                            if any(pe.id == pe_id for pe in members))
                results.put((f"SimpleProcessingPE{part}", (pe_id, port), units))
            else:
                for unit in units:
                    results.put((pe_id, port, unit))
    results.put(STATUS_TERMINATED)
    return results
