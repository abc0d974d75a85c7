"""PE building blocks used by the xcorr workflow: channel selection and pairing."""

import d4p
import pytest
from d4p_seismo.pes import ProductPairs, id_matches


def test_id_matches_codes_as_an_fdsn_query_does():
    assert id_matches("IU.ANMO.00.BHZ", ("IU", "ANMO,CCM", "*", "BH?"))
    assert id_matches("IU.CCM..BHZ", ("*", "*", "--", "BHZ"))
    assert not id_matches("IU.CCM.00.BHZ", ("*", "*", "--", "BHZ"))
    assert not id_matches("IU.ANMO.00.BHN", ("*", "*", "*", "?HZ"))
    assert not id_matches("not-an-id", ("*", "*", "*", "*"))


class Spectrum:
    def __init__(self, sid, starttime):
        self.id, self.starttime = sid, starttime


def pairs_of(items, components="same"):
    pe = ProductPairs(components)
    graph = d4p.WorkflowGraph()
    graph.add(pe)
    return sorted(d4p.run(graph, {pe: [{"input": item} for item in items]})[pe.id]["output"])


def test_pairs_form_within_each_window_and_component():
    items = [Spectrum(s, t) for t in (0.0, 900.0) for s in ("A..Z", "B..Z", "B..N")]
    assert pairs_of(items) == [("A..Z", "B..Z", 0.0), ("A..Z", "B..Z", 900.0)]
    assert len(pairs_of(items, "all")) == 6
    with pytest.raises(d4p.WorkflowFailed, match=r"A\.\.Z: station reached the pairing step twice"):
        pairs_of([Spectrum("A..Z", 0.0), Spectrum("A..Z", 0.0)])
