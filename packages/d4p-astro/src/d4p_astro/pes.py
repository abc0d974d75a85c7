"""The processing elements of the internal-extinction workflow (dispel4py's four, plus the CSV).

    read_ra_dec → get_votable → filter_columns → internal_extinction → write_csv

Data units are small named tuples, so they travel between processes as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from d4p import GenericPE, IterativePE, UsageError

from d4p_astro.coordinates import Position, read_coordinates
from d4p_astro.extinction import TYPE_TABLES, extinction_for
from d4p_astro.fixture import FIXTURE_PATH, FixtureCatalogue
from d4p_astro.results import ExtinctionRow, write_csv
from d4p_astro.vizier import VIZIER_CONE_URL, cone_search
from d4p_astro.votable import nearest_galaxy

SOURCES = ("vizier", "fixture")
"""Where `GetVOTable` finds galaxies: the live VizieR service or the shipped synthetic fixture."""


class ConeAnswer(NamedTuple):
    """The VOTable a cone search around one position answered, and who answered it."""

    count: int
    ra: float
    dec: float
    source: str
    votable: bytes


class GalaxyRecord(NamedTuple):
    """MType and logR25 of the galaxy nearest to one position (``None``: not known)."""

    count: int
    ra: float
    dec: float
    mtype: str | None
    logr25: float | None


class ReadRaDec(IterativePE):
    """read_ra_dec: a coordinates file path in; one `Position` out per line of it."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "read_ra_dec"

    def _process(self, path: str | Path) -> None:
        for position in read_coordinates(path):
            self.write("output", position)


class GetVOTable(IterativePE):
    """get_votable: a `Position` in; the `ConeAnswer` of a cone search around it out.

    `source` is ``"vizier"`` (`cone_search` on `url`, with `timeout` and `retries`)
    or ``"fixture"`` (`FixtureCatalogue` of the `fixture` file, no network).
    `radius` is in degrees.
    """

    def __init__(
        self,
        source: str = "vizier",
        radius: float = 0.01,
        *,
        url: str = VIZIER_CONE_URL,
        timeout: float = 30.0,
        retries: int = 2,
        fixture: str | Path = FIXTURE_PATH,
        numprocesses: int = 1,
    ) -> None:
        super().__init__()
        if source not in SOURCES:
            raise UsageError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        self.name = "get_votable"
        self.numprocesses = numprocesses
        self.source, self.radius = source, radius
        self.url, self.timeout, self.retries = url, timeout, retries
        self.fixture = str(fixture)
        self._catalogue: FixtureCatalogue | None = None

    def preprocess(self) -> None:
        if self.source == "fixture":
            self._catalogue = FixtureCatalogue(self.fixture)

    def _process(self, position: Position) -> ConeAnswer:
        count, ra, dec = position
        if self._catalogue is not None:
            data = self._catalogue.cone(ra, dec, self.radius)
            return ConeAnswer(count, ra, dec, f"fixture {self.fixture}", data)
        data = cone_search(
            ra, dec, self.radius, url=self.url, timeout=self.timeout, retries=self.retries
        )
        return ConeAnswer(count, ra, dec, self.url, data)


class FilterColumns(IterativePE):
    """filter_columns: a `ConeAnswer` in; the `GalaxyRecord` of its nearest row out.

    An answer with no row gives a record with MType and logR25 ``None``. Errors
    name the source and the position (count, ra, dec) of the answer at fault.
    """

    def __init__(self, numprocesses: int = 1) -> None:
        super().__init__()
        self.name = "filter_columns"
        self.numprocesses = numprocesses

    def _process(self, answer: ConeAnswer) -> GalaxyRecord:
        where = f"{answer.source} (position {answer.count}: ra={answer.ra}, dec={answer.dec})"
        galaxy = nearest_galaxy(answer.votable, answer.ra, answer.dec, where)
        if galaxy is None:
            return GalaxyRecord(answer.count, answer.ra, answer.dec, None, None)
        return GalaxyRecord(answer.count, answer.ra, answer.dec, galaxy.mtype, galaxy.logr25)


class InternalExtinction(IterativePE):
    """internal_extinction: a `GalaxyRecord` in; its `ExtinctionRow` (T, A_i) out, T
    from the `types` table (``"rc3"``, or ``"dispel4py"`` to compare with dispel4py)."""

    def __init__(self, numprocesses: int = 1, types: str = "rc3") -> None:
        super().__init__()
        if types not in TYPE_TABLES:
            raise UsageError(f"types must be one of {', '.join(TYPE_TABLES)}, not {types!r}")
        self.name = "internal_extinction"
        self.numprocesses = numprocesses
        self.table = dict(TYPE_TABLES[types])

    def _process(self, record: GalaxyRecord) -> ExtinctionRow:
        t, a_i = extinction_for(record.mtype, record.logr25, self.table)
        return ExtinctionRow(*record, t, a_i)


class WriteCSV(GenericPE):
    """write_csv: collects every `ExtinctionRow` (one instance, global grouping) and,
    at the end of the stream, writes them sorted by count to `path` with `write_csv`;
    then writes the path (a str) to its output."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.name = "write_csv"
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.path = str(path)
        self.rows: list[ExtinctionRow] = []

    def process(self, inputs: dict) -> None:
        self.rows.append(inputs["input"])

    def postprocess(self) -> None:
        self.write("output", str(write_csv(self.rows, self.path)))
