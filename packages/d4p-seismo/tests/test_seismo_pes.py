"""PE building blocks used by the xcorr workflow: channel selection and pairing."""

import d4p
import numpy as np
import obspy
import pytest
from d4p_seismo import pes
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
