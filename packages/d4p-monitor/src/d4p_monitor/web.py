"""The monitoring web service: ``d4p monitor serve``.

Pages (HTML with inline SVG charts; no script runs, the Content-Security-Policy
forbids it) and the JSON API that carries the same numbers:

==============================  ==========================================
page                            API
==============================  ==========================================
``/``                           ``/api/runs?limit=&workflow=&status=``
``/runs/ID``                    ``/api/runs/ID`` (record, assignment, graph);
                                ``/api/runs/ID/live`` (so far, while running)
``/runs/ID/profile``            ``/api/runs/ID/profile``
``/runs/ID/charts``             ``/api/runs/ID/iterations`` (+ profile)
``/runs/ID/timeline``           ``/api/runs/ID/timeline``
``/runs/ID/communication``      ``/api/runs/ID/communication``
``/runs/ID/advice``             ``/api/runs/ID/advice?processes=N``
==============================  ==========================================

The page of a running run shows it live (elapsed time, units per PE so far,
their rate over the last seconds) and reloads itself every
:data:`REFRESH_S` seconds with a ``<meta http-equiv="refresh">`` (no script),
until the run has ended.

Binds 127.0.0.1 unless told otherwise and answers only requests whose
``Host`` names that address (or ``localhost``, or a name allowed with
``--allow-host``), so a page of another site cannot read it through DNS
rebinding. Request values reach the store only as strings compared for
equality; an unknown run id is a 404. HEAD is answered like GET.
"""

from __future__ import annotations

import json
import math
import threading
import time
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from .advise import advise
from .charts import bar_chart, line_chart, timeline_chart
from .graph_svg import graph_svg
from .profile import (
    RunNotFound,
    communication,
    iterations,
    list_runs,
    live,
    load,
    not_found,
    processes_text,
    profile,
    timeline,
)
from .store import Store, StoreError

PAGES = ("run", "profile", "charts", "timeline", "communication", "advice")

REFRESH_S = 2
"""How often the page of a running run reloads itself, in seconds."""

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#2b3a4a;color:#fff;padding:10px 24px}header a{color:#fff}
main{padding:12px 24px;max-width:1100px}
nav.tabs a{margin-right:14px}nav.tabs a.here{font-weight:bold;text-decoration:none;color:#222}
table{border-collapse:collapse;margin:8px 0 18px;background:#fff}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}td.num{text-align:right;
font-variant-numeric:tabular-nums}tr.hot td{background:#fde0dd;font-weight:bold}
.status-ok{color:#2a7d2a}.status-failed,.status-aborted{color:#c62828}.status-running{color:#b26a00}
svg .grid{stroke:#e5e5e5}svg .tick,svg .legend,svg .edge-label{font-size:11px;fill:#555}
svg .label,svg .node-info{font-size:12px;fill:#333}svg .node-name{font-size:13px;font-weight:600}
.card{background:#fff;border:1px solid #ddd;padding:10px 14px;margin:10px 0;overflow-x:auto}
pre{background:#fff;border:1px solid #ddd;padding:8px;overflow-x:auto}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dt{font-weight:600}
"""


def _fmt_time(epoch: float | None) -> str:
    if not epoch:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} B" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _table(headers: list[str], rows: list[list[Any]], *, numeric: set[int] = frozenset(),
           hot: set[int] = frozenset(), cls: str = "") -> str:
    """A table whose cells are escaped text."""
    out = [f'<table class="{escape(cls)}"><thead><tr>'
           + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        out.append(f'<tr{" class=hot" if i in hot else ""}>' + "".join(
            f'<td{" class=num" if k in numeric else ""}>{escape(str(cell))}</td>'
            for k, cell in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


class App:
    """Answers requests from a store: ``(status, content type, body)``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(self, raw_path: str) -> tuple[int, str, bytes]:
        parts = urlsplit(raw_path)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            allowed = _PARAMS.get(segments[-1] if segments else "", set())
            unknown = sorted(set(query) - allowed)
            if unknown:
                raise _BadRequest(f"unknown parameter {unknown[0]!r}; this address takes "
                                  f"{', '.join(sorted(allowed)) or 'no parameters'}")
            if segments[:1] == ["api"]:
                return self._json(HTTPStatus.OK, self.api(segments[1:], query))
            return self._html(HTTPStatus.OK, self.page(segments, query))
        except RunNotFound as exc:
            return self._error(segments, HTTPStatus.NOT_FOUND, not_found(exc, self.store.uri))
        except _NotFound:
            return self._error(segments, HTTPStatus.NOT_FOUND, f"no such page: {parts.path}")
        except _BadRequest as exc:
            return self._error(segments, HTTPStatus.BAD_REQUEST, str(exc))
        except StoreError as exc:
            return self._error(segments, HTTPStatus.SERVICE_UNAVAILABLE, str(exc))

    # -- JSON -------------------------------------------------------------------------
    def api(self, seg: list[str], query: dict[str, str]) -> Any:
        if seg == ["runs"]:
            return list_runs(self.store, limit=_int(query, "limit", 100, 1, 10_000),
                             workflow=query.get("workflow"), status=query.get("status"))
        if len(seg) < 2 or seg[0] != "runs":
            raise _NotFound
        record, events = load(self.store, seg[1])
        what = seg[2] if len(seg) > 2 else None
        if len(seg) > 3:
            raise _NotFound
        if what is None:
            return record
        if what == "profile":
            return profile(record, events["instance"], events["edge"])
        if what == "iterations":
            return iterations(record, events["instance"])
        if what == "timeline":
            return timeline(record, events["instance"])
        if what == "communication":
            return communication(record, events["edge"])
        if what == "live":
            return live(record, events["instance"])
        if what == "errors":
            return events["error"]
        if what == "advice":
            return advise(record, events, _int(query, "processes", None, 1, 4096))
        raise _NotFound

    # -- pages ------------------------------------------------------------------------
    def page(self, seg: list[str], query: dict[str, str]) -> str:
        if not seg:
            return self.runs_page(query)
        if seg[0] != "runs" or len(seg) not in (2, 3):
            raise _NotFound
        which = seg[2] if len(seg) == 3 else "run"
        if which not in PAGES:
            raise _NotFound
        record, events = load(self.store, seg[1])
        body = getattr(self, f"{which}_page")(record, events, query)
        tabs = "".join(
            f'<a href="/runs/{_url(record["id"])}{"" if p == "run" else "/" + p}"'
            f'{" class=here" if p == which else ""}>{p.capitalize()}</a>' for p in PAGES)
        head = (f'<p><a href="/">All runs</a> › run <code>{escape(record["id"])}</code> '
                f'({escape(record["workflow"])})</p><nav class="tabs">{tabs}</nav>')
        running = which == "run" and record["status"] == "running"
        return _layout(f"{which.capitalize()} · {record['workflow']} · {record['id']}",
                       head + body, refresh=REFRESH_S if running else None)

    def runs_page(self, query: dict[str, str]) -> str:
        limit = _int(query, "limit", 100, 1, 10_000)
        runs = list_runs(self.store, limit=limit + 1, workflow=query.get("workflow"),
                         status=query.get("status"))
        more, runs = len(runs) > limit, runs[:limit]
        rows = []
        for r in runs:
            rows.append(f'<tr data-run="{escape(r["id"])}"><td><a href="/runs/{_url(r["id"])}">'
                        f'{escape(r["id"])}</a></td><td>{escape(r["workflow"])}</td>'
                        f'<td>{escape(r["mapping"])}</td><td class=num>{r["processes"]}</td>'
                        f'<td>{_fmt_time(r["started"])}</td><td>{_fmt_time(r["finished"])}</td>'
                        f'<td class=num>{_num(r["seconds"])}</td>'
                        f'<td class="status-{escape(r["status"] or "")}">'
                        f'{escape(r["status"] or "")}</td></tr>')
        table = ('<table id="runs"><thead><tr><th>id</th><th>workflow</th><th>mapping</th>'
                 '<th>processes</th><th>start</th><th>end</th><th>duration (s)</th>'
                 '<th>status</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")
        empty = "" if runs else ("<p>No runs yet: run a workflow with <code>d4p run WORKFLOW "
                                 "--monitor</code>.</p>")
        if more:
            older = {**query, "limit": str(min(2 * limit, 10_000))}
            empty = f"<p>The latest {limit:,} runs." + (
                f' <a id=older href="/?{escape(urlencode(older))}">Show older runs</a>'
                if limit < 10_000 else "") + "</p>"
        return _layout("d4p runs", f"<h1>Runs</h1><p>Store: <code>{escape(self.store.uri)}"
                       f"</code></p>{table}{empty}")

    def run_page(self, record, events, query) -> str:
        prof = profile(record, events["instance"], events["edge"])
        comm = communication(record, events["edge"])
        hot = comm["bottleneck"]
        facts = [("workflow", record["workflow"]), ("mapping", record["mapping"]),
                 ("processes", record["processes"]), ("status", record["status"]),
                 ("start", _fmt_time(record["started"])), ("end", _fmt_time(record["finished"])),
                 ("total runtime", f"{_num(record['seconds'])} s"),
                 ("bottleneck PE", prof["bottleneck"] or "—")]
        if record.get("error"):
            facts.append(("error", record["error"]))
        if record.get("lost"):
            facts.append(("monitoring data lost", record["lost"]))
        dl = "<dl id=facts>" + "".join(f"<dt>{escape(k)}</dt><dd data-fact=\"{escape(k)}\">"
                                       f"{escape(str(v))}</dd>" for k, v in facts) + "</dl>"
        assignment = _table(["PE", "instances", "processes"],
                            [[a["pe"], len(a["processes"]), processes_text(a["processes"])]
                             for a in record.get("assignment") or []],
                            numeric={1}, cls="assignment")
        drawing = graph_svg(record, bottleneck=prof["bottleneck"],
                            hot_edge=(hot["src_pe"], hot["dst_pe"]) if hot else None)
        errors = ""
        if events["error"]:
            rows = []
            for e in events["error"]:
                first, _, rest = e["message"].partition("\n")
                more = (f"<details><summary>details</summary><pre>{escape(rest.strip())}</pre>"
                        "</details>" if rest.strip() else "")
                rows.append(f"<tr><td>{escape(e['pe'])}</td><td class=num>{e['instance']}</td>"
                            f"<td>{_fmt_time(e['t'])}</td><td><span class=message>"
                            f"{escape(first)}</span>{more}</td></tr>")
            errors = ('<h2>Errors</h2><table class="errors"><thead><tr><th>PE</th>'
                      "<th>instance</th><th>time</th><th>message</th></tr></thead><tbody>"
                      + "".join(rows) + "</tbody></table>")
        so_far = ""
        if record["status"] == "running":
            now = live(record, events["instance"])
            so_far = (f'<h2>Live</h2><p id=live>Running for <strong id=elapsed>'
                      f'{now["elapsed_s"]:.0f} s</strong>; rates over the last '
                      f'{now["window_s"]:.0f} s; this page reloads every {REFRESH_S} s.</p>'
                      + ("" if any(p["units"] for p in now["pes"]) else
                         "<p id=no-reports>No PE instance has reported yet: instances report "
                         "every 1,000 units and when they end (on some mappings only "
                         "then).</p>")
                      + _table(["PE", "units so far", "units/s"],
                               [[p["pe"], f"{p['units']:,}", _num(p["rate"], 1)]
                                for p in now["pes"]], numeric={1, 2}, cls="live"))
        return (f"<h1>Run {escape(record['id'])}</h1>{dl}{so_far}<h2>Workflow graph</h2>"
                f'<div class="card">{drawing}</div><h2>PE → process assignment</h2>'
                f"{assignment}{errors}")

    def profile_page(self, record, events, query) -> str:
        prof = profile(record, events["instance"], events["edge"])
        hot = {i for i, p in enumerate(prof["pes"]) if p["pe"] == prof["bottleneck"]}
        pes = _table(
            ["PE", "instances", "calls", "own code (s)", "send (s)", "own total (s)",
             "read, waiting (s)", "write incl. downstream (s)", "own code per call (ms)",
             "own total per call (ms)"],
            [[p["pe"], p["instances"], f"{p['calls']:,}", _num(p["process_s"]),
              _num(p["send_s"]), _num(p["own_s"]), _num(p["read_s"]), _num(p["write_s"]),
              _num(p["mean_process_ms"], 4), _num(p["mean_own_ms"], 4)] for p in prof["pes"]],
            numeric=set(range(1, 10)), hot=hot, cls="pes")
        inst = _table(
            ["PE", "instance", "process", "calls", "own code (s)", "send (s)",
             "read, waiting (s)", "write incl. downstream (s)", "own code per call (ms)"],
            [[r["pe"], r["instance"], r["process"], f"{r['calls']:,}", _num(r["process_s"]),
              _num(r["send_s"]), _num(r["read_s"]), _num(r["write_s"]),
              _num(r["mean_process_ms"], 4)] for r in prof["instances"]],
            numeric=set(range(1, 9)), cls="instances")
        chart = _method_chart("pe-methods", [p["pe"] for p in prof["pes"]], prof["pes"],
                              "time per method per PE")
        return (f"<h1>Profile</h1><p>Bottleneck: <strong id=bottleneck>"
                f"{escape(prof['bottleneck'] or '—')}</strong> (the PE whose busiest instance "
                "spent the most time in its own code and sending)</p>"
                f"{chart}{_METHODS_NOTE}<h2>Per PE</h2>{pes}<h2>Per instance</h2>{inst}")

    def charts_page(self, record, events, query) -> str:
        prof = profile(record, events["instance"], events["edge"])
        its = iterations(record, events["instance"])
        charts = []
        for s in its["series"]:
            keys = sorted({p["instance"] for p in s["points"]})
            lines = [(f"{s['pe']}[{k}]", [(p["t"], p["ms"]) for p in s["points"]
                                          if p["instance"] == k]) for k in keys]
            charts.append(f"<h3>{escape(s['pe'])}</h3>" + line_chart(
                "iterations", lines, title=f"time per iteration of {s['pe']}", pe=s["pe"]))
        by_pe = _method_chart("pe-methods", [p["pe"] for p in prof["pes"]], prof["pes"],
                              "time per method per PE")
        by_proc = _method_chart("process-methods",
                                [f"process {p['process']}" for p in prof["processes"]],
                                prof["processes"], "time per method per process")
        return ("<h1>Charts</h1><h2>Time per iteration (ms of own code per call, over the "
                "run)</h2>" + ("".join(charts) or "<p>No timing recorded.</p>")
                + f"<h2>Time per method per PE</h2>{by_pe}"
                f"<h2>Time per method per process</h2>{by_proc}{_METHODS_NOTE}")

    def timeline_page(self, record, events, query) -> str:
        tl = timeline(record, events["instance"])
        names = list(dict.fromkeys(b["pe"] for p in tl["processes"] for b in p["bars"]))
        lanes = []
        for p in tl["processes"]:
            keys = list(dict.fromkeys((b["pe"], b["instance"]) for b in p["bars"]))
            for pe, k in keys:
                bars = [(b["t0"], b["t1"], names.index(pe),
                         f"{pe}[{k}] on process {p['process']}: {b['t0']:.3f}–{b['t1']:.3f} s, "
                         f"{b['calls']:,} calls, {b['busy_s']:.4f} s in its own code, "
                         f"{b['read_s']:.4f} s reading", _busy(b))
                        for b in p["bars"] if (b["pe"], b["instance"]) == (pe, k)]
                lanes.append((f"process {p['process']} · {pe}[{k}]", bars))
        chart = timeline_chart(lanes, names, tl["seconds"], title="timeline of processes")
        rows = [[p["process"], len(p["bars"]), _num(min((b["t0"] for b in p["bars"]),
                                                         default=0.0)),
                 _num(max((b["t1"] for b in p["bars"]), default=0.0)),
                 _num(sum(b["busy_s"] for b in p["bars"]))] for p in tl["processes"]]
        table = _table(["process", "intervals", "first (s)", "last (s)", "own code (s)"], rows,
                       numeric={0, 1, 2, 3, 4}, cls="processes")
        return (f"<h1>Timeline</h1><p>Run time {_num(tl['seconds'])} s. Bars are the "
                "intervals each PE instance reported; the darker a bar, the more of it the "
                f"instance spent in its own code.</p>{chart}{table}")

    def communication_page(self, record, events, query) -> str:
        comm = communication(record, events["edge"])
        hot_edge = comm["bottleneck"]
        hot = {i for i, e in enumerate(comm["edges"])
               if hot_edge and (e["src_pe"], e["dst_pe"]) == (hot_edge["src_pe"],
                                                             hot_edge["dst_pe"])}
        table = _table(["from PE", "to PE", "data units", "bytes", "send time (s)",
                        "bytes per unit"],
                       [[e["src_pe"], e["dst_pe"], f"{e['units']:,}",
                         "in process" if e["within"] else _bytes(e["bytes"]),
                         _num(e["send_s"], 4), _num(e["bytes_per_unit"], 1)]
                        for e in comm["edges"]], numeric={2, 3, 4, 5}, hot=hot, cls="edges")
        labels = [f"{e['src_pe']} → {e['dst_pe']}" for e in comm["edges"]]
        time_chart = bar_chart("send-time", labels,
                               [("send time", [e["send_s"] for e in comm["edges"]])],
                               unit="s", title="send time per pair of PEs")
        units_chart = bar_chart("units", labels, [("data units",
                                                   [float(e["units"]) for e in comm["edges"]])],
                                unit="", title="data units per pair of PEs")
        bytes_chart = bar_chart("bytes", labels, [("bytes", [float(e["bytes"])
                                                             for e in comm["edges"]])],
                                unit="B", title="bytes per pair of PEs")
        where = (f"{hot_edge['src_pe']} → {hot_edge['dst_pe']}" if hot_edge else "—")
        drawing = graph_svg(record, hot_edge=(hot_edge["src_pe"], hot_edge["dst_pe"])
                            if hot_edge else None)
        return (f"<h1>Communication</h1><p>Bottleneck: <strong id=bottleneck>{escape(where)}"
                f"</strong> (most send time). Bytes are those pickled to other processes; "
                f"<em>in process</em>: the pair's units never left their process.</p>{table}<div class=card>{drawing}</div>"
                f"<h2>Send time</h2>{time_chart}<h2>Data units</h2>{units_chart}"
                f"<h2>Bytes</h2>{bytes_chart}")

    def advice_page(self, record, events, query) -> str:
        adv = advise(record, events, _int(query, "processes", None, 1, 4096))
        table = _table(["PE", "work (s)", "ms per call", "instances now", "suggested", "why"],
                       [[r["pe"], _num(r["work_s"]), _num(r["ms_per_call"], 4), r["instances"],
                         r["suggested"], r["reason"]] for r in adv["pes"]],
                       numeric={1, 2, 3, 4}, cls="advice")
        parts = "; ".join(" + ".join(p) for p in adv["partitions"]) or "none"
        code = "\n".join(adv["code"]) or "(no change)"
        speed = (f"<p>Slowest stage: {_num(adv['stage_s_now'])} s now, "
                 f"{_num(adv['stage_s_after'])} s with the advice.</p>" if adv["speedup"] else "")
        caveat = f"<p class=note id=caveat>Note: {escape(adv['caveat'])}.</p>" \
            if adv["caveat"] else ""
        return (f"<h1>Advice for {adv['processes']} processes</h1>{caveat}{table}{speed}"
                f"<p>Partitions: {escape(parts)}</p><h2>Command line</h2>"
                f"<pre id=command>{escape(adv['command'])}</pre><h2>In the workflow</h2>"
                f"<pre id=code>{escape(code)}</pre>")

    # -- responses ---------------------------------------------------------------------
    @staticmethod
    def _json(status: int, data: Any) -> tuple[int, str, bytes]:
        return status, "application/json", json.dumps(data, default=_jsonable).encode()

    @staticmethod
    def _html(status: int, text: str) -> tuple[int, str, bytes]:
        return status, "text/html; charset=utf-8", text.encode()

    def refuse_host(self, raw_path: str, host: str, allowed: list[str]) -> tuple[int, str, bytes]:
        segments = [s for s in urlsplit(raw_path).path.split("/") if s]
        return self._error(segments, HTTPStatus.FORBIDDEN,
                           f"this server does not answer to the name {host!r}; it answers to "
                           f"{', '.join(allowed)} (d4p monitor serve --allow-host NAME adds "
                           "a name)")

    def _error(self, seg: list[str], status: HTTPStatus, message: str) -> tuple[int, str, bytes]:
        if seg[:1] == ["api"]:
            return self._json(status, {"error": message, "status": int(status)})
        return self._html(status, _layout(f"{int(status)} {status.phrase}",
                                          f'<h1>{int(status)} {status.phrase}</h1>'
                                          f'<p class=error>{escape(message)}</p>'
                                          '<p><a href="/">All runs</a></p>'))


def _method_chart(kind: str, labels: list[str], rows: list[dict], title: str) -> str:
    return bar_chart(kind, labels, [(name, [r[m] for r in rows]) for m, name in (
        ("process_s", "own code"), ("send_s", "send"), ("read_s", "read, waiting"))],
        title=title)


_METHODS_NOTE = ("<p class=note>Own code: time in the PE's process methods, without the PEs it "
                 "calls in the same process. Send: handing its data to other processes. "
                 "Read, waiting: waiting for and decoding input from other processes (mostly "
                 "idle time while upstream works). Write incl. downstream: everything its "
                 "writes cost, including the PEs they call in the same process, so it is not "
                 "added up with them.</p>")


def _busy(bar: dict[str, Any]) -> float:
    """The share of a timeline bar spent in the PE's own code."""
    span = bar["t1"] - bar["t0"]
    return min(1.0, bar["busy_s"] / span) if span > 0 else 1.0


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def _url(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="")


def _int(query: dict[str, str], name: str, default: int | None, low: int, high: int):
    if name not in query:
        return default
    try:
        value = int(query[name])
    except ValueError:
        raise _BadRequest(f"parameter {name!r} must be a whole number, not "
                          f"{query[name]!r}") from None
    if not low <= value <= high:
        raise _BadRequest(f"parameter {name!r} must be between {low} and {high}")
    return value


def _layout(title: str, body: str, refresh: int | None = None) -> str:
    reload = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">{reload}'
            f'<title>{escape(title)}'
            f'</title><style>{_CSS}</style></head><body><header><a href="/">d4p monitor</a>'
            f"</header><main>{body}</main></body></html>")


_PARAMS = {"": {"limit", "workflow", "status"}, "runs": {"limit", "workflow", "status"},
           "advice": {"processes"}}
"""The query parameters each address takes, by its last path segment."""


class _NotFound(Exception):
    pass


class _BadRequest(Exception):
    pass


_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def allowed_hosts(bind: str, extra: tuple[str, ...] | list[str] = ()) -> frozenset[str]:
    """The names a request's ``Host`` may give for a server bound to ``bind``:
    that address, ``localhost`` and the loopback addresses when it is a
    loopback one, and ``extra``. A page of another site whose name was made to
    resolve to 127.0.0.1 (DNS rebinding) sends its own name and is refused."""
    names = {bind.lower(), *(h.lower() for h in extra)}
    if bind in ("127.0.0.1", "::1", "localhost") or bind.startswith("127."):
        names |= {"127.0.0.1", "::1", "localhost"}
    return frozenset(names)


def _host_name(header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:80`` → ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def _any_address(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def make_server(store: Store, host: str = "127.0.0.1", port: int = 8765,
                allow_hosts: tuple[str, ...] | list[str] = ()) -> ThreadingHTTPServer:
    """An HTTP server answering from ``store`` (port 0: any free port).
    Requests whose ``Host`` is not in :func:`allowed_hosts` get a 403 naming
    ``--allow-host``; a server bound to every address (``0.0.0.0``, ``::``)
    also answers to any IP address."""
    app = App(store)
    allowed = allowed_hosts(host, allow_hosts)
    any_ip = host in ("0.0.0.0", "::", "")

    class Handler(BaseHTTPRequestHandler):
        server_version = "d4p-monitor"

        def _answer(self, send_body: bool) -> None:
            header = self.headers.get("Host")
            name = _host_name(header) if header else None
            if name is None or name in allowed or (any_ip and _any_address(name)):
                status, ctype, body = app.handle(self.path)
            else:
                status, ctype, body = app.refuse_host(self.path, header, sorted(allowed))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in _HEADERS.items():
                self.send_header(k, v)
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(False)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(store: Store, host: str = "127.0.0.1", port: int = 0,
                    allow_hosts: tuple[str, ...] | list[str] = ()):
    """Start a server in a daemon thread; returns it (``server.server_address``,
    ``server.shutdown()``)."""
    server = make_server(store, host, port, allow_hosts)
    threading.Thread(target=server.serve_forever, daemon=True,
                     name="d4p-monitor-web").start()
    return server
