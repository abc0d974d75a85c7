"""The synthetic data set: files, determinism, physics of the known lags."""

import math

import numpy as np
import obspy
import pytest
from d4p_seismo import processing as P
from d4p_seismo.synthetic import (
    expected_lags,
    load_dataset,
    make_dataset,
    seismometer_response,
    travel_time,
    xy_to_latlon,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("syn"), stations=8, hours=1.0, seed=3)


def test_files_are_written_one_per_station(dataset):
    names = sorted(p.name for p in dataset.directory.iterdir())
    assert names == sorted(
        [f"SY.S000{i}..BHZ.mseed" for i in range(1, 9)] + ["dataset.json", "stations.xml"]
    )
    st = obspy.read(str(dataset.directory / "*.mseed"))
    assert len(st) == 8
    for tr in st:
        assert tr.stats.sampling_rate == 20.0
        assert tr.stats.npts == 72000
        assert tr.stats.starttime == dataset.starttime
        assert tr.data.dtype == np.int32
        assert 100 < tr.data.std() < 10_000


def test_inventory_has_a_response_and_coordinates_per_station(dataset):
    inv = obspy.read_inventory(str(dataset.inventory_path))
    for sta in dataset.stations:
        resp = inv.get_response(sta.seed_id, dataset.starttime)
        assert resp.instrument_sensitivity.value == pytest.approx(sta.sensitivity)
        coords = inv.get_coordinates(sta.seed_id, dataset.starttime)
        assert coords["latitude"] == pytest.approx(sta.latitude)
        assert coords["longitude"] == pytest.approx(sta.longitude)


def test_same_seed_same_data_other_seed_other_data(dataset, tmp_path):
    again = make_dataset(tmp_path / "again", stations=8, hours=1.0, seed=3)
    other = make_dataset(tmp_path / "other", stations=8, hours=1.0, seed=4)
    first = obspy.read(str(dataset.waveform_paths[0]))[0].data
    assert np.array_equal(first, obspy.read(str(again.waveform_paths[0]))[0].data)
    assert not np.array_equal(first[:1000], obspy.read(str(other.waveform_paths[0]))[0].data[:1000])
    assert again.stations == dataset.stations
    assert other.stations != dataset.stations


def test_manifest_round_trips(dataset):
    loaded = load_dataset(dataset.directory)
    assert loaded.stations == dataset.stations
    assert loaded.sources == dataset.sources
    assert loaded.starttime == dataset.starttime
    assert expected_lags(loaded) == expected_lags(dataset)


def test_load_dataset_names_the_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset.json"):
        load_dataset(tmp_path)


def test_expected_lags_are_differential_travel_times(dataset):
    lags = expected_lags(dataset)
    assert len(lags) == 8 * 7 // 2
    source = dataset.sources[0]
    a, b = dataset.stations[0], dataset.stations[5]
    assert lags[(a.seed_id, b.seed_id)] == pytest.approx(
        travel_time(b, source, 3.0) - travel_time(a, source, 3.0)
    )
    # no lag can exceed the inter-station travel time
    by_id = {s.seed_id: s for s in dataset.stations}
    for (ia, ib), lag in lags.items():
        d = math.hypot(by_id[ia].x_km - by_id[ib].x_km, by_id[ia].y_km - by_id[ib].y_km)
        assert abs(lag) <= d / 3.0 + 1e-9


def test_flat_earth_projection_uses_111_km_per_degree():
    lat, lon = xy_to_latlon(0.0, 111.195, (0.0, 0.0))
    assert (lat, lon) == pytest.approx((1.0, 0.0))
    lat, lon = xy_to_latlon(111.195 * math.cos(math.radians(60.0)), 0.0, (60.0, 10.0))
    assert (lat, lon) == pytest.approx((60.0, 11.0))


def test_seismometer_response_is_flat_above_its_corner():
    resp = seismometer_response(natural_period=120.0, damping=0.707, sensitivity=1.0e9)
    h = np.abs(resp.get_evalresp_response_for_frequencies(np.array([0.1, 1.0, 5.0])))
    assert h == pytest.approx([1.0e9, 1.0e9, 1.0e9], rel=1e-3)
    low = np.abs(resp.get_evalresp_response_for_frequencies(np.array([1.0 / 1200.0])))
    assert low[0] == pytest.approx(1.0e9 / 100.0, rel=0.02)  # velocity sensor: ~f^2 below corner


@pytest.mark.parametrize("normalisation", ["onebit", "running_absolute_mean"])
def test_correlations_peak_at_the_known_lag_for_every_pair(dataset, normalisation):
    inv = obspy.read_inventory(str(dataset.inventory_path))
    spectra = {}
    for path in dataset.waveform_paths:
        tr = obspy.read(str(path))[0]
        P.attach_coordinates(tr, inv)
        P.decimate(tr, 2)
        P.detrend(tr)
        P.demean(tr)
        P.remove_response(tr, inv)
        P.bandpass(tr, 0.1, 1.0)
        if normalisation == "onebit":
            P.onebit(tr)
        else:
            P.running_absolute_mean(tr, 5.0)
        P.whiten(tr, 0.1, 1.0)
        s = P.spectrum(tr, max_lag=60.0)
        spectra[s.id] = s
    errors = []
    for (a, b), lag in expected_lags(dataset).items():
        c = P.correlate(spectra[a], spectra[b], max_lag=60.0)
        errors.append(abs(c.peak_lag - lag) * c.sampling_rate)
        assert c.data.max() > 0.2
    assert len(errors) == 28
    assert max(errors) <= 1.0, errors
