"""Coordinates files: one position (RA, Dec, J2000) per line, as astronomers keep them.

Each line holds an RA and a Dec, separated by a tab, a semicolon, a comma or
blanks (the first line's separator is the file's; with tabs or semicolons a
decimal comma is read: ``10,6847;41,269``); ``#`` starts a comment; blank lines are skipped. A value is decimal
degrees (``10.6847``) or sexagesimal text: RA in hours (``00:42:44.3``,
``00 42 44.3``, ``00h42m44.3s``), Dec in degrees (``+41:16:09``, ``-00 30 00``
is -0.5). An optional first line names the columns (``ra,dec``, ``name ra dec``,
``RAJ2000;DEJ2000``, ``RAh,DEdeg`` for RA in decimal hours); with it, other
columns are allowed and ignored. UTF-8 (with or without a byte-order mark),
UTF-16 with its byte-order mark (Excel's "Unicode Text") and Windows line ends
are fine. Anything else is a `CoordinatesError` naming the file and the line.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from d4p_astro.errors import CoordinatesError
from d4p_astro.params import SHIPPED_COORDINATES as SHIPPED_COORDINATES  # its former home


class Position(NamedTuple):
    """The `count`-th position (1-based) of a coordinates file, in decimal degrees (J2000)."""

    count: int
    ra: float
    dec: float


def _names(*names: str) -> frozenset[str]:
    return frozenset(names)


# Header names, lower case without blanks or punctuation ("RA_ICRS" -> "raicrs").
_RA_DEGREES = _names("ra", "raj2000", "raicrs", "radeg", "radegrees", "radecimal", "alpha")
_RA_HOURS = _names("rah", "rahr", "rahour", "rahours", "rahms", "rasexagesimal")
_DEC = _names("dec", "de", "decl", "dej2000", "decj2000", "deicrs", "decicrs", "decdeg",
              "dedeg", "decdegrees", "decdms", "dedms", "delta")  # fmt: skip


class _Layout(NamedTuple):
    """Where RA and Dec are in a line: column indexes, the number of columns, RA unit."""

    ra: int
    dec: int
    width: int | None  # None: no header, so the line is exactly "ra dec"
    ra_in_hours: bool
    header_line: int | None


_NO_HEADER = _Layout(0, 1, None, False, None)


def read_coordinates(path: str | Path) -> Iterator[Position]:
    """Yield the positions of a coordinates file in file order.

    `count` numbers the positions from 1. A malformed line raises
    `CoordinatesError` naming the file and the line number.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CoordinatesError(
            f"cannot read coordinates file {path}: {exc.strerror or exc}"
        ) from exc
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode Text" export
    try:
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as exc:
        lineno = data[: exc.start].count(b"\n") + 1
        raise CoordinatesError(
            f"{path}, line {lineno}: not UTF-8 text (byte {data[exc.start]:#04x}); "
            "save the coordinates file as UTF-8"
        ) from None
    layout: _Layout | None = None
    separator: str | None = None
    count = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        if not line.strip():
            continue
        if separator is None:  # the file's, from its first line: a note may hold commas
            separator = next((s for s in ("\t", ";", ",") if s in line), " ")
        fields = _split(line, separator)
        if layout is None:
            layout = _header(fields, lineno)
            if layout is not None:
                continue
            layout = _NO_HEADER
        ra, dec = _parse_line(fields, line, layout, path, lineno)
        count += 1
        yield Position(count, ra, dec)


def _split(line: str, separator: str) -> list[str]:
    """The fields of `line`: split at `separator` (a tab, comma or semicolon), or at
    blanks when `separator` is a blank."""
    if separator != " ":
        fields = line.strip(" ").split(separator)  # a trailing tab is an empty last cell
    else:
        fields = line.split()
        if len(fields) == 6:  # "00 42 44.3 +41 16 09": RA and Dec in blank-separated parts
            fields = [" ".join(fields[:3]), " ".join(fields[3:])]
    return [field.strip().strip("\"'").strip() for field in fields]


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _header(fields: list[str], lineno: int) -> _Layout | None:
    """The layout a header line gives, or None when `fields` are not column names."""
    keys = [_key(field) for field in fields]
    ras = [i for i, k in enumerate(keys) if k in _RA_DEGREES or k in _RA_HOURS]
    decs = [i for i, k in enumerate(keys) if k in _DEC]
    if len(ras) != 1 or len(decs) != 1:
        return None
    return _Layout(ras[0], decs[0], len(fields), keys[ras[0]] in _RA_HOURS, lineno)


def _parse_line(
    fields: list[str], line: str, layout: _Layout, path: Path, lineno: int
) -> tuple[float, float]:
    where = f"{path}, line {lineno}"
    if layout.width is None:
        while len(fields) > 2 and not fields[-1]:
            fields = fields[:-1]  # "10.5,41.2," as some spreadsheets export it
    if layout.width is None and len(fields) != 2:
        raise CoordinatesError(
            f"{where}: expected 'ra,dec' (or a first line naming the ra and dec columns), "
            f"got {line!r}"
        )
    if layout.width is not None and len(fields) != layout.width:
        raise CoordinatesError(
            f"{where}: expected {layout.width} columns as in the header on line "
            f"{layout.header_line}, got {len(fields)}: {line!r}"
        )
    ra_text, dec_text = fields[layout.ra], fields[layout.dec]
    try:
        ra = _angle(ra_text, hours=True, decimal_hours=layout.ra_in_hours)
        dec = _angle(dec_text, hours=False, decimal_hours=False)
    except ValueError as exc:
        raise CoordinatesError(
            f"{where}: ra and dec must be decimal degrees or sexagesimal "
            f"(ra hh:mm:ss.s, dec +dd:mm:ss), got {line!r}{exc}"
        ) from None
    if not (math.isfinite(ra) and 0.0 <= ra < 360.0):
        raise CoordinatesError(f"{where}: ra {ra_text} is outside [0, 360) degrees")
    if not (math.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise CoordinatesError(f"{where}: dec {dec_text} is outside [-90, 90] degrees")
    return ra + 0.0, dec + 0.0  # -0.0 (a "-0" line) is 0.0: no "-0.0" in the results


_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.I)


def _angle(text: str, *, hours: bool, decimal_hours: bool) -> float:
    """Degrees of one value: decimal (degrees, or hours if `decimal_hours`) or
    sexagesimal (hours if `hours`, else degrees).

    Raises ValueError (its text: "" or "; " and the reason) when it is neither.
    """
    text = text.replace("\u2212", "-")  # a typographic minus sign
    if _DECIMAL.fullmatch(text.replace(",", ".", 1)):  # "10,5": a decimal comma (fields
        value = float(text.replace(",", ".", 1))  # split at ";" or tabs keep it)
        return value * 15.0 if decimal_hours else value
    if not re.fullmatch(r"[+-]?\s*\d[\d\s:.hdms°'\"]*", text):
        raise ValueError("")
    from astropy import units as u
    from astropy.coordinates import Angle

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. 60 seconds: astropy would carry it over
            return float(Angle(text, unit=u.hourangle if hours else u.deg).degree)
    except (ValueError, Warning) as exc:
        reason = str(exc).split(". Treating")[0].strip().replace("  ", " ")
        raise ValueError(f"; {text!r}: {reason}" if reason else "") from None
