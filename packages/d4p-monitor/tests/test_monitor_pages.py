"""Every page opened in headless Chromium: the run's real numbers are on the
page, the charts and the graph are drawn, names are shown as text.
Screenshots go to test-artifacts/monitor/ at the repository root."""

from __future__ import annotations

import pytest


def _open(page, served, path, artifacts, shot, status=200):
    response = page.goto(served.base + path)
    assert response.status == status, path
    page.screenshot(path=str(artifacts / f"{shot}.png"), full_page=True)
    return page


def _cells(page, selector):
    return [[c.strip() for c in row] for row in page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")]


def _drawn(page, selector, marks=".mark"):
    """The number of visible marks of an SVG chart (width and height > 0)."""
    box = page.locator(selector).bounding_box()
    assert box and box["width"] > 300 and box["height"] > 50, selector
    return page.eval_on_selector_all(
        f"{selector} {marks}",
        "els => els.filter(e => { const b = e.getBBox(); return b.width > 0 && b.height > 0 })"
        ".length")


@pytest.fixture(scope="module")
def ids(served_sqlite):
    run = served_sqlite.runs["ok"]
    return run, list(run.plan.pes)


def test_runs_list(page, served_sqlite, artifacts, ids):
    run, _ = ids
    _open(page, served_sqlite, "/", artifacts, "1-runs")
    rows = _cells(page, "#runs")
    assert len(rows) == 3
    ok = next(r for r in rows if r[0] == run.id)
    assert ok[1:4] == ["wordcount", "multi", "3"] and ok[6:] == ["1.050", "ok"]
    assert ok[4] < ok[5]  # start before end, both shown
    failed = next(r for r in rows if r[0] == served_sqlite.runs["failed"].id)
    assert failed[6:] == ["0.500", "failed"]
    assert "<script>alert(1)</script> flow" in [r[1] for r in rows]
    page.click(f"text={run.id}")
    assert page.url.endswith(f"/runs/{run.id}")


def test_run_page(page, served_sqlite, artifacts, ids):
    run, (producer, counter, collector) = ids
    _open(page, served_sqlite, f"/runs/{run.id}", artifacts, "2-run")
    facts = dict(zip(page.locator("#facts dt").all_inner_texts(),
                     page.locator("#facts dd").all_inner_texts(), strict=True))
    assert facts["mapping"] == "multi" and facts["processes"] == "3"
    assert facts["total runtime"] == "1.050 s" and facts["status"] == "ok"
    assert facts["bottleneck PE"] == counter
    assert _cells(page, "table.assignment") == [[producer, "1", "0"], [counter, "2", "1, 2"],
                                                [collector, "1", "0"]]
    assert _drawn(page, "svg.graph", "g.node rect") == 3
    assert page.locator("svg.graph g.edge").count() == 2
    assert page.locator("svg.graph g.node.bottleneck").get_attribute("data-pe") == counter
    assert page.locator("svg.graph g.edge.hot").count() == 1


def test_profile_page(page, served_sqlite, artifacts, ids):
    run, (producer, counter, collector) = ids
    _open(page, served_sqlite, f"/runs/{run.id}/profile", artifacts, "3-profile")
    pes = {r[0]: r for r in _cells(page, "table.pes")}
    assert pes[counter][1:] == ["2", "1,000", "0.440", "0.040", "0.000", "0.480", "0.4400",
                                "0.0400", "0.0000"]
    assert pes[producer][1:7] == ["1", "1,000", "0.040", "0.000", "0.080", "0.120"]
    assert pes[collector][2] == "20" and pes[collector][8] == "0.1000"
    assert page.locator("table.pes tr.hot td").first.inner_text() == counter
    inst = _cells(page, "table.instances")
    assert [r[:4] for r in inst] == [[producer, "0", "0", "1,000"], [counter, "0", "1", "500"],
                                     [counter, "1", "2", "500"], [collector, "0", "0", "20"]]
    assert inst[2][4] == "0.240" and inst[1][4] == "0.200"
    assert _drawn(page, "svg[data-chart=pe-methods]") == 7


def test_charts_page(page, served_sqlite, artifacts, ids):
    run, _ = ids
    _open(page, served_sqlite, f"/runs/{run.id}/charts", artifacts, "4-charts")
    assert _drawn(page, "svg[data-chart=iterations]") == 4 + 8 + 1
    assert page.locator("svg[data-chart=iterations] polyline").count() == 3  # one per instance
    assert _drawn(page, "svg[data-chart=pe-methods]") == 7
    assert _drawn(page, "svg[data-chart=process-methods]") == 7
    tips = page.locator("svg[data-chart=iterations] .mark title").all_text_contents()
    assert any(t.endswith(": 0.48 ms") for t in tips) and any(t.endswith(": 0.04 ms")
                                                                 for t in tips)


def test_timeline_page(page, served_sqlite, artifacts, ids):
    run, (producer, counter, collector) = ids
    _open(page, served_sqlite, f"/runs/{run.id}/timeline", artifacts, "5-timeline")
    assert _drawn(page, "svg[data-chart=timeline]") == 13
    labels = page.locator("svg[data-chart=timeline] text.label").all_text_contents()
    assert labels == [f"process 0 · {producer}[0]", f"process 0 · {collector}[0]",
                      f"process 1 · {counter}[0]", f"process 2 · {counter}[1]"]
    assert _cells(page, "table.processes") == [
        ["0", "5", "0.000", "1.000", "0.123"], ["1", "4", "0.000", "1.000", "0.220"],
        ["2", "4", "0.000", "1.000", "0.260"]]


def test_communication_page(page, served_sqlite, artifacts, ids):
    run, (producer, counter, collector) = ids
    _open(page, served_sqlite, f"/runs/{run.id}/communication", artifacts, "6-communication")
    assert page.locator("#bottleneck").inner_text() == f"{producer} → {counter}"
    assert _cells(page, "table.edges") == [
        [producer, counter, "1,000", "39.1 KiB", "0.1200", "40.0"],
        [counter, collector, "20", "800 B", "0.0020", "40.0"]]
    assert page.locator("table.edges tr.hot td").first.inner_text() == producer
    assert _drawn(page, "svg[data-chart=send-time]") == 2
    assert _drawn(page, "svg[data-chart=bytes]") == 2
    assert page.locator("svg.graph g.edge.hot").count() == 1


def test_advice_page(page, served_sqlite, artifacts, ids):
    run, (producer, counter, collector) = ids
    _open(page, served_sqlite, f"/runs/{run.id}/advice?processes=6", artifacts, "7-advice")
    rows = {r[0]: r for r in _cells(page, "table.advice")}
    assert rows[counter][3:5] == ["2", "4"] and rows[producer][4] == "1"
    assert page.locator("#command").inner_text() == "d4p run wordcount --mapping multi -n 6"


def test_a_script_named_pe_shows_as_text(page, served_sqlite, artifacts):
    xss = served_sqlite.runs["xss"]
    src = list(xss.plan.pes)[0]
    for path, shot in ((f"/runs/{xss.id}", "8-xss-run"), ("/", "8-xss-runs"),
                       (f"/runs/{xss.id}/profile", "8-xss-profile"),
                       (f"/runs/{xss.id}/timeline", "8-xss-timeline")):
        _open(page, served_sqlite, path, artifacts, shot)
        assert page.locator("script").count() == 0
        assert "<script>alert(1)</script>" in page.locator("main").inner_text()
    assert page.locator("svg[data-chart=timeline] text.label").first.text_content() == (
        f"process 0 · {src}[0]")
    assert page.dialogs == []


def test_failed_run_shows_its_error_escaped(page, served_sqlite, artifacts):
    failed = served_sqlite.runs["failed"]
    _open(page, served_sqlite, f"/runs/{failed.id}", artifacts, "9-failed-run")
    assert _cells(page, "table.errors")[0][3] == "ValueError: <b>bad</b> word"
    assert page.locator("main b").count() == 0


def test_unknown_run_page_is_404(page, served_sqlite, artifacts):
    _open(page, served_sqlite, "/runs/0123456789ab/profile", artifacts, "10-404", status=404)
    assert "no run '0123456789ab'" in page.locator("main").inner_text()


def test_run_page_from_mongodb(page, served_mongodb, artifacts):
    run = served_mongodb.runs["ok"]
    _open(page, served_mongodb, f"/runs/{run.id}", artifacts, "11-run-mongodb")
    assert _drawn(page, "svg.graph", "g.node rect") == 3
    assert "1.050 s" in page.locator("#facts").inner_text()
