"""d4p-storm: run d4p workflows as Apache Storm topologies.

The ``storm`` mapping (``d4p run wf.py --mapping storm``) runs a workflow with
streamparse's ``sparse run`` on a local Storm, or submits it to a cluster;
``d4p storm export TARGET DIR`` writes the streamparse project without Storm.
:mod:`d4p_storm.harness` speaks Storm's multi-lang protocol to the components
when no Storm is at hand.
"""

from d4p.plugins import lazy_exports

from .__about__ import __version__

__getattr__ = lazy_exports(__name__, {
    "Project": "project",
    "export": "project",
    "load_topology": "project",
    "StormTopology": "topology",
    "translate": "topology",
})  # imported on first use: loading the plugin stays light


__all__ = ["Project", "StormTopology", "__version__", "export", "load_topology", "translate"]
