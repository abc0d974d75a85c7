"""d4p-astro: internal extinction of galaxies from Virtual Observatory tables, on d4p.

Run the workflow from the shell with ``d4p run int_ext -p source=fixture`` or from
Python::

    import d4p
    from d4p_astro import build_int_ext, read_csv

    graph, inputs = build_int_ext(source="fixture", output="int_ext.csv")
    d4p.run(graph, inputs)
    rows = read_csv("int_ext.csv")
"""

from d4p_astro.__about__ import __version__
from d4p_astro.coordinates import SHIPPED_COORDINATES, Position, read_coordinates
from d4p_astro.errors import AstroError, CoordinatesError, ServiceUnavailableError, VOTableError
from d4p_astro.extinction import HUBBLE_T, extinction_for, internal_extinction, morphological_t
from d4p_astro.fixture import FIXTURE_PATH, FixtureCatalogue
from d4p_astro.pes import (
    ConeAnswer,
    FilterColumns,
    GalaxyRecord,
    GetVOTable,
    InternalExtinction,
    ReadRaDec,
    WriteCSV,
)
from d4p_astro.results import COLUMNS, ExtinctionRow, read_csv, write_csv
from d4p_astro.vizier import VIZIER_CONE_URL, cone_search
from d4p_astro.votable import Galaxy, nearest_galaxy, parse_galaxies, read_votable
from d4p_astro.workflow import DEFAULTS as INT_EXT_DEFAULTS
from d4p_astro.workflow import build as build_int_ext

__all__ = [
    "COLUMNS",
    "FIXTURE_PATH",
    "HUBBLE_T",
    "INT_EXT_DEFAULTS",
    "SHIPPED_COORDINATES",
    "VIZIER_CONE_URL",
    "AstroError",
    "ConeAnswer",
    "CoordinatesError",
    "ExtinctionRow",
    "FilterColumns",
    "FixtureCatalogue",
    "Galaxy",
    "GalaxyRecord",
    "GetVOTable",
    "InternalExtinction",
    "Position",
    "ReadRaDec",
    "ServiceUnavailableError",
    "VOTableError",
    "WriteCSV",
    "__version__",
    "build_int_ext",
    "cone_search",
    "extinction_for",
    "internal_extinction",
    "morphological_t",
    "nearest_galaxy",
    "parse_galaxies",
    "read_coordinates",
    "read_csv",
    "read_votable",
    "write_csv",
]
