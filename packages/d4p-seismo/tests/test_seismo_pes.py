"""PE building blocks used by the xcorr workflow: channel selection and pairing."""

import io
import shutil

import d4p
import numpy as np
import obspy
import pytest
from d4p_seismo import pes, processing
from d4p_seismo.errors import MissingDataError, SamplingRateError
from d4p_seismo.pes import RecordSection, StationFiles, XCorr, id_matches
from d4p_seismo.processing import spectrum


def test_id_matches_codes_as_an_fdsn_query_does():
    assert id_matches("IU.ANMO.00.BHZ", ("IU", "ANMO,CCM", "*", "BH?"))
    assert id_matches("IU.CCM..BHZ", ("*", "*", "--", "BHZ"))
    assert not id_matches("IU.CCM.00.BHZ", ("*", "*", "--", "BHZ"))
    assert not id_matches("IU.ANMO.00.BHN", ("*", "*", "*", "?HZ"))
    assert not id_matches("not-an-id", ("*", "*", "*", "*"))


def spec(sid, start, seed=0):
    net, sta, loc, cha = sid.split(".")
    trace = obspy.Trace(np.random.default_rng(seed).standard_normal(200), {
        "network": net, "station": sta, "location": loc, "channel": cha,
        "sampling_rate": 10.0, "starttime": obspy.UTCDateTime(start)})
    return spectrum(trace, 2.0)


@d4p.producer
def spectra(items):
    yield from items


def pairs_of(items, components="same", instances=1, mapping="simple", by_window=False):
    source = spectra(items=items)
    pe = XCorr(2.0, components=components, by_window=by_window)
    pe.numprocesses = instances
    graph = d4p.WorkflowGraph()
    graph.connect(source, "output", pe, "spectra")
    result = d4p.run(graph, {source: 1}, mapping=mapping, processes=instances)
    return sorted((c.id_a, c.id_b, c.starttime) for c in result[pe.id]["output"])


def test_pairs_form_within_each_window_and_component():
    items = [spec(s, t) for t in (0.0, 900.0) for s in ("S.A..BHZ", "S.B..BHZ", "S.B..BHN")]
    assert pairs_of(items) == [("S.A..BHZ", "S.B..BHZ", 0.0), ("S.A..BHZ", "S.B..BHZ", 900.0)]
    assert len(pairs_of(items, "all")) == 6
    with pytest.raises(d4p.WorkflowFailed, match=r"S\.A\.\.BHZ: station reached the pairing step"):
        pairs_of([spec("S.A..BHZ", 0.0), spec("S.A..BHZ", 0.0)])


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_each_pair_is_correlated_once_by_one_of_the_instances(mapping):
    """Every instance sees every spectrum but correlates only the pairs it owns:
    20 stations make 190 pairs, each once, shared between three instances."""
    items = [spec(f"S.S{k:02d}..BHZ", 0.0, seed=k) for k in range(20)]
    pairs = pairs_of(items, instances=3, mapping=mapping)
    assert len(pairs) == len(set(pairs)) == 190
    assert pairs == pairs_of(items)
    owners = [XCorr(2.0) for _ in range(3)]
    for k, pe in enumerate(owners):
        pe.numprocesses, pe.instance = 3, k
    shares = [sum(pe._owns(a, b) for a, b, _ in pairs) for pe in owners]
    assert sum(shares) == 190 and min(shares) >= 190 // 3 - 20


def test_by_window_an_instance_correlates_every_pair_of_its_windows():
    items = [spec(s, t) for t in (0.0, 900.0, 1800.0) for s in ("S.A..BHZ", "S.B..BHZ", "S.C..BHZ")]
    assert len(pairs_of(items, instances=2, by_window=True)) == 9


def test_why_no_correlation_names_what_reached_it():
    seen = [{"channels": [], "most": 0, "components": "same"}]
    assert pes.why_no_correlation(seen).startswith("no channel reached the correlation: every "
                                                   "one was left out")
    apart = [{"channels": ["S.A..BHZ"], "most": 1, "components": "same"},
             {"channels": ["S.B..BHZ"], "most": 1, "components": "same"}]
    assert pes.why_no_correlation(apart) == (
        "2 channels reached the correlation (S.A..BHZ, S.B..BHZ) but never two in one window: "
        "give windows that all of them record (-p starttime, -p hours, -p window)")
    turned = [{"channels": ["S.A..BH1", "S.B..BH1"], "most": 2, "components": "same"}]
    assert pes.why_no_correlation(turned).endswith(
        "rotate them to N/E first, or use -p components=all")


def test_the_record_section_draws_each_pair_s_mean_over_windows(monkeypatch, tmp_path):
    drawn = {}
    monkeypatch.setattr(pes, "record_section", lambda rows, path: drawn.update(rows=rows, path=path))
    pe = RecordSection(tmp_path, expected={("A", "B"): 1.5})
    for start, peak, value in ((3600.0, 0.2, 3.0), (0.0, 0.1, 1.0), (7200.0, 0.3, 8.0)):
        pe.process({"input": {
            "pair": "A_B", "station_a": "A", "station_b": "B", "distance_km": 10.0,
            "peak_lag": peak, "sampling_rate": 10.0, "starttime": start,
            "data": np.full(3, value, np.float32),
        }})
    pe.process({"input": {
        "pair": "A_C", "station_a": "A", "station_b": "C", "distance_km": 20.0,
        "peak_lag": -0.1, "sampling_rate": 10.0, "starttime": 0.0,
        "data": np.full(3, 5.0, np.float32),
    }})
    pe.postprocess()
    assert drawn["path"] == tmp_path / "record_section.png"
    ab, ac = drawn["rows"]
    assert ab["peak_lag"] == 0.1 and ab["expected_lag"] == 1.5  # the first window's peak
    assert ab["data"].dtype == np.float32 and np.array_equal(ab["data"], np.full(3, 4.0))
    assert ac["peak_lag"] == -0.1 and "expected_lag" not in ac
    assert np.array_equal(ac["data"], np.full(3, 5.0))


def test_station_files_in_shares_give_each_reader_its_files_at_once(tmp_path):
    for k in range(5):
        (tmp_path / f"S{k}.mseed").write_bytes(b"")
    paths = [str(tmp_path / f"S{k}.mseed") for k in range(5)]

    def written(files):
        graph = d4p.WorkflowGraph()
        graph.add(files)
        return d4p.run(graph, {files: 1})[files.id]["output"]

    assert written(StationFiles(tmp_path, shares=2)) == [paths[0::2], paths[1::2]]
    assert written(StationFiles(tmp_path, "S[01].mseed", shares=3)) == [[paths[0]], [paths[1]]]
    assert written(StationFiles(tmp_path, "S[01].mseed")) == paths[:2]


OBSPY_MSEED = f"{obspy.__path__[0]}/io/mseed/tests/data"


def test_files_holding_one_record_go_to_one_reader_together(tmp_path):
    """A station's day files (names with spaces) are one group, read and
    merged by one reader; before, each file was read alone and the day that
    missed the window failed the run ("data cover 0 s")."""
    st = obspy.read()  # BW.RJOB..EHZ/EHN/EHE, 30 s
    t0 = st[0].stats.starttime
    st.slice(t0, t0 + 14.99).write(str(tmp_path / "RJOB day 1.mseed"), format="MSEED")
    st.slice(t0 + 15, None).write(str(tmp_path / "RJOB day 2.mseed"), format="MSEED")
    shutil.copy(f"{OBSPY_MSEED}/steim2.mseed", tmp_path / "HGN.mseed")
    (tmp_path / "junk.mseed").write_bytes(b"not a seismogram")
    day1, day2, hgn, junk = (str(tmp_path / n) for n in (
        "RJOB day 1.mseed", "RJOB day 2.mseed", "HGN.mseed", "junk.mseed"))
    assert pes.record_groups([day1, day2, hgn, junk]) == [hgn, (day1, day2), junk]
    graph = d4p.WorkflowGraph()
    files = StationFiles(tmp_path, shares=2)
    graph.add(files)
    assert d4p.run(graph, {files: 1})[files.id]["output"] == [[hgn, junk], [(day1, day2)]]

    read = pes.ReadTrace(starttime=t0 + 20, endtime=t0 + 28, select=("*", "*", "*", "EHZ"))
    [trace] = read.read((day1, day2))
    assert np.array_equal(trace.data, st.select(channel="EHZ")[0].slice(t0 + 20, t0 + 27.99).data)
    assert "gaps" not in trace.stats
    [trace] = pes.ReadTrace(select=("*", "*", "*", "EHZ")).read((day1, day2))
    assert trace.stats.npts == 3000 and "gaps" not in trace.stats


def test_each_piece_of_a_record_goes_onto_the_grid_before_the_merge():
    """A clock resynchronised in a gap moves the later piece 0.004 s (0.4
    sample): it is interpolated onto the grid like the rest; before, the
    merge kept its samples 0.4 sample off (errors of 5 % of the amplitude)."""
    tr = obspy.read().select(component="Z")[0]
    t0 = tr.stats.starttime
    early, late = tr.slice(t0, t0 + 10).copy(), tr.slice(t0 + 11, None).copy()
    late.stats.starttime += 0.004
    [out] = pes.ReadTrace(starttime=t0, endtime=t0 + 29).prepare(obspy.Stream([early, late]), "x")
    expected = late.copy()
    expected.data = expected.data.astype(np.float64)
    expected.interpolate(100.0, method="lanczos", a=20, starttime=t0 + 11.01, npts=1700)
    assert np.allclose(out.slice(t0 + 11.01, t0 + 27.999).data, expected.data,  # ObsPy's
                       rtol=0, atol=2e-5 * np.abs(expected.data).max())  # Lanczos, to 2e-5
    assert np.allclose(out.data[:1001], early.data)
    assert out.stats.gaps == [(t0.timestamp + 10, t0.timestamp + 11.004)]


def test_nan_and_masked_samples_are_gaps():
    """NaN samples (float miniSEED) and a merge's masked gaps count as gaps,
    zeroed later; before, they were read as data: NaN failed the run in
    Detrend (SciPy: 'array must not contain infs or NaNs'), a masked array's
    fill values went on as signal."""
    st = obspy.read().select(component="Z")
    t0 = st[0].stats.starttime
    st[0].data = st[0].data.astype(np.float32)
    st[0].data[1000:1500] = np.nan
    buffer = io.BytesIO()
    st.write(buffer, format="MSEED")
    buffer.seek(0)
    read = pes.ReadTrace(starttime=t0, endtime=t0 + 29)
    [trace] = read.prepare(obspy.read(buffer), "nan.mseed")
    assert np.isfinite(trace.data).all()
    assert trace.stats.gaps == [(t0.timestamp + 9.99, t0.timestamp + 15.0)]
    assert processing.missing_fraction(trace) == pytest.approx(500 / 2900)
    merged = obspy.read().select(component="Z")
    merged = (merged.slice(t0, t0 + 9.99) + merged.slice(t0 + 15, None)).merge()
    assert np.ma.isMaskedArray(merged[0].data)
    [trace] = read.prepare(merged, "merged")
    assert trace.stats.gaps == [(t0.timestamp + 9.99, t0.timestamp + 15.0)]
    st[0].data[:] = np.nan
    with pytest.raises(MissingDataError, match=r"BW\.RJOB\.\.EHZ \(nan\.mseed\): no sample is a "
                                               r"number \(all NaN"):
        read.prepare(st, "nan.mseed")


def test_a_dead_channel_is_named_or_rejected():
    """A channel recording zeros correlated to zeros with its 'peak' at the
    first lag, reported as a result; now it is an error naming it (or a
    rejected window with gaps="reject")."""
    st = obspy.read().select(component="Z")
    t0 = st[0].stats.starttime
    st[0].data[:] = 0
    with pytest.raises(MissingDataError, match=r"BW\.RJOB\.\.EHZ \(dead\.mseed\): all 2900 "
                                               r"recorded samples .* are 0 \(a dead channel\?\)"):
        pes.ReadTrace(starttime=t0, endtime=t0 + 29).prepare(st.copy(), "dead.mseed")
    read = pes.ReadTrace(starttime=t0, endtime=t0 + 29, gaps="reject")
    rejected = []
    read.write = lambda port, data: rejected.append((port, data))
    assert read.prepare(st.copy(), "dead.mseed") == []
    [(port, row)] = rejected
    assert port == "rejected" and row["station"] == "BW.RJOB..EHZ" and row["missing"] == 1.0


def test_real_files_give_a_named_error_or_their_samples():
    read = pes.ReadTrace()
    with pytest.raises(SamplingRateError, match=r"GR\.FUR\.\.LOG \(.*rt130_sr0_cropped\.mseed\): "
                                                r"sampling rate 0 Hz, not a waveform"):
        read.read(f"{OBSPY_MSEED}/rt130_sr0_cropped.mseed")
    [trace] = read.read(f"{OBSPY_MSEED}/gaps.mseed")  # 4 records of BW.BGLD..EHE, 3 gaps
    assert len(trace.stats.gaps) == 3 and trace.data.dtype == np.float64
    raw = obspy.read(f"{OBSPY_MSEED}/gaps.mseed")
    assert np.array_equal(trace.data[:raw[0].stats.npts], raw[0].data)


def test_station_files_walks_an_sds_archive_listing_files_only(tmp_path):
    """SDS (YEAR/NET/STA/CHA.D/NET.STA.LOC.CHA.D.YEAR.DAY): '**/*.D*' also
    matches the CHA.D folders, which the reader then failed on ('waveform
    file not found')."""
    st = obspy.read()
    paths = []
    for tr in st:
        folder = tmp_path / "2009" / "BW" / "RJOB" / f"{tr.stats.channel}.D"
        folder.mkdir(parents=True)
        paths.append(str(folder / f"{tr.id}.D.2009.236"))
        tr.write(paths[-1], format="MSEED")
    graph = d4p.WorkflowGraph()
    files = StationFiles(tmp_path, "**/*.D*")
    graph.add(files)
    assert d4p.run(graph, {files: 1})[files.id]["output"] == sorted(paths)


def test_files_of_other_days_are_left_out_of_a_window(tmp_path):
    """An archive of day files: a one-day window reads that day's files only
    (before grouping, each other day failed the run; grouped without this,
    every reader read the whole archive). A window without data keeps one
    file, so the reader still says the station has none."""
    st = obspy.read().select(component="Z")
    t0 = st[0].stats.starttime
    names = []
    for day in range(3):
        later = st.copy()
        for tr in later:
            tr.stats.starttime += day * 86400
        names.append(str(tmp_path / f"RJOB.{day}.mseed"))
        later.write(names[-1], format="MSEED")
    assert pes.record_groups(names) == [tuple(names)]
    assert pes.record_groups(names, t0 + 86400, t0 + 86429) == [names[1]]
    assert pes.record_groups(names, t0 - 1, t0 + 86400 + 29) == [tuple(names[:2])]
    assert pes.record_groups(names, t0 + 9 * 86400, t0 + 9 * 86400 + 29) == [names[0]]
    read = pes.ReadTrace(starttime=t0 + 9 * 86400, endtime=t0 + 9 * 86400 + 29)
    with pytest.raises(MissingDataError, match=r"BW\.RJOB\.\.EHZ \(.*RJOB\.0\.mseed\): data cover "
                                               r"0 s of the 29 s window"):
        read.read(names[0])


def test_a_files_ids_and_span_from_its_first_and_last_records_are_obspys():
    """StationFiles groups files by the SEED ids and spans of their headers;
    for miniSEED it reads only the first and last records (50x faster). On
    every miniSEED file of ObsPy's test data both ways agree."""
    import warnings
    from pathlib import Path

    folder = Path(obspy.__file__).parent / "io" / "mseed" / "tests" / "data"
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ObsPy's notes on the odd files among them
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            try:
                headers = obspy.read(str(path), headonly=True, format="MSEED")
            except Exception:
                continue
            if not len(headers):
                continue
            rates, (start, end) = pes._ids_and_span(str(path))
            assert rates == {tr.id: tr.stats.sampling_rate for tr in headers}, path.name
            assert start == pytest.approx(min(tr.stats.starttime for tr in headers).timestamp)
            assert end == pytest.approx(max(tr.stats.endtime for tr in headers).timestamp)
            compared += 1
    assert compared > 50


OBSPY_DATA = obspy.__path__[0]


def test_a_wildcard_pattern_leaves_out_files_that_are_not_waveforms(tmp_path, capsys):
    """'-p pattern=*' also matched stations.xml (and a QuakeML, a JSON
    manifest) beside the waveforms, and the reader failed on it ('Unknown
    format'). Such files are left out and named; a big-endian SAC file
    (its first byte is '<') and a truly unreadable file are still read, the
    latter failing with its name; a pattern naming one file reads it."""
    obspy.read().write(str(tmp_path / "RJOB.mseed"), format="MSEED")
    tr = obspy.read()[0]
    tr.data, tr.stats.station = tr.data.astype(np.float32), "SACX"
    tr.write(str(tmp_path / "RJOB.sac"), format="SAC", byteorder=">")
    assert (tmp_path / "RJOB.sac").read_bytes()[:1] == b"<"
    shutil.copy(f"{OBSPY_DATA}/io/stationxml/tests/data/minimal_station.xml", tmp_path / "inv.xml")
    shutil.copy(f"{OBSPY_DATA}/io/quakeml/tests/data/quakeml_1.2_event.xml", tmp_path / "ev.xml")
    obspy.read_inventory().write(str(tmp_path / "stations.xml"), format="STATIONXML")
    (tmp_path / "dataset.json").write_text('{"stations": 2}')
    (tmp_path / "junk.dat").write_bytes(b"not a seismogram")

    def written(files):
        graph = d4p.WorkflowGraph()
        graph.add(files)
        return d4p.run(graph, {files: 1})[files.id]["output"]

    paths = written(StationFiles(tmp_path, "*", metadata={"inventory": tmp_path / "inv.xml"}))
    assert paths == [str(tmp_path / n) for n in ("RJOB.mseed", "RJOB.sac", "junk.dat")]
    log = capsys.readouterr().out
    assert ("pattern '*' also matched files that are not waveforms, left out: dataset.json "
            "(JSON), ev.xml (QuakeML), inv.xml (the inventory), stations.xml (StationXML)") in log
    [sac] = pes.ReadTrace().read(str(tmp_path / "RJOB.sac"))
    assert np.array_equal(sac.data, tr.data)
    with pytest.raises(MissingDataError, match=r"junk\.dat: cannot read waveform file"):
        pes.ReadTrace().read(str(tmp_path / "junk.dat"))
    assert written(StationFiles(tmp_path, "stations.xml")) == [str(tmp_path / "stations.xml")]
    with pytest.raises(d4p.WorkflowFailed, match=r"no waveform files match '\*\.xml' \(it matched "
                                                 r"only ev\.xml \(QuakeML\), inv\.xml"):
        written(StationFiles(tmp_path, "*.xml"))


def multiplexed(stream, path, ends):
    """``stream``'s channels written as a datalogger does, records of all
    channels interleaved in time (10 s per record), the first and the last
    record of channel ``ends``."""
    t0 = stream[0].stats.starttime
    others = sorted({tr.stats.channel for tr in stream} - {ends})
    with open(path, "wb") as out:
        for k in range(3):
            for channel in [ends, *others] if k < 2 else [*others, ends]:
                buffer = io.BytesIO()
                stream.select(channel=channel).slice(t0 + 10 * k, t0 + 10 * k + 9.999).write(
                    buffer, format="MSEED", reclen=512)
                out.write(buffer.getvalue())


def test_a_multiplexed_file_s_ids_are_all_its_channels(tmp_path):
    """A station's day files with its channels' records interleaved: the
    header read took the ids of the first and last records for those of the
    whole file when they agreed (EHZ ... EHZ: only EHZ), so two days ending
    on different channels were not grouped, and a one-day window failed
    with 'data cover 0 s' for the other day's file."""
    st = obspy.read()
    t0 = st[0].stats.starttime
    day2 = st.copy()
    for tr in day2:
        tr.stats.starttime += 86400
    multiplexed(st, tmp_path / "RJOB.1.mseed", ends="EHZ")
    multiplexed(day2, tmp_path / "RJOB.2.mseed", ends="EHN")
    days = [str(tmp_path / "RJOB.1.mseed"), str(tmp_path / "RJOB.2.mseed")]
    ids, span = pes._ids_and_span(days[0])
    assert ids == {"BW.RJOB..EHZ": 100.0, "BW.RJOB..EHN": 100.0, "BW.RJOB..EHE": 100.0}
    assert span == (pytest.approx(t0.timestamp), pytest.approx((t0 + 29.99).timestamp))
    assert pes.record_groups(days, t0, t0 + 29) == [days[0]]
    traces = pes.ReadTrace(starttime=t0, endtime=t0 + 29).read(days[0])
    assert sorted(tr.id for tr in traces) == ["BW.RJOB..EHE", "BW.RJOB..EHN", "BW.RJOB..EHZ"]


def test_a_pattern_matching_nothing_names_the_files_there(tmp_path):
    """SAC files under the default pattern '*.mseed': the error said only
    'check the directory and the pattern'; it now names the waveform files
    present and the pattern that would match them."""
    for tr in obspy.read():
        tr.write(str(tmp_path / f"{tr.id}.SAC"), format="SAC")
    obspy.read_inventory().write(str(tmp_path / "stations.xml"), format="STATIONXML")
    graph = d4p.WorkflowGraph()
    files = StationFiles(tmp_path)
    graph.add(files)
    with pytest.raises(d4p.WorkflowFailed, match=r"no waveform files match '\*\.mseed'; check the "
                                                 r"directory and the pattern; the folder holds "
                                                 r"BW\.RJOB\.\.EHE\.SAC, BW\.RJOB\.\.EHN\.SAC, "
                                                 r"BW\.RJOB\.\.EHZ\.SAC: -p pattern='\*\.SAC'\?"):
        d4p.run(graph, {files: 1})
    graph = d4p.WorkflowGraph()
    files = StationFiles(tmp_path, "*.SAC")
    graph.add(files)
    assert len(d4p.run(graph, {files: 1})[files.id]["output"]) == 3


def test_files_of_other_formats_are_grouped_without_miniseed_warnings(tmp_path, recwarn):
    """SAC files beside miniSEED: their ids come from their SAC headers,
    quietly. Before, every file was first parsed as miniSEED, and a SAC file
    printed four lines such as "Failed to decode station code as ASCII ...
    This is an invalid MiniSEED file - please contact your data provider"."""
    st = obspy.read()
    t0 = st[0].stats.starttime
    st.select(channel="EHZ").write(str(tmp_path / "RJOB.EHZ.SAC"), format="SAC")
    st.select(channel="EHE").write(str(tmp_path / "RJOB.EHE.mseed"), format="MSEED")
    st.select(channel="EHN").slice(t0, t0 + 14.99).write(str(tmp_path / "EHN 1.SAC"), "SAC")
    st.select(channel="EHN").slice(t0 + 15, None).write(str(tmp_path / "EHN 2.mseed"), "MSEED")
    ehe, ehn1, ehn2, ehz = (str(tmp_path / n) for n in (
        "RJOB.EHE.mseed", "EHN 1.SAC", "EHN 2.mseed", "RJOB.EHZ.SAC"))
    assert pes.record_groups([ehe, ehn1, ehn2, ehz]) == [(ehn1, ehn2), ehe, ehz]
    assert [str(w.message) for w in recwarn if "MiniSEED" in str(w.message)] == []


def test_an_empty_or_truncated_file_is_named(tmp_path):
    """An empty file fails naming it and what to do (before: "Unknown format
    for file ..."); a file cut inside its last record gives the records
    before it, and a warning names the file, the record left out and what
    to do. Before, ObsPy warned "readMSEEDBuffer(): Last record only has
    100 byte(s) ..." naming no file, and with 400 bytes of the record there
    nothing at all."""
    (tmp_path / "empty.mseed").write_bytes(b"")
    with pytest.raises(MissingDataError, match=r"empty\.mseed: cannot read waveform file \(the "
                                               r"file is empty\); move it out of the folder"):
        pes.ReadTrace().read(str(tmp_path / "empty.mseed"))
    st = obspy.read().select(channel="EHZ")
    for tr in st:
        tr.data = tr.data.astype(np.int32)
    st.write(str(tmp_path / "whole.mseed"), format="MSEED", reclen=512, encoding="STEIM2")
    whole = (tmp_path / "whole.mseed").read_bytes()
    for there in (100, 400):
        path = tmp_path / f"cut {there}.mseed"
        path.write_bytes(whole[:512 * 3 + there])
        with pytest.warns(UserWarning) as warned:
            [trace] = pes.ReadTrace().read(str(path))
        assert [str(w.message) for w in warned] == [
            f"{path}: the file ends {there} bytes into its last record of 512 (cut short in a "
            f"copy or a download?); that record, of BW.RJOB..EHZ from "
            f"{trace.stats.endtime + trace.stats.delta}, is left out: copy the file again to "
            "keep it"]
        assert 0 < trace.stats.npts < 3000
        assert np.array_equal(trace.data, st[0].data[:trace.stats.npts])


def test_a_day_at_another_rate_beside_the_window_does_not_count(tmp_path):
    """A station whose digitiser went from 50 to 100 Hz between two day
    files: a window in the second day reads it (before, the first day's file,
    read for the samples around the window's start, failed the run: 'pieces
    sampled at 50 and 100 Hz cannot be merged'); a window across the change
    is still an error."""
    st = obspy.read().select(channel="EHZ")
    t0 = st[0].stats.starttime
    old = st.slice(t0, t0 + 14.99).copy()
    old.filter("lowpass", freq=20.0, zerophase=True)
    old.decimate(2, no_filter=True)
    old.write(str(tmp_path / "day 1.mseed"), format="MSEED", encoding="FLOAT64")
    st.slice(t0 + 15, None).write(str(tmp_path / "day 2.mseed"), format="MSEED")
    days = (str(tmp_path / "day 1.mseed"), str(tmp_path / "day 2.mseed"))
    [second] = pes.ReadTrace(starttime=t0 + 15, endtime=t0 + 25).read(days)
    assert second.stats.sampling_rate == 100.0 and "gaps" not in second.stats
    assert np.array_equal(second.data, st[0].slice(t0 + 15, t0 + 24.995).data)
    [first] = pes.ReadTrace(starttime=t0 + 2, endtime=t0 + 12).read(days)
    assert first.stats.sampling_rate == 50.0 and first.stats.npts == 500
    with pytest.raises(SamplingRateError, match=r"BW\.RJOB\.\.EHZ \(.*day 1\.mseed, .*day 2\.mseed"
                                                r"\): pieces sampled at 50 and 100 Hz in the "
                                                r"window cannot be merged"):
        pes.ReadTrace(starttime=t0 + 10, endtime=t0 + 20).read(days)
