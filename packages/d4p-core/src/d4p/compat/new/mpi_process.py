"""``dispel4py.new.mpi_process``: run a graph on MPI ranks (the ``mpi``
mapping of the d4p-mpi package).

Under ``mpiexec`` every rank calls :func:`process` and the graph runs on the
ranks in place; from a plain Python process d4p starts ``mpiexec`` itself
with ``args.num`` ranks (default: the number of CPUs)."""

from __future__ import annotations

import argparse

import d4p

from .. import _run


def parse_args(args, namespace):
    parser = argparse.ArgumentParser(description="Submit a dispel4py graph to MPI processes.")
    parser.add_argument("-s", "--simple", help="force simple processing", action="store_true")
    return parser.parse_args(args, namespace)


def process(workflow, inputs, args=None):
    """Run ``workflow`` on MPI. dispel4py returns nothing and drops the data of
    unconnected outputs; this returns them on rank 0 (``{pe_id: {output:
    [data]}}``, empty outputs left out) and ``{}`` on the other ranks. As in
    dispel4py, the ranks the sources leave are shared by the other PEs in
    proportion to their ``numprocesses``."""
    partitions = None
    if getattr(args, "simple", False):
        partitions = getattr(workflow, "partitions", None) or _run.default_partitions(workflow)
    result = _run.run(workflow, inputs, "mpi", getattr(args, "num", None), partitions)
    if d4p.get_mapping("mpi").primary:
        print(f"Processes: {result.summary.assignment}")
    return _run.outputs(result)
