"""Registers the ``int_ext`` workflow with d4p (entry point ``int_ext`` of the group ``d4p``)."""

from __future__ import annotations

import d4p

from d4p_astro.params import DEFAULTS, HELP


@d4p.hookimpl
def d4p_register_workflows() -> list[d4p.NamedWorkflow]:
    return [
        d4p.NamedWorkflow(
            name="int_ext",
            build="d4p_astro.workflow:build",
            params=dict(DEFAULTS),
            description="Internal extinction of galaxies from HyperLEDA (VizieR VII/237) "
            "cone searches; -p source=fixture runs offline on synthetic data",
            help=HELP,
        )
    ]
