"""The parameters of the ``int_ext`` workflow and their defaults, in a module
light enough to be imported whenever d4p looks for plugins."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
"""The package's data files, a folder beside this module (a string: listing d4p's
plugins imports this module, and neither pathlib nor importlib.resources)."""

_FILES = {"SHIPPED_COORDINATES": "coordinates.txt", "FIXTURE_PATH": "hyperleda_synthetic.vot"}

if TYPE_CHECKING:
    from pathlib import Path

    SHIPPED_COORDINATES: Path
    """The coordinates file shipped with the package (12 galaxy centres and an empty field)."""
    FIXTURE_PATH: Path
    """The shipped synthetic VOTable fixture (made-up rows; see :mod:`d4p_astro.fixture`)."""


def __getattr__(name: str) -> Any:
    """``SHIPPED_COORDINATES`` and ``FIXTURE_PATH`` (:class:`pathlib.Path`), made on first use."""
    if name not in _FILES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from pathlib import Path

    value = globals()[name] = Path(DATA, _FILES[name])
    return value


VIZIER_CONE_URL = "https://vizier.cds.unistra.fr/viz-bin/conesearch/VII/237/pgc"
"""VizieR's Simple Cone Search service for HyperLEDA (catalogue VII/237)."""

DEFAULTS: dict[str, Any] = {
    "coordinates": os.path.join(DATA, _FILES["SHIPPED_COORDINATES"]),
    "source": "vizier",
    "radius": 0.01,
    "output": "int_ext.csv",
    "timeout": 30.0,
    "retries": 2,
    "url": VIZIER_CONE_URL,
    "fixture": os.path.join(DATA, _FILES["FIXTURE_PATH"]),
    "instances": 2,
    "types": "rc3",
}
"""The parameters of `d4p_astro.workflow.build` and their defaults (``d4p run int_ext -p KEY=VALUE``)."""

HELP: dict[str, str] = {
    "coordinates": "file of 'ra,dec' lines (J2000), decimal degrees or sexagesimal (RA in "
    "hours); optional header line naming the columns; '#' starts a comment",
    "source": "vizier (live cone searches) or fixture (the synthetic VOTable, no network)",
    "radius": "cone-search radius in degrees",
    "output": "the results CSV file",
    "timeout": "seconds to wait for the connection, each read and the whole answer, per attempt",
    "retries": "attempts after the first (no connection, time-out, answer cut short, HTML page "
    "or error VOTable instead of a result, HTTP 429 or 5xx)",
    "url": "any IVOA Simple Cone Search URL serving MType and logR25",
    "fixture": "the VOTable that source=fixture searches",
    "instances": "parallel instances of get_votable, filter_columns and internal_extinction",
    "types": "numerical types T: rc3 (HyperLEDA's RC3 scale) or dispel4py (its table, to compare)",
}
"""One line per parameter, for ``d4p workflows int_ext``."""
