"""The workflow graph of a run as inline SVG, laid out in layers from the
sources (left) to the sinks (right); the bottleneck PE and edge are drawn in
red. Works from the stored run record alone (PEs and edges with their rules)."""

from __future__ import annotations

from html import escape
from typing import Any

from .profile import processes_text


def _layers(pes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    layer = {p: 0 for p in pes}
    for _ in range(len(pes)):
        changed = False
        for a, b in edges:
            if a in layer and b in layer and layer[b] < layer[a] + 1:
                layer[b] = layer[a] + 1
                changed = True
        if not changed:
            break
    return layer


def graph_svg(record: dict[str, Any], *, bottleneck: str | None = None,
              hot_edge: tuple[str, str] | None = None) -> str:
    graph = record.get("graph") or {}
    pes = graph.get("pes", [])
    edges = graph.get("edges", [])
    ids = [p["id"] for p in pes]
    layer = _layers(ids, [(e["src_pe"], e["dst_pe"]) for e in edges])
    columns: dict[int, list[str]] = {}
    for pe in ids:
        columns.setdefault(layer[pe], []).append(pe)
    box_w, box_h, gap_x, gap_y, pad = 180, 46, 90, 28, 20
    rows = max((len(c) for c in columns.values()), default=1)
    width = pad * 2 + len(columns) * box_w + max(len(columns) - 1, 0) * gap_x
    height = pad * 2 + rows * box_h + (rows - 1) * gap_y
    pos = {}
    for col, members in columns.items():
        offset = (height - (len(members) * box_h + (len(members) - 1) * gap_y)) / 2
        for k, pe in enumerate(members):
            pos[pe] = (pad + col * (box_w + gap_x), offset + k * (box_h + gap_y))
    info = {p["id"]: p for p in pes}
    assignment = {a["pe"]: a["processes"] for a in record.get("assignment") or []}
    out = [f'<svg class="graph" role="img" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" '
           'viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" '
           'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for e in edges:
        if e["src_pe"] not in pos or e["dst_pe"] not in pos:
            continue
        (x0, y0), (x1, y1) = pos[e["src_pe"]], pos[e["dst_pe"]]
        x0, y0, x1, y1 = x0 + box_w, y0 + box_h / 2, x1, y1 + box_h / 2
        hot = hot_edge == (e["src_pe"], e["dst_pe"])
        mid = (x0 + x1) / 2
        label = f"{e['src_port']} → {e['dst_port']} ({e['rule']})"
        out.append(f'<g class="edge{" hot" if hot else ""}"><path d="M{x0:.1f},{y0:.1f} '
                   f'C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" fill="none" '
                   f'stroke="{"#d62728" if hot else "#555"}" stroke-width="{3 if hot else 1.5}" '
                   f'marker-end="url(#arrow)"><title>{escape(e["src_pe"])} → '
                   f'{escape(e["dst_pe"])}: {escape(label)}</title></path>'
                   f'<text x="{mid:.1f}" y="{(y0 + y1) / 2 - 4:.1f}" text-anchor="middle" '
                   f'class="edge-label">{escape(e["rule"])}</text></g>')
    for pe, (x, y) in pos.items():
        hot = pe == bottleneck
        n = info[pe].get("instances", 1)
        where = f"{n} inst. · proc {processes_text(assignment.get(pe, []))}"
        out.append(f'<g class="node{" bottleneck" if hot else ""}" data-pe="{escape(pe)}">'
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{box_w}" height="{box_h}" rx="6" '
                   f'fill="{"#fde0dd" if hot else "#eef3fa"}" '
                   f'stroke="{"#d62728" if hot else "#4e79a7"}" stroke-width="{3 if hot else 1.5}"/>'
                   f'<text x="{x + box_w / 2:.1f}" y="{y + 19:.1f}" text-anchor="middle" '
                   f'class="node-name">{escape(_clip(pe))}</text>'
                   f'<text x="{x + box_w / 2:.1f}" y="{y + 36:.1f}" text-anchor="middle" '
                   f'class="node-info">{escape(_clip(where, 28))}</text>'
                   f'<title>{escape(pe)}: {escape(where)}</title></g>')
    out.append("</svg>")
    return "".join(out)


def _clip(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
