"""Registers the ``xcorr`` and ``misfit`` workflows with d4p (entry points ``xcorr`` and ``misfit`` of the group ``d4p``)."""

from __future__ import annotations

import d4p

from d4p_seismo.params import MISFIT_DEFAULTS, MISFIT_HELP, XCORR_DEFAULTS, XCORR_HELP


@d4p.hookimpl
def d4p_register_workflows() -> list[d4p.NamedWorkflow]:
    return [
        d4p.NamedWorkflow(
            name="xcorr",
            build="d4p_seismo.workflows:build_xcorr",
            params=dict(XCORR_DEFAULTS),
            description=(
                "Seismic ambient-noise cross-correlation of every station pair "
                "(synthetic data with known delays unless -p data=DIR, -p fdsn=PROVIDER, or "
                "-p seedlink=HOST:PORT in real time until stopped); "
                "writes one SAC file per pair (and window), summary.csv and "
                "record_section.png under -p output=DIR; optional windows, gap policy, "
                "linear/phase-weighted stacks and ASDF output"
            ),
            help=XCORR_HELP,
        ),
        d4p.NamedWorkflow(
            name="misfit",
            build="d4p_seismo.workflows:build_misfit",
            params=dict(MISFIT_DEFAULTS),
            description=(
                "Observed vs synthetic seismogram misfit: band-pass preprocessing, pyflex "
                "windows, time shift, dlnA and L2 per window and per trace, an image per "
                "station and a JSON summary"
            ),
            help=MISFIT_HELP,
        ),
    ]
