"""The results table: one row per position, written as CSV all at once or not at all."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

COLUMNS = ("count", "ra", "dec", "MType", "logR25", "T", "A_i")
"""The CSV header. Empty cells mean "not known" (see the package README)."""


class ExtinctionRow(NamedTuple):
    """The internal extinction found for the `count`-th position of a coordinates file."""

    count: int
    ra: float
    dec: float
    mtype: str | None
    logr25: float | None
    t: int | None
    a_i: float | None


def format_row(row: ExtinctionRow) -> list[str]:
    """The CSV cells of `row`: A_i to 0.1 mmag, ``None`` as an empty cell."""
    return [
        str(row.count),
        repr(row.ra),
        repr(row.dec),
        row.mtype or "",
        "" if row.logr25 is None else repr(row.logr25),
        "" if row.t is None else str(row.t),
        "" if row.a_i is None else f"{row.a_i:.4f}",
    ]


def write_csv(rows: Iterable[ExtinctionRow], path: str | Path) -> Path:
    """Write `rows` sorted by count to the CSV file `path`, atomically.

    The table is written to a temporary file next to `path`, which replaces
    `path` only once complete: a failure leaves no half-written file and an
    older `path` untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a CSV is not
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            writer.writerows(format_row(r) for r in sorted(rows, key=lambda r: r.count))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_csv(path: str | Path) -> list[ExtinctionRow]:
    """The rows of a results CSV written by `write_csv`."""
    with open(path, newline="", encoding="utf-8") as f:
        return [
            ExtinctionRow(
                int(r["count"]),
                float(r["ra"]),
                float(r["dec"]),
                r["MType"] or None,
                float(r["logR25"]) if r["logR25"] else None,
                int(r["T"]) if r["T"] else None,
                float(r["A_i"]) if r["A_i"] else None,
            )
            for r in csv.DictReader(f)
        ]
