"""Correlation results on disk: one SAC file per pair and the summary CSV.

Shared by the workflow's :class:`~d4p_seismo.pes.WriteResults` /
:class:`~d4p_seismo.pes.Summary` PEs and by plain scripts (the benchmark
baseline), so both write byte-identical files.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from obspy import UTCDateTime
from obspy.io.sac import SACTrace

from d4p_seismo import processing

SUMMARY_FIELDS = [
    "pair", "starttime", "endtime", "station_a", "station_b", "latitude_a", "longitude_a", "latitude_b",
    "longitude_b", "distance_km", "azimuth", "peak_lag", "peak_value", "expected_lag",
    "lag_error_samples", "file",
]


def _iso(timestamp: float) -> str:
    return str(UTCDateTime(timestamp)) if math.isfinite(timestamp) else ""


def correlation_row(corr: processing.Correlation, path: str = "") -> dict[str, Any]:
    """The summary line of one pair (``starttime``/``endtime``: the window, ISO)."""
    return {
        "pair": corr.pair,
        "starttime": _iso(corr.starttime),
        "endtime": _iso(corr.endtime),
        "station_a": corr.id_a,
        "station_b": corr.id_b,
        "latitude_a": corr.coords_a[0],
        "longitude_a": corr.coords_a[1],
        "latitude_b": corr.coords_b[0],
        "longitude_b": corr.coords_b[1],
        "distance_km": round(corr.distance_km, 4),
        "azimuth": round(corr.azimuth, 3),
        "peak_lag": corr.peak_lag,
        "peak_value": round(float(corr.data.max()), 6),
        "file": path,
    }


def write_sac(corr: processing.Correlation, path: Path) -> None:
    """One correlation as SAC: station a is the virtual source (``evla``/``evlo``,
    ``kevnm`` its station code, ``kuser1``/``kuser2`` its network/channel),
    station b the receiver (``stla``/``stlo``, ``knetwk``/``kstnm``/``khole``/
    ``kcmpnm``); the reference time (``nzyear`` … ``nzmsec``) is the start of
    the window and is also the origin (``o = 0``, zero lag); ``b`` is
    ``-max_lag``; ``user0`` holds the peak lag, ``dist``/``az`` the geometry."""
    net_a, sta_a, _, cha_a = corr.id_a.split(".")
    net_b, sta_b, loc_b, cha_b = corr.id_b.split(".")
    sac = SACTrace(
        data=corr.data.astype(np.float32), delta=1.0 / corr.sampling_rate,
        knetwk=net_b, kstnm=sta_b, kcmpnm=cha_b, kevnm=sta_a,
        kuser1=net_a, kuser2=cha_a,
        lcalda=False, user0=corr.peak_lag, kuser0="peaklag",
    )
    if loc_b:
        sac.khole = loc_b
    if math.isfinite(corr.starttime):
        sac.reftime = UTCDateTime(corr.starttime)
        sac.o = 0.0
        sac.iztype = "io"
    sac.b = -corr.max_lag_samples / corr.sampling_rate
    for key, value in (
        ("stla", corr.coords_b[0]), ("stlo", corr.coords_b[1]),
        ("evla", corr.coords_a[0]), ("evlo", corr.coords_a[1]),
        ("dist", corr.distance_km), ("az", corr.azimuth),
    ):
        if not math.isnan(value):
            setattr(sac, key, value)
    sac.write(str(path))


def write_summary(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write the rows (sorted as given) as CSV with :data:`SUMMARY_FIELDS` columns."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


REJECTED_FIELDS = ["station", "starttime", "endtime", "missing", "reason"]


def write_rejected(rejected: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """The station windows left out for their gaps, as CSV (:data:`REJECTED_FIELDS`)."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REJECTED_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rejected)
    return path


def compare_with_expected(
    rows: Iterable[dict[str, Any]], expected: dict[tuple[str, str], float]
) -> int:
    """Add ``expected_lag`` and ``lag_error_samples`` to each row whose pair is in
    ``expected``; return how many peak lags are within one sample of it."""
    within = 0
    for row in rows:
        lag = expected.get((row["station_a"], row["station_b"]))
        if lag is None:
            continue
        row["expected_lag"] = lag
        row["lag_error_samples"] = round((row["peak_lag"] - lag) * row["sampling_rate"], 3)
        within += abs(row["lag_error_samples"]) <= 1.0
    return within
