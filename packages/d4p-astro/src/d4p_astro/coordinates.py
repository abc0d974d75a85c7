"""Coordinates files: one ``ra,dec`` pair in decimal degrees per line, ``#`` comments."""

from __future__ import annotations

import math
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


def read_coordinates(path: str | Path) -> Iterator[Position]:
    """Yield the positions of a coordinates file in file order.

    ``#`` starts a comment; blank lines are skipped; `count` numbers the
    positions from 1. A malformed line raises `CoordinatesError` naming the file
    and the line number.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CoordinatesError(
            f"cannot read coordinates file {path}: {exc.strerror or exc}"
        ) from exc
    count = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        ra, dec = _parse_line(line, path, lineno)
        count += 1
        yield Position(count, ra, dec)


def _parse_line(line: str, path: Path, lineno: int) -> tuple[float, float]:
    where = f"{path}, line {lineno}"
    fields = [f.strip() for f in line.split(",")]
    if len(fields) != 2:
        raise CoordinatesError(f"{where}: expected 'ra,dec' in degrees, got {line!r}")
    try:
        ra, dec = float(fields[0]), float(fields[1])
    except ValueError:
        raise CoordinatesError(
            f"{where}: ra and dec must be decimal degrees, got {line!r}"
        ) from None
    if not (math.isfinite(ra) and 0.0 <= ra < 360.0):
        raise CoordinatesError(f"{where}: ra {fields[0]} is outside [0, 360) degrees")
    if not (math.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise CoordinatesError(f"{where}: dec {fields[1]} is outside [-90, 90] degrees")
    return ra, dec
