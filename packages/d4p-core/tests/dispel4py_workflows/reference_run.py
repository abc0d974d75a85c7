"""Run one workflow of this folder with dispel4py 1.2.1 and print its results,
normalised as the compatibility test compares them (the expected values in
``test_dispel4py_compat.py`` were obtained this way).

Usage, from the repository root, with the venv that ``bench/dispel4py_env.py``
makes::

    bench/.venv-dispel4py/bin/python \\
        packages/d4p-core/tests/dispel4py_workflows/reference_run.py WORKFLOW simple
    ... reference_run.py WORKFLOW multi -n PROCESSES
    ... reference_run.py nonroot_inputs simple -f nonroot_inputs.json
    ... reference_run.py pipeline_composite simple --snapshot-nodes

``--snapshot-nodes`` works around dispel4py's networkx >= 2 bug (it removes and
adds graph nodes while iterating over ``graph.nodes()``, which raises
"RuntimeError: dictionary changed size during iteration" in ``flatten`` and in
the partitioned multi mapping) by making ``graph.nodes()`` return a list, as
networkx 1.x did. networkx 1.x itself no longer imports on Python 3.11.

This file runs under dispel4py only; it is not part of the d4p test run.
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def normalise(results):
    """{pe_id: {port: [units]}} -> {pe name: [{port: sorted units}, ...]}: PE ids
    differ between runs, names do not; order within a port is not compared."""
    by_name = {}
    for pe_id, ports in results.items():
        name = re.sub(r"\d+$", "", pe_id)
        entry = {port: sorted(units, key=_unit_key) for port, units in ports.items()}
        by_name.setdefault(name, []).append(json.loads(json.dumps(entry)))
    return {name: sorted(entries, key=repr) for name, entries in sorted(by_name.items())}


def _unit_key(unit):
    return (0, unit, "") if isinstance(unit, int | float) else (1, 0, repr(unit))


def _snapshot_nodes():
    import types

    import dispel4py.workflow_graph as wg
    import networkx as nx

    class SnapshotGraph(nx.Graph):
        def nodes(self, data=False):
            return list(self._node.items()) if data else list(self._node)

    wg.nx = types.SimpleNamespace(Graph=SnapshotGraph)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workflow")
    parser.add_argument("mapping", choices=["simple", "multi"])
    parser.add_argument("-n", "--num", type=int, default=4)
    parser.add_argument("-f", "--file", help="inputs as JSON (PE name or id -> iterations or list)")
    parser.add_argument("--partitioned", action="store_true")
    parser.add_argument("--snapshot-nodes", action="store_true")
    args = parser.parse_args()
    if args.snapshot_nodes:
        _snapshot_nodes()

    module = __import__(args.workflow)
    kwargs = {"partitioned": True} if args.partitioned else {}
    graph, inputs = module.build(**kwargs)
    if args.file:
        from dispel4py.new.processor import create_inputs
        graph.flatten()
        ns = argparse.Namespace(file=os.path.join(HERE, args.file), data=None, iter=1)
        inputs = create_inputs(ns, graph)
    if args.mapping == "simple":
        from dispel4py.new.simple_process import process_and_return
        graph.flatten()
        results = process_and_return(graph, inputs)
    else:
        from dispel4py.new import multi_process
        from dispel4py.new.processor import STATUS_TERMINATED
        graph.flatten()
        ns = argparse.Namespace(num=args.num, simple=False, results=True)
        queue = multi_process.process(graph, inputs, ns)
        if isinstance(queue, str):
            sys.exit(queue)
        results = {}
        while (item := queue.get()) != STATUS_TERMINATED:
            pe_id, port, data = item
            if isinstance(port, tuple):  # partitioned: (pe id, port) and a list of units
                (pe_id, port), units = port, data
            else:
                units = [data]
            results.setdefault(pe_id, {}).setdefault(port, []).extend(units)
    print("RESULT " + json.dumps(normalise(results)))


if __name__ == "__main__":
    main()
