"""Run one of dispel4py's example workflows (``graph_testing``) with dispel4py
itself and print its results as JSON, normalised as test_compat_upstream.py
compares them (the expected values there were obtained this way; the test
uses :func:`normalise` and :func:`collect` of this file on d4p's side too).

Usage, from the repository root, with the venv that ``bench/dispel4py_env.py``
makes (dispel4py 1.2.1)::

    bench/.venv-dispel4py/bin/python \\
        packages/d4p-core/tests/dispel4py_upstream/reference_run.py EXAMPLE simple -i 5
    ... reference_run.py EXAMPLE multi -n PROCESSES -i 5

``--head DIR`` runs dispel4py's GitHub HEAD instead, from a checkout's
``DIR`` (the folder holding the ``dispel4py`` package): 1.2.1 cannot flatten
composites on networkx >= 2 (HEAD can). This file runs under dispel4py only;
it is not part of the d4p test run.
"""

import argparse
import json
import re
import sys


def normalise(results):
    """{pe_id: {port: [units]}} -> {pe name: [{port: sorted units}, ...]}."""
    by_name = {}
    for pe_id, ports in results.items():
        entry = {port: sorted(units, key=repr) for port, units in ports.items() if units}
        if entry:
            by_name.setdefault(re.sub(r"\d+$", "", pe_id), []).append(
                json.loads(json.dumps(entry)))
    return {name: sorted(entries, key=repr) for name, entries in sorted(by_name.items())}


def collect(queue, terminated):
    """The items of dispel4py multi's result queue as {pe_id: {port: [units]}}."""
    results = {}
    for pe_id, port, data in iter(queue.get, terminated):
        if isinstance(port, tuple):  # partitioned: (partition, (pe, port), [data])
            (pe_id, port), units = port, data
        else:
            units = [data]
        results.setdefault(pe_id, {}).setdefault(port, []).extend(units)
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("example")
    parser.add_argument("mapping", choices=["simple", "multi"])
    parser.add_argument("-n", "--num", type=int, default=1)
    parser.add_argument("-i", "--iter", type=int, default=1)
    parser.add_argument("--head")
    options = parser.parse_args()
    if options.head:
        sys.path.insert(0, options.head)
    sys.argv = sys.argv[:1]  # large_teecopy reads sys.argv[4]
    from dispel4py.new import processor

    args = argparse.Namespace(module=f"dispel4py.examples.graph_testing.{options.example}",
                              attr=None, file=None, data=None, iter=options.iter,
                              num=options.num, simple=False, results=True)
    graph, inputs = processor.load_graph_and_inputs(args)
    if options.mapping == "simple":
        from dispel4py.new.simple_process import process_and_return

        results = process_and_return(graph, inputs)
    else:
        from dispel4py.new.multi_process import STATUS_TERMINATED, process

        results = collect(process(graph, inputs, args), STATUS_TERMINATED)
    print("RESULT " + json.dumps(normalise(results), sort_keys=True))


if __name__ == "__main__":
    main()
