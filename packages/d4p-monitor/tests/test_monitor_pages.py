"""Every page of real monitored runs opened in headless Chromium: the run's
real numbers (units per PE from its summary, the plan's assignment, the
bytes that crossed processes) are on the page, the charts and the graph are
drawn, names are shown as text. Screenshots go to test-artifacts/monitor/."""

from __future__ import annotations

import json
import time

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
    box = page.locator(selector).first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 50, selector
    return page.eval_on_selector_all(
        f"{selector} {marks}",
        "els => els.filter(e => { const b = e.getBBox(); return b.width > 0 && b.height > 0 })"
        ".length")


def _procs(processes):
    return ",".join(map(str, sorted(set(processes))))  # the runs here use 1 or 2 processes


@pytest.fixture(scope="module")
def ok(served_sqlite):
    return served_sqlite.runs["ok"]


def test_runs_list(page, served_sqlite, artifacts, ok):
    _open(page, served_sqlite, "/", artifacts, "1-runs")
    rows = _cells(page, "#runs")
    assert [r[0] for r in rows] == [served_sqlite.runs[k].id
                                    for k in ("xss", "failed", "simple", "ok")]
    row = rows[3]
    assert row[1:4] == ["wordcount", "multi", "4"] and row[7] == "ok"
    assert row[6] == f"{ok.result.summary.seconds:,.3f}"
    assert row[4] <= row[5]  # start before end, both shown
    assert rows[1][7] == "failed" and rows[2][2] == "simple"
    assert "<script>alert(1)</script> flow" == rows[0][1]
    page.click(f"text={ok.id}")
    assert page.url.endswith(f"/runs/{ok.id}")


@pytest.mark.parametrize("which", ["ok", "simple"])
def test_run_page(page, served_sqlite, artifacts, which):
    run = served_sqlite.runs[which]
    summary = run.result.summary
    _open(page, served_sqlite, f"/runs/{run.id}", artifacts, f"2-run-{which}")
    facts = dict(zip(page.locator("#facts dt").all_inner_texts(),
                     page.locator("#facts dd").all_inner_texts(), strict=True))
    assert facts["mapping"] == summary.mapping and facts["processes"] == str(summary.processes)
    assert facts["total runtime"] == f"{summary.seconds:,.3f} s" and facts["status"] == "ok"
    assert facts["bottleneck PE"] in run.plan.pes
    assert _cells(page, "table.assignment") == [
        [pe, str(summary.instances[pe]), _procs(procs)]
        for pe, procs in summary.assignment.items()]
    assert _drawn(page, "svg.graph", "g.node rect") == 3
    assert page.locator("svg.graph g.edge").count() == 2
    assert page.locator("svg.graph g.node.bottleneck").get_attribute("data-pe") == (
        facts["bottleneck PE"])


@pytest.mark.parametrize("which", ["ok", "simple"])
def test_profile_page(page, served_sqlite, artifacts, which):
    run = served_sqlite.runs[which]
    summary = run.result.summary
    _open(page, served_sqlite, f"/runs/{run.id}/profile", artifacts, f"3-profile-{which}")
    pes = {r[0]: r for r in _cells(page, "table.pes")}
    assert {pe: (r[1], r[2]) for pe, r in pes.items()} == {
        pe: (str(summary.instances[pe]), f"{n:,}") for pe, n in summary.units.items()}
    inst = _cells(page, "table.instances")
    assert [r[:3] for r in inst] == [[i.pe_id, str(i.index), str(i.process)]
                                     for i in run.plan.instances]
    counter = list(run.plan.pes)[1]
    assert sum(int(r[3].replace(",", "")) for r in inst if r[0] == counter) == 20_000
    bottleneck = page.locator("#bottleneck").inner_text()
    assert page.locator("table.pes tr.hot td").first.inner_text() == bottleneck
    assert _drawn(page, "svg[data-chart=pe-methods]") >= 3


@pytest.mark.parametrize("which", ["ok", "simple"])
def test_charts_page(page, served_sqlite, artifacts, which):
    run = served_sqlite.runs[which]
    its = served_sqlite.json(f"/api/runs/{run.id}/iterations")
    _open(page, served_sqlite, f"/runs/{run.id}/charts", artifacts, f"4-charts-{which}")
    for s in its["series"]:
        chart = f'svg[data-chart=iterations][data-pe="{s["pe"]}"]'
        assert _drawn(page, chart) == len(s["points"]), s["pe"]
        instances = len({p["instance"] for p in s["points"]})
        assert page.locator(f"{chart} .legend").count() == instances
    counter = list(run.plan.pes)[1]
    assert page.locator(f'svg[data-chart=iterations][data-pe="{counter}"] polyline').count() == 2
    processes = len({p for ps in run.result.summary.assignment.values() for p in ps})
    assert page.locator("svg[data-chart=process-methods] text.label").count() == processes
    assert _drawn(page, "svg[data-chart=process-methods]") >= processes
    assert _drawn(page, "svg[data-chart=pe-methods]") >= 3


@pytest.mark.parametrize("which", ["ok", "simple"])
def test_timeline_page(page, served_sqlite, artifacts, which):
    run = served_sqlite.runs[which]
    tl = served_sqlite.json(f"/api/runs/{run.id}/timeline")
    _open(page, served_sqlite, f"/runs/{run.id}/timeline", artifacts, f"5-timeline-{which}")
    assert _drawn(page, "svg[data-chart=timeline]") == sum(len(p["bars"])
                                                            for p in tl["processes"])
    labels = page.locator("svg[data-chart=timeline] text.label").all_text_contents()
    assert sorted(labels) == sorted(f"process {i.process} · {i.pe_id}[{i.index}]"
                                    for i in run.plan.instances)
    assert [r[0] for r in _cells(page, "table.processes")] == [
        str(p["process"]) for p in tl["processes"]]


def test_communication_page(page, served_sqlite, artifacts, ok):
    comm = served_sqlite.json(f"/api/runs/{ok.id}/communication")
    _open(page, served_sqlite, f"/runs/{ok.id}/communication", artifacts, "6-communication")
    units = ok.result.summary.units
    rows = _cells(page, "table.edges")
    assert [r[:3] for r in rows] == [[r.src_pe, r.dst_pe, f"{units[r.dst_pe]:,}"]
                                     for r in ok.plan.routes]
    assert all(r[3].endswith("B") and r[3] != "0 B" for r in rows)  # every pair crossed
    hot = comm["bottleneck"]
    assert page.locator("#bottleneck").inner_text() == f"{hot['src_pe']} → {hot['dst_pe']}"
    assert page.locator("table.edges tr.hot td").first.inner_text() == hot["src_pe"]
    assert _drawn(page, "svg[data-chart=units]") == 2
    assert _drawn(page, "svg[data-chart=bytes]") == 2
    assert _drawn(page, "svg[data-chart=send-time]") == 2
    assert page.locator("svg.graph g.edge.hot").count() == 1


def test_communication_page_of_a_run_in_one_process(page, served_sqlite, artifacts):
    """On simple every pair's units stay in the one process: the page says so
    rather than '0 B', which read as bytes the mapping failed to count."""
    run = served_sqlite.runs["simple"]
    _open(page, served_sqlite, f"/runs/{run.id}/communication", artifacts,
          "6-communication-simple")
    rows = _cells(page, "table.edges")
    assert [r[:4] for r in rows] == [
        [r.src_pe, r.dst_pe, f"{run.result.summary.units[r.dst_pe]:,}", "in process"]
        for r in run.plan.routes]


def test_advice_page(page, served_sqlite, artifacts, ok):
    adv = served_sqlite.json(f"/api/runs/{ok.id}/advice?processes=6")
    _open(page, served_sqlite, f"/runs/{ok.id}/advice?processes=6", artifacts, "7-advice")
    rows = {r[0]: r for r in _cells(page, "table.advice")}
    assert {pe: (r[3], r[4]) for pe, r in rows.items()} == {
        r["pe"]: (str(r["instances"]), str(r["suggested"])) for r in adv["pes"]}
    assert page.locator("#command").inner_text() == (
        f"d4p run wordcount --mapping multi -n {adv['processes']}")


def test_a_script_named_pe_shows_as_text(page, served_sqlite, artifacts):
    xss = served_sqlite.runs["xss"]
    src = list(xss.plan.pes)[0]
    for path, shot in ((f"/runs/{xss.id}", "8-xss-run"), ("/", "8-xss-runs"),
                       (f"/runs/{xss.id}/profile", "8-xss-profile"),
                       (f"/runs/{xss.id}/timeline", "8-xss-timeline")):
        _open(page, served_sqlite, path, artifacts, shot)
        assert page.locator("script").count() == 0
        assert "<script>alert(1)</script>" in page.locator("main").inner_text()
    proc = xss.plan.instances[0].process
    assert f"process {proc} · {src}[0]" in page.locator(
        "svg[data-chart=timeline] text.label").all_text_contents()
    assert page.dialogs == []


def test_failed_run_shows_its_error_escaped(page, served_sqlite, artifacts):
    failed = served_sqlite.runs["failed"]
    _open(page, served_sqlite, f"/runs/{failed.id}", artifacts, "9-failed-run")
    row = _cells(page, "table.errors")[0]
    assert row[0] == failed.error.pe and row[1] == str(failed.error.instance)
    assert page.locator("table.errors .message").inner_text() == str(failed.error).split("\n")[0]
    assert page.locator("table.errors .message").inner_text().endswith(
        "ValueError: <b>bad</b> word")
    page.click("table.errors summary")  # the traceback, folded away
    assert 'raise ValueError("<b>bad</b> word")' in page.locator("table.errors pre").inner_text()
    assert page.locator("main b").count() == 0


def test_unknown_run_page_is_404(page, served_sqlite, artifacts):
    _open(page, served_sqlite, "/runs/0123456789ab/profile", artifacts, "10-404", status=404)
    assert "no run '0123456789ab'" in page.locator("main").inner_text()


def test_run_pages_from_mongodb(page, served_mongodb, artifacts):
    run = served_mongodb.runs["ok"]
    _open(page, served_mongodb, f"/runs/{run.id}", artifacts, "11-run-mongodb")
    assert _drawn(page, "svg.graph", "g.node rect") == 3
    assert f"{run.result.summary.seconds:,.3f} s" in page.locator("#facts").inner_text()
    _open(page, served_mongodb, f"/runs/{run.id}/profile", artifacts, "11-profile-mongodb")
    calls = {r[0]: r[2] for r in _cells(page, "table.pes")}
    assert calls == {pe: f"{n:,}" for pe, n in run.result.summary.units.items()}


def _wait(condition):
    for _ in range(200):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the tracer did not write its events")


def test_a_running_run_page_updates_its_counts_by_itself_until_the_run_ends(
        page, served_sqlite, artifacts, new_run):
    from d4p_monitor import Tracer
    from playwright.sync_api import expect

    run = new_run(processes=1)
    producer, counter, _ = run.plan.pes
    tracer = Tracer(run, served_sqlite.store.uri)
    tracer.run_started(run)

    def report(pe, calls):
        now = time.time()
        tracer.record([{"kind": "instance", "pe": pe, "instance": 0, "process": 0,
                        "t0": now - 0.5, "t1": now, "calls": calls, "process_s": 0.01,
                        "read_s": 0.0, "write_s": 0.0}])

    try:
        report(producer, 1000)
        _wait(lambda: tracer.written["instance"] == 1)
        _open(page, served_sqlite, f"/runs/{run.id}", artifacts, "8-running-1")
        assert page.locator("#facts dd[data-fact=status]").inner_text() == "running"
        assert page.locator('meta[http-equiv="refresh"]').count() == 1
        rows = {r[0]: r for r in _cells(page, "table.live")}
        assert rows[producer][1] == "1,000" and rows[counter][1] == "0"
        assert float(rows[producer][2].replace(",", "")) > 0
        assert rows[counter][2] == "0.0"
        assert page.locator("#elapsed").inner_text().endswith(" s")

        report(producer, 1000)
        report(counter, 700)
        _wait(lambda: tracer.written["instance"] == 3)
        live = page.locator("table.live tbody tr")  # the page reloads itself: no goto
        expect(live.filter(has_text=producer).locator("td").nth(1)).to_have_text(
            "2,000", timeout=20_000)
        expect(live.filter(has_text=counter).locator("td").nth(1)).to_have_text("700")
        page.screenshot(path=str(artifacts / "8-running-2.png"), full_page=True)
        status, _, body = served_sqlite.get(f"/api/runs/{run.id}/live")
        so_far = json.loads(body)
        assert status == 200 and so_far["elapsed_s"] > 0
        assert {p["pe"]: p["units"] for p in so_far["pes"]} == {
            producer: 2000, counter: 700, list(run.plan.pes)[2]: 0}
    finally:
        tracer.run_finished(run, 1.5, None)
    expect(page.locator("#facts dd[data-fact=status]")).to_have_text("ok", timeout=20_000)
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert page.locator("table.live").count() == 0


def _texts_outside(page):
    """The texts of the page's charts that are drawn (partly) outside their chart."""
    return page.eval_on_selector_all("svg.chart text", """texts => texts.filter(t => {
        const b = t.getBBox(), v = t.ownerSVGElement.viewBox.baseVal;
        return b.x < v.x - 0.5 || b.y < v.y - 0.5 || b.x + b.width > v.x + v.width + 0.5
            || b.y + b.height > v.y + v.height + 0.5; }).map(t => t.textContent)""")


def _fits(page):
    """Every graph node's texts lie inside its box; the page is no wider than the window."""
    outside = page.eval_on_selector_all("svg.graph g.node", """nodes => nodes.filter(n => {
        const r = n.querySelector('rect').getBBox();
        return [...n.querySelectorAll('text')].some(t => { const b = t.getBBox();
            return b.x < r.x || b.x + b.width > r.x + r.width; }); }).length""")
    assert outside == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


@pytest.mark.parametrize(("mapping", "length", "instances"),
                         [("multi", 2, 64), ("simple", 54, 1)])
def test_a_run_of_many_pes_or_instances_keeps_its_page_usable(page, tmp_path, artifacts,
                                                              monitored, chain, mapping, length,
                                                              instances):
    from d4p_monitor import open_store, serve_in_thread

    uri = str(tmp_path / "big.sqlite")
    run = monitored(uri, chain(length, instances=instances), mapping=mapping,
                    processes=4)
    summary = run.result.summary
    with open_store(uri) as store:
        server = serve_in_thread(store)
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            assert page.goto(f"{base}/runs/{run.id}").status == 200
            page.screenshot(path=str(artifacts / f"12-big-{mapping}.png"), full_page=True)
            _fits(page)
            assert page.locator("svg.graph g.node").count() == length + 2
            first = list(summary.units)[1]
            shown = page.locator(f'svg.graph g.node[data-pe="{first}"] text.node-info')
            procs = sorted(set(summary.assignment[first]))
            expected = f"{procs[0]}-{procs[-1]}" if len(procs) > 2 else ",".join(map(str, procs))
            assert shown.text_content() == f"{instances} inst. · proc {expected}"
            rows = {r[0]: r for r in _cells(page, "table.assignment")}
            assert rows[first][1:] == [str(instances), expected]
            assert page.goto(f"{base}/runs/{run.id}/profile").status == 200
            assert {r[0]: r[2] for r in _cells(page, "table.pes")} == {
                pe: f"{n:,}" for pe, n in summary.units.items()}
            for tab in ("charts", "timeline", "communication"):
                assert page.goto(f"{base}/runs/{run.id}/{tab}").status == 200
                page.screenshot(path=str(artifacts / f"12-big-{mapping}-{tab}.png"),
                                full_page=True)
                assert _texts_outside(page) == []
            if instances > 1:  # one line per instance; the legend says how many it leaves out
                assert page.goto(f"{base}/runs/{run.id}/charts").status == 200
                legend = page.locator(f'svg[data-pe="{first}"] text.legend').all_text_contents()
                assert legend[0] == f"{first}[0]" and legend[-1].startswith("… and ")
                assert legend[-1] == f"… and {instances - len(legend) + 1} more"
        finally:
            server.shutdown()
            server.server_close()
