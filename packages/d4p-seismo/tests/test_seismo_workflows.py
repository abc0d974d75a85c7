"""The xcorr and misfit workflows end to end, on the mappings d4p has."""

import csv
import json
import math
import shutil

import d4p
import numpy as np
import obspy
import pytest
from d4p_seismo.errors import MissingDataError, SkippedStationWarning
from d4p_seismo.synthetic import expected_lags, make_dataset
from d4p_seismo.workflows import build_misfit, build_xcorr, summary_of

PARALLEL_MAPPINGS = [m for m in ("multi",) if m in d4p.installed_mappings()]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("xcorr-data"), stations=8, hours=1.0, seed=11)


def run_xcorr(tmp_path, mapping="simple", processes=None, **params):
    graph, inputs = build_xcorr(output=str(tmp_path / "out"), **params)
    result = d4p.run(graph, inputs, mapping=mapping, processes=processes)
    return summary_of(result)


def read_summary(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_xcorr_recovers_every_known_lag_and_writes_its_files(dataset, tmp_path):
    summary = run_xcorr(tmp_path, data=str(dataset.directory), instances=2)
    assert summary["pairs"] == 28 and summary["stations"] == 8
    assert summary["within_one_sample"] == 28
    rows = read_summary(summary["summary"])
    assert len(rows) == 28
    expected = expected_lags(dataset)
    for row in rows:
        lag = expected[(row["station_a"], row["station_b"])]
        assert abs(float(row["peak_lag"]) - lag) <= 0.1  # one sample at 10 Hz
        assert float(row["expected_lag"]) == pytest.approx(lag)
    files = sorted((tmp_path / "out" / "correlations").glob("*.sac"))
    assert len(files) == 28
    first = rows[0]
    tr = obspy.read(first["file"])[0]
    assert tr.stats.npts == 1201 and tr.stats.sampling_rate == 10.0
    assert tr.stats.sac.b == pytest.approx(-60.0)
    assert tr.stats.sac.kevnm.strip() == first["station_a"].split(".")[1]
    assert tr.stats.station == first["station_b"].split(".")[1]
    assert tr.stats.sac.dist == pytest.approx(float(first["distance_km"]), rel=1e-4)
    assert tr.stats.sac.user0 == pytest.approx(float(first["peak_lag"]))
    assert tr.stats.starttime == dataset.starttime - 60.0  # reference time: the window start
    assert first["starttime"] == str(dataset.starttime) and first["endtime"] == str(dataset.endtime)
    assert tr.stats.sac.kuser1.strip() == "SY" and tr.stats.sac.kuser2.strip() == "BHZ"
    png = tmp_path / "out" / "record_section.png"
    assert summary["plot"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_pattern_star_reads_the_waveforms_beside_the_inventory(dataset, tmp_path, capsys):
    """-p pattern='*' matched stations.xml and dataset.json beside the
    miniSEED files and the run failed ('stations.xml: cannot read waveform
    file'); they are left out, and the log names them."""
    summary = run_xcorr(tmp_path, data=str(dataset.directory), pattern="*", instances=1)
    assert summary["pairs"] == 28 and summary["within_one_sample"] == 28
    assert ("left out: dataset.json (JSON), stations.xml (the inventory)"
            in capsys.readouterr().out)


@pytest.mark.parametrize("mapping", ["simple", *PARALLEL_MAPPINGS])
def test_the_record_section_is_the_one_drawn_from_the_results_files(dataset, tmp_path, mapping):
    """The record section (drawn by its own PE, beside the summary) is,
    byte for byte, the one ``record_section`` draws from the summary CSV
    and the SAC files, as a script (bench/xcorr_baseline.py) draws it."""
    from d4p_seismo.plot import record_section

    summary = run_xcorr(tmp_path, mapping=mapping, processes=2, data=str(dataset.directory),
                        instances=2)
    rows = []
    for row in sorted(read_summary(summary["summary"]), key=lambda r: r["pair"]):
        rows.append({
            "distance_km": float(row["distance_km"]), "peak_lag": float(row["peak_lag"]),
            "expected_lag": float(row["expected_lag"]), "sampling_rate": 10.0,
            "data": obspy.read(row["file"])[0].data,
        })
    again = record_section(rows, tmp_path / "again.png")
    assert len(rows) == 28
    assert again.read_bytes() == (tmp_path / "out" / "record_section.png").read_bytes()


def correlations_of(summary):
    return {
        row["pair"]: obspy.read(row["file"])[0].data.copy()
        for row in read_summary(summary["summary"])
    }


def test_xcorr_results_do_not_depend_on_instances(dataset, tmp_path):
    one = correlations_of(run_xcorr(tmp_path / "one", data=str(dataset.directory), instances=1))
    three = correlations_of(
        run_xcorr(tmp_path / "three", data=str(dataset.directory), instances=3)
    )
    assert one.keys() == three.keys() and len(one) == 28
    for pair in one:
        assert np.array_equal(one[pair], three[pair])


@pytest.mark.parametrize("mapping", PARALLEL_MAPPINGS)
def test_xcorr_results_are_identical_on_every_mapping(dataset, tmp_path, mapping):
    simple = correlations_of(run_xcorr(tmp_path / "s", data=str(dataset.directory), instances=2))
    other = correlations_of(
        run_xcorr(tmp_path / "m", mapping=mapping, processes=2, data=str(dataset.directory),
                  instances=2)
    )
    assert simple.keys() == other.keys()
    for pair in simple:
        assert np.array_equal(simple[pair], other[pair])


def test_xcorr_makes_and_reuses_its_synthetic_data(tmp_path):
    summary = run_xcorr(tmp_path, stations=4, hours=0.5, normalisation="ram", instances=1)
    assert summary["pairs"] == 6 and summary["within_one_sample"] == 6
    data = tmp_path / "out" / "data"
    stamp = (data / "stations.xml").stat().st_mtime_ns
    summary = run_xcorr(tmp_path, stations=4, hours=0.5, instances=1, plot=False)
    assert (data / "stations.xml").stat().st_mtime_ns == stamp
    assert summary["plot"] is None
    summary = run_xcorr(tmp_path, stations=3, hours=0.5, instances=1, plot=False)
    assert len(list(data.glob("*.mseed"))) == 3 and summary["pairs"] == 3


def test_xcorr_rejects_unknown_parameters():
    with pytest.raises(ValueError, match="no parameter 'statoins'.*stations"):
        build_xcorr(statoins=3)


@pytest.mark.parametrize(("params", "message"), [
    # before: 'window=0.0 s is longer than -p hours=-1.0', a traceback (ZeroDivisionError),
    # SciPy's 'Target length must be positive', a run with no lag kept, an error from
    # Bandpass at run time about the Nyquist frequency, 'expected non-negative integer'
    ({"hours": -1}, r"-p hours=-1: give the length of the time window in hours, more than 0"),
    ({"rate": 0}, r"-p rate=0: give the synthetic data's sampling rate in Hz, more than 0"),
    ({"rate": -5}, r"-p rate=-5: give"),
    ({"freqmin": 0}, r"-p freqmin=0: give the low corner of the band in Hz, more than 0"),
    ({"max_lag": 0}, r"-p max_lag=0: give the largest lag to keep in seconds, more than 0"),
    ({"target_rate": -1}, r"-p target_rate=-1: give a rate in Hz to decimate to"),
    ({"seed": -1}, r"-p seed=-1: give a whole number, 0 or more"),
    ({"instances": -1}, r"-p instances=-1: give the instances of each parallel PE"),
    ({"freqmin": 2, "freqmax": 1}, r"-p freqmin=2 -p freqmax=1: the band needs freqmin < freqmax"),
    ({"freqmax": 5}, r"-p freqmax=5 is not below the Nyquist frequency \(5 Hz\) of "
                     r"-p target_rate=10.0; lower freqmax or raise target_rate"),
    # before: lags beyond the window, zeros
    ({"window": 30, "max_lag": 60}, r"-p max_lag=60 s is not shorter than the 30 s window it "
                                    r"is correlated over"),
    ({"hours": 0.01}, r"-p max_lag=60.0 s is not shorter than the 36 s window"),
])
def test_xcorr_numbers_out_of_range_are_named_before_running(params, message, tmp_path):
    with pytest.raises(d4p.UsageError, match=message):
        build_xcorr(output=str(tmp_path / "out"), **params)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("params", "message"), [
    # before: a run tapering the whole window twice over (0.9), or none at all (-1);
    # 'no observed waveforms' at run time; 'expected non-negative integer'
    ({"taper": 0.9}, r"-p taper=0.9: give the fraction tapered at each end, from 0 to 0.5"),
    ({"taper": -1}, r"-p taper=-1: give"),
    ({"stations": 0}, r"-p stations=0: give the number of synthetic stations, 1 or more"),
    ({"seed": -1}, r"-p seed=-1: give a whole number, 0 or more"),
    ({"amplitude_ratio": 0}, r"-p amplitude_ratio=0: give the synthetic observed's scale"),
])
def test_misfit_numbers_out_of_range_are_named_before_running(params, message, tmp_path):
    with pytest.raises(d4p.UsageError, match=message):
        build_misfit(output=str(tmp_path / "out"), **params)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def broken(dataset, tmp_path):
    """A writable copy of the data set to damage."""
    copy = tmp_path / "data"
    shutil.copytree(dataset.directory, copy)
    return copy


def test_missing_response_names_the_station(broken, tmp_path):
    inv = obspy.read_inventory(str(broken / "stations.xml"))
    inv.networks[0].stations = [s for s in inv.networks[0].stations if s.code != "S0003"]
    inv.write(str(broken / "stations.xml"), format="STATIONXML")
    with pytest.raises(d4p.WorkflowFailed, match=r"SY\.S0003\.\.BHZ: no channel metadata"):
        run_xcorr(tmp_path, data=str(broken), instances=1)
    with pytest.warns(SkippedStationWarning, match=r"SY\.S0003\.\.BHZ"):
        summary = run_xcorr(tmp_path, data=str(broken), instances=1, on_error="skip")
    assert summary["stations"] == 7 and summary["pairs"] == 21
    assert summary["within_one_sample"] == 21


def resample_s0005(folder, rate):
    """Station S0005 of the data set in ``folder`` resampled to ``rate`` Hz."""
    path = folder / "SY.S0005..BHZ.mseed"
    st = obspy.read(str(path))
    st.resample(rate)
    st[0].data = st[0].data.astype(np.int32)
    st.write(str(path), format="MSEED")


def test_mismatched_sampling_rate_names_the_station(broken, tmp_path):
    """A channel at a rate the target does not divide (a 1 Hz LHZ beside the
    20 Hz BHZ of a download) fails naming it and what to do, or with
    on_error=skip is left out with a warning; before, on_error=skip did not
    apply to it and the message did not say to leave the channel out."""
    resample_s0005(broken, 25.0)
    with pytest.raises(d4p.WorkflowFailed, match=r"SY\.S0005\.\.BHZ: sampled at 25 Hz, .* or "
                                                 r"leave the channel out \(-p channel, or -p "
                                                 r"on_error=skip\)"):
        run_xcorr(tmp_path, data=str(broken), instances=1)
    with pytest.warns(SkippedStationWarning, match=r"SY\.S0005\.\.BHZ: sampled at 25 Hz"):
        summary = run_xcorr(tmp_path, data=str(broken), instances=1, on_error="skip")
    assert summary["stations"] == 7 and summary["pairs"] == 21
    assert summary["within_one_sample"] == 21


def test_codes_matching_no_channel_of_the_files_are_refused_naming_them(dataset, tmp_path):
    """-p channel=LHZ over files of BHZ channels: the run read every file,
    kept no trace and ended with '0 correlations' and an empty summary.csv,
    as -p pattern matching no file does not (it names the pattern); now it
    is refused before it starts, naming the codes and what the files hold."""
    with pytest.raises(d4p.UsageError, match=r"no channel in .* matches -p channel=LHZ; the files "
                                             r"hold SY\.S0001\.\.BHZ, SY\.S0002\.\.BHZ, "
                                             r"SY\.S0003\.\.BHZ and 5 more: check the codes"):
        build_xcorr(output=str(tmp_path / "out"), data=str(dataset.directory), channel="LHZ")
    with pytest.raises(d4p.UsageError, match=r"matches -p network=XX -p station=S0001; the files"):
        build_xcorr(output=str(tmp_path / "out"), data=str(dataset.directory), network="XX",
                    station="S0001")
    assert not (tmp_path / "out" / "summary.csv").exists()


def xcorr_command(capsys, **params):
    """``d4p run xcorr -p KEY=VALUE...``: its exit status and standard output."""
    from d4p.cli import main

    status = main(["run", "xcorr", *(f"-p{key}={value}" for key, value in params.items())])
    return status, capsys.readouterr().out


def test_xcorr_that_makes_no_correlation_says_why(dataset, tmp_path, capsys):
    """One station, or stations with no component in common: the run ended
    with '0 correlations in ..., summary ...', not saying why; now its last
    line says what reached the correlation and what to do. The exit status
    stays 0, as for any d4p run given nothing to do (an empty input list)."""
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(dataset.directory / "stations.xml", one)
    shutil.copy(dataset.directory / "SY.S0001..BHZ.mseed", one)
    status, out = xcorr_command(capsys, data=one, output=tmp_path / "out", instances=1,
                                starttime=dataset.starttime)
    assert status == 0
    assert (f"Summary5: 0 correlations: 1 channel reached the correlation (SY.S0001..BHZ), and "
            "a pair needs two: add stations (-p data, -p station); summary "
            f"{tmp_path / 'out' / 'summary.csv'} (empty)") in out
    shutil.copy(dataset.directory / "SY.S0002..BHZ.mseed", one)
    st = obspy.read(str(one / "SY.S0002..BHZ.mseed"))
    st[0].stats.channel = "BHN"
    st.write(str(one / "SY.S0002..BHN.mseed"), format="MSEED")
    (one / "SY.S0002..BHZ.mseed").unlink()
    inventory = obspy.read_inventory(str(one / "stations.xml"))
    inventory.select(station="S0002")[0][0][0].code = "BHN"
    inventory.write(str(one / "stations.xml"), format="STATIONXML")
    status, out = xcorr_command(capsys, data=one, output=tmp_path / "out", instances=2,
                                starttime=dataset.starttime)
    assert status == 0
    assert ("0 correlations: 2 channels reached the correlation, of no common component "
            "(N: SY.S0002..BHN; Z: SY.S0001..BHZ), and -p components=same pairs channels of one "
            "component only: add stations recording a common component, or correlate across "
            "components with -p components=all; summary") in out
    status, out = xcorr_command(capsys, data=one, output=tmp_path / "out", instances=1,
                                starttime=dataset.starttime, components="all")
    assert status == 0 and "Summary5: 1 correlations in" in out


def test_target_rate_0_over_channels_at_two_rates_is_refused_naming_it(broken, tmp_path):
    """-p target_rate=0 (keep each rate) with one station at 25 Hz beside 20 Hz
    ones: every station was read and preprocessed, then XCorr failed with
    'cannot correlate ... preprocess every station to the same sampling
    rate', which names no option; now the run is refused before it starts."""
    resample_s0005(broken, 25.0)
    with pytest.raises(d4p.UsageError, match=r"^-p target_rate=0 keeps each channel's sampling "
                                             r"rate, but the channels selected are sampled at 20 "
                                             r"Hz \(SY\.S0001\.\.BHZ and 6 more\) and 25 Hz "
                                             r"\(SY\.S0005\.\.BHZ\): give -p target_rate=5 \(or "
                                             r"another rate dividing all\), or select channels "
                                             r"of one rate with -p channel"):
        build_xcorr(output=str(tmp_path / "out"), data=str(broken), target_rate=0, freqmax=2)
    summary = run_xcorr(tmp_path, data=str(broken), target_rate=0, freqmax=2, instances=1,
                        station="S000[1-4]")
    assert summary["pairs"] == 6 and summary["within_one_sample"] == 6


def test_pieces_of_a_record_at_different_rates_name_the_station_and_file(broken, tmp_path):
    """Before, ObsPy's merge raised a bare 'TypeError: Sampling rate differs:
    20.0 vs 40.0' naming neither."""
    path = broken / "SY.S0004..BHZ.mseed"
    (trace,) = obspy.read(str(path))
    half = trace.stats.starttime + 1800
    later = trace.slice(half + trace.stats.delta).copy()
    later.resample(40.0)
    obspy.Stream([trace.slice(endtime=half), later]).write(str(path), format="MSEED")
    with pytest.raises(d4p.WorkflowFailed, match=r"SY\.S0004\.\.BHZ \(.*SY\.S0004\.\.BHZ\.mseed\)"
                                                 r": pieces sampled at 20 and 40 Hz"):
        run_xcorr(tmp_path, data=str(broken), instances=1)
    with pytest.warns(SkippedStationWarning, match=r"SY\.S0004\.\.BHZ"):
        summary = run_xcorr(tmp_path, data=str(broken), instances=1, on_error="skip")
    assert summary["stations"] == 7 and summary["pairs"] == 21


def test_unreadable_file_is_named(broken, tmp_path):
    (broken / "SY.S0002..BHZ.mseed").write_bytes(b"not a seismogram")
    with pytest.raises(d4p.WorkflowFailed, match=r"SY\.S0002\.\.BHZ\.mseed: cannot read"):
        run_xcorr(tmp_path, data=str(broken), instances=1)
    with pytest.warns(SkippedStationWarning):
        summary = run_xcorr(tmp_path, data=str(broken), instances=1, on_error="skip")
    assert summary["pairs"] == 21


def test_empty_window_names_the_station(dataset, tmp_path):
    with pytest.raises(d4p.WorkflowFailed, match=r"SY\.S0001\.\.BHZ .*data cover 0 s"):
        run_xcorr(tmp_path, data=str(dataset.directory), starttime="2021-01-01", instances=1)


def test_missing_directory_or_inventory_is_named_before_running(dataset, tmp_path):
    with pytest.raises(MissingDataError, match="nowhere: waveform directory not found"):
        build_xcorr(data=str(tmp_path / "nowhere"))
    with pytest.raises(MissingDataError, match="inv.xml: inventory .* not found"):
        build_xcorr(data=str(dataset.directory), inventory=str(tmp_path / "inv.xml"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "stations.xml").write_text("")
    graph, inputs = build_xcorr(data=str(tmp_path / "empty"), output=str(tmp_path / "o"))
    with pytest.raises(d4p.WorkflowFailed, match=r"stations.xml: cannot read the inventory"):
        d4p.run(graph, inputs)
    shutil.copy(dataset.inventory_path, tmp_path / "empty" / "stations.xml")
    graph, inputs = build_xcorr(data=str(tmp_path / "empty"), output=str(tmp_path / "o"))
    with pytest.raises(d4p.WorkflowFailed, match=r"empty: no waveform files match '\*.mseed'"):
        d4p.run(graph, inputs)


def test_plugin_registers_both_workflows():
    found = d4p.workflows()
    assert found["xcorr"].params["stations"] == 50
    assert found["xcorr"].builder() is build_xcorr
    assert found["misfit"].builder() is build_misfit
    assert "cross-correlation" in found["xcorr"].description


def test_misfit_recovers_the_known_shift_and_amplitude(tmp_path):
    graph, inputs = build_misfit(
        output=str(tmp_path / "misfit"), stations=2, time_shift=1.7, amplitude_ratio=0.8,
        instances=2,
    )
    summary = summary_of(d4p.run(graph, inputs))
    assert sorted(summary["stations"]) == ["SY.E001", "SY.E002"]
    assert summary["windows"] >= 6
    assert summary["mean_time_shift"] == pytest.approx(1.7, abs=0.1)
    assert summary["mean_dlnA"] == pytest.approx(math.log(0.8), abs=0.02)
    for station, info in summary["stations"].items():
        assert sorted(info["components"]) == ["BHE", "BHN", "BHZ"]
        for comp in info["components"].values():
            assert comp["trace"]["time_shift"] == pytest.approx(1.7, abs=0.02)
            assert comp["trace"]["dlnA"] == pytest.approx(math.log(0.8), abs=0.01)
            assert comp["windows"], f"{station}: no window selected"
        image = tmp_path / "misfit" / f"{station}.png"
        assert info["image"] == str(image) and image.stat().st_size > 20_000
    written = json.loads((tmp_path / "misfit" / "misfit_summary.json").read_text())
    assert written["windows"] == summary["windows"]


def test_misfit_names_an_observed_trace_without_synthetic(tmp_path):
    graph, inputs = build_misfit(output=str(tmp_path / "m"), stations=2, instances=1)
    (tmp_path / "m" / "data" / "synthetic" / "SY.E002..BHN.mseed").unlink()
    with pytest.raises(d4p.WorkflowFailed, match=r"SY\.E002\.\.BHN: observed trace has no synthetic"):
        d4p.run(graph, inputs)


def test_finding_the_plugin_imports_neither_obspy_nor_matplotlib():
    import subprocess
    import sys

    code = ("import sys, d4p; d4p.workflows(); "
            "print(sorted(m for m in ('obspy', 'matplotlib', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_a_seismo_workflow_by_name_loads_this_plugin_alone():
    import json
    import subprocess
    import sys

    from d4p import plugins

    if "xcorr" not in (ep.name for ep in plugins._entry_points()):
        pytest.skip("the installed d4p-seismo predates its entry points xcorr and misfit: "
                    "pip install -e packages/d4p-seismo --no-deps")
    code = ("import json, sys\nfrom d4p.cli import main\nstatus = main(['workflows', 'xcorr'])\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\nsys.exit(status)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stderr.splitlines()[-1]))
    assert "d4p_seismo.plugin" in loaded
    assert {"d4p_astro", "d4p_monitor", "d4p_spark", "d4p_storm", "obspy"} & loaded == set()
    assert "normalisation=onebit  (str)\n      time-domain normalisation: onebit, ram or none" \
        in done.stdout


def cut_gap(path, start_minute, end_minute):
    """Remove minutes [start, end) of the hour from a miniSEED file (two records remain)."""
    st = obspy.read(str(path))
    tr = st[0]
    t0 = tr.stats.starttime
    after = tr.slice(t0 + end_minute * 60, tr.stats.endtime)
    pieces = [after]
    if start_minute > 0:
        pieces.insert(0, tr.slice(t0, t0 + start_minute * 60 - tr.stats.delta / 2))
    obspy.Stream(pieces).write(str(path), format="MSEED")


def peaks_of(summary, station):
    return {
        row["pair"]: (float(row["peak_value"]), float(row["peak_lag"]))
        for row in read_summary(summary["summary"]) if station in row["pair"]
    }


def test_a_24_minute_gap_keeps_every_correlation_peak(dataset, broken, tmp_path):
    clean = peaks_of(run_xcorr(tmp_path / "clean", data=str(dataset.directory), instances=1),
                     "S0004")
    cut_gap(broken / "SY.S0004..BHZ.mseed", 20, 44)
    gapped = run_xcorr(tmp_path / "gap", data=str(broken), instances=1)
    assert gapped["pairs"] == 28 and gapped["within_one_sample"] == 28
    assert gapped["rejected"] == []
    holed = peaks_of(gapped, "S0004")
    assert len(holed) == 7
    for pair, (value, lag) in clean.items():
        assert holed[pair][1] == lag, pair
        assert holed[pair][0] == pytest.approx(value, rel=0.10), pair


def test_a_sensor_changed_in_the_window_is_corrected_with_each_response(dataset, broken,
                                                                       tmp_path):
    """S0004's sensor is swapped 30 minutes into the hour for a 1 s geophone
    with 3 times the gain (a second channel epoch in the StationXML): every
    peak stays at its lag and within 5 % of its value. Before, the whole
    hour was corrected with the first sensor's response: S0004's peaks moved
    by about 2 samples and fell to about half."""
    import copy

    from d4p_seismo.synthetic import seismometer_response

    clean = peaks_of(run_xcorr(tmp_path / "clean", data=str(dataset.directory), instances=1),
                     "S0004")
    inv = obspy.read_inventory(str(broken / "stations.xml"))
    [station] = [s for s in inv[0] if s.code == "S0004"]
    [old] = station.channels
    new = copy.deepcopy(old)
    new.start_date = old.end_date = dataset.starttime + 1800
    new.response = seismometer_response(1.0, 0.7, 3 * old.response.instrument_sensitivity.value)
    station.channels.append(new)
    inv.write(str(broken / "stations.xml"), format="STATIONXML")
    [trace] = obspy.read(str(broken / "SY.S0004..BHZ.mseed"))
    later = trace.slice(new.start_date).copy()
    n = later.stats.npts
    freqs = np.fft.rfftfreq(2 * n, later.stats.delta)[1:]
    ratio = np.zeros(n + 1, dtype=complex)  # the old sensor's record re-recorded by the new
    ratio[1:] = (new.response.get_evalresp_response_for_frequencies(freqs, output="VEL")
                 / old.response.get_evalresp_response_for_frequencies(freqs, output="VEL"))
    later.data = np.fft.irfft(np.fft.rfft(later.data, 2 * n) * ratio, 2 * n)[:n].round()
    later.data = later.data.astype(np.int32)
    obspy.Stream([trace.slice(None, new.start_date - 0.01), later]).write(
        str(broken / "SY.S0004..BHZ.mseed"), format="MSEED")
    swapped = run_xcorr(tmp_path / "swap", data=str(broken), instances=1)
    assert swapped["within_one_sample"] == swapped["pairs"] == 28
    changed = peaks_of(swapped, "S0004")
    for pair, (value, lag) in clean.items():
        assert changed[pair][1] == lag, pair
        assert changed[pair][0] == pytest.approx(value, rel=0.05), pair


def test_gaps_reject_drops_the_window_and_lists_it(broken, tmp_path):
    cut_gap(broken / "SY.S0004..BHZ.mseed", 20, 44)
    summary = run_xcorr(tmp_path, data=str(broken), instances=1, gaps="reject", max_gap=0.3)
    assert summary["stations"] == 7 and summary["pairs"] == 21
    [rejected] = summary["rejected"]
    assert rejected["station"] == "SY.S0004..BHZ"
    assert rejected["missing"] == pytest.approx(0.4, abs=1e-3)
    assert rejected["starttime"] == "2020-01-01T00:00:00.000000Z"
    [row] = read_summary(tmp_path / "out" / "rejected.csv")
    assert row["station"] == "SY.S0004..BHZ" and "data cover 2160 s of the 3600 s" in row["reason"]
    with pytest.raises(d4p.WorkflowFailed, match=r"SY\.S0004\.\.BHZ .*data cover 2160 s"):
        run_xcorr(tmp_path, data=str(broken), instances=1, max_gap=0.3)
    with pytest.raises(d4p.UsageError, match=r"-p gaps=fill: choose one of zero, reject"):
        build_xcorr(data=str(broken), gaps="fill")


def test_on_error_skip_leaves_out_the_window_not_the_station(broken, tmp_path):
    """Minutes 20-44 missing, 15-minute windows, on_error=skip: the two windows
    without enough data are left out with a warning each, the station's other
    two are correlated (as the README says). Before, the first bad window
    dropped every window of the station: 84 correlations instead of 98."""
    cut_gap(broken / "SY.S0004..BHZ.mseed", 20, 44)
    with pytest.warns(SkippedStationWarning) as warned:
        summary = run_xcorr(tmp_path, data=str(broken), instances=1, window=900.0,
                            on_error="skip")
    skipped = [str(w.message) for w in warned if issubclass(w.category, SkippedStationWarning)]
    assert len(skipped) == 2 and all("SY.S0004..BHZ" in m for m in skipped)
    assert "window 2020-01-01T00:15:00" in skipped[0] and "00:30:00" in skipped[1]
    assert summary["correlations"] == 2 * 28 + 2 * 21
    rows = read_summary(summary["summary"])
    windows = {r["starttime"][11:16] for r in rows if "S0004" in r["pair"]}
    assert windows == {"00:00", "00:45"}


def test_a_station_off_the_sample_grid_is_interpolated_onto_it(tmp_path):
    from d4p_seismo.misfit import measure

    clean = make_dataset(tmp_path / "clean", stations=4, hours=0.5, seed=7)
    off = make_dataset(tmp_path / "off", stations=4, hours=0.5, seed=7,
                       time_offsets={"S0002": 0.04})
    raw_clean = obspy.read(str(clean.directory / "SY.S0002..BHZ.mseed"))[0]
    raw_off = obspy.read(str(off.directory / "SY.S0002..BHZ.mseed"))[0]
    assert raw_off.stats.starttime - raw_clean.stats.starttime == pytest.approx(0.04)
    # the same samples, taken 0.04 s later: read on the same grid they lead by 0.04 s
    assert measure(raw_off.data, raw_clean.data, 20.0).time_shift == pytest.approx(-0.04, abs=2e-3)
    a = correlations_of(run_xcorr(tmp_path / "a", data=str(clean.directory), instances=1))
    b = correlations_of(run_xcorr(tmp_path / "b", data=str(off.directory), instances=1))
    assert a.keys() == b.keys() and len(a) == 6
    for pair in a:
        shift = measure(b[pair], a[pair], 10.0).time_shift
        assert abs(shift) < 0.005, (pair, shift)


@pytest.fixture(scope="module")
def three_components(tmp_path_factory):
    """ObsPy's bundled 3-component example (BW.RJOB) and a copy as station RJOC
    recording the same ground 0.25 s later, with the example inventory."""
    folder = tmp_path_factory.mktemp("rjob")
    st = obspy.read()
    st.write(str(folder / "RJOB.mseed"), format="MSEED")
    late = st.copy()
    for tr in late:
        tr.stats.station = "RJOC"
        tr.data = np.roll(tr.data, 25)  # 0.25 s at 100 Hz
    late.write(str(folder / "RJOC.mseed"), format="MSEED")
    inv = obspy.read_inventory()
    rjob = inv.select(station="RJOB", time=st[0].stats.starttime)[0][0]  # the epoch of the data
    rjoc = rjob.copy()
    rjoc.code = "RJOC"
    rjoc.latitude = float(rjoc.latitude) + 0.01
    for cha in rjoc:
        cha.latitude = float(cha.latitude) + 0.01
    [bw] = [net for net in inv if net.code == "BW"]
    bw.stations.append(rjoc)
    inv.write(str(folder / "stations.xml"), format="STATIONXML")
    return folder, st[0].stats.starttime


def run_three(tmp_path, folder, start, **params):
    return run_xcorr(tmp_path, data=str(folder), starttime=str(start), hours=29 / 3600,
                     target_rate=20.0, freqmin=1.0, freqmax=5.0, max_lag=2.0, instances=1,
                     plot=False, **params)


def test_files_correlate_same_components_and_select_channels(three_components, tmp_path):
    folder, start = three_components
    summary = run_three(tmp_path / "same", folder, start)
    rows = read_summary(summary["summary"])
    assert [r["pair"] for r in rows] == [
        "BW.RJOB..EHE_BW.RJOC..EHE", "BW.RJOB..EHN_BW.RJOC..EHN", "BW.RJOB..EHZ_BW.RJOC..EHZ",
    ]
    assert all(float(r["peak_lag"]) == pytest.approx(0.25) for r in rows)
    assert all(float(r["distance_km"]) == pytest.approx(1.11, abs=0.01) for r in rows)
    [row] = read_summary(run_three(tmp_path / "z", folder, start, channel="EHZ")["summary"])
    assert row["pair"] == "BW.RJOB..EHZ_BW.RJOC..EHZ"
    [row] = read_summary(run_three(tmp_path / "n", folder, start, channel="?HN",
                                   station="RJOB,RJOC")["summary"])
    assert row["pair"] == "BW.RJOB..EHN_BW.RJOC..EHN"
    every = run_three(tmp_path / "all", folder, start, components="all")
    assert every["pairs"] == 15  # 6 channels, every pair: cross-components and one station's own
    with pytest.raises(d4p.UsageError, match=r"matches -p channel=BHZ; the files hold "
                                             r"BW\.RJOB\.\.EHE, BW\.RJOB\.\.EHN, BW\.RJOB\.\.EHZ "
                                             r"and 3 more: check the codes"):
        run_three(tmp_path / "none", folder, start, channel="BHZ")  # was: 0 pairs, no word
    with pytest.raises(d4p.UsageError, match=r"-p components=ZN: choose same .* or all"):
        build_xcorr(data=str(folder), components="ZN")


@pytest.fixture
def damaged_three(three_components, tmp_path):
    """A writable copy of the two 3-component stations, and their single-file correlations."""
    folder, start = three_components
    copy = tmp_path / "data"
    shutil.copytree(folder, copy)
    return copy, start, correlations_of(run_three(tmp_path / "ref", folder, start))


@pytest.mark.parametrize("mapping", ["simple", *PARALLEL_MAPPINGS])
def test_a_station_in_several_files_correlates_as_in_one(damaged_three, tmp_path, mapping):
    """Both stations' records in two 'day' files each (names with spaces): the
    same correlations as from one file each. Before, each file was read on
    its own and the run failed: 'data cover 14 s of the 29 s window'."""
    folder, start, reference = damaged_three
    for station in ("RJOB", "RJOC"):
        path = folder / f"{station}.mseed"
        st = obspy.read(str(path))
        st.slice(start, start + 14.99).write(str(folder / f"{station} day 1.mseed"), "MSEED")
        st.slice(start + 15, None).write(str(folder / f"{station} day 2.mseed"), "MSEED")
        path.unlink()
    summary = run_three(tmp_path, folder, start, mapping=mapping,
                        processes=2 if mapping != "simple" else None)
    split = correlations_of(summary)
    assert split.keys() == reference.keys() and len(split) == 3
    for pair in split:
        assert np.array_equal(split[pair], reference[pair]), pair
    assert {float(r["peak_lag"]) for r in read_summary(summary["summary"])} == {0.25}


def test_nan_samples_are_gaps_not_data(damaged_three, tmp_path):
    """Half a second of NaN in a float32 record: every pair still peaks at the
    true 0.25 s; before, the run failed in Detrend with SciPy's 'array must
    not contain infs or NaNs', naming neither the station nor the file."""
    folder, start, reference = damaged_three
    st = obspy.read(str(folder / "RJOC.mseed"))
    for tr in st:
        tr.data = tr.data.astype(np.float32)
        tr.data[1200:1250] = np.nan
    st.write(str(folder / "RJOC.mseed"), format="MSEED")
    summary = run_three(tmp_path, folder, start)
    rows = read_summary(summary["summary"])
    assert len(rows) == 3 and {float(r["peak_lag"]) for r in rows} == {0.25}
    for pair, data in correlations_of(summary).items():
        assert np.isfinite(data).all()
        assert data.max() == pytest.approx(reference[pair].max(), rel=0.05)


def test_a_float32_sampling_rate_is_read_as_the_nominal_rate(damaged_three, tmp_path):
    """miniSEED headers can say 99.99999237 Hz (a float32 rate) for a 100 Hz
    digitiser: read as 100 Hz, it pairs with the others. Before, the run
    failed at the correlation: 'cannot correlate ... (580 samples at 20 Hz)
    with ... (580 samples at 20 Hz)'; cut into windows, its windows started a
    sample late or a nanosecond off, and pairs went missing without a word."""
    folder, start, reference = damaged_three
    st = obspy.read(str(folder / "RJOC.mseed"))
    for tr in st:
        tr.stats.sampling_rate = 99.99999
    st.write(str(folder / "RJOC.mseed"), format="MSEED")
    assert obspy.read(str(folder / "RJOC.mseed"))[0].stats.sampling_rate == 99.99999237060547
    summary = run_three(tmp_path, folder, start)
    rows = read_summary(summary["summary"])
    assert len(rows) == 3 and {float(r["peak_lag"]) for r in rows} == {0.25}
    windowed = run_three(tmp_path / "w", folder, start, window=7.0, overlap=0.3)
    rows = read_summary(windowed["summary"])
    assert len(rows) == 5 * 3 and {float(r["peak_lag"]) for r in rows} == {0.25}
    assert sorted({r["starttime"][17:23] for r in rows}) == [
        "03.000", "07.900", "12.800", "17.700", "22.600"]


def test_stations_starting_apart_without_starttime_are_named(damaged_three, tmp_path):
    """Files that start at different times and no -p starttime: each station's
    trace was its own window and never paired; the run reported 0
    correlations without a word. Now it names both stations."""
    folder, start, reference = damaged_three
    st = obspy.read(str(folder / "RJOC.mseed"))
    st.trim(start + 0.5, None).write(str(folder / "RJOC.mseed"), format="MSEED")
    params = dict(data=str(folder), hours=29 / 3600, target_rate=20.0, freqmin=1.0,
                  freqmax=5.0, max_lag=2.0, instances=1, plot=False)
    with pytest.raises(d4p.WorkflowFailed, match=r"BW\.RJO[BC]\.\.EH. starts at "
                                                 r"2009-08-24T00:20:03\.[05]00000Z but .* give "
                                                 r"-p starttime=ISO-TIME"):
        run_xcorr(tmp_path / "none", **params)
    rows = read_summary(run_xcorr(tmp_path / "start", starttime=str(start), **params)["summary"])
    assert len(rows) == 3 and {float(r["peak_lag"]) for r in rows} == {0.25}


def test_a_window_step_between_samples_is_named(damaged_three, tmp_path):
    folder, start, reference = damaged_three
    with pytest.raises(d4p.WorkflowFailed, match=r"BW\.RJOB\.\.EH.: the window .* starts 0\.333 "
                                                 r"samples before a sample of this 100 Hz record; "
                                                 r"choose -p window and -p overlap whose step "
                                                 r"\(6\.66667 s\)"):
        run_three(tmp_path, folder, start, window=10.0, overlap=1 / 3)


@pytest.fixture(scope="module")
def real_shapes(tmp_path_factory):
    """ObsPy's example (BW.RJOB, 3 components, 100 Hz) as four stations the
    way archives hold them, each recording the same ground later: RJOB in two
    'day' files (Steim-1 and Steim-2, names with spaces); RJOC 0.25 s late at
    40 Hz, float32, half a second of NaN; RJOD 0.5 s late at 20 Hz, float64;
    RJOE 0.1 s late, location 00, a float32 header rate (99.99999237 Hz)."""
    folder = tmp_path_factory.mktemp("real shapes")
    st = obspy.read()
    t0 = st[0].stats.starttime
    for tr in st:
        tr.data = tr.data.astype(np.int32)
    inv = obspy.read_inventory()
    rjob = inv.select(station="RJOB", time=t0)[0][0]
    [bw] = [net for net in inv if net.code == "BW"]
    late = {}
    for k, (code, shift, rate) in enumerate(
            (("RJOC", 25, 40.0), ("RJOD", 50, 20.0), ("RJOE", 10, None)), start=1):
        station = rjob.copy()
        station.code = code
        for item in (station, *station):
            item.latitude = float(item.latitude) + 0.01 * k
        for cha in station:
            cha.location_code = "00" if code == "RJOE" else ""
        bw.stations.append(station)
        moved = st.copy()
        for tr in moved:
            tr.stats.station = code
            tr.data = np.roll(tr.data, shift).astype(np.float64)
        if rate:
            moved.resample(rate)
        late[code] = moved
    inv.write(str(folder / "stations.xml"), format="STATIONXML")
    st.slice(t0, t0 + 14.99).write(str(folder / "RJOB day 1.mseed"), "MSEED", encoding="STEIM1")
    st.slice(t0 + 15, None).write(str(folder / "RJOB day 2.mseed"), "MSEED", encoding="STEIM2")
    for tr in late["RJOC"]:
        tr.data = tr.data.astype(np.float32)
        tr.data[400:420] = np.nan
    late["RJOC"].write(str(folder / "RJOC.mseed"), format="MSEED")
    late["RJOD"].write(str(folder / "RJOD.mseed"), format="MSEED", encoding="FLOAT64")
    for tr in late["RJOE"]:
        tr.stats.location = "00"
        tr.stats.sampling_rate = 99.99999
        tr.data = tr.data.astype(np.int32)
    late["RJOE"].write(str(folder / "RJOE.mseed"), format="MSEED")
    return folder, t0


REAL_MAPPINGS = [("multi", {"start_method": "fork"}, 4), ("multi", {"start_method": "spawn"}, 4)]
if "mpi" in d4p.installed_mappings():
    REAL_MAPPINGS.append(("mpi", {}, 4))


def run_real(tmp_path, folder, start, mapping="simple", processes=None, **options):
    graph, inputs = build_xcorr(
        output=str(tmp_path), data=str(folder), starttime=str(start), hours=0.008,
        target_rate=20.0, freqmin=1.0, freqmax=5.0, max_lag=2.0, instances=2, plot=False)
    return summary_of(d4p.run(graph, inputs, mapping=mapping, processes=processes, **options))


@pytest.mark.parametrize(("mapping", "options", "processes"), REAL_MAPPINGS,
                         ids=[f"{m}-{o.get('start_method', n)}" for m, o, n in REAL_MAPPINGS])
def test_real_shapes_give_known_lags_identically_on_every_mapping(
        real_shapes, tmp_path, mapping, options, processes):
    folder, start = real_shapes
    delay = {"RJOB": 0.0, "RJOC": 0.25, "RJOD": 0.5, "RJOE": 0.1}
    simple = run_real(tmp_path / "simple", folder, start)
    rows = read_summary(simple["summary"])
    assert len(rows) == 18  # 6 station pairs x 3 components
    for row in rows:
        a, b = (row[k].split(".")[1] for k in ("station_a", "station_b"))
        assert float(row["peak_lag"]) == pytest.approx(delay[b] - delay[a]), row["pair"]
    reference = correlations_of(simple)
    other = correlations_of(run_real(tmp_path / mapping, folder, start, mapping, processes,
                                     **options))
    assert other.keys() == reference.keys()
    for pair in reference:
        assert np.array_equal(other[pair], reference[pair]), pair


def test_a_channel_without_a_full_response_is_named_or_skipped(damaged_three, tmp_path):
    """StationXML at level=channel gives responses without stages (only the
    sensitivity), or none: the run fails naming the channel, or with
    on_error=skip leaves it out. Before, a stage-less response failed in
    RemoveResponse with 'IndexError: list index out of range', and
    on_error=skip did not apply to a missing response at all."""
    from obspy.core.inventory.response import Response

    folder, start, reference = damaged_three
    inv = obspy.read_inventory(str(folder / "stations.xml"))
    for cha in inv.select(station="RJOC")[0][0]:
        if cha.code == "EHN":
            cha.response = Response(instrument_sensitivity=cha.response.instrument_sensitivity)
        elif cha.code == "EHE":
            cha.response = None
    inv.write(str(folder / "stations.xml"), format="STATIONXML")
    with pytest.raises(d4p.WorkflowFailed, match=r"BW\.RJOC\.\.EHN: a response without stages "
                                                 r"\(only the overall sensitivity"):
        run_three(tmp_path / "raise", folder, start, channel="EHN")
    with pytest.warns(SkippedStationWarning) as warned:
        summary = run_three(tmp_path / "skip", folder, start, on_error="skip")
    assert sorted(str(w.message).split(":")[1].strip() for w in warned
                  if issubclass(w.category, SkippedStationWarning)) == [
        "BW.RJOC..EHE", "BW.RJOC..EHN"]
    rows = read_summary(summary["summary"])
    assert [r["pair"] for r in rows] == ["BW.RJOB..EHZ_BW.RJOC..EHZ"]
    assert np.array_equal(correlations_of(summary)[rows[0]["pair"]], reference[rows[0]["pair"]])


def example_misfit_data(folder, shift=0.3, scale=0.8, min_period=1.0, max_period=10.0,
                        units=None):
    """ObsPy's example stream as the observed (raw, broadband) and, as the
    synthetic, the same ground band-limited (wider than the period band),
    advanced by ``shift`` s and scaled by ``scale``, with synthetic channel
    codes (MX?) and a location code: dlnA = ln(1/scale), time shift = +shift.
    With ``units`` ("VEL"...) the synthetic is in those units (the example's
    response removed) while the observed stays in counts."""
    from scipy import fft

    observed = obspy.read()
    synthetic = observed.copy()
    if units:
        synthetic.remove_response(obspy.read_inventory(), output=units, water_level=None,
                                  pre_filt=(0.025, 0.05, 20.0, 40.0))
    for tr in synthetic:
        tr.detrend("linear")
        tr.taper(0.05)
        tr.filter("bandpass", freqmin=0.25 / max_period, freqmax=4.0 / min_period, corners=4,
                  zerophase=True)
        n = tr.stats.npts
        nfft = fft.next_fast_len(2 * n)
        freqs = fft.rfftfreq(nfft, tr.stats.delta)
        tr.data = scale * fft.irfft(fft.rfft(tr.data, nfft) * np.exp(2j * np.pi * freqs * shift),
                                    nfft)[:n]
        tr.stats.channel = "MX" + tr.stats.channel[-1]
        tr.stats.location = "S3"
    (folder / "observed").mkdir(parents=True)
    (folder / "synthetic").mkdir()
    observed.write(str(folder / "observed" / "RJOB.mseed"), format="MSEED")
    synthetic.write(str(folder / "synthetic" / "RJOB.mseed"), format="MSEED", encoding="FLOAT64")
    return observed, synthetic


def assert_recovers_the_truth(components):
    """Every component's whole-trace time shift and dlnA are those
    :func:`example_misfit_data` made (0.3 s, ln(1 / 0.8)) within 0.01."""
    for channel, comp in components.items():
        assert comp["trace"]["time_shift"] == pytest.approx(0.3, abs=0.01), channel
        assert comp["trace"]["dlnA"] == pytest.approx(math.log(1 / 0.8), abs=0.01), channel


def test_misfit_preprocessing_recovers_dlna_on_obspy_example_data(tmp_path, caplog):
    from d4p_seismo.misfit import align, measure

    observed, synthetic = example_misfit_data(tmp_path / "data")
    truth = math.log(1 / 0.8)
    # without band-passing, the observed's energy outside the band inflates dlnA
    o, s = align(observed.select(component="Z")[0], synthetic.select(component="Z")[0])
    assert measure(o.data, s.data, 100.0).dlnA > truth + 0.1
    graph, inputs = build_misfit(
        observed=str(tmp_path / "data" / "observed"), synthetic=str(tmp_path / "data" / "synthetic"),
        output=str(tmp_path / "out"), min_period=1.0, max_period=10.0, instances=1,
    )
    with caplog.at_level("DEBUG", logger="d4p_seismo.pyflex"):
        summary = summary_of(d4p.run(graph, inputs))
    components = summary["stations"]["BW.RJOB"]["components"]
    assert sorted(components) == ["EHE", "EHN", "EHZ"]  # matched by network.station.component
    for channel, comp in components.items():
        assert comp["trace"]["time_shift"] == pytest.approx(0.3, abs=0.01), channel
        assert comp["trace"]["dlnA"] == pytest.approx(truth, abs=0.01), channel
        assert comp["windows"], channel
    # pyflex's messages arrive as DEBUG records, never as warnings on the console
    assert caplog.records and {r.levelname for r in caplog.records} == {"DEBUG"}
    import logging

    assert not any(isinstance(h, logging.Handler) and type(h).__name__ == "_ToDebug"
                   for h in logging.getLogger("pyflex").handlers)


def test_misfit_skips_an_unreadable_file_and_a_gapped_record(tmp_path):
    """With on_error=skip the misfit reader leaves out what xcorr's would: a
    file that is no waveform (field notes beside the data) and a component
    with a gap; the other components are measured. Before, either failed
    the run whatever on_error said."""
    observed, _ = example_misfit_data(tmp_path / "data")
    folder = tmp_path / "data" / "observed"
    t0 = observed[0].stats.starttime
    gapped = observed.select(channel="EH[EN]") + observed.select(channel="EHZ").slice(t0, t0 + 10)
    gapped += observed.select(channel="EHZ").slice(t0 + 12, None)
    gapped.write(str(folder / "RJOB.mseed"), format="MSEED")
    (folder / "notes.txt").write_text("field notes")
    params = dict(observed=str(folder), synthetic=str(tmp_path / "data" / "synthetic"),
                  output=str(tmp_path / "out"), min_period=1.0, max_period=10.0, instances=1)
    graph, inputs = build_misfit(**params)
    with pytest.raises(d4p.WorkflowFailed, match=r"notes\.txt: cannot read observed waveform"):
        d4p.run(graph, inputs)
    graph, inputs = build_misfit(on_error="skip", **params)
    with pytest.warns(SkippedStationWarning) as warned:
        summary = summary_of(d4p.run(graph, inputs))
    messages = [str(w.message) for w in warned if issubclass(w.category, SkippedStationWarning)]
    assert any("notes.txt: cannot read observed waveform" in m for m in messages)
    assert any("observed BW.RJOB..EHZ comes in 2 pieces" in m and "a gap of 1.99 s" in m
               for m in messages)
    components = summary["stations"]["BW.RJOB"]["components"]
    assert sorted(components) == ["EHE", "EHN"]
    assert_recovers_the_truth(components)


def test_misfit_leaves_out_the_metadata_beside_the_waveforms(tmp_path, capsys):
    """The observed folder often holds the StationXML and the event's QuakeML
    too: the misfit reader read every file and failed on them ('cannot read
    observed waveform'); they are left out and named."""
    observed, _ = example_misfit_data(tmp_path / "data")
    folder = tmp_path / "data" / "observed"
    obspy.read_inventory().write(str(folder / "stations.xml"), format="STATIONXML")
    obspy.read_events().write(str(folder / "event.xml"), format="QUAKEML")
    graph, inputs = build_misfit(
        observed=str(folder), synthetic=str(tmp_path / "data" / "synthetic"),
        output=str(tmp_path / "out"), min_period=1.0, max_period=10.0, instances=1,
        inventory=str(folder / "stations.xml"))
    components = summary_of(d4p.run(graph, inputs))["stations"]["BW.RJOB"]["components"]
    assert sorted(components) == ["EHE", "EHN", "EHZ"]
    assert_recovers_the_truth(components)
    assert ("left out the files that are not waveforms: event.xml (QuakeML), stations.xml (the "
            "inventory)") in capsys.readouterr().out


def test_misfit_reads_a_float32_header_rate_as_the_nominal_rate(tmp_path):
    """An observed miniSEED whose header says 99.99999237 Hz (float32) against
    a 100 Hz synthetic: measured as 100 Hz. Before, the run failed: 'observed
    ... is sampled at 100 Hz but synthetic ... at 100 Hz; resample one'."""
    observed, _ = example_misfit_data(tmp_path / "data")
    for tr in observed:
        tr.stats.sampling_rate = 99.99999
    observed.write(str(tmp_path / "data" / "observed" / "RJOB.mseed"), format="MSEED")
    graph, inputs = build_misfit(
        observed=str(tmp_path / "data" / "observed"), synthetic=str(tmp_path / "data" / "synthetic"),
        output=str(tmp_path / "out"), min_period=1.0, max_period=10.0, instances=1,
    )
    components = summary_of(d4p.run(graph, inputs))["stations"]["BW.RJOB"]["components"]
    assert sorted(components) == ["EHE", "EHN", "EHZ"]
    assert_recovers_the_truth(components)


def test_misfit_resample_parameter_interpolates_the_synthetic(tmp_path):
    example_misfit_data(tmp_path / "data")
    path = tmp_path / "data" / "synthetic" / "RJOB.mseed"
    st = obspy.read(str(path))
    st.resample(50.0)
    st.write(str(path), format="MSEED", encoding="FLOAT64")
    params = dict(observed=str(tmp_path / "data" / "observed"), synthetic=str(tmp_path / "data" / "synthetic"),
                  output=str(tmp_path / "out"), min_period=1.0, max_period=10.0, instances=1)
    graph, inputs = build_misfit(**params)
    with pytest.raises(d4p.WorkflowFailed, match=r"50 Hz; resample one of them .*-p resample=true"):
        d4p.run(graph, inputs)
    graph, inputs = build_misfit(resample=True, **params)
    summary = summary_of(d4p.run(graph, inputs))
    trace = summary["stations"]["BW.RJOB"]["components"]["EHZ"]["trace"]
    assert trace["time_shift"] == pytest.approx(0.3, abs=0.01)
    assert trace["dlnA"] == pytest.approx(math.log(1 / 0.8), abs=0.01)


def test_misfit_parameters_are_checked_before_running(tmp_path):
    with pytest.raises(d4p.UsageError, match=r"min_period=50.0 -p max_period=15.0: the period band"):
        build_misfit(min_period=50.0, max_period=15.0, output=str(tmp_path))
    with pytest.raises(MissingDataError, match=r"nope.xml: file not found \(-p event=FILE\)"):
        build_misfit(event=str(tmp_path / "nope.xml"), output=str(tmp_path))


def event_near_rjob(tmp_path):
    """ObsPy's example as misfit data (see :func:`example_misfit_data`), an
    event 0.9 degrees north of RJOB 5 s before the traces start
    (``event.xml``), RJOB's StationXML (``stations.xml``); returns the
    observed stream, the event's position and a function giving the windows
    of a misfit run (``observed`` folder, parameters), and the time (s after
    the start) before which pyflex, knowing the event, keeps no window."""
    from obspy.core.event import Catalog, Event, Origin
    from obspy.taup import TauPyModel

    observed, _ = example_misfit_data(tmp_path / "data")
    start = observed[0].stats.starttime
    inventory = obspy.read_inventory().select(station="RJOB", time=start)
    inventory.write(str(tmp_path / "stations.xml"), format="STATIONXML")
    here = inventory.get_coordinates("BW.RJOB..EHZ", start)
    origin = Origin(time=start - 5.0, latitude=here["latitude"] + 0.9,
                    longitude=here["longitude"], depth=10_000.0)
    Catalog([Event(origins=[origin])]).write(str(tmp_path / "event.xml"), format="QUAKEML")
    [p] = TauPyModel("ak135").get_travel_times(10.0, 0.9, phase_list=["p", "P"])[:1]
    earliest = p.time - 5.0 - 1.0  # s after the trace start: pyflex keeps min_period before P
    assert 10.0 < earliest < 12.0

    def windows(observed=tmp_path / "data" / "observed", **extra):
        graph, inputs = build_misfit(
            observed=str(observed), synthetic=str(tmp_path / "data" / "synthetic"),
            output=str(tmp_path / "out"), min_period=1.0, max_period=10.0, instances=1,
            **extra)
        components = summary_of(d4p.run(graph, inputs))["stations"]["BW.RJOB"]["components"]
        return [w for comp in components.values() for w in comp["windows"]]

    return observed, (origin, here), windows, earliest


def test_misfit_passes_event_and_station_to_pyflex(tmp_path):
    _, _, windows, earliest = event_near_rjob(tmp_path)
    blind = windows()
    assert any(w["end"] < earliest for w in blind)  # a window of pre-event noise
    informed = windows(event=str(tmp_path / "event.xml"), inventory=str(tmp_path / "stations.xml"))
    assert informed and all(w["end"] >= earliest for w in informed)


def test_misfit_names_a_station_the_inventory_lacks_and_an_event_without_origin(tmp_path):
    """pyflex's own errors were raw tracebacks naming neither file nor what
    to do: 'PyflexError: Could not find the network of the observed data in
    the inventory object', 'PyflexError: Event does not contain an origin.',
    and for an origin without depth 'TypeError: float() argument must be ...
    not 'NoneType''."""
    from obspy.core.event import Catalog, Event, Origin

    observed, (origin, _), windows, _ = event_near_rjob(tmp_path)
    start = observed[0].stats.starttime
    obspy.read_inventory().select(network="GR").write(str(tmp_path / "gr.xml"), "STATIONXML")
    with pytest.raises(d4p.WorkflowFailed, match=r"BW\.RJOB\.\.EH[ENZ]: the inventory has no "
                                                 r"position of station BW\.RJOB at "
                                                 rf"{start} \(pyflex needs it\); add the station"):
        windows(inventory=str(tmp_path / "gr.xml"))
    Catalog([Event()]).write(str(tmp_path / "none.xml"), format="QUAKEML")
    with pytest.raises(d4p.WorkflowFailed, match=r"none\.xml: the event has no origin \(pyflex "
                                                 r"needs the origin's time, position and depth\)"):
        windows(event=str(tmp_path / "none.xml"))
    shallow = Origin(time=origin.time, latitude=origin.latitude, longitude=origin.longitude)
    Catalog([Event(origins=[shallow])]).write(str(tmp_path / "nodepth.xml"), format="QUAKEML")
    with pytest.raises(d4p.WorkflowFailed, match=r"nodepth\.xml: the event has no origin depth"):
        windows(event=str(tmp_path / "nodepth.xml"))


def test_misfit_takes_event_and_station_from_sac_headers(tmp_path):
    """Observed SAC files: without event headers (as data centres send them)
    the misfit runs as on miniSEED; with them (the reference time at the
    trace start, the origin 5 s before it: o = -5) pyflex gets the event
    and station they give. Before, pyflex read the headers itself: a file
    without evla failed the run ('AttributeError: evla'), and with them it
    took the origin as the trace start minus b, ignoring o, and left out
    a window after the P wave (its 5-s-late origin put P later)."""
    from obspy.core.util import AttribDict

    observed, (origin, here), windows, _ = event_near_rjob(tmp_path)
    informed = windows(event=str(tmp_path / "event.xml"), inventory=str(tmp_path / "stations.xml"))
    plain, headed = tmp_path / "sac plain", tmp_path / "sac headed"
    for folder in (plain, headed):
        folder.mkdir()
        for tr in observed:
            if folder == headed:
                tr.stats.sac = AttribDict(
                    evla=origin.latitude, evlo=origin.longitude, evdp=origin.depth / 1000.0,
                    stla=here["latitude"], stlo=here["longitude"],
                    o=origin.time - tr.stats.starttime)
            tr.write(str(folder / f"{tr.id}.SAC"), format="SAC")

    def spans(found):  # SAC holds float32 samples: the measurements differ by ~1e-9
        return [(w["start"], w["end"]) for w in found]

    assert spans(windows(plain)) == spans(windows())
    assert spans(windows(headed)) == spans(informed)


def test_misfit_removes_the_observed_response_when_asked(tmp_path):
    example_misfit_data(tmp_path / "data", units="VEL")
    obspy.read_inventory().write(str(tmp_path / "stations.xml"), format="STATIONXML")
    params = dict(observed=str(tmp_path / "data" / "observed"),
                  synthetic=str(tmp_path / "data" / "synthetic"), output=str(tmp_path / "out"),
                  min_period=1.0, max_period=10.0, instances=1)
    graph, inputs = build_misfit(**params)  # counts against m/s
    counts = summary_of(d4p.run(graph, inputs))["stations"]["BW.RJOB"]["components"]
    assert counts["EHZ"]["trace"]["dlnA"] > 10
    graph, inputs = build_misfit(response="VEL", inventory=str(tmp_path / "stations.xml"),
                                 **params)
    corrected = summary_of(d4p.run(graph, inputs))["stations"]["BW.RJOB"]["components"]
    assert_recovers_the_truth(corrected)
    with pytest.raises(d4p.UsageError, match=r"-p response=VEL: give DISP, VEL or ACC .*"
                                             r"-p inventory=STATIONXML"):
        build_misfit(response="VEL", **params)


@pytest.mark.parametrize("mapping", PARALLEL_MAPPINGS)
def test_gaps_give_the_same_correlations_on_every_mapping(broken, tmp_path, mapping):
    cut_gap(broken / "SY.S0004..BHZ.mseed", 20, 44)
    cut_gap(broken / "SY.S0006..BHZ.mseed", 0, 5)  # a window edge without data: padded
    simple = correlations_of(run_xcorr(tmp_path / "s", data=str(broken), instances=2))
    other = correlations_of(run_xcorr(tmp_path / "m", mapping=mapping, processes=2,
                                      data=str(broken), instances=2))
    assert simple.keys() == other.keys() and len(simple) == 28
    for pair in simple:
        assert np.array_equal(simple[pair], other[pair]), pair


def oriented_inventory(path, azimuth):
    """The example station RJOB with a Z sensor and horizontals 1/2 pointing at
    ``azimuth`` and ``azimuth + 90`` degrees, as StationXML at ``path``."""
    from obspy.core.inventory import Channel, Inventory, Network, Station

    here = obspy.read_inventory().get_coordinates("BW.RJOB..EHZ", obspy.read()[0].stats.starttime)
    where = dict(latitude=here["latitude"], longitude=here["longitude"],
                 elevation=here["elevation"], depth=0.0)
    channels = [Channel(code, "", azimuth=az, dip=dip, sample_rate=100.0, **where)
                for code, az, dip in (("EHZ", 0.0, -90.0), ("EH1", azimuth, 0.0),
                                      ("EH2", azimuth + 90.0, 0.0))]
    station = Station("RJOB", here["latitude"], here["longitude"], here["elevation"],
                      channels=channels)
    Inventory([Network("BW", stations=[station])], source="d4p test").write(
        str(path), format="STATIONXML")


def test_misfit_rotates_observed_1_2_components_to_north_east(tmp_path):
    """A sensor turned 30 degrees records 1/2 instead of N/E: with the inventory
    the observed are rotated back to Z/N/E and match the N/E synthetics."""
    observed, _ = example_misfit_data(tmp_path / "data")
    north, east = (observed.select(component=c)[0].data.astype(float) for c in "NE")
    a = math.radians(30.0)
    turned = observed.select(component="Z").copy()
    for code, data in (("EH1", north * math.cos(a) + east * math.sin(a)),
                       ("EH2", -north * math.sin(a) + east * math.cos(a))):
        trace = observed[0].copy()
        trace.stats.channel, trace.data = code, data
        turned += trace
    shutil.rmtree(tmp_path / "data" / "observed")
    (tmp_path / "data" / "observed").mkdir()
    turned.write(str(tmp_path / "data" / "observed" / "RJOB.mseed"), format="MSEED",
                 encoding="FLOAT64")
    oriented_inventory(tmp_path / "stations.xml", 30.0)
    params = dict(observed=str(tmp_path / "data" / "observed"),
                  synthetic=str(tmp_path / "data" / "synthetic"), output=str(tmp_path / "out"),
                  min_period=1.0, max_period=10.0, instances=1)
    graph, inputs = build_misfit(**params)
    with pytest.raises(d4p.WorkflowFailed, match=r"BW.RJOB..EH1: observed trace has no synthetic "
                                                 r"\(BW.RJOB.1\); components 1/2/3 are rotated"):
        d4p.run(graph, inputs)
    graph, inputs = build_misfit(inventory=str(tmp_path / "stations.xml"), **params)
    components = summary_of(d4p.run(graph, inputs))["stations"]["BW.RJOB"]["components"]
    assert sorted(components) == ["EHE", "EHN", "EHZ"]
    assert_recovers_the_truth(components)
    with pytest.raises(d4p.UsageError, match=r"-p channel_map=1:N: '1:N': component 1 points at "
                                             r"the azimuth the inventory gives"):
        build_misfit(channel_map="1:N", **params)


def test_misfit_channel_map_matches_differently_named_synthetic_components(tmp_path):
    """Synthetics with X (east) and Y (north) components match the observed
    E and N through -p channel_map=E:X,N:Y, with the same measurements."""
    example_misfit_data(tmp_path / "data")
    params = dict(observed=str(tmp_path / "data" / "observed"),
                  synthetic=str(tmp_path / "data" / "synthetic"),
                  min_period=1.0, max_period=10.0, instances=1)

    def components(**extra):
        graph, inputs = build_misfit(output=str(tmp_path / "out"), **params, **extra)
        return summary_of(d4p.run(graph, inputs))["stations"]["BW.RJOB"]["components"]

    before = components()
    path = tmp_path / "data" / "synthetic" / "RJOB.mseed"
    renamed = obspy.read(str(path))
    for trace in renamed:
        trace.stats.channel = {"MXE": "MXX", "MXN": "MXY"}.get(trace.stats.channel,
                                                             trace.stats.channel)
    renamed.write(str(path), format="MSEED", encoding="FLOAT64")
    with pytest.raises(d4p.WorkflowFailed, match=r"BW.RJOB..EHE: observed trace has no synthetic "
                                                 r"\(BW.RJOB.E\); .* -p channel_map="):
        components()
    after = components(channel_map="E:X,N:Y")
    assert sorted(after) == ["EHE", "EHN", "EHZ"]
    for channel in after:
        assert after[channel]["trace"] == before[channel]["trace"]
    for bad, message in (("E", "write OBSERVED:SYNTHETIC"), ("E:X,E:Y", "E is mapped twice"),
                         ("HHE:X", "write OBSERVED:SYNTHETIC")):
        with pytest.raises(d4p.UsageError, match=rf"-p channel_map={bad}: .*{message}"):
            build_misfit(output=str(tmp_path / "out"), channel_map=bad, **params)


def test_misfit_tf_draws_and_summarises_the_time_frequency_misfit(tmp_path):
    """-p tf=true: per component a PNG and EM/PM in the summary, equal to the
    misfit of the preprocessed traces; the synthetic, 0.8 times the observed
    and 0.3 s early, has EM near 0.2."""
    from d4p_seismo.misfit import align, preprocess, tf_misfit
    from PIL import Image

    observed, synthetic = example_misfit_data(tmp_path / "data")
    graph, inputs = build_misfit(
        observed=str(tmp_path / "data" / "observed"), synthetic=str(tmp_path / "data" / "synthetic"),
        output=str(tmp_path / "out"), min_period=1.0, max_period=10.0, tf=True)
    summary = summary_of(d4p.run(graph, inputs, mapping="multi", processes=2))
    components = summary["stations"]["BW.RJOB"]["components"]
    assert sorted(components) == ["EHE", "EHN", "EHZ"]
    for channel, comp in components.items():
        o, s = align(observed.select(channel=channel)[0], synthetic.select(component=channel[-1])[0])
        o, s = (preprocess(tr, 1.0, 10.0) for tr in (o, s))
        expected = tf_misfit(o.data, s.data, 100.0, 0.1, 1.0)
        assert comp["tf"]["em"] == pytest.approx(expected.em, rel=1e-9), channel
        assert comp["tf"]["pm"] == pytest.approx(expected.pm, rel=1e-9), channel
        assert 0.15 < comp["tf"]["em"] < 0.3, channel
        image = tmp_path / "out" / f"BW.RJOB.{channel}.tf.png"
        assert comp["tf"]["image"] == str(image)
        with Image.open(image) as png:
            assert png.size == (1100, 990)
            assert len(png.getcolors(1 << 16) or range(1 << 16)) > 50  # drawn, not blank
    written = json.loads((tmp_path / "out" / "misfit_summary.json").read_text())
    assert written["stations"]["BW.RJOB"]["components"]["EHZ"]["tf"]["em"] == pytest.approx(
        components["EHZ"]["tf"]["em"])
    graph, inputs = build_misfit(
        observed=str(tmp_path / "data" / "observed"), synthetic=str(tmp_path / "data" / "synthetic"),
        output=str(tmp_path / "plain"), min_period=1.0, max_period=10.0)
    plain = summary_of(d4p.run(graph, inputs))["stations"]["BW.RJOB"]["components"]
    assert "tf" not in plain["EHZ"] and not list((tmp_path / "plain").glob("*.tf.png"))


OBSPY_CORE_DATA = f"{obspy.__path__[0]}/core/tests/data"


def test_misfit_channel_chooses_one_band_of_a_station_with_two(tmp_path):
    """ObsPy's ffbx record: three stations with BH (40 Hz, gaps) and HH (200
    Hz) sensors, components Z/1/2, and ffbx.stationxml. BHZ and HHZ both
    match a synthetic MXZ; the error said 'keep one of them' but no option
    could (the user had to edit the files). -p channel=HH? keeps the HH
    traces, which are rotated and measured against 0.8 times ObsPy's own
    rotated record (ffbx_rotated.slist): every component's dlnA is ln(1.25)."""
    obs, syn = tmp_path / "obs", tmp_path / "syn"
    obs.mkdir()
    syn.mkdir()
    shutil.copy(f"{OBSPY_CORE_DATA}/ffbx_unrotated_gaps.mseed", obs)
    synthetic = obspy.read(f"{OBSPY_CORE_DATA}/ffbx_rotated.slist").select(channel="HH?")
    for tr in synthetic:
        tr.data = 0.8 * tr.data
        tr.stats.channel = "MX" + tr.stats.channel[-1]
    synthetic.write(str(syn / "syn.mseed"), format="MSEED", encoding="FLOAT64")
    params = dict(observed=str(obs), synthetic=str(syn), output=str(tmp_path / "out"),
                  inventory=f"{OBSPY_CORE_DATA}/ffbx.stationxml", min_period=0.05,
                  max_period=0.5, instances=1)
    graph, inputs = build_misfit(channel="HH?", **params)
    stations = summary_of(d4p.run(graph, inputs))["stations"]
    assert sorted(stations) == ["BW.FFB1", "BW.FFB2", "BW.FFB3"]
    for station in stations.values():
        assert sorted(station["components"]) == ["HHE", "HHN", "HHZ"]
        for comp in station["components"].values():
            assert comp["trace"]["dlnA"] == pytest.approx(math.log(1.25), abs=1e-3)
            assert comp["trace"]["time_shift"] == pytest.approx(0.0, abs=1e-3)

    both = obspy.read(f"{OBSPY_CORE_DATA}/ffbx_unrotated_gaps.mseed").select(
        station="FFB1", channel="?HZ")
    for path in obs.iterdir():
        path.unlink()
    both.write(str(obs / "FFB1.mseed"), format="MSEED")
    graph, inputs = build_misfit(**params)
    with pytest.raises(d4p.WorkflowFailed, match=r"observed traces BW\.FFB1\.\.BHZ and BW\.FFB1\.\.HHZ "
                                                 r"both match BW\.FFB1\.Z .*; choose one with -p "
                                                 r"location=CODE or -p channel=PATTERN"):
        d4p.run(graph, inputs)
    graph, inputs = build_misfit(channel="LH?", **params)
    with pytest.raises(d4p.WorkflowFailed, match=r"no observed trace has location '\*' and channel "
                                                 r"'LH\?' \(there are BW\.FFB1\.\.BHZ, BW\.FFB1\.\.HHZ\)"):
        d4p.run(graph, inputs)


def test_xcorr_pairs_1_2_components_only_where_their_sensors_point_alike(tmp_path, capsys):
    """ObsPy's ffbx record: components HH1/HH2 of three stations whose
    sensors point at 4°, 351° and 356° (ffbx.stationxml). components=same
    correlated HH1 with HH1 whatever the azimuths, i.e. motions in
    different directions; now only the stations within 5° (FFB2, FFB3)
    pair, and the log names the pairs left out."""
    data = tmp_path / "data"
    data.mkdir()
    for tr in obspy.read(f"{OBSPY_CORE_DATA}/ffbx_unrotated_gaps.mseed").select(channel="HH?"):
        tr.write(str(data / f"{tr.id}.mseed"), format="MSEED")
    inventory = obspy.read_inventory(f"{OBSPY_CORE_DATA}/ffbx.stationxml")
    response = obspy.read_inventory().select(station="RJOB", channel="EHZ")[0][0][0].response
    for channel in inventory.select(channel="HH?")[0].get_contents()["channels"]:
        inventory.select(*channel.split("."))[0][0][0].response = response  # it has none
    inventory.write(str(data / "stations.xml"), format="STATIONXML")
    summary = run_xcorr(tmp_path, data=str(data), starttime="2016-03-11T11:34:44.015",
                        hours=1.9 / 3600, target_rate=50, freqmin=2, freqmax=20, max_lag=0.5,
                        instances=1)
    pairs = sorted((row["station_a"], row["station_b"]) for row in read_summary(summary["summary"]))
    assert pairs == [("BW.FFB1..HHZ", "BW.FFB2..HHZ"), ("BW.FFB1..HHZ", "BW.FFB3..HHZ"),
                     ("BW.FFB2..HH1", "BW.FFB3..HH1"), ("BW.FFB2..HH2", "BW.FFB3..HH2"),
                     ("BW.FFB2..HHZ", "BW.FFB3..HHZ")]
    assert ("left out 4 pairs of 1/2/3 components whose sensors point at different azimuths "
            "(e.g. BW.FFB1..HH1 at 4° and BW.FFB2..HH1 at 351°): rotate them to N/E first, or "
            "correlate them anyway with -p components=all") in capsys.readouterr().out
    summary = run_xcorr(tmp_path, data=str(data), starttime="2016-03-11T11:34:44.015",
                        hours=1.9 / 3600, target_rate=50, freqmin=2, freqmax=20, max_lag=0.5,
                        instances=1, components="all")
    assert summary["pairs"] == 36  # 9 channels: every one with every other


def test_misfit_names_the_components_a_rotation_lacks(tmp_path):
    """ObsPy's IU.ULN.00.LH1 (3 h at 1 Hz) with its StationXML, alone: the
    error advised giving the inventory, which was given; now it says that
    rotating needs the sensor's other components and names them."""
    obs, syn = tmp_path / "obs", tmp_path / "syn"
    obs.mkdir()
    syn.mkdir()
    shutil.copy(f"{OBSPY_CORE_DATA}/IU_ULN_00_LH1_2015-07-18T02.mseed", obs)
    synthetic = obspy.read(str(obs / "IU_ULN_00_LH1_2015-07-18T02.mseed"))
    synthetic[0].stats.channel = "MXN"
    synthetic.write(str(syn / "syn.mseed"), format="MSEED")
    graph, inputs = build_misfit(
        observed=str(obs), synthetic=str(syn), output=str(tmp_path / "out"), min_period=20.0,
        max_period=100.0, inventory=f"{OBSPY_CORE_DATA}/IU_ULN_00_LH1.xml", instances=1)
    with pytest.raises(d4p.WorkflowFailed) as excinfo:
        d4p.run(graph, inputs)
    assert ("IU.ULN.00.LH1: observed trace has no synthetic (IU.ULN.1); it was not rotated to "
            "Z/N/E, which needs all three components of its sensor: LHZ, LH2 missing from the "
            "observed traces (add their files)") in str(excinfo.value)


def test_misfit_skips_a_pair_overlapping_for_less_than_max_period(tmp_path):
    """A synthetic EHN covering 5 s of the observed's 30 s, for periods up to
    10 s: the run failed with -p on_error=skip too (Preprocess did not apply
    it); now the component is left out with a warning naming it."""
    _, synthetic = example_misfit_data(tmp_path / "data")
    short = synthetic.select(channel="MXN")[0]
    short.trim(short.stats.starttime + 10, short.stats.starttime + 15)
    synthetic.write(str(tmp_path / "data" / "synthetic" / "RJOB.mseed"), format="MSEED",
                    encoding="FLOAT64")
    params = dict(observed=str(tmp_path / "data" / "observed"),
                  synthetic=str(tmp_path / "data" / "synthetic"), output=str(tmp_path / "out"),
                  min_period=1.0, max_period=10.0, instances=1)
    fails_then_skips_ehn(params, r"BW\.RJOB\.\.EHN: 5\.01 s of samples \(where observed and "
                                 r"synthetic overlap\), shorter ")


def fails_then_skips_ehn(params, message):
    """The misfit run of :func:`example_misfit_data` with ``params`` fails
    with ``message``; with on_error=skip it warns so and measures the other
    components right."""
    graph, inputs = build_misfit(**params)
    with pytest.raises(d4p.WorkflowFailed, match=message):
        d4p.run(graph, inputs)
    graph, inputs = build_misfit(on_error="skip", **params)
    with pytest.warns(SkippedStationWarning, match=f"skipping: {message}"):
        summary = summary_of(d4p.run(graph, inputs))
    components = summary["stations"]["BW.RJOB"]["components"]
    assert sorted(components) == ["EHE", "EHZ"]
    assert_recovers_the_truth(components)


def test_misfit_names_a_dead_observed_channel(tmp_path):
    """An observed channel recording zeros was measured: time shift -29.99 s
    (a whole trace), dlnA NaN, reported as a result; with -p tf=true the run
    failed with 'the observed trace is zero in the band', naming no trace."""
    from d4p_seismo.misfit_pes import TimeFrequencyMisfit

    observed, _ = example_misfit_data(tmp_path / "data")
    folder = tmp_path / "data" / "observed"
    observed.select(channel="EHN")[0].data[:] = 0
    observed.write(str(folder / "RJOB.mseed"), format="MSEED")
    params = dict(observed=str(folder), synthetic=str(tmp_path / "data" / "synthetic"),
                  output=str(tmp_path / "out"), min_period=1.0, max_period=10.0, instances=1)
    fails_then_skips_ehn(params, r"BW\.RJOB\.\.EHN: all 3000 observed samples of the common "
                                 r"span are 0 \(a dead channel\?\)")
    zero = observed.select(channel="EHN")[0].copy()
    zero.data = zero.data.astype(np.float64)
    with pytest.raises(MissingDataError, match=r"BW\.RJOB\.\.EHN: time-frequency misfit: the "
                                               r"observed trace is zero in the band"):
        TimeFrequencyMisfit(1.0, 10.0, str(tmp_path / "tf"))._process(
            ("BW.RJOB", "EHN", zero, observed.select(channel="EHZ")[0]))
