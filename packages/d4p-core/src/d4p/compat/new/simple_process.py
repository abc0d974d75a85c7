"""``dispel4py.new.simple_process``: run a graph sequentially in this process
(d4p's ``simple`` mapping)."""

from __future__ import annotations

from .. import _run


def process_and_return(workflow, inputs, resultmappings=None) -> dict:
    """Run ``workflow`` and return the data of its unconnected outputs,
    ``{pe_id: {output: [data, ...]}}``; outputs that produced nothing are left
    out, as in dispel4py. ``inputs`` maps a PE (object, name or id) to a number
    of iterations or a list of input items.

    Unlike dispel4py's simple mapping, each PE runs ``numprocesses`` instances
    (as in every d4p mapping) and the graph is not changed."""
    return _run.outputs(_run.run(workflow, inputs, "simple"), resultmappings)


def process(workflow, inputs, args=None, resultmappings=None) -> None:
    """Run ``workflow`` and print its inputs and outputs (``dispel4py simple``)."""
    shown = {getattr(pe, "id", pe): data for pe, data in (inputs or {}).items()}
    print(f"Inputs: {shown}")
    print(f"Outputs: {process_and_return(workflow, inputs, resultmappings)}")
