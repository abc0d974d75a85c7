"""d4p-storm: run d4p workflows as Apache Storm topologies.

The ``storm`` mapping (``d4p run wf.py --mapping storm``) runs a workflow with
streamparse's ``sparse run`` on a local Storm, or submits it to a cluster;
``d4p storm export TARGET DIR`` writes the streamparse project without Storm.
:mod:`d4p_storm.harness` speaks Storm's multi-lang protocol to the components
when no Storm is at hand.
"""

import importlib

from .__about__ import __version__

_WHERE = {
    "Project": "project",
    "export": "project",
    "load_topology": "project",
    "StormTopology": "topology",
    "translate": "topology",
}
"""Public name → its module, imported on first use: the plugin's entry point
imports this package, and loading a plugin must stay light."""


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Project", "StormTopology", "__version__", "export", "load_topology", "translate"]
