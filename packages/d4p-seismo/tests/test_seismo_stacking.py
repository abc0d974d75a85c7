"""Stacking correlations over windows: the PairStack sums, and the xcorr workflow's
windows, linear and phase-weighted stacks, incremental over runs."""

import csv
import math

import d4p
import numpy as np
import obspy
import pytest
from d4p_seismo.errors import SeismoDataError
from d4p_seismo.stacking import PairStack, phasor
from d4p_seismo.synthetic import expected_lags, make_dataset
from d4p_seismo.workflows import build_xcorr, summary_of

RATE = 10.0


def test_pair_stack_linear_pws_and_duplicates(tmp_path):
    rng = np.random.default_rng(0)
    signal = np.sin(np.linspace(0, 6 * np.pi, 201)) * np.hanning(201)
    stack = PairStack.empty("A_B", RATE, 201, meta={"id_a": "A"})
    for k in range(16):
        assert stack.add(signal + rng.standard_normal(201), 3600.0 * k, 3600.0 * (k + 1), RATE)
    assert not stack.add(signal, 0.0, 3600.0, RATE)  # that window is held already
    assert stack.count == 16 and (stack.starttime, stack.endtime) == (0.0, 16 * 3600.0)
    linear_error = np.std(stack.linear() - signal)
    assert linear_error == pytest.approx(0.25, rel=0.3)  # 1 / sqrt(16)
    coherence = np.abs(stack.phasor_sum) / 16
    assert np.all(coherence <= 1 + 1e-12)
    assert stack.pws() == pytest.approx(stack.linear() * coherence**2)
    assert np.abs(phasor(signal))[50] == pytest.approx(1.0)
    with pytest.raises(SeismoDataError, match=r"A_B: the stack holds 201 lags at 10 Hz, this "
                                              r"correlation 101 at 10 Hz"):
        stack.add(np.zeros(101), 1e6, 1e6 + 3600, RATE)
    back = PairStack.load(stack.save(tmp_path / "A_B.npz"))
    assert back.windows == stack.windows and back.meta == {"id_a": "A"}
    assert np.array_equal(back.linear_sum, stack.linear_sum)
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(SeismoDataError, match=r"bad.npz: cannot read this stack"):
        PairStack.load(tmp_path / "bad.npz")


@pytest.fixture(scope="module")
def six_hours(tmp_path_factory):
    """Four stations, six hours, one noise source: every 15-minute window's
    correlation carries the same arrival and independent noise."""
    return make_dataset(tmp_path_factory.mktemp("six-hours"), stations=4, hours=6.0, seed=5,
                        weak_sources=0)


def run(dataset, output, **params):
    graph, inputs = build_xcorr(data=str(dataset.directory), output=str(output), instances=2,
                                plot=False, **params)
    return summary_of(d4p.run(graph, inputs))


def rows_of(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def snr(data, expected_lag):
    """Peak within 2 s of the expected lag over the RMS farther than 15 s from it."""
    m = (data.size - 1) // 2
    lags = (np.arange(data.size) - m) / RATE
    peak = np.abs(data[np.abs(lags - expected_lag) <= 2.0]).max()
    return peak / math.sqrt(np.mean(data[np.abs(lags - expected_lag) > 15.0] ** 2))


def test_stacking_24_windows_raises_the_snr_as_sqrt_n(six_hours, tmp_path):
    summary = run(six_hours, tmp_path / "lin", hours=6.0, window=900.0, stack="linear")
    assert summary["pairs"] == 6 and summary["correlations"] == 6 * 24
    assert summary["within_one_sample"] == 6 * 24
    expected = expected_lags(six_hours)
    stacks = rows_of(summary["stacks"])
    assert len(stacks) == 6
    pws = {r["pair"]: r for r in rows_of(
        run(six_hours, tmp_path / "pws", hours=6.0, window=900.0, stack="pws")["stacks"])}
    for row in stacks:
        lag = expected[(row["station_a"], row["station_b"])]
        assert row["windows"] == "24" and abs(float(row["peak_lag"]) - lag) <= 0.1
        stacked = obspy.read(row["file"])[0]
        assert stacked.stats.sac.user1 == 24
        assert stacked.stats.starttime + 60 == six_hours.starttime
        singles = sorted((tmp_path / "lin" / "correlations").glob(f"{row['pair']}_*.sac"))
        assert len(singles) == 24
        assert singles[1].name.endswith("_20200101T001500.sac")
        single = np.mean([snr(obspy.read(str(f))[0].data, lag) for f in singles])
        gain = snr(stacked.data, lag) / single
        assert gain >= 0.7 * math.sqrt(24), (row["pair"], gain)
        weighted = obspy.read(pws[row["pair"]]["file"])[0].data
        assert snr(weighted, lag) > 2 * snr(stacked.data, lag)  # phase weighting: quieter


def test_stacking_is_incremental_over_runs(six_hours, tmp_path):
    whole = run(six_hours, tmp_path / "whole", hours=6.0, window=900.0, stack="linear")
    start = str(six_hours.starttime)
    later = str(six_hours.starttime + 3 * 3600)
    first = run(six_hours, tmp_path / "inc", starttime=start, hours=3.0, window=900.0,
                stack="linear")
    assert {r["windows"] for r in rows_of(first["stacks"])} == {"12"}
    second = run(six_hours, tmp_path / "inc", starttime=later, hours=3.0, window=900.0,
                 stack="linear")
    assert {(r["windows"], r["added"]) for r in rows_of(second["stacks"])} == {("24", "12")}
    again = run(six_hours, tmp_path / "inc", starttime=later, hours=3.0, window=900.0,
                stack="linear")
    assert {(r["windows"], r["added"]) for r in rows_of(again["stacks"])} == {("24", "0")}
    for row in rows_of(whole["stacks"]):
        one = obspy.read(row["file"])[0].data
        two = obspy.read(str(tmp_path / "inc" / "stacks" / f"{row['pair']}.sac"))[0].data
        assert np.max(np.abs(one - two)) <= 2e-7 * np.max(np.abs(one))


def test_a_run_with_another_window_length_is_refused_by_the_stacks(six_hours, tmp_path):
    """Re-running a day with 1-hour windows into stacks of 15-minute ones
    added the same data again under new window starts (the stack of 12
    windows became one of 15, three of them the same hours over again)."""
    start = str(six_hours.starttime)
    run(six_hours, tmp_path / "out", starttime=start, hours=3.0, window=900.0, stack="linear")
    with pytest.raises(d4p.WorkflowFailed, match=r"SY\.S000\d\.\.BHZ_SY\.S000\d\.\.BHZ: the stack "
                                                 r"holds windows of 900 s, this correlation's "
                                                 r"window is 3600 s .* stack runs with the same "
                                                 r"-p window"):
        run(six_hours, tmp_path / "out", starttime=start, hours=3.0, window=3600.0,
            stack="linear")


def test_overlapping_windows(six_hours, tmp_path):
    summary = run(six_hours, tmp_path, hours=2.0, window=1800.0, overlap=0.5)
    assert summary["correlations"] == 6 * 7  # starts 0, 15, ..., 90 min
    rows = [r for r in rows_of(summary["summary"]) if r["pair"].startswith("SY.S0001..BHZ_SY.S0002")]
    assert [r["starttime"][11:16] for r in rows] == [
        "00:00", "00:15", "00:30", "00:45", "01:00", "01:15", "01:30"]
    assert all(obspy.UTCDateTime(r["endtime"]) - obspy.UTCDateTime(r["starttime"]) == 1800.0
               for r in rows)
    with pytest.raises(d4p.UsageError, match=r"-p window=9000.0 s is longer than -p hours=2.0"):
        build_xcorr(data=str(six_hours.directory), hours=2.0, window=9000.0)
    with pytest.raises(d4p.UsageError, match=r"-p stack=mean: choose linear or pws"):
        build_xcorr(stack="mean", output=str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()  # refused before any synthetic data are made
    plain = tmp_path / "plain"
    plain.mkdir()
    for path in [*six_hours.waveform_paths, six_hours.inventory_path]:
        (plain / path.name).write_bytes(path.read_bytes())
    with pytest.raises(d4p.UsageError, match=r"-p window=600.0 cuts .* add -p starttime="):
        build_xcorr(data=str(plain), window=600.0, output=str(tmp_path / "p"))


def test_asdf_holds_every_correlation_and_stack_as_the_sac_files(six_hours, tmp_path):
    import pyasdf

    summary = run(six_hours, tmp_path, hours=1.0, window=1800.0, stack="pws", format="sac,asdf")
    assert summary["asdf"] == str(tmp_path / "correlations.h5")
    assert not (tmp_path / "correlations.h5.part").exists()
    rows = rows_of(summary["summary"])
    assert len(rows) == 12
    with pyasdf.ASDFDataSet(summary["asdf"], mode="r", mpi=False) as ds:
        assert sorted(ds.waveforms.list()) == [f"SY.S000{i}" for i in range(1, 5)]
        inventory = ds.waveforms["SY.S0002"].StationXML
        assert inventory.get_coordinates("SY.S0002..BHZ")["latitude"] == pytest.approx(
            six_hours.stations[1].latitude)
        correlations = ds.auxiliary_data.CrossCorrelation
        for row in rows:
            a, b = (row[k].replace(".", "_") for k in ("station_a", "station_b"))
            stamp = obspy.UTCDateTime(row["starttime"]).strftime("%Y%m%dT%H%M%S")
            item = correlations[a][b][stamp]
            assert np.array_equal(item.data[:], obspy.read(row["file"])[0].data)
            assert item.parameters["station_b"] == row["station_b"]
            assert item.parameters["starttime"] == row["starttime"]
            assert item.parameters["b"] == pytest.approx(-60.0)
            assert item.parameters["dt"] == pytest.approx(0.1)
        for row in rows_of(summary["stacks"]):
            a, b = (row[k].replace(".", "_") for k in ("station_a", "station_b"))
            item = ds.auxiliary_data.Stack[a][b]["pws"]
            assert np.array_equal(item.data[:], obspy.read(row["file"])[0].data)
            assert item.parameters["windows"] == 2


def test_symmetric_output_is_the_mean_of_both_sides(six_hours, tmp_path):
    full = run(six_hours, tmp_path / "full", hours=0.5)
    half = run(six_hours, tmp_path / "sym", hours=0.5, symmetric=True, format="asdf")
    assert not (tmp_path / "sym" / "correlations").exists()  # ASDF only
    import pyasdf

    with pyasdf.ASDFDataSet(half["asdf"], mode="r", mpi=False) as ds:
        for row in rows_of(full["summary"]):
            both = obspy.read(row["file"])[0].data.astype(np.float64)
            a, b = (row[k].replace(".", "_") for k in ("station_a", "station_b"))
            item = ds.auxiliary_data.CrossCorrelation[a][b]["20200101T000000"]
            assert item.parameters["b"] == 0.0 and item.parameters["symmetric"] == 1
            assert item.data.shape == (601,)
            np.testing.assert_allclose(item.data[:], 0.5 * (both[600:] + both[600::-1]),
                                       atol=1e-7)
    with pytest.raises(d4p.UsageError, match=r"-p format=mseed: choose sac, asdf or sac,asdf"):
        build_xcorr(data=str(six_hours.directory), format="mseed")


@pytest.mark.skipif("multi" not in d4p.installed_mappings(), reason="no multi mapping")
def test_windows_and_stacks_on_the_multi_mapping(six_hours, tmp_path):
    simple = run(six_hours, tmp_path / "s", hours=1.0, window=900.0, stack="pws")
    graph, inputs = build_xcorr(data=str(six_hours.directory), output=str(tmp_path / "m"),
                                instances=2, plot=False, hours=1.0, window=900.0, stack="pws")
    multi = summary_of(d4p.run(graph, inputs, mapping="multi", processes=2))
    assert multi["correlations"] == simple["correlations"] == 24
    for row in rows_of(simple["stacks"]):
        one = obspy.read(row["file"])[0].data
        two = obspy.read(str(tmp_path / "m" / "stacks" / f"{row['pair']}.sac"))[0].data
        assert np.max(np.abs(one - two)) <= 2e-7 * np.max(np.abs(one))
