"""Charts as inline SVG, drawn on the server: no JavaScript, no network.

Every chart is an ``<svg class="chart" data-chart=KIND>`` whose marks carry
``class="mark"`` and a ``<title>`` with the exact value (a tooltip in the
browser). Every label is escaped.
"""

from __future__ import annotations

from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _nice(value: float) -> float:
    """A round axis maximum at or above ``value``."""
    if value <= 0:
        return 1.0
    exp = 10 ** len(str(int(value))) / 10 if value >= 1 else 1.0
    while exp > value:
        exp /= 10
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * exp >= value:
            return step * exp
    return 10 * exp


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.3g}"
    return f"{value:.3g}"


def _left(labels: list[str]) -> int:
    """A left margin wide enough for the longest label (clipped at 44 characters)."""
    return min(330, max(90, 7 * max((len(label) for label in labels), default=0) + 16))


def _clip(label: str, n: int = 44) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def _legend(names: list[str], x: float, y: float, bottom: float) -> list[str]:
    """One line per name from ``y`` down to ``bottom``; names that do not fit
    are counted on the last line (``… and 52 more``)."""
    rows = max(int((bottom - y) // 16), 1)
    shown = names if len(names) <= rows else names[:rows - 1]
    out = []
    for i, name in enumerate(shown):
        out.append(f'<rect x="{x:.1f}" y="{y + i * 16:.1f}" width="10" height="10" '
                   f'fill="{colour(i)}"/><text x="{x + 14:.1f}" y="{y + 9 + i * 16:.1f}" '
                   f'class="legend">{escape(_clip(name, 22))}</text>')
    if len(shown) < len(names):
        out.append(f'<text x="{x:.1f}" y="{y + 9 + len(shown) * 16:.1f}" class="legend">'
                   f'… and {len(names) - len(shown)} more</text>')
    return out


def bar_chart(kind: str, labels: list[str], series: list[tuple[str, list[float]]], *,
              unit: str = "s", title: str = "") -> str:
    """Horizontal stacked bars: one row per label, one segment per series."""
    left, right, row, top = _left(labels), 150, 24, 28
    plot = 460
    width = left + plot + right
    height = top + row * max(len(labels), 1) + 30
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    scale = _nice(max(totals, default=0.0))
    out = [f'<svg class="chart" data-chart="{escape(kind)}" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for k in range(5):
        x = left + plot * k / 4
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 26}" '
                   f'class="grid"/><text x="{x:.1f}" y="{height - 10}" text-anchor="middle" '
                   f'class="tick">{_fmt(scale * k / 4)} {escape(unit)}</text>')
    for i, label in enumerate(labels):
        y = top + i * row
        out.append(f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
                   f'class="label">{escape(_clip(label))}</text>')
        x = left
        for s, (name, values) in enumerate(series):
            w = plot * values[i] / scale if scale else 0
            if values[i] > 0:
                out.append(f'<rect class="mark" x="{x:.1f}" y="{y + 3}" width="{max(w, 0.5):.1f}" '
                           f'height="{row - 6}" fill="{colour(s)}"><title>{escape(label)} '
                           f'{escape(name)}: {values[i]:.6g} {escape(unit)}</title></rect>')
            x += w
    out += _legend([name for name, _ in series], width - right + 12, top, height - 26)
    out.append("</svg>")
    return "".join(out)


def line_chart(kind: str, series: list[tuple[str, list[tuple[float, float]]]], *,
               x_unit: str = "s", y_unit: str = "ms", title: str = "",
               pe: str | None = None) -> str:
    """One polyline (with point marks) per series; ``pe`` is written as the
    chart's ``data-pe`` attribute."""
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts]
    xmax = _nice(max(xs, default=0.0))
    ymax = _nice(max(ys, default=0.0))
    ticks = [f"{_fmt(ymax * k / 4)} {y_unit}" for k in range(5)]
    left, right, top, bottom = max(70, 7 * max(len(t) for t in ticks) + 10), 170, 16, 40
    width, height = 760, 220
    pw, ph = width - left - right, height - top - bottom
    extra = f' data-pe="{escape(pe)}"' if pe is not None else ""
    out = [f'<svg class="chart" data-chart="{escape(kind)}"{extra} role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for k in range(5):
        y = top + ph - ph * k / 4
        x = left + pw * k / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
                   f'{escape(ticks[k])}</text>'
                   f'<text x="{x:.1f}" y="{height - 20}" text-anchor="middle" class="tick">'
                   f'{_fmt(xmax * k / 4)} {escape(x_unit)}</text>')
    for s, (name, pts) in enumerate(series):
        coords = [(left + pw * x / xmax, top + ph - ph * y / ymax) for x, y in pts]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour(s)}" '
                       f'stroke-width="1.5"/>')
        for (x, y), (vx, vy) in zip(coords, pts, strict=True):
            out.append(f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="2.5" '
                       f'fill="{colour(s)}"><title>{escape(name)} at {vx:.3f} {escape(x_unit)}: '
                       f'{vy:.6g} {escape(y_unit)}</title></circle>')
    out += _legend([name for name, _ in series], width - right + 12, top, height - bottom + 8)
    out.append("</svg>")
    return "".join(out)


def timeline_chart(lanes: list[tuple[str, list[tuple[float, float, int, str, float]]]],
                   names: list[str], seconds: float, *, title: str = "") -> str:
    """One row per lane (a process, or an instance within one) with a bar per
    (start, end, colour index, tooltip, share busy: 0 pale .. 1 full colour);
    ``names`` label the colours."""
    left, right, row, top = _left([label for label, _ in lanes]), 170, 22, 16
    pw = 480
    width = left + pw + right
    height = top + row * max(len(lanes), 1) + 34
    span = _nice(seconds)
    out = [f'<svg class="chart" data-chart="timeline" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for k in range(5):
        x = left + pw * k / 4
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 28}" '
                   f'class="grid"/><text x="{x:.1f}" y="{height - 12}" text-anchor="middle" '
                   f'class="tick">{_fmt(span * k / 4)} s</text>')
    for i, (label, bars) in enumerate(lanes):
        y = top + i * row
        out.append(f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
                   f'class="label">{escape(_clip(label))}</text>')
        for t0, t1, c, tip, busy in bars:
            x0 = left + pw * max(t0, 0) / span
            w = max(pw * (t1 - max(t0, 0)) / span, 1.0)
            out.append(f'<rect class="mark" x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" '
                       f'height="{row - 6}" fill="{colour(c)}" '
                       f'fill-opacity="{0.25 + 0.75 * max(0.0, min(busy, 1.0)):.2f}" '
                       f'stroke="#fff" stroke-width="0.6"><title>{escape(tip)}</title></rect>')
    out += _legend(names, width - right + 12, top, height - 28)
    out.append("</svg>")
    return "".join(out)
