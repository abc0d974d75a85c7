"""The internal-extinction workflow, ``int_ext``, as a graph ready for ``d4p.run``."""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlsplit

from d4p import UsageError, WorkflowGraph

from d4p_astro.coordinates import read_coordinates
from d4p_astro.errors import VOTableError
from d4p_astro.extinction import TYPE_TABLES
from d4p_astro.fixture import FixtureCatalogue
from d4p_astro.params import DEFAULTS
from d4p_astro.pes import (
    SOURCES,
    FilterColumns,
    GetVOTable,
    InternalExtinction,
    ReadRaDec,
    WriteCSV,
)


def build(
    coordinates: str | Path = DEFAULTS["coordinates"],
    source: str = DEFAULTS["source"],
    radius: float = DEFAULTS["radius"],
    output: str | Path = DEFAULTS["output"],
    timeout: float = DEFAULTS["timeout"],
    retries: int = DEFAULTS["retries"],
    url: str = DEFAULTS["url"],
    fixture: str | Path = DEFAULTS["fixture"],
    instances: int = DEFAULTS["instances"],
    types: str = DEFAULTS["types"],
) -> tuple[WorkflowGraph, dict]:
    """The graph read_ra_dec → get_votable → filter_columns → internal_extinction → write_csv
    and its inputs (the coordinates file for read_ra_dec).

    `coordinates`: file of ``ra,dec`` lines (degrees). `source`: ``"vizier"`` (live
    cone search on `url`, `timeout` seconds per attempt, `retries` more attempts) or
    ``"fixture"`` (the synthetic `fixture` VOTable, offline). `radius`: cone radius
    in degrees. `output`: the results CSV. `instances`: parallel instances of
    get_votable, filter_columns and internal_extinction. `types`: the table of
    numerical types, ``"rc3"`` (HyperLEDA's scale) or ``"dispel4py"``.

    The coordinates file, the output directory and the numbers are checked here,
    before anything runs.
    """
    if source not in SOURCES:
        raise UsageError(f"int_ext: -p source must be one of {', '.join(SOURCES)}, not {source!r}")
    if types not in TYPE_TABLES:
        raise UsageError(f"int_ext: -p types must be one of {', '.join(TYPE_TABLES)}, "
                         f"not {types!r}")
    for name, value, most in (("radius", radius, 180.0), ("timeout", timeout, math.inf)):
        if not 0 < value <= most:
            raise UsageError(
                f"int_ext: -p {name} must be a positive number"
                + (f" up to {most:g}" if math.isfinite(most) else "")
                + f", not {value!r}"
            )
    for name, value, least in (("retries", retries, 0), ("instances", instances, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise UsageError(f"int_ext: -p {name} must be an integer >= {least}, not {value!r}")
    # A bad file fails now, naming its line, rather than mid-run.
    if not sum(1 for _ in read_coordinates(coordinates)):  # streams: files may be long
        raise UsageError(
            f"int_ext: -p coordinates={coordinates} holds no positions "
            "(one 'ra,dec' per line; '#' starts a comment)"
        )
    # Absolute paths: PE instances may run in other processes, or other directories.
    coordinates, output, fixture = (Path(p).resolve() for p in (coordinates, output, fixture))
    if source == "fixture":
        if not fixture.is_file():
            raise UsageError(f"int_ext: -p fixture={fixture} is not a file")
        try:
            FixtureCatalogue(fixture)
        except VOTableError as exc:
            raise UsageError(f"int_ext: -p fixture: {exc}") from None
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"int_ext: -p url must be an http:// or https:// cone-search URL, not {url!r}"
            )
    if output.is_dir():
        raise UsageError(f"int_ext: -p output={output} is a directory; give a file name")
    out_dir = output.parent
    if not out_dir.is_dir():
        raise UsageError(f"int_ext: the directory of -p output={output} does not exist")

    read = ReadRaDec()
    get = GetVOTable(
        source,
        radius,
        url=url,
        timeout=timeout,
        retries=retries,
        fixture=fixture,
        numprocesses=instances,
    )
    columns = FilterColumns(numprocesses=instances)
    extinction = InternalExtinction(numprocesses=instances, types=types)
    write = WriteCSV(output)
    graph = WorkflowGraph()
    graph.connect(read, "output", get, "input")
    graph.connect(get, "output", columns, "input")
    graph.connect(columns, "output", extinction, "input")
    graph.connect(extinction, "output", write, "input")
    return graph, {read: [{"input": str(coordinates)}]}
