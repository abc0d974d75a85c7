"""Run one benchmark workload once and print one JSON line: what ran, the
seconds the enactment took (graph building and interpreter start excluded),
and the outputs for the harness to check.

Runs under d4p's interpreter (``--engine d4p`` or ``bare``) or under the
dispel4py venv's interpreter (``--engine dispel4py``)::

    python bench/measure.py pipeline --engine d4p --mapping multi -n 4
    bench/.venv-dispel4py/bin/python bench/measure.py pipeline --engine dispel4py --mapping simple
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads  # noqa: E402


@contextlib.contextmanager
def quiet():
    """Silence what the engine prints (dispel4py logs every PE), children included."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def cpu_seconds() -> float:
    """User + system CPU time of this process and its waited-for children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def outputs(results: dict) -> list:
    return [unit for ports in results.values() for units in ports.values() for unit in units]


def prepare(engine: str, mapping: str) -> None:
    """Imports and plugin discovery, done before the clock starts."""
    if engine == "d4p":
        import importlib

        import d4p

        d4p.get_mapping(mapping)
        # d4p imports its run machinery lazily, at the first run: import it here,
        # as dispel4py's modules are imported below
        for name in ("d4p.enact", "d4p.loader", "d4p.plan", "d4p.executor", "d4p.driver",
                     "d4p.codec", "d4p.launcher", "d4p.mappings.multi_workers"):
            importlib.import_module(name)
    elif engine == "dispel4py":
        from dispel4py.new import multi_process, processor, simple_process  # noqa: F401


def run_d4p(graph, inputs, mapping, processes, fuse):
    import d4p

    result = d4p.run(graph, inputs, mapping=mapping, processes=processes, fuse=fuse)
    return outputs(result)


def run_dispel4py(graph, inputs, mapping, processes):
    if mapping == "simple":
        from dispel4py.new.simple_process import process_and_return

        return outputs(process_and_return(graph, inputs))
    from dispel4py.new import multi_process
    from dispel4py.new.processor import STATUS_TERMINATED

    args = argparse.Namespace(num=processes, simple=False, results=True)
    queue = multi_process.process(graph, inputs, args)
    if isinstance(queue, str):
        raise SystemExit(queue)
    got = []
    while (item := queue.get()) != STATUS_TERMINATED:
        got.append(item[2])
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=sorted(workloads.WORKLOADS))
    parser.add_argument("--engine", choices=("d4p", "dispel4py", "bare", "tight"), required=True)
    parser.add_argument("--mapping", default="simple", choices=("simple", "multi"))
    parser.add_argument("-n", "--processes", type=int, default=1)
    parser.add_argument("--size", type=int, help="data units (default: the workload's)")
    parser.add_argument("--no-fuse", action="store_true", help="d4p: do not fuse chains")
    args = parser.parse_args()
    if args.engine in ("d4p", "dispel4py") and workloads.ENGINE != args.engine:
        raise SystemExit(f"this interpreter imports {workloads.ENGINE}, not {args.engine}")

    build, _ = workloads.WORKLOADS[args.workload]
    params = {} if args.size is None else {next(iter(_size_names(args.workload))): args.size}
    with quiet():
        if args.engine in ("bare", "tight"):
            if args.workload != "pipeline":
                raise SystemExit("the bare loop exists for the pipeline workload only")
            loop = workloads.bare_pipeline if args.engine == "bare" else workloads.tight_pipeline
            cpu0, start = cpu_seconds(), time.perf_counter()
            got = loop(**params)
        else:
            prepare(args.engine, args.mapping)
            graph, inputs = build(**params)
            cpu0, start = cpu_seconds(), time.perf_counter()
            if args.engine == "d4p":
                got = run_d4p(graph, inputs, args.mapping, args.processes, not args.no_fuse)
            else:
                got = run_dispel4py(graph, inputs, args.mapping, args.processes)
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu0
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "outputs": got}))


def _size_names(workload: str) -> list[str]:
    return {"pipeline": ["n"], "wordcount": ["words"],
            "wordcount_aggregate": ["words"], "cpu": ["n"], "memory": ["n"]}[workload]


if __name__ == "__main__":
    main()
