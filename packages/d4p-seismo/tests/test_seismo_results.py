"""Result files: the SAC file of a pair, the summary CSV and the comparison with known lags."""

import csv

import numpy as np
import obspy
import pytest
from d4p_seismo.processing import Correlation
from d4p_seismo.results import compare_with_expected, correlation_row, write_sac, write_summary
from obspy import UTCDateTime


def make_corr():
    data = np.zeros(21)
    data[13] = 0.8  # lag +3 samples at 10 Hz
    return Correlation(
        id_a="SY.S0001..BHZ", id_b="SY.S0002..BHZ", sampling_rate=10.0, data=data,
        distance_km=12.5, azimuth=45.0, coords_a=(46.0, 8.0), coords_b=(46.1, 8.1),
        starttime=UTCDateTime(2024, 3, 1, 5).timestamp,
        endtime=UTCDateTime(2024, 3, 1, 6).timestamp,
    )


def test_sac_file_carries_both_stations_and_the_lags(tmp_path):
    corr = make_corr()
    write_sac(corr, tmp_path / "pair.sac")
    tr = obspy.read(str(tmp_path / "pair.sac"))[0]
    assert tr.stats.station == "S0002" and tr.stats.sac.kevnm.strip() == "S0001"
    assert tr.stats.sac.b == pytest.approx(-1.0) and tr.stats.delta == pytest.approx(0.1)
    assert (tr.stats.sac.evla, tr.stats.sac.stla) == pytest.approx((46.0, 46.1))
    assert tr.stats.sac.dist == pytest.approx(12.5) and tr.stats.sac.user0 == pytest.approx(0.3)
    assert np.argmax(tr.data) == 13
    sac = tr.stats.sac
    assert (sac.nzyear, sac.nzjday, sac.nzhour, sac.nzmin, sac.nzsec) == (2024, 61, 5, 0, 0)
    assert sac.o == 0.0 and sac.iztype == 11  # IO: the reference time is the origin, zero lag
    assert tr.stats.starttime == UTCDateTime(2024, 3, 1, 5) - 1.0
    assert (sac.kuser1.strip(), sac.kuser2.strip()) == ("SY", "BHZ")  # station a
    assert (tr.stats.network, tr.stats.channel) == ("SY", "BHZ")  # station b


def test_summary_rows_and_expected_lags(tmp_path):
    row = correlation_row(make_corr(), "pair.sac")
    row["sampling_rate"] = 10.0
    assert row["pair"] == "SY.S0001..BHZ_SY.S0002..BHZ" and row["peak_lag"] == pytest.approx(0.3)
    within = compare_with_expected([row], {("SY.S0001..BHZ", "SY.S0002..BHZ"): 0.22})
    assert within == 1 and row["lag_error_samples"] == pytest.approx(0.8)
    assert compare_with_expected([dict(row)], {("SY.S0001..BHZ", "SY.S0002..BHZ"): 0.1}) == 0
    path = write_summary([row], tmp_path / "summary.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 1 and rows[0]["file"] == "pair.sac"
    assert rows[0]["starttime"] == "2024-03-01T05:00:00.000000Z"
    assert rows[0]["endtime"] == "2024-03-01T06:00:00.000000Z"
    assert float(rows[0]["expected_lag"]) == pytest.approx(0.22)


def test_symmetric_sac_holds_lags_from_zero(tmp_path):
    corr = make_corr()
    corr.data[7] = 0.4  # lag -3 samples
    write_sac(corr, tmp_path / "sym.sac", symmetric=True)
    tr = obspy.read(str(tmp_path / "sym.sac"))[0]
    assert tr.stats.npts == 11 and tr.stats.sac.b == 0.0
    assert tr.data[3] == pytest.approx(0.6) and tr.data[0] == 0.0
