"""The parameters of the ``int_ext`` workflow and their defaults, in a module
light enough to be imported whenever d4p looks for plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")
"""The package's data files (a folder beside this module: no importlib.resources
to import when d4p lists its plugins)."""

SHIPPED_COORDINATES: Path = DATA / "coordinates.txt"
"""The coordinates file shipped with the package (12 galaxy centres and an empty field)."""

FIXTURE_PATH: Path = DATA / "hyperleda_synthetic.vot"
"""The shipped synthetic VOTable fixture (made-up rows; see :mod:`d4p_astro.fixture`)."""

VIZIER_CONE_URL = "https://vizier.cds.unistra.fr/viz-bin/conesearch/VII/237/pgc"
"""VizieR's Simple Cone Search service for HyperLEDA (catalogue VII/237)."""

DEFAULTS: dict[str, Any] = {
    "coordinates": str(SHIPPED_COORDINATES),
    "source": "vizier",
    "radius": 0.01,
    "output": "int_ext.csv",
    "timeout": 30.0,
    "retries": 2,
    "url": VIZIER_CONE_URL,
    "fixture": str(FIXTURE_PATH),
    "instances": 2,
    "types": "rc3",
}
"""The parameters of `d4p_astro.workflow.build` and their defaults (``d4p run int_ext -p KEY=VALUE``)."""

HELP: dict[str, str] = {
    "coordinates": "file of 'ra,dec' lines in decimal degrees (J2000); '#' starts a comment",
    "source": "vizier (live cone searches) or fixture (the synthetic VOTable, no network)",
    "radius": "cone-search radius in degrees",
    "output": "the results CSV file",
    "timeout": "seconds to wait for the connection and for each read, per attempt",
    "retries": "attempts after the first (no connection, time-out, HTTP 429 or 5xx)",
    "url": "any IVOA Simple Cone Search URL serving MType and logR25",
    "fixture": "the VOTable that source=fixture searches",
    "instances": "parallel instances of get_votable, filter_columns and internal_extinction",
}
"""One line per parameter, for ``d4p workflows int_ext``."""
