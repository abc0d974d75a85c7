"""The synthetic VOTable fixture: how it is made, and how it answers cone searches offline.

The fixture is shaped like a VizieR cone-search answer from the HyperLEDA catalogue
VII/237 (columns PGC, RAJ2000, DEJ2000, MType, logR25), but every row is MADE UP:
identifiers, positions, types and axis ratios are invented to exercise the workflow
(every branch of the recipe, a nearer and a farther galaxy in one cone, masked cells,
an unknown type, an empty cone). They are not measurements of real galaxies.

Regenerate the shipped file after changing the rows below with::

    python -m d4p_astro.fixture            # writes FIXTURE_PATH
    python -m d4p_astro.fixture OTHER.vot  # writes elsewhere
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import escape

import numpy as np
from astropy.coordinates import angular_separation

from d4p_astro.coordinates import SHIPPED_COORDINATES, read_coordinates
from d4p_astro.errors import VOTableError
from d4p_astro.params import FIXTURE_PATH
from d4p_astro.votable import (
    find_column,
    number_cells,
    position_degrees,
    read_votable,
    text_cells,
)

"""The shipped synthetic fixture (made-up rows; see this module's docstring)."""

SYNTHETIC_NOTE = (
    "SYNTHETIC TEST DATA: made-up rows shaped like VizieR VII/237 (HyperLEDA) cone-search "
    "answers, written by d4p_astro.fixture. Not measurements of real galaxies."
)


class FixtureRow(NamedTuple):
    """One made-up catalogue row; ``None`` cells are written empty (masked)."""

    pgc: int
    ra: float
    dec: float
    mtype: str | None
    logr25: float | None


# Offsets (east, north) in degrees on the sky from a shipped position.
_TARGET = (0.0010, 0.0015)  # 0.0018 deg: the galaxy at the position
_NEIGHBOUR = (-0.0040, 0.0050)  # 0.0064 deg: inside the default radius, but farther
_OUTSIDE = (0.0300, -0.0400)  # 0.05 deg: outside the default radius (0.01 deg)

# (position count in the shipped coordinates file, offset, MType, logR25)
_ROWS: tuple[tuple[int, tuple[float, float], str | None, float | None], ...] = (
    (1, _TARGET, "Sb", 0.49),
    (1, _OUTSIDE, "SBm", 0.40),
    (2, _TARGET, "Scd", 0.23),
    (3, _TARGET, "Sbc", 0.45),
    (3, _NEIGHBOUR, "E-S0", 0.10),
    (4, _TARGET, "Sab", 0.28),
    (5, _TARGET, "SBc", 0.02),
    (5, _NEIGHBOUR, "Sm", 0.50),
    (6, _TARGET, "SBb", 0.73),
    (7, _TARGET, "Sd", 0.87),
    (8, _TARGET, "E", 0.05),
    (8, _NEIGHBOUR, "S0", 0.20),
    (9, _TARGET, "S0a", 0.39),
    (10, _TARGET, "I", 0.18),  # not in the recipe's type table: unknown
    (11, _TARGET, "Sc", None),  # logR25 masked
    (12, _TARGET, None, 0.60),  # MType masked
    (13, _OUTSIDE, "Sa", 0.30),  # position 13 has no galaxy within 0.01 deg
)


def synthetic_rows(coordinates: str | Path = SHIPPED_COORDINATES) -> list[FixtureRow]:
    """The made-up rows, placed around the positions of the shipped coordinates file."""
    positions = {p.count: p for p in read_coordinates(coordinates)}
    rows = []
    for number, (count, (east, north), mtype, logr25) in enumerate(_ROWS, start=1):
        position = positions[count]
        ra = (position.ra + east / math.cos(math.radians(position.dec))) % 360.0
        rows.append(
            FixtureRow(
                9_000_000 + number, round(ra, 6), round(position.dec + north, 6), mtype, logr25
            )
        )
    return rows


def votable_bytes(rows: Iterable[FixtureRow], description: str = SYNTHETIC_NOTE) -> bytes:
    """A VOTable 1.3 document of `rows`, in the layout of a VizieR VII/237 answer."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">',
        f" <DESCRIPTION>{escape(description)}</DESCRIPTION>",
        ' <RESOURCE type="results" name="VII/237">',
        '  <INFO name="QUERY_STATUS" value="OK"/>',
        '  <TABLE name="VII/237/pgc">',
        f"   <DESCRIPTION>{escape(description)}</DESCRIPTION>",
        '   <FIELD name="PGC" ucd="meta.id;meta.main" datatype="int"/>',
        '   <FIELD name="RAJ2000" ucd="pos.eq.ra;meta.main" datatype="double" unit="deg"/>',
        '   <FIELD name="DEJ2000" ucd="pos.eq.dec;meta.main" datatype="double" unit="deg"/>',
        '   <FIELD name="MType" ucd="src.morph.type" datatype="char" arraysize="5*"/>',
        '   <FIELD name="logR25" ucd="phys.size.axisRatio" datatype="float" precision="2"/>',
        "   <DATA><TABLEDATA>",
    ]
    for row in rows:
        cells = [
            str(row.pgc),
            repr(row.ra),
            repr(row.dec),
            "" if row.mtype is None else escape(row.mtype),
            "" if row.logr25 is None else f"{row.logr25:.2f}",
        ]
        lines.append("    <TR>" + "".join(f"<TD>{cell}</TD>" for cell in cells) + "</TR>")
    lines += ["   </TABLEDATA></DATA>", "  </TABLE>", " </RESOURCE>", "</VOTABLE>", ""]
    return "\n".join(lines).encode("utf-8")


def generate(path: str | Path = FIXTURE_PATH) -> Path:
    """Write the synthetic fixture to `path` and return it."""
    path = Path(path)
    path.write_bytes(votable_bytes(synthetic_rows()))
    return path


class FixtureCatalogue:
    """An offline stand-in for the VizieR cone search, answering from a fixture VOTable."""

    def __init__(self, path: str | Path = FIXTURE_PATH) -> None:
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise VOTableError(f"cannot read fixture {self.path}: {exc.strerror or exc}") from exc
        votable = read_votable(data, str(self.path))
        pgc, ra, dec, mtype, logr25 = (
            find_column(votable, name, f"fixture {self.path}")
            for name in ("PGC", "RAJ2000", "DEJ2000", "MType", "logR25")
        )
        table = votable.to_table(use_names_over_ids=True)
        where = f"fixture {self.path}"
        self._rows = [  # positions as VizieR gives them too: "h m s" text, or in the column's unit
            FixtureRow(-1 if row[0] is None else int(row[0]), *row[1:])
            for row in zip(
                number_cells(table[pgc]),
                position_degrees(table[ra], ra=True, source=where).tolist(),
                position_degrees(table[dec], ra=False, source=where).tolist(),
                text_cells(table[mtype]),
                number_cells(table[logr25]),
                strict=True,
            )
        ]
        self._ra = np.radians([row.ra for row in self._rows])
        self._dec = np.radians([row.dec for row in self._rows])

    @property
    def rows(self) -> list[FixtureRow]:
        """Every row of the fixture, in file order."""
        return list(self._rows)

    def cone(self, ra: float, dec: float, radius: float) -> bytes:
        """The VOTable answer for the cone of `radius` degrees around (`ra`, `dec`)."""
        separation = np.degrees(
            angular_separation(math.radians(ra), math.radians(dec), self._ra, self._dec)
        )
        inside = [row for row, sep in zip(self._rows, separation, strict=True) if sep <= radius]
        return votable_bytes(inside, f"{SYNTHETIC_NOTE} Cone of {radius} deg around {ra}, {dec}.")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = generate(args[0] if args else FIXTURE_PATH)
    print(f"wrote {path} (synthetic, made-up rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
