"""Real-time xcorr: the SeedLink PEs and ``xcorr -p seedlink=...`` against a real
SeedLink 3 server on 127.0.0.1 (seismo_seedlink_server) serving a synthetic
data set through ObsPy's own SeedLink client."""

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import d4p
import numpy as np
import obspy
import pytest
from d4p.cli import main
from d4p_seismo.seedlink import ENDLESS, SeedLinkSource, StationWindows, WindowTraces
from d4p_seismo.stacking import PairStack
from d4p_seismo.synthetic import make_dataset
from d4p_seismo.workflows import build_xcorr, summary_of
from seismo_seedlink_server import SeedLinkServer

STATIONS = 4
WINDOW = 600.0


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("seedlink-data"), stations=STATIONS, hours=1.0,
                        seed=5)


@pytest.fixture(scope="module")
def file_run(dataset, tmp_path_factory):
    """The same data read from the files, window by window: what the stream must give."""
    out = tmp_path_factory.mktemp("file-run")
    graph, inputs = build_xcorr(data=str(dataset.directory), window=WINDOW, stack="linear",
                                output=str(out), instances=1, plot=False)
    return summary_of(d4p.run(graph, inputs))


def rows_of(path):
    with open(path, newline="") as handle:
        return {(row["pair"], row["starttime"]): row for row in csv.DictReader(handle)}


def samples(row):
    return obspy.read(row["file"])[0].data


def realtime(server, dataset, out, **params):
    graph, inputs = build_xcorr(seedlink=server.address, network="SY", channel="BHZ",
                                inventory=str(dataset.directory / "stations.xml"),
                                window=WINDOW, stack="linear", output=str(out), plot=False,
                                **params)
    return graph, inputs


def stop_when_all_sent(server, stop, grace=2.0):
    """Stop the run once the server has sent every record (and the source has had
    ``grace`` s to write them): the stream is real time, it never ends by itself."""
    while len(server.sent) < len(server.records):
        time.sleep(0.1)
    time.sleep(grace)
    stop.set()


@pytest.mark.parametrize("mapping, processes", [("simple", None), ("multi", 2)])
def test_each_window_of_the_stream_correlates_as_the_files_do(
    dataset, file_run, tmp_path, mapping, processes
):
    stop = threading.Event()
    with SeedLinkServer(dataset.directory, speed=600) as server:  # an hour in 6 s
        graph, inputs = realtime(server, dataset, tmp_path / "rt", instances=2)
        threading.Thread(target=stop_when_all_sent, args=(server, stop), daemon=True).start()
        result = d4p.run(graph, inputs, mapping=mapping, processes=processes, stop=stop)
        summary = summary_of(result)
        assert [c for c in server.commands if c.split()[0] in ("STATION", "SELECT", "DATA")] \
            == ["STATION  * SY", "SELECT BHZ", "DATA"]
    assert result.summary.stopped == "the stop event was set"

    windows = int(3600 / WINDOW)
    pairs = STATIONS * (STATIONS - 1) // 2
    assert summary["correlations"] == pairs * windows
    assert summary["within_one_sample"] == pairs * windows
    stream, files = rows_of(summary["summary"]), rows_of(file_run["summary"])
    assert stream.keys() == files.keys()
    for key, row in stream.items():
        assert np.array_equal(samples(row), samples(files[key])), key
    stacks, file_stacks = rows_of(summary["stacks"]), rows_of(file_run["stacks"])
    assert stacks.keys() == file_stacks.keys()
    for key, row in stacks.items():
        assert row["windows"] == str(windows)
        assert np.array_equal(samples(row), samples(file_stacks[key]))


def test_gaps_in_the_stream_are_handled_as_in_files(dataset, tmp_path):
    """A 2-minute gap inside a window is zeroed exactly as in the file; a window
    missing 8 of its 10 minutes is rejected and listed (-p gaps=reject)."""
    broken = tmp_path / "broken"
    shutil.copytree(dataset.directory, broken)
    cut_gap(broken / "SY.S0004..BHZ.mseed", 720, 840)
    cut_gap(broken / "SY.S0002..BHZ.mseed", 1860, 2340)
    graph, inputs = build_xcorr(data=str(broken), window=WINDOW, gaps="reject", instances=1,
                                output=str(tmp_path / "files"), plot=False)
    files = summary_of(d4p.run(graph, inputs))
    stop = threading.Event()
    with SeedLinkServer(broken, speed=600) as server:
        graph, inputs = realtime(server, dataset, tmp_path / "rt", gaps="reject", instances=1)
        threading.Thread(target=stop_when_all_sent, args=(server, stop), daemon=True).start()
        stream = summary_of(d4p.run(graph, inputs, stop=stop))

    assert [(r["station"], r["starttime"]) for r in stream["rejected"]] == [
        ("SY.S0002..BHZ", str(dataset.starttime + 3 * WINDOW))]
    assert [(r["station"], r["starttime"], r["missing"]) for r in stream["rejected"]] == [
        (r["station"], r["starttime"], r["missing"]) for r in files["rejected"]]
    got, want = rows_of(stream["summary"]), rows_of(files["summary"])
    assert got.keys() == want.keys() and len(got) == 6 * 6 - 3
    for key, row in got.items():
        assert np.array_equal(samples(row), samples(want[key])), key


def cut_gap(path, start, end):
    """Remove the seconds [start, end) of the record from a miniSEED file."""
    trace = obspy.read(str(path))[0]
    t0 = trace.stats.starttime
    pieces = [trace.slice(t0, t0 + start - trace.stats.delta / 2),
              trace.slice(t0 + end, trace.stats.endtime)]
    obspy.Stream(pieces).write(str(path), format="MSEED")


def test_sigint_writes_the_stack_so_far_and_exits_0(dataset, file_run, tmp_path):
    out = tmp_path / "live"
    with SeedLinkServer(dataset.directory, speed=60) as server:  # 10 s of wall time a window
        command = [sys.executable, "-m", "d4p", "run", "xcorr", "-p", f"seedlink={server.address}",
                   "-p", "network=SY", "-p", "channel=BHZ", "-p", f"window={WINDOW:g}",
                   "-p", f"inventory={dataset.directory / 'stations.xml'}",
                   "-p", "stack=linear", "-p", f"output={out}", "-p", "plot=false",
                   "--mapping", "multi", "-n", "2"]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while len(list((out / "correlations").glob("*.sac"))) < 6 * 2:  # two windows
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "no two windows within 120 s"
                time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            output, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 0, output
    assert "stopped after" in output and "SIGINT" in output
    assert "the stream ended inside the window" in output  # the open window is left out
    written = rows_of(out / "summary.csv")
    stacks = rows_of(out / "stacks.csv")
    files = rows_of(file_run["summary"])
    done = sorted({start for _, start in written})
    assert 2 <= len(done) < 3600 / WINDOW
    for key, row in written.items():
        assert np.array_equal(samples(row), samples(files[key])), key
    for (pair, _), row in stacks.items():
        assert row["windows"] == str(len(done))
        stack = PairStack.load(out / "stacks" / f"{pair}.npz")
        mean = np.mean([samples(written[(pair, start)]).astype(np.float64) for start in done], 0)
        assert np.allclose(stack.linear(), mean, atol=1e-6)
    assert len(stacks) == STATIONS * (STATIONS - 1) // 2


@pytest.mark.parametrize("mapping, processes", [("simple", None), ("multi", 2)])
def test_a_dialup_source_ends_the_run_when_the_server_ends_the_stream(dataset, mapping,
                                                                      processes):
    """FETCH: the server sends what it holds, then END; the source ends itself and
    the run ends with every record counted, no stop needed."""
    from d4p.testing.workflows import Count

    with SeedLinkServer(dataset.directory, speed=0) as server:
        graph = d4p.WorkflowGraph()
        source, count = SeedLinkSource(server.address, "SY", channel="BHZ", dialup=True), Count()
        graph.connect(source, "output", count, "input")
        result = d4p.run(graph, {source: ENDLESS}, mapping=mapping, processes=processes,
                         stop_after=120)
        assert "FETCH" in server.commands
        assert result[count.id]["output"] == [len(server.records)] and server.records
    assert result.summary.stopped is None


def test_records_are_cut_at_window_edges_and_the_window_matches_the_file(dataset):
    trace = obspy.read(str(dataset.waveform_paths[0]))[0]
    record = trace.slice(trace.stats.starttime + 590, trace.stats.starttime + 610)
    windows = StationWindows(WINDOW, lateness=0)
    pieces = windows.pieces(record)
    assert [p.stats.npts for p in pieces] == [200, 201]
    assert pieces[1].stats.starttime == trace.stats.starttime + WINDOW
    assert np.array_equal(np.concatenate([p.data for p in pieces]), record.data)

    got = []
    windows._d4p_emit = {"output": got.append}  # the PE on its own, as the executor wires it
    for k in range(0, 3600, 30):
        windows.process({"input": trace.slice(trace.stats.starttime + k,
                                              trace.stats.starttime + k + 30 - 0.01)})
    windows.postprocess()
    assert [start - trace.stats.starttime.timestamp for _, start, _, _ in got] == [
        k * WINDOW for k in range(6)]
    cut = WindowTraces(str(dataset.directory / "stations.xml"))
    cut.preprocess()
    [window] = cut.read(got[2])
    assert window.stats.starttime == trace.stats.starttime + 2 * WINDOW
    assert np.array_equal(window.data, trace.data[24000:36000].astype(np.float64))
    assert "coordinates" in window.stats


def test_unreachable_server_and_missing_inventory_are_one_line_errors(dataset, capsys, tmp_path):
    source = SeedLinkSource("127.0.0.1:1", "SY", "*", "*", "BHZ")
    graph = d4p.WorkflowGraph()
    graph.add(source)
    with pytest.raises(d4p.WorkflowFailed, match=r"SeedLink server 127.0.0.1:1: cannot connect"):
        d4p.run(graph, {source: 1})
    code = main(["run", "xcorr", "-p", "seedlink=127.0.0.1:1", "-p", "window=600",
                 "-p", f"output={tmp_path}"])
    err = capsys.readouterr().err
    assert code != 0 and "-p inventory=STATIONXML" in err and "Traceback" not in err
    code = main(["run", "xcorr", "-p", "seedlink=127.0.0.1:1", "-p",
                 f"inventory={dataset.directory / 'stations.xml'}", "-p", f"output={tmp_path}"])
    err = capsys.readouterr().err
    assert code != 0 and "add -p window=SECONDS" in err


def test_info_packets_parse_in_obspy():
    from obspy.clients.seedlink.slpacket import SLPacket
    from seismo_seedlink_server import info_packets

    [packet] = info_packets("<seedlink/>")
    parsed = SLPacket(packet, 0)
    assert parsed.get_type() == SLPacket.TYPE_SLINFT
    assert parsed.get_string_payload() == b"<seedlink/>"
    assert io.BytesIO(packet).read(6) == b"SLINFO"


def test_xcorr_releases_the_spectra_of_old_windows_in_a_stream():
    from d4p_seismo.errors import SeismoDataError
    from d4p_seismo.pes import XCorr
    from d4p_seismo.processing import spectrum

    rng = np.random.default_rng(0)

    def spec(station, start):
        trace = obspy.Trace(rng.standard_normal(600), {
            "network": "SY", "station": station, "channel": "BHZ", "sampling_rate": 10.0,
            "starttime": obspy.UTCDateTime(start)})
        return spectrum(trace, 5.0)

    xcorr = XCorr(5.0, by_window=True, release=120.0)
    written = []
    xcorr._d4p_emit = {"output": written.append}  # the PE on its own, as the executor wires it
    for k in range(10):
        start = 60.0 * k
        xcorr.process({"spectra": spec("A", start)})
        xcorr.process({"spectra": spec("B", start)})
        assert set(xcorr.spectra) <= {start - 60 * j for j in range(3)}
    assert len(written) == 10 and len(xcorr.spectra) <= 3
    with pytest.raises(SeismoDataError, match="the run falls behind the stream"):
        xcorr.process({"spectra": spec("C", 0.0)})
