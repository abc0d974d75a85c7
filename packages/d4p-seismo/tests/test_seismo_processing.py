"""Each preprocessing step and the correlation, checked on signals with known answers."""

import math

import numpy as np
import obspy
import pytest
from d4p_seismo import processing as P
from d4p_seismo.errors import MissingDataError, ResponseError, SamplingRateError
from d4p_seismo.synthetic import seismometer_response
from obspy import Inventory, Trace, UTCDateTime
from obspy.core.inventory import Channel, Network, Station

START = UTCDateTime(2020, 1, 1)


def make_trace(data, sampling_rate=20.0, station="AAA"):
    return Trace(
        data=np.asarray(data, dtype=np.float64),
        header={"network": "XX", "station": station, "channel": "BHZ",
                "sampling_rate": sampling_rate, "starttime": START},
    )


def sine(freq, seconds=600.0, sampling_rate=20.0, amplitude=1.0):
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def inventory_for(station="AAA", response=None, sampling_rate=20.0):
    channel = Channel(code="BHZ", location_code="", latitude=46.0, longitude=8.0,
                      elevation=0.0, depth=0.0, sample_rate=sampling_rate, response=response)
    sta = Station(code=station, latitude=46.0, longitude=8.0, elevation=0.0, channels=[channel])
    return Inventory(networks=[Network(code="XX", stations=[sta])], source="test")


def test_decimate_halves_the_rate_and_keeps_a_low_frequency_sine():
    tr = P.decimate(make_trace(sine(0.5)), 2)
    assert tr.stats.sampling_rate == 10.0
    assert tr.stats.npts == 6000
    inner = tr.data[500:-500]
    assert rms(inner) == pytest.approx(1 / math.sqrt(2), rel=0.015)  # Chebyshev ripple


def test_decimate_removes_what_would_alias():
    tr = P.decimate(make_trace(sine(7.0)), 2)  # 7 Hz is above the new Nyquist (5 Hz)
    assert rms(tr.data[500:-500]) < 0.01


def test_decimation_factor_accepts_integer_ratios_and_names_the_station_otherwise():
    assert P.decimation_factor(make_trace(np.zeros(10), 40.0), 10.0) == 4
    with pytest.raises(SamplingRateError, match=r"XX.BBB..BHZ.*25 Hz.*10 Hz"):
        P.decimation_factor(make_trace(np.zeros(10), 25.0, station="BBB"), 10.0)


def test_detrend_and_demean():
    t = np.arange(1000.0)
    tr = P.detrend(make_trace(3.0 + 0.5 * t))
    assert np.abs(tr.data).max() < 1e-9
    tr = P.demean(make_trace(7.0 + sine(1.0, 50.0)))
    assert tr.data.mean() == pytest.approx(0.0, abs=1e-12)
    assert tr.data.max() == pytest.approx(1.0, abs=1e-3)


def test_remove_response_recovers_ground_velocity_amplitude():
    response = seismometer_response(natural_period=30.0, damping=0.707, sensitivity=8.0e8)
    ground = sine(0.2, seconds=1800.0, amplitude=2.0e-6)  # m/s
    freqs = np.fft.rfftfreq(ground.size, d=1 / 20.0)
    transfer = response.get_evalresp_response_for_frequencies(freqs)
    counts = np.fft.irfft(np.fft.rfft(ground) * transfer, n=ground.size)
    assert rms(counts) == pytest.approx(8.0e8 * 2.0e-6 / math.sqrt(2), rel=0.01)
    tr = P.remove_response(make_trace(counts), inventory_for(response=response))
    inner = tr.data[2000:-2000]
    assert rms(inner) == pytest.approx(2.0e-6 / math.sqrt(2), rel=0.01)
    assert np.max(np.abs(inner - ground[2000:-2000])) < 0.05 * 2.0e-6


def test_remove_response_keeps_a_long_period_band_below_its_default_pre_filter():
    """A 250 s wave (0.004 Hz) through a 120 s broadband sensor at 1 Hz: the
    default pre-filter passes only from 0.005-0.01 Hz, so xcorr with
    freqmin=0.002 had its band cut before the band-pass (7e-7 of the wave
    left); with the band's freqmin the pre-filter passes it whole."""
    from d4p_seismo.pes import trace_prep

    response = seismometer_response(natural_period=120.0, damping=0.707, sensitivity=8.0e8)
    seconds = 6 * 3600
    ground = 2.0e-6 * np.sin(2 * np.pi * 0.004 * np.arange(seconds))
    freqs = np.fft.rfftfreq(seconds, d=1.0)
    transfer = response.get_evalresp_response_for_frequencies(freqs)
    counts = np.fft.irfft(np.fft.rfft(ground) * transfer, n=seconds)
    inventory = inventory_for(response=response)
    inner = slice(3000, -3000)
    cut = P.remove_response(make_trace(counts, 1.0), inventory).data
    assert rms(cut[inner]) < 1e-5 * rms(ground[inner])
    kept = P.remove_response(make_trace(counts, 1.0), inventory, freqmin=0.002).data
    assert rms(kept[inner]) == pytest.approx(rms(ground[inner]), rel=1e-3)
    [step] = [pe for pe in trace_prep(inventory, None, 0.002, 0.02).pes()
              if type(pe).__name__ == "RemoveResponse"]
    assert step.params["freqmin"] == 0.002


def test_remove_response_without_response_names_the_station():
    with pytest.raises(ResponseError, match=r"XX.CCC..BHZ: no instrument response"):
        P.remove_response(make_trace(sine(1.0), station="CCC"), inventory_for(station="AAA"))


def test_attach_coordinates_and_missing_metadata():
    tr = P.attach_coordinates(make_trace(np.ones(5)), inventory_for())
    assert P.trace_coordinates(tr) == (46.0, 8.0, 0.0)
    with pytest.raises(ResponseError, match="XX.DDD..BHZ"):
        P.attach_coordinates(make_trace(np.ones(5), station="DDD"), inventory_for())


def test_bandpass_keeps_the_band_and_rejects_outside():
    inside = P.bandpass(make_trace(sine(0.5)), 0.1, 1.0)
    outside = P.bandpass(make_trace(sine(4.0)), 0.1, 1.0)
    assert rms(inside.data[1000:-1000]) == pytest.approx(1 / math.sqrt(2), rel=0.01)
    assert rms(outside.data[1000:-1000]) < 1e-4
    with pytest.raises(SamplingRateError, match="Nyquist"):
        P.bandpass(make_trace(sine(0.5)), 0.1, 12.0)


def test_onebit_keeps_only_signs():
    tr = P.onebit(make_trace([-3.0, 0.0, 0.2, 1e6, -1e-9]))
    assert tr.data.tolist() == [-1.0, 0.0, 1.0, 1.0, -1.0]


def test_running_absolute_mean_equalises_amplitudes():
    # a quiet hour then an earthquake 1000x louder: both come out at the same level
    data = np.concatenate([sine(0.5, 300.0), 1000.0 * sine(0.5, 300.0)])
    tr = P.running_absolute_mean(make_trace(data), window=10.0)
    quiet, loud = tr.data[500:5500], tr.data[6500:11500]
    # the mean of |sin| is 2/pi, so a normalised sine peaks at pi/2
    assert np.abs(quiet).max() == pytest.approx(math.pi / 2, rel=0.01)
    assert np.abs(loud).max() == pytest.approx(math.pi / 2, rel=0.01)


def test_running_absolute_mean_leaves_zeros_at_zero():
    tr = P.running_absolute_mean(make_trace(np.zeros(100)), window=1.0)
    assert not np.any(tr.data)


def test_whiten_flattens_the_amplitude_spectrum_in_band():
    rng = np.random.default_rng(0)
    coloured = np.cumsum(rng.standard_normal(12000))  # red noise, amplitude ~ 1/f
    tr = P.whiten(make_trace(coloured), 0.2, 2.0)
    amp = np.abs(np.fft.rfft(tr.data))
    freqs = np.fft.rfftfreq(tr.data.size, d=1 / 20.0)
    band = amp[(freqs >= 0.2) & (freqs <= 2.0)]
    assert band == pytest.approx(np.ones(band.size), rel=1e-6)
    assert amp[freqs > 2.0 * math.sqrt(2)].max() < 1e-9
    assert amp[freqs < 0.2 / math.sqrt(2)].max() < 1e-9


def test_whiten_keeps_the_phase():
    rng = np.random.default_rng(1)
    data = P.bandpass(make_trace(rng.standard_normal(6000)), 0.3, 1.5).data
    shifted = np.roll(data, 7)
    a = P.whiten(make_trace(data), 0.3, 1.5).data
    b = P.whiten(make_trace(shifted), 0.3, 1.5).data
    lags, c = P.xcorr(a, b, 20)
    assert lags[np.argmax(c)] == 7


def test_xcorr_finds_the_delay_and_normalises():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(5000)
    b = np.concatenate([np.zeros(13), a[:-13]])
    lags, c = P.xcorr(a, b, max_lag=50)
    assert lags[0] == -50 and lags[-1] == 50 and c.size == 101
    assert lags[np.argmax(c)] == 13
    assert c.max() == pytest.approx(1.0, abs=0.01)
    lags, c = P.xcorr(b, a, max_lag=50)
    assert lags[np.argmax(c)] == -13
    lags, c = P.xcorr(a, 3.0 * a, max_lag=0)
    assert c.tolist() == pytest.approx([1.0])


def test_xcorr_rejects_bad_shapes():
    with pytest.raises(ValueError, match="equal length"):
        P.xcorr(np.ones(10), np.ones(11), 3)
    with pytest.raises(ValueError, match="max_lag"):
        P.xcorr(np.ones(10), np.ones(10), 10)


def spectrum_of(data, station, sampling_rate=20.0, max_lag=5.0, lat=46.0, lon=8.0):
    tr = make_trace(data, sampling_rate, station)
    tr.stats.coordinates = {"latitude": lat, "longitude": lon, "elevation": 0.0}
    return P.spectrum(tr, max_lag)


def test_correlate_spectra_matches_xcorr_and_fills_metadata():
    rng = np.random.default_rng(3)
    a = rng.standard_normal(4000)
    b = np.roll(a, -9) + 0.1 * rng.standard_normal(4000)  # b leads a: negative lag
    sa = spectrum_of(a, "AAA")
    sb = spectrum_of(b, "BBB", lat=47.0)
    assert sa.nfft >= 4000 + 100
    c = P.correlate(sa, sb, max_lag=5.0)
    lags, expected = P.xcorr(a, b, 100)
    assert c.data == pytest.approx(expected)
    assert c.lags == pytest.approx(lags / 20.0)
    assert c.peak_lag == pytest.approx(-9 / 20.0)
    assert c.pair == "XX.AAA..BHZ_XX.BBB..BHZ"
    assert c.distance_km == pytest.approx(111.2, abs=0.3)
    assert c.azimuth == pytest.approx(0.0, abs=1e-6)


def test_correlate_refuses_mismatched_sampling_rates():
    sa = spectrum_of(np.ones(400), "AAA", sampling_rate=20.0)
    sb = spectrum_of(np.ones(200), "BBB", sampling_rate=10.0)
    with pytest.raises(SamplingRateError, match=r"XX.AAA..BHZ .*20 Hz.*XX.BBB..BHZ .*10 Hz"):
        P.correlate(sa, sb, max_lag=5.0)


def test_correlate_refuses_more_lag_than_the_spectra_were_padded_for():
    sa = spectrum_of(np.ones(400), "AAA", max_lag=1.0)
    sb = spectrum_of(np.ones(400), "BBB", max_lag=1.0)
    with pytest.raises(ValueError, match="max_lag=10"):
        P.correlate(sa, sb, max_lag=10.0)


def test_empty_trace_is_named():
    with pytest.raises(MissingDataError, match="XX.EEE..BHZ: empty trace reached the detrend"):
        P.detrend(make_trace([], station="EEE"))


def test_interstation_distance_nan_without_coordinates():
    assert all(math.isnan(v) for v in P.interstation_distance(math.nan, 0, 0, 0))


def test_runs_on_obspy_example_waveforms():
    st = obspy.read()  # ObsPy's bundled example: BW.RJOB, 100 Hz, 3 components
    inv = obspy.read_inventory()
    tr = st.select(component="Z")[0]
    P.attach_coordinates(tr, inv)
    P.decimate(tr, 5)
    P.detrend(tr)
    P.demean(tr)
    P.remove_response(tr, inv)
    P.bandpass(tr, 0.5, 5.0)
    P.onebit(tr)
    s = P.spectrum(tr, max_lag=2.0)
    assert s.sampling_rate == 20.0
    assert s.energy == pytest.approx(np.count_nonzero(tr.data))
    c = P.correlate(s, s, max_lag=2.0)
    assert c.peak_lag == 0.0 and c.data.max() == pytest.approx(1.0)


def gapped_trace(rate=10.0, seconds=600.0, gap=(200.0, 300.0)):
    """A sine with the samples of [gap) missing, merged by interpolation as a reader does."""
    full = make_trace(sine(0.3, seconds, rate), rate)
    before = full.slice(START, START + gap[0] - 0.5 / rate, nearest_sample=False)
    after = full.slice(START + gap[1], full.stats.endtime)
    segments = [(t.stats.starttime.timestamp, t.stats.endtime.timestamp) for t in (before, after)]
    merged = obspy.Stream([before.copy(), after.copy()]).merge(method=1, fill_value="interpolate")[0]
    merged.stats.gaps = P.find_gaps(merged, segments)
    return merged


def test_find_gaps_and_their_mask():
    tr = gapped_trace()
    assert tr.stats.npts == 6000
    [(a, b)] = tr.stats.gaps
    assert (a - START.timestamp, b - START.timestamp) == pytest.approx((199.9, 300.0))
    mask = P.gap_mask(tr)
    assert mask[:2000].all() and not mask[2000:3000].any() and mask[3000:].all()
    assert P.missing_fraction(tr) == pytest.approx(1000 / 6000)
    tapered = P.gap_mask(tr, taper=5.0)
    assert not tapered[2000:3000].any() and tapered[:1950].min() == 1.0
    assert 0 < tapered[1995] < tapered[1960] < 1 and np.all(np.diff(tapered[3000:3050]) > 0)
    assert P.gap_mask(make_trace(np.ones(10))) is None


def test_find_gaps_sees_a_padded_window_edge_but_not_contiguous_records():
    tr = make_trace(np.ones(100), 10.0)
    start = tr.stats.starttime.timestamp
    assert P.find_gaps(tr, [(start, start + 4.9), (start + 5.0, start + 9.9)]) == []
    [(a, b)] = P.find_gaps(tr, [(start + 1.0, start + 9.9)])
    assert a == -math.inf and b == pytest.approx(start + 1.0)
    assert P.gap_mask(tr.copy().__class__(tr.data, tr.stats)) is None
    tr.stats.gaps = [(a, b)]
    assert P.gap_mask(tr)[:10].sum() == 0 and P.gap_mask(tr)[10:].all()


def test_zero_gaps_before_normalisation_keeps_filled_samples_out():
    tr = gapped_trace()
    assert np.abs(tr.data[2000:3000]).max() > 0  # the interpolated fill
    P.zero_gaps(tr)
    P.onebit(tr)
    assert not tr.data[2000:3000].any() and np.abs(tr.data[1:2000]).min() == 1.0


def test_running_absolute_mean_with_gaps_averages_recorded_samples_only():
    tr = P.zero_gaps(gapped_trace())
    P.running_absolute_mean(tr, window=10.0)
    assert not tr.data[2000:3000].any()
    # beside the gap a sine still comes out at pi/2, as far from it
    assert np.abs(tr.data[1900:2000]).max() == pytest.approx(math.pi / 2, rel=0.05)
    assert np.abs(tr.data[500:1500]).max() == pytest.approx(math.pi / 2, rel=0.01)


def test_correlate_normalises_over_the_samples_both_stations_recorded():
    rng = np.random.default_rng(4)
    a = np.sign(rng.standard_normal(6000))
    b = np.roll(a, 5)
    ta, tb = make_trace(a, 10.0, "AAA"), make_trace(b, 10.0, "BBB")
    tb.stats.gaps = [(START.timestamp + 99.95, START.timestamp + 400.0)]  # half of it missing
    P.zero_gaps(tb)
    c = P.correlate(P.spectrum(ta, 2.0), P.spectrum(tb, 2.0), 2.0)
    assert c.peak_lag == pytest.approx(0.5)
    assert c.data.max() == pytest.approx(1.0, abs=0.01)


def test_align_to_grid_interpolates_a_station_between_grid_points():
    rate = 20.0
    t = np.arange(12000) / rate
    signal_at = lambda times: np.sin(2 * np.pi * 0.2 * times) + 0.5 * np.sin(2 * np.pi * 0.7 * times)  # noqa: E731
    off = make_trace(signal_at(t + 0.04), rate)  # samples taken at START + 0.04 + i / rate
    off.stats.starttime = START + 0.04
    P.align_to_grid(off, START)
    assert off.stats.starttime == START + 0.05
    assert off.stats.npts == 11999
    inner = slice(200, -200)
    expected = signal_at(t[:11999] + 0.05)
    assert np.max(np.abs(off.data[inner] - expected[inner])) < 1e-3
    on = make_trace(np.ones(10), rate)
    on.stats.starttime = START + 1e-6
    assert P.align_to_grid(on).stats.starttime == START and on.data.tolist() == [1.0] * 10


def test_align_to_grid_is_the_lanczos_sum_on_obspy_example_data():
    """Putting a record between grid points on the grid took 6-14 s per day of
    100 Hz data (ObsPy's Trace.interpolate, a general resampler); the shift
    is now one correlation with the kernel's 40 weights (bench/seismo_grid.py).
    Its samples are the Lanczos sum itself, where ObsPy's were off by up to
    1e-5 of the amplitude; both agree far below any seismic signal."""
    import obspy

    for raw in obspy.read():  # BW.RJOB..EH?, 100 Hz, 3000 samples of counts
        for offset in (0.004, 0.37, 0.9):
            tr = raw.copy()
            tr.data = tr.data.astype(np.float64)
            start = tr.stats.starttime
            tr.stats.starttime = start + offset * tr.stats.delta
            ours = P.align_to_grid(tr.copy(), start)
            assert ours.stats.starttime == start + tr.stats.delta and ours.stats.npts == 2999
            x = raw.data.astype(np.float64)
            j = np.arange(2999)[:, None]
            i = j + np.arange(-19, 21)[None, :]
            t = j + 1 - offset - i
            inside = (i >= 0) & (i < x.size)
            exact = np.sum(np.where(inside, x[np.clip(i, 0, x.size - 1)], 0.0)
                           * np.sinc(t) * np.sinc(t / 20), axis=1)
            scale = np.abs(x).max()
            assert np.abs(ours.data - exact).max() < 1e-9 * scale, (raw.id, offset)
            theirs = tr.copy().interpolate(100.0, method="lanczos", a=20,
                                           starttime=start + tr.stats.delta, npts=2999)
            assert np.abs(ours.data - theirs.data).max() < 2e-5 * scale, (raw.id, offset)


def test_correlate_refuses_spectra_between_grid_points():
    sa = spectrum_of(np.ones(400), "AAA")
    tb = make_trace(np.ones(400), 20.0, "BBB")
    tb.stats.starttime = START + 0.01
    with pytest.raises(SamplingRateError, match=r"start \+0\.010 s apart.*align_to_grid"):
        P.correlate(sa, P.spectrum(tb, 5.0), max_lag=5.0)


def test_a_window_too_short_for_the_band_pass_is_named():
    """A 0.5 s window at 50 Hz (25 samples) failed deep in SciPy: 'The length
    of the input vector x must be greater than padlen, which is 27'."""
    tr = make_trace(np.random.default_rng(0).standard_normal(25), 50.0, "SHORT")
    with pytest.raises(SamplingRateError, match=r"XX\.SHORT\.\.BHZ: 25 samples \(0.5 s\) are too few for "
                                                r"the zero-phase band-pass, which needs more "
                                                r"than 27; use longer windows"):
        P.bandpass(tr, 2.0, 20.0)
    assert P.bandpass(make_trace(np.ones(28), 50.0), 2.0, 20.0).stats.npts == 28
