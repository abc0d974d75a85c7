"""Online data: the FDSN PEs and the xcorr workflow with -p fdsn=..., against a
real FDSN web service on 127.0.0.1 (seismo_fdsn_server) serving a synthetic
data set, through ObsPy's real Client."""

import csv
import shutil
import socket

import d4p
import numpy as np
import obspy
import pytest
from d4p.cli import main
from d4p_seismo.errors import MissingDataError, SeismoDataError, SkippedStationWarning
from d4p_seismo.fdsn import FDSNChannels, FDSNWaveforms, channel_ids, fetch_inventory
from d4p_seismo.pes import ReadTrace
from d4p_seismo.synthetic import expected_lags, make_dataset
from d4p_seismo.workflows import build_xcorr, summary_of
from seismo_fdsn_server import FDSNServer

STATIONS = 5
PAIRS = STATIONS * (STATIONS - 1) // 2


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("fdsn-data"), stations=STATIONS, hours=0.5,
                        seed=21)


@pytest.fixture(scope="module")
def server(dataset):
    with FDSNServer(dataset.directory) as served:
        yield served


def window(dataset):
    return {"starttime": str(dataset.starttime), "hours": dataset.hours}


def rows_of(summary):
    with open(summary["summary"], newline="") as handle:
        return {row["pair"]: row for row in csv.DictReader(handle)}


def correlations_of(summary):
    return {pair: obspy.read(row["file"])[0].data.copy() for pair, row in rows_of(summary).items()}


@pytest.fixture(scope="module")
def file_run(dataset, tmp_path_factory):
    """The same data read from the files: what every online run must reproduce."""
    out = tmp_path_factory.mktemp("file-run")
    graph, inputs = build_xcorr(data=str(dataset.directory), hours=dataset.hours,
                                output=str(out), instances=1, plot=False)
    return summary_of(d4p.run(graph, inputs))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("mapping, processes", [("simple", None), ("multi", 2)])
def test_xcorr_online_gives_the_results_of_the_files(
    dataset, server, file_run, tmp_path, mapping, processes
):
    out = tmp_path / "out"
    graph, inputs = build_xcorr(fdsn=server.url, **window(dataset), output=str(out),
                                instances=2, plot=False)
    summary = summary_of(d4p.run(graph, inputs, mapping=mapping, processes=processes))

    assert summary["pairs"] == PAIRS and summary["stations"] == STATIONS
    online, files = rows_of(summary), rows_of(file_run)
    assert online.keys() == files.keys()
    expected = expected_lags(dataset)
    for pair, row in online.items():
        assert row["peak_lag"] == files[pair]["peak_lag"]
        lag = expected[(row["station_a"], row["station_b"])]
        assert abs(float(row["peak_lag"]) - lag) <= 0.1  # one sample at 10 Hz
    online_data, file_data = correlations_of(summary), correlations_of(file_run)
    for pair in online_data:
        assert np.array_equal(online_data[pair], file_data[pair])
    inventory = obspy.read_inventory(str(out / "stations.xml"))
    assert channel_ids(inventory) == [f"SY.S{i:04d}..BHZ" for i in range(1, STATIONS + 1)]
    assert inventory[0][0][0].response.instrument_sensitivity is not None
    downloads = [q for path, q in server.requests if path == "/fdsnws/dataselect/1/query"]
    assert {q["station"] for q in downloads} >= {f"S{i:04d}" for i in range(1, STATIONS + 1)}


def test_channels_lists_the_matching_channels_sorted(dataset, server):
    channels = FDSNChannels(server.url, dataset.starttime, dataset.endtime,
                            station="S0004,S0002", channel="BH?")
    graph = d4p.WorkflowGraph()
    graph.add(channels)
    result = d4p.run(graph, {channels: 1})
    assert result[channels.id]["output"] == ["SY.S0002..BHZ", "SY.S0004..BHZ"]
    query = [q for path, q in server.requests if path == "/fdsnws/station/1/query"][-1]
    assert query["level"] == "channel" and query["station"] == "S0004,S0002"


def test_downloaded_traces_are_cut_like_the_files(dataset, server):
    start, end = dataset.starttime + 60, dataset.starttime + 960
    online = FDSNWaveforms(server.url, dataset.inventory_path, start, end)
    online.preprocess()
    local = ReadTrace(dataset.inventory_path, start, end)
    local.preprocess()
    [got] = online.read("SY.S0003..BHZ")
    [want] = local.read(str(dataset.directory / "SY.S0003..BHZ.mseed"))
    assert got.stats.starttime == want.stats.starttime == start
    assert got.stats.npts == want.stats.npts == 900 * 20
    assert got.data.dtype == np.float64 and np.array_equal(got.data, want.data)
    assert got.stats.coordinates == want.stats.coordinates


def test_a_window_the_data_barely_cover_names_provider_channel_and_window(dataset, server):
    start = dataset.endtime - 60
    online = FDSNWaveforms(server.url, None, start, start + 1800)
    online.preprocess()
    with pytest.raises(MissingDataError, match=(
        rf"SY\.S0001\.\.BHZ \(FDSN {server.url}\): data cover 60 s of the 1800 s window "
        rf"{start}"
    )):
        online.read("SY.S0001..BHZ")


@pytest.fixture
def gap_server(dataset, tmp_path):
    """A service whose S0002 has metadata but no waveform (its dataselect answers 204)."""
    copy = tmp_path / "served"
    shutil.copytree(dataset.directory, copy)
    (copy / "SY.S0002..BHZ.mseed").unlink()
    with FDSNServer(copy) as served:
        yield served


def test_a_channel_without_data_fails_or_is_skipped_by_name(dataset, gap_server, tmp_path):
    params = dict(fdsn=gap_server.url, **window(dataset), output=str(tmp_path / "o"),
                  instances=1, plot=False)
    graph, inputs = build_xcorr(**params)
    with pytest.raises(d4p.WorkflowFailed, match=(
        rf"SY\.S0002\.\.BHZ: FDSN provider '{gap_server.url}' has no data in the window "
        rf"{dataset.starttime} - {dataset.endtime}"
    )):
        d4p.run(graph, inputs)
    graph, inputs = build_xcorr(**params, on_error="skip")
    with pytest.warns(SkippedStationWarning, match=r"skipping: SY\.S0002\.\.BHZ: FDSN provider"):
        summary = summary_of(d4p.run(graph, inputs))
    left = STATIONS - 1
    assert summary["stations"] == left and summary["pairs"] == left * (left - 1) // 2
    assert not any("S0002" in pair for pair in rows_of(summary))


def test_fetch_inventory_saves_stationxml_with_responses(dataset, server, tmp_path):
    path = tmp_path / "deep" / "inv.xml"
    inventory = fetch_inventory(server.url, path, dataset.starttime, dataset.endtime,
                                station="S000[13]")
    assert channel_ids(inventory) == ["SY.S0001..BHZ", "SY.S0003..BHZ"]
    saved = obspy.read_inventory(str(path))
    assert channel_ids(saved) == channel_ids(inventory)
    assert saved.get_response("SY.S0001..BHZ", dataset.starttime) is not None
    with pytest.raises(MissingDataError, match=(
        rf"'{server.url}' has no channels matching SY\.\*\.\*\.HHZ between {dataset.starttime}"
    )):
        fetch_inventory(server.url, path, dataset.starttime, dataset.endtime,
                        network="SY", channel="HHZ")


def test_online_parameters_are_checked_before_running(dataset, server, tmp_path):
    out = str(tmp_path / "o")
    with pytest.raises(d4p.UsageError, match=r"fdsn=.* needs the start of the window.*starttime"):
        build_xcorr(fdsn=server.url, output=out)
    with pytest.raises(d4p.UsageError, match=r"starttime='yesterday' is not a time"):
        build_xcorr(fdsn=server.url, starttime="yesterday", output=out)
    with pytest.raises(d4p.UsageError, match=r"leave out -p data="):
        build_xcorr(fdsn=server.url, data=str(dataset.directory), **window(dataset), output=out)
    with pytest.raises(d4p.UsageError, match=r"-p station=3 selects stations by code; for the "
                                             r"number of synthetic stations use -p stations=N"):
        build_xcorr(station=3, output=out)


def test_an_unreachable_service_is_named(dataset, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SeismoDataError, match=(
        rf"FDSN provider '{url}': no FDSN web service answers there .*check the address"
    )):
        build_xcorr(fdsn=url, **window(dataset), output=str(tmp_path / "o"))


def test_cli_reports_an_unknown_provider_in_one_line(dataset, tmp_path, capsys):
    code = main(["run", "xcorr", "-p", "fdsn=NOPE", "-p", f"starttime={dataset.starttime}",
                 "-p", f"output={tmp_path / 'o'}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("d4p: error: FDSN provider 'NOPE' is not a provider name ObsPy knows;")
    assert "GEOFON" in err and err.count("\n") == 1 and "Traceback" not in err


def test_online_windows_and_stacks_match_the_files(dataset, server, tmp_path):
    params = dict(hours=dataset.hours, window=600.0, overlap=0.5, stack="linear", instances=1,
                  plot=False)
    graph, inputs = build_xcorr(data=str(dataset.directory), output=str(tmp_path / "f"),
                                **params)
    files = summary_of(d4p.run(graph, inputs))
    graph, inputs = build_xcorr(fdsn=server.url, starttime=str(dataset.starttime),
                                output=str(tmp_path / "o"), **params)
    online = summary_of(d4p.run(graph, inputs))
    assert online["correlations"] == files["correlations"] == PAIRS * 5
    for path in (tmp_path / "f" / "stacks").glob("*.sac"):
        stacked = obspy.read(str(tmp_path / "o" / "stacks" / path.name))[0]
        assert stacked.stats.sac.user1 == 5
        assert np.array_equal(stacked.data, obspy.read(str(path))[0].data)
