"""``dispel4py.new.simple_process``: run a graph sequentially in this process
(d4p's ``simple`` mapping)."""

from __future__ import annotations

import argparse

from d4p.errors import D4PError, WorkflowFailed
from d4p.pe import UnitFailed

from .. import _run


def parse_args(args, namespace):
    """The options of ``dispel4py simple``: ``-n`` is accepted and ignored (the
    simple mapping runs in this process), as dispel4py's simple ignored it."""
    parser = argparse.ArgumentParser(prog="dispel4py",
                                     description="Submit a dispel4py graph to the simple mapping.")
    parser.add_argument("-n", "--num", metavar="num_processes", type=int,
                        help="ignored: the simple mapping runs in one process")
    return parser.parse_args(args, namespace)


def process_and_return(workflow, inputs, resultmappings=None) -> dict:
    """Run ``workflow`` and return the data of its unconnected outputs,
    ``{pe_id: {output: [data, ...]}}``; outputs that produced nothing are left
    out, as in dispel4py. ``inputs`` maps a PE (object, name or id) to a number
    of iterations or a list of input items. As in dispel4py, an exception a
    PE raises comes out as it is (with a note naming the PE and the data).

    Unlike dispel4py's simple mapping, each PE runs ``numprocesses`` instances
    (as in every d4p mapping) and the graph is not changed."""
    try:
        result = _run.run(workflow, inputs, "simple")
    except WorkflowFailed as failure:
        raise _pe_error(failure) from None
    return _run.outputs(result, resultmappings)


def _pe_error(failure: WorkflowFailed) -> BaseException:
    """The exception the PE raised, that ``failure`` reports, with its account
    as a note; ``failure`` itself when the PE raised a d4p error."""
    error = failure.__context__
    if isinstance(error, UnitFailed):
        error = error.error
    if not isinstance(error, Exception) or isinstance(error, D4PError) \
            or f": {type(error).__name__}: " not in failure.args[0]:
        return failure
    error.add_note(failure.args[0])
    return error


def process(workflow, inputs, args=None, resultmappings=None) -> None:
    """Run ``workflow`` and print its inputs and outputs (``dispel4py simple``)."""
    shown = {getattr(pe, "id", pe): data for pe, data in (inputs or {}).items()}
    print(f"Inputs: {shown}")
    print(f"Outputs: {process_and_return(workflow, inputs, resultmappings)}")
