"""Reading cone-search answers (VOTables) into the two values the recipe needs: MType, logR25.

A cone-search answer lists every catalogue row within the radius. The galaxy *at*
the position is the row nearest to it: rows are ordered by their angular distance
(computed from the main RA/Dec columns, or VizieR's ``_r`` column when there is no
usable position). Masked or empty cells become ``None``; a missing MType or logR25
*column* is an error, because it means the service answered for another table.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import NamedTuple

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, angular_separation
from astropy.io.votable import parse
from astropy.io.votable.tree import TableElement, VOTableFile
from astropy.table import Column

from d4p_astro.errors import VOTableError

MTYPE = "MType"
LOGR25 = "logR25"

_RA_NAMES = ("_RAJ2000", "RAJ2000", "RA_ICRS", "RA", "ra")
_DEC_NAMES = ("_DEJ2000", "DEJ2000", "DE_ICRS", "DEC", "dec")


class Galaxy(NamedTuple):
    """One catalogue row: morphological type, log10 axis ratio, distance from the position."""

    mtype: str | None
    logr25: float | None
    separation: float | None
    """Degrees from the searched position; ``None`` when the row has no usable position."""


def read_votable(data: bytes, source: str) -> TableElement:
    """The first table of a VOTable document; `source` (URL or file) is named in errors.

    Raises `VOTableError` when `data` is not a VOTable, reports a query error
    (``INFO name="QUERY_STATUS" value="ERROR"``, or the Cone Search ``Error``
    INFO/PARAM), or holds no table.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            votable = parse(io.BytesIO(data), verify="ignore")
    except Exception as exc:
        start = data[:120].decode("utf-8", "replace").strip()
        raise VOTableError(
            f"{source}: the answer is not a readable VOTable ({exc}); it starts with {start!r}"
        ) from exc
    error = _service_error(votable)
    if error is not None:
        raise VOTableError(f"{source}: the service reports an error: {error}")
    try:
        return votable.get_first_table()
    except IndexError:
        raise VOTableError(f"{source}: the VOTable holds no table") from None


def parse_galaxies(data: bytes, ra: float, dec: float, source: str) -> list[Galaxy]:
    """Every row of a cone-search answer around (`ra`, `dec`), nearest first.

    Rows of unknown distance keep their order, after those of known distance.
    """
    table = read_votable(data, source)
    mtype_name = find_column(table, MTYPE, source)
    logr25_name = find_column(table, LOGR25, source)
    rows = table.to_table(use_names_over_ids=True)
    if len(rows) == 0:
        return []
    mtypes = text_cells(rows[mtype_name])
    logr25s = number_cells(rows[logr25_name])
    separations = _separations(table, rows, ra, dec)
    galaxies = [Galaxy(m, r, s) for m, r, s in zip(mtypes, logr25s, separations, strict=True)]
    order = sorted(
        range(len(galaxies)),
        key=lambda i: (galaxies[i].separation is None, galaxies[i].separation or 0.0, i),
    )
    return [galaxies[i] for i in order]


def nearest_galaxy(data: bytes, ra: float, dec: float, source: str) -> Galaxy | None:
    """The row nearest to (`ra`, `dec`) in a cone-search answer; ``None`` for an empty answer."""
    galaxies = parse_galaxies(data, ra, dec, source)
    return galaxies[0] if galaxies else None


def text_cells(column: Column) -> list[str | None]:
    """The cells of a text column, stripped; ``None`` where masked or empty."""
    return [_text(cell) for cell in _cells(column)]


def number_cells(column: Column) -> list[float | None]:
    """The cells of a numeric column as floats; ``None`` where masked, NaN or not a number.

    Single-precision cells keep their shortest decimal form (0.45, not 0.449999988).
    """
    return [_number(cell) for cell in _cells(column)]


def _service_error(votable: VOTableFile) -> str | None:
    elements = list(votable.infos) + list(getattr(votable, "params", []))
    for resource in votable.resources:
        elements += list(resource.infos) + list(resource.params)
    for element in elements:
        name = (element.name or "").strip()
        value = "" if element.value is None else str(element.value).strip()
        content = (getattr(element, "content", None) or "").strip()
        if name.upper() == "QUERY_STATUS" and value.upper() == "ERROR":
            return content or value
        if name == "Error":
            return value or content or "unspecified error"
    return None


def find_column(table: TableElement, wanted: str, source: str) -> str:
    """The name of column `wanted` of `table`, matched exactly or else whatever its case.

    Raises `VOTableError` naming `source`, the column and the columns there are.
    """
    names = [field.name for field in table.fields]
    if wanted in names:
        return wanted
    for name in names:
        if name.lower() == wanted.lower():
            return name
    raise VOTableError(
        f"{source}: the VOTable has no {wanted} column (columns: {', '.join(names) or 'none'}); "
        "is it the HyperLEDA catalogue VII/237?"
    )


def _cells(column) -> list:
    """The cells of a column as NumPy scalars, ``None`` where masked."""
    data = np.ma.getdata(column)
    mask = np.ma.getmaskarray(column)
    return [None if masked else value for value, masked in zip(data, mask, strict=True)]


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value).strip()
    return value or None


def _number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bytes | str):
        try:
            value = float(value)
        except ValueError:
            return None
    # str() of a float32 is its shortest decimal form: 0.45, not 0.44999998807907104.
    number = float(str(value)) if isinstance(value, np.floating) else float(value)
    return None if math.isnan(number) else number


def _separations(table: TableElement, rows, ra: float, dec: float) -> list[float | None]:
    ra_name = _position_column(table, "pos.eq.ra", _RA_NAMES)
    dec_name = _position_column(table, "pos.eq.dec", _DEC_NAMES)
    if ra_name is not None and dec_name is not None:
        ras = _angles(rows[ra_name], u.hourangle)
        decs = _angles(rows[dec_name], u.deg)
        if ras is not None and decs is not None:
            seps = np.degrees(
                angular_separation(
                    np.radians(ra), np.radians(dec), np.radians(ras), np.radians(decs)
                )
            )
            return [None if math.isnan(s) else float(s) for s in seps]
    if "_r" in rows.colnames:
        unit = rows["_r"].unit or u.arcmin
        if unit.is_equivalent(u.deg):
            scale = unit.to(u.deg)
            return [None if r is None else r * scale for r in number_cells(rows["_r"])]
    return [None] * len(rows)


def _position_column(table: TableElement, ucd: str, names: tuple[str, ...]) -> str | None:
    fields = [f for f in table.fields if (f.ucd or "").lower().startswith(ucd)]
    main = [f for f in fields if "meta.main" in (f.ucd or "").lower()]
    if main or fields:
        return (main or fields)[0].name
    present = {f.name for f in table.fields}
    return next((name for name in names if name in present), None)


def _angles(column, sexagesimal_unit: u.Unit) -> np.ndarray | None:
    """Degrees of a column of decimal degrees or of sexagesimal text; NaN where masked.

    Sexagesimal text (``"00 42 44.3"``, as VizieR writes RAJ2000) is read in
    `sexagesimal_unit` (hours for RA, degrees for Dec); ``None`` if a cell is unreadable.
    """
    values = []
    for cell in _cells(column):
        if cell is None:
            values.append(math.nan)
            continue
        if isinstance(cell, bytes | np.bytes_):
            cell = cell.decode("utf-8", "replace")
        try:
            if isinstance(cell, str) and (" " in cell.strip() or ":" in cell):
                values.append(Angle(cell.strip(), unit=sexagesimal_unit).degree)
            else:
                values.append(float(cell))
        except ValueError:
            return None
    return np.asarray(values, dtype=float)
