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
import re
import warnings
from typing import NamedTuple

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, angular_separation
from astropy.io.votable import parse
from astropy.io.votable.tree import TableElement, VOTableFile
from astropy.table import Column

from d4p_astro.errors import TruncatedAnswerWarning, VOTableError

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


def read_votable(data: bytes, source: str, *, empty: bool = False) -> TableElement | None:
    """The first table of a VOTable document that has an MType column, else its first
    table; `source` (URL or file) is named in errors.

    Raises `VOTableError` when `data` is not a VOTable, reports a query error
    (``INFO name="QUERY_STATUS" value="ERROR"``, or the Cone Search ``Error``
    INFO/PARAM), or holds no table; with `empty`, a document without any table
    (VizieR's answer when nothing matched) gives ``None`` instead. An answer the
    service cut at its row limit (``QUERY_STATUS=OVERFLOW``) gives a
    `TruncatedAnswerWarning` naming `source`.
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
    tables = list(votable.iter_tables())
    overflow = _overflow(votable)
    if overflow is not None:
        rows = sum(len(table.array) for table in tables)
        warnings.warn(TruncatedAnswerWarning(
            f"{source}: the service cut its answer at its row limit ({rows} "
            f"row{'' if rows == 1 else 's'}; "
            f"QUERY_STATUS=OVERFLOW{': ' if overflow else ''}{overflow}): the galaxy nearest to the position may be "
            "among the rows left out; search a smaller cone (-p radius=DEGREES)"
        ), stacklevel=2)
    if not tables:
        if empty:
            return None
        raise VOTableError(f"{source}: the VOTable holds no table")
    for table in tables:  # e.g. a first RESOURCE of another catalogue, or of metadata
        if any(field.name.lower() == MTYPE.lower() for field in table.fields):
            return table
    return tables[0]


def parse_galaxies(data: bytes, ra: float, dec: float, source: str) -> list[Galaxy]:
    """Every row of a cone-search answer around (`ra`, `dec`), nearest first.

    Rows of unknown distance keep their order, after those of known distance. An
    answer without any table (and no error) has no rows.
    """
    table = read_votable(data, source, empty=True)
    if table is None:
        return []
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


def service_error(data: bytes) -> str | None:
    """The error message a VOTable answer reports (see `read_votable`); ``None`` when
    `data` is not a VOTable or reports no error. For HTTP error answers."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _service_error(parse(io.BytesIO(data), verify="ignore"))
    except Exception:
        return None


def _service_error(votable: VOTableFile) -> str | None:
    """The message of the first error INFO or PARAM anywhere in the document: DALI's
    ``QUERY_STATUS=ERROR`` (also after a table's rows), the Cone Search ``Error``, or
    an ``INFO name="ERROR"`` as some services write."""
    for name, value, content in _statuses(votable):
        if name.upper() == "QUERY_STATUS" and value.upper() == "ERROR":
            return _one_line(content or value)
        if name.upper() == "ERROR":
            return _one_line(value or content or "unspecified error")
    return None


def _overflow(votable: VOTableFile) -> str | None:
    """The text of DALI's ``QUERY_STATUS=OVERFLOW`` INFO (the service cut the answer at
    its row limit; VizieR writes it after the rows), ``""`` if it has none; ``None``
    when the answer is whole."""
    for name, value, content in _statuses(votable):
        if name.upper() == "QUERY_STATUS" and value.upper() == "OVERFLOW":
            return _one_line(content)
    return None


def _statuses(votable: VOTableFile) -> list[tuple[str, str, str]]:
    """``(name, value, text)`` of every INFO and PARAM of the document, its resources
    and its tables (also those after a table's rows), stripped."""
    elements = list(votable.infos) + list(getattr(votable, "params", []))
    resources = list(votable.resources)
    while resources:
        resource = resources.pop(0)
        elements += list(resource.infos) + list(resource.params)
        for table in resource.tables:
            elements += list(getattr(table, "infos", []))
        resources += list(resource.resources)
    return [((element.name or "").strip(),
             "" if element.value is None else str(element.value).strip(),
             (getattr(element, "content", None) or "").strip()) for element in elements]


def _one_line(text: str) -> str:
    """`text` on one line, at most 300 characters (VizieR's reports run to pages)."""
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


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
    """Each row's distance from (`ra`, `dec`) in degrees, from the first pair of
    position columns that gives it (see `_position_columns`), else from VizieR's
    ``_r``; ``None`` where no column gives it."""
    separations: list[float | None] = [None] * len(rows)
    for ra_name, dec_name in _position_columns(table):
        ras = _angles(rows[ra_name], u.hourangle)
        decs = _angles(rows[dec_name], u.deg)
        if ras is None or decs is None:
            continue
        found = np.degrees(
            angular_separation(np.radians(ra), np.radians(dec), np.radians(ras), np.radians(decs))
        )
        separations = [
            float(new) if old is None and not math.isnan(new) else old
            for old, new in zip(separations, found, strict=True)
        ]
        if None not in separations:
            return separations
    if "_r" in rows.colnames:
        unit = rows["_r"].unit or u.arcmin
        if unit.is_equivalent(u.deg):
            scale = unit.to(u.deg)
            separations = [
                r * scale if old is None and r is not None else old
                for old, r in zip(separations, number_cells(rows["_r"]), strict=True)
            ]
    return separations


def _position_columns(table: TableElement) -> list[tuple[str, str]]:
    """The (RA, Dec) column pairs by UCD, best first: the main position in numbers,
    VizieR's computed ``_RAJ2000``/``_DEJ2000``, the main position as text (VizieR's
    "h m s"), other positions; else by name. The Dec of an RA is alike in being
    main and in VizieR's leading ``_``, else the best Dec."""

    def kind(field) -> tuple[bool, bool]:
        return "meta.main" in (field.ucd or "").lower(), field.name.startswith("_")

    def rank(field) -> tuple[bool, bool, bool]:
        main, computed = kind(field)
        return not (main or computed), field.datatype == "char", not main

    def fields(ucd: str) -> list:
        return [f for f in table.fields if (f.ucd or "").lower().split(";")[0] == ucd]

    decs = sorted(fields("pos.eq.dec"), key=rank)
    pairs = []
    for ra_field in sorted(fields("pos.eq.ra"), key=rank):
        alike = [f for f in decs if kind(f) == kind(ra_field)]
        if alike or decs:
            pairs.append((ra_field.name, (alike or decs)[0].name))
    if pairs:
        return pairs
    present = {f.name for f in table.fields}
    ra_name = next((name for name in _RA_NAMES if name in present), None)
    dec_name = next((name for name in _DEC_NAMES if name in present), None)
    return [(ra_name, dec_name)] if ra_name and dec_name else []


def position_degrees(column: Column, *, ra: bool, source: str) -> np.ndarray:
    """Degrees of an RA (`ra`) or Dec column, decimal in its unit or sexagesimal text
    (RA in hours); NaN where masked. Raises `VOTableError` naming `source` and the
    column when a cell is not an angle."""
    degrees = _angles(column, u.hourangle if ra else u.deg)
    if degrees is None:
        raise VOTableError(
            f"{source}: column {column.name} holds values that are not angles "
            f"(decimal degrees or sexagesimal), e.g. {column[0]!r}"
        )
    return degrees


def _angles(column, sexagesimal_unit: u.Unit) -> np.ndarray | None:
    """Degrees of a column of decimal degrees or of sexagesimal text; NaN where masked.

    Sexagesimal text (``"00 42 44.3"``, as VizieR writes RAJ2000) is read in the
    column's unit ("h:m:s", "d:m:s", "deg", "hourangle"), else in `sexagesimal_unit`
    (hours for RA, degrees for Dec); ``None`` if a cell is unreadable.
    """
    scale = _degrees_per(column.unit)
    if scale is None:
        return None
    sexagesimal_unit = _sexagesimal_unit(column.unit) or sexagesimal_unit
    values = []
    for cell in _cells(column):
        if isinstance(cell, bytes | np.bytes_):
            cell = cell.decode("utf-8", "replace")
        if isinstance(cell, str):
            cell = cell.strip() or None
        if cell is None:
            values.append(math.nan)
            continue
        try:
            if isinstance(cell, str) and (" " in cell or ":" in cell):
                values.append(_sexagesimal(cell, sexagesimal_unit))
            else:
                values.append(float(cell) * scale)
        except ValueError:
            return None
    return np.asarray(values, dtype=float)


def _sexagesimal_unit(unit) -> u.Unit | None:
    """Hours or degrees, as a column's unit says for its sexagesimal text; None if it does not."""
    if isinstance(unit, u.UnrecognizedUnit):
        name = str(unit).strip('"').lower()
        return u.hourangle if name.startswith("h") else u.deg if name.startswith("d") else None
    if unit is None:
        return None
    if unit in (u.hourangle, u.hour):
        return u.hourangle
    return u.deg if unit.is_equivalent(u.deg) else None


_SEXAGESIMAL = re.compile(r"([+-]?)(\d+)[ :]+(\d+)(?:[ :]+(\d+(?:\.\d*)?))?")


def _sexagesimal(text: str, unit: u.Unit) -> float:
    """Degrees of "dd mm ss.s" text in `unit`; the common VizieR forms are read
    directly (a large cone holds thousands of rows), others by astropy's Angle."""
    match = _SEXAGESIMAL.fullmatch(text)
    if match is None:
        return Angle(text, unit=unit).degree
    sign, whole, minutes, seconds = match.groups()
    if int(minutes) >= 60 or float(seconds or 0) >= 60:
        raise ValueError(f"minutes or seconds out of range in {text!r}")
    value = int(whole) + int(minutes) / 60 + float(seconds or 0) / 3600
    value *= 15.0 if unit == u.hourangle else 1.0
    return -value if sign == "-" else value


def _degrees_per(unit) -> float | None:
    """Degrees in one `unit` of a decimal position column (None, "deg" or "h:m:s": 1;
    "h": 15; "rad": 57.3...); ``None`` for a unit that is not an angle."""
    if unit is None or isinstance(unit, u.UnrecognizedUnit):
        return 1.0
    if unit == u.hour:
        return 15.0
    try:
        return float(unit.to(u.deg))
    except u.UnitsError:
        return None
