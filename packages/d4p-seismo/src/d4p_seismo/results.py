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


def output_data(corr: processing.Correlation, symmetric: bool = False) -> np.ndarray:
    """The samples written for ``corr`` (float32): all lags, or with
    ``symmetric`` the mean of the causal and acausal sides at lags ``0..max_lag``."""
    data = processing.symmetrise(corr.data) if symmetric else corr.data
    return np.asarray(data).astype(np.float32)


def write_sac(
    corr: processing.Correlation, path: Path, symmetric: bool = False, windows: int = 0
) -> None:
    """One correlation as SAC: station a is the virtual source (``evla``/``evlo``,
    ``kevnm`` its station code, ``kuser1``/``kuser2`` its network/channel),
    station b the receiver (``stla``/``stlo``, ``knetwk``/``kstnm``/``khole``/
    ``kcmpnm``); the reference time (``nzyear`` … ``nzmsec``) is the start of
    the window and is also the origin (``o = 0``, zero lag); ``b`` is
    ``-max_lag`` (0 when ``symmetric``: lags ``0..max_lag``); ``user0`` holds
    the peak lag, ``dist``/``az`` the geometry; for a stack ``user1`` holds
    the number of ``windows`` stacked."""
    net_a, sta_a, _, cha_a = corr.id_a.split(".")
    net_b, sta_b, loc_b, cha_b = corr.id_b.split(".")
    sac = SACTrace(
        data=output_data(corr, symmetric), delta=1.0 / corr.sampling_rate,
        knetwk=net_b, kstnm=sta_b, kcmpnm=cha_b, kevnm=sta_a,
        kuser1=net_a, kuser2=cha_a,
        lcalda=False, user0=corr.peak_lag, kuser0="peaklag",
    )
    if loc_b:
        sac.khole = loc_b
    if windows:
        sac.user1 = float(windows)
    if math.isfinite(corr.starttime):
        sac.reftime = UTCDateTime(corr.starttime)
        sac.o = 0.0
        sac.iztype = "io"
    sac.b = 0.0 if symmetric else -corr.max_lag_samples / corr.sampling_rate
    for key, value in (
        ("stla", corr.coords_b[0]), ("stlo", corr.coords_b[1]),
        ("evla", corr.coords_a[0]), ("evlo", corr.coords_a[1]),
        ("dist", corr.distance_km), ("az", corr.azimuth),
    ):
        if not math.isnan(value):
            setattr(sac, key, value)
    sac.write(str(path))


STACK_FIELDS = [
    "pair", "stack", "windows", "added", "starttime", "endtime", "station_a", "station_b",
    "distance_km", "azimuth", "peak_lag", "peak_value", "file",
]


def write_summary(
    rows: Iterable[dict[str, Any]], path: str | Path, fields: list[str] = SUMMARY_FIELDS
) -> Path:
    """Write the rows (sorted as given) as CSV with ``fields`` (:data:`SUMMARY_FIELDS`) columns."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _asdf_name(seed_id: str) -> str:
    return seed_id.replace(".", "_")


def _stamp(iso: str) -> str:
    return UTCDateTime(iso).strftime("%Y%m%dT%H%M%S") if iso else "all"


ASDF_PARAMETERS = (
    "station_a", "station_b", "starttime", "endtime", "sampling_rate", "latitude_a",
    "longitude_a", "latitude_b", "longitude_b", "distance_km", "azimuth", "peak_lag", "windows",
)


class AsdfWriter:
    """Correlations and stacks into one ASDF file (HDF5; NoisePy's format), one
    row at a time, with ``pyasdf``.

    Each row (from :class:`~d4p_seismo.pes.WriteResults` or
    :class:`~d4p_seismo.pes.Stack`) holds the samples it wrote (``"output"``,
    float32). Correlations go to auxiliary data ``CrossCorrelation/<a>/<b>/
    <window start>`` and stacks to ``Stack/<a>/<b>/<kind>`` (ids with ``_``
    for ``.``), with the row's metadata as parameters plus ``dt``, ``b``
    (lag of the first sample) and ``symmetric``; the StationXML of
    ``inventory`` is added, so the file carries the station metadata. The
    file is written as ``<path>.part`` and renamed by :meth:`close`.
    """

    def __init__(
        self, path: str | Path, inventory: str | Path | None = None, symmetric: bool = False
    ) -> None:
        import pyasdf

        self.path = Path(path)
        self.symmetric = symmetric
        self._tmp = self.path.with_name(self.path.name + ".part")
        if self._tmp.exists():
            self._tmp.unlink()
        self._ds = pyasdf.ASDFDataSet(str(self._tmp), mode="w", mpi=False, compression=None)
        if inventory is not None and Path(inventory).is_file():
            self._ds.add_stationxml(str(inventory))

    def add(self, row: dict[str, Any], kind: str = "CrossCorrelation") -> None:
        """One correlation (``kind="CrossCorrelation"``) or stack (``"Stack"``)."""
        data = np.asarray(row["output"], dtype=np.float32)
        rate = float(row["sampling_rate"])
        parameters = {k: row[k] for k in ASDF_PARAMETERS if k in row and row[k] != ""}
        parameters.update(
            dt=1.0 / rate, b=0.0 if self.symmetric else -((data.size - 1) // 2) / rate,
            symmetric=int(self.symmetric),
        )
        leaf = row["stack"] if kind == "Stack" else _stamp(row["starttime"])
        where = f"{_asdf_name(row['station_a'])}/{_asdf_name(row['station_b'])}/{leaf}"
        self._ds.add_auxiliary_data(data=data, data_type=kind, path=where, parameters=parameters)

    def close(self) -> Path:
        """Finish the file and give it its name; returns the path."""
        self._ds.flush()
        del self._ds
        self._tmp.replace(self.path)
        return self.path


REJECTED_FIELDS = ["station", "starttime", "endtime", "missing", "reason"]
"""Columns of ``rejected.csv``: the station windows left out for their gaps."""


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
