"""d4p-astro: internal extinction of galaxies from Virtual Observatory tables, on d4p.

Run the workflow from the shell with ``d4p run int_ext -p source=fixture`` or from
Python::

    import d4p
    from d4p_astro import build_int_ext, read_csv

    graph, inputs = build_int_ext(source="fixture", output="int_ext.csv")
    d4p.run(graph, inputs)
    rows = read_csv("int_ext.csv")
"""

import importlib

from d4p_astro.__about__ import __version__

# Public names load their module on first use, so that finding the plugin
# (every ``d4p`` command does) does not import astropy and pyvo.
_WHERE = {
    "AstroError": ("d4p_astro.errors", "AstroError"),
    "COLUMNS": ("d4p_astro.results", "COLUMNS"),
    "ConeAnswer": ("d4p_astro.pes", "ConeAnswer"),
    "CoordinatesError": ("d4p_astro.errors", "CoordinatesError"),
    "ExtinctionRow": ("d4p_astro.results", "ExtinctionRow"),
    "FIXTURE_PATH": ("d4p_astro.params", "FIXTURE_PATH"),
    "FilterColumns": ("d4p_astro.pes", "FilterColumns"),
    "FixtureCatalogue": ("d4p_astro.fixture", "FixtureCatalogue"),
    "Galaxy": ("d4p_astro.votable", "Galaxy"),
    "GalaxyRecord": ("d4p_astro.pes", "GalaxyRecord"),
    "GetVOTable": ("d4p_astro.pes", "GetVOTable"),
    "DISPEL4PY_T": ("d4p_astro.extinction", "DISPEL4PY_T"),
    "HUBBLE_T": ("d4p_astro.extinction", "HUBBLE_T"),
    "RC3_T": ("d4p_astro.extinction", "RC3_T"),
    "INT_EXT_DEFAULTS": ("d4p_astro.params", "DEFAULTS"),
    "InternalExtinction": ("d4p_astro.pes", "InternalExtinction"),
    "Position": ("d4p_astro.coordinates", "Position"),
    "ReadRaDec": ("d4p_astro.pes", "ReadRaDec"),
    "SHIPPED_COORDINATES": ("d4p_astro.params", "SHIPPED_COORDINATES"),
    "ServiceUnavailableError": ("d4p_astro.errors", "ServiceUnavailableError"),
    "VIZIER_CONE_URL": ("d4p_astro.params", "VIZIER_CONE_URL"),
    "TruncatedAnswerWarning": ("d4p_astro.errors", "TruncatedAnswerWarning"),
    "VOTableError": ("d4p_astro.errors", "VOTableError"),
    "WriteCSV": ("d4p_astro.pes", "WriteCSV"),
    "build_int_ext": ("d4p_astro.workflow", "build"),
    "cone_search": ("d4p_astro.vizier", "cone_search"),
    "extinction_for": ("d4p_astro.extinction", "extinction_for"),
    "internal_extinction": ("d4p_astro.extinction", "internal_extinction"),
    "morphological_t": ("d4p_astro.extinction", "morphological_t"),
    "nearest_galaxy": ("d4p_astro.votable", "nearest_galaxy"),
    "parse_galaxies": ("d4p_astro.votable", "parse_galaxies"),
    "read_coordinates": ("d4p_astro.coordinates", "read_coordinates"),
    "read_csv": ("d4p_astro.results", "read_csv"),
    "read_votable": ("d4p_astro.votable", "read_votable"),
    "write_csv": ("d4p_astro.results", "write_csv"),
}


def __getattr__(name: str):
    try:
        module, attr = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'd4p_astro' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


__all__ = ["__version__", *_WHERE]
