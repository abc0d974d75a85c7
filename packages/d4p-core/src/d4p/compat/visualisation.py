"""``dispel4py.visualisation``: show a graph in a Jupyter notebook."""

from __future__ import annotations

import d4p
from d4p.errors import UsageError


def display(graph: d4p.WorkflowGraph) -> None:
    """Show ``graph`` in the notebook: the SVG that Graphviz draws, or without
    Graphviz the PEs and connections (dispel4py needed Graphviz's ``dot``)."""
    try:
        from IPython.display import display as show
    except ImportError:
        raise UsageError("display(graph) shows a graph in Jupyter, which needs IPython: "
                         "pip install ipython (or use draw(graph) for the dot text)") from None
    show(graph)


__all__ = ["display"]
