"""Monitoring never changes results: every case of the conformance kit gives
the outputs of an unmonitored ``simple`` run with monitoring on, and every
run is recorded."""

from __future__ import annotations

import d4p
import pytest
from d4p.testing import CASES, expected, normalise
from d4p_monitor import open_store

MAPPINGS = [("simple", 1), ("multi", 2)] if "multi" in d4p.installed_mappings() else [("simple", 1)]


@pytest.mark.parametrize(("mapping", "processes"), MAPPINGS, ids=[m for m, _ in MAPPINGS])
def test_every_conformance_case_gives_the_same_outputs_when_monitored(tmp_path, mapping,
                                                                      processes):
    db = str(tmp_path / "monitor.sqlite")
    ok = [c for c in CASES if not c.fails]
    for case in ok:
        graph, inputs = case.build()
        result = d4p.run(graph, inputs, mapping=mapping, processes=processes, monitor=db,
                         name=case.name)
        assert normalise(result) == expected(case).outputs, case.name
    failing = [c for c in CASES if c.fails]
    for case in failing:
        graph, inputs = case.build()
        with pytest.raises(d4p.WorkflowFailed) as caught:
            d4p.run(graph, inputs, mapping=mapping, processes=processes, monitor=db,
                    name=case.name)
        assert caught.value.pe is not None
    with open_store(db) as store:
        runs = {r["workflow"]: r for r in store.runs(limit=1000)}
    assert set(runs) == {c.name for c in CASES}
    assert {r["status"] for name, r in runs.items()
            if name not in {c.name for c in failing}} == {"ok"}
    assert {runs[c.name]["status"] for c in failing} == {"failed"}
    assert all(r["mapping"] == mapping for r in runs.values())
