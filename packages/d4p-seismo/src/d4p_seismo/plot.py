"""Figures: the record section of the correlations and the misfit image of a station.

Figures are drawn with ``matplotlib.figure.Figure`` and the Agg canvas, never
``pyplot``, so they work in worker processes without a display and without
touching any global figure state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

MAX_WIGGLES = 80


def _save(fig: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(fig)
    path = Path(path)
    # zlib level 1: a third of the default's time for a slightly larger file
    fig.savefig(str(path), dpi=110, pil_kwargs={"compress_level": 1})
    return path


def record_section(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Correlations against inter-station distance, as a PNG at ``path``.

    ``rows`` are :class:`~d4p_seismo.pes.WriteResults` rows (``data``,
    ``sampling_rate``, ``distance_km``, ``peak_lag`` and optionally
    ``expected_lag``). With many pairs, correlations are stacked in distance
    bins (at most 80 wiggles); every pair's peak lag is drawn as a dot, and
    expected lags, when known, as crosses.
    """
    rows = [r for r in rows if np.isfinite(r.get("distance_km", np.nan))]
    fig = Figure(figsize=(8, 7))
    ax = fig.add_subplot()
    if not rows:
        ax.text(0.5, 0.5, "no pair with known coordinates", ha="center", transform=ax.transAxes)
        return _save(fig, path)
    distances = np.array([r["distance_km"] for r in rows])
    data = np.stack([r["data"] for r in rows])
    rate = rows[0]["sampling_rate"]
    m = (data.shape[1] - 1) // 2
    lags = np.arange(-m, m + 1) / rate
    top = float(distances.max()) or 1.0
    nbins = min(MAX_WIGGLES, len(rows))
    edges = np.linspace(0.0, top * (1 + 1e-9), nbins + 1)
    which = np.clip(np.digitize(distances, edges) - 1, 0, nbins - 1)
    spacing = top / nbins
    wiggles = []
    for b in range(nbins):
        members = which == b
        if not members.any():
            continue
        stack = data[members].mean(axis=0, dtype=np.float64)
        peak = np.abs(stack).max()
        if peak > 0:
            stack = stack / peak
        centre = distances[members].mean()
        wiggles.append(np.column_stack([lags, centre + 0.9 * spacing * stack]))
    # one collection, and arrays (not lists) for the dots: the figure is drawn
    # after the last pair, so its cost is not shared between processes
    ax.add_collection(LineCollection(wiggles, colors="black", linewidths=0.5))
    ax.scatter(np.array([r["peak_lag"] for r in rows], dtype=float), distances, s=4,
               color="tab:red", label="peak lag of each pair", zorder=3)
    expected = [(r["expected_lag"], r["distance_km"]) for r in rows if "expected_lag" in r]
    if expected:
        ex = np.array(expected, dtype=float)
        ax.scatter(ex[:, 0], ex[:, 1], s=14, marker="x", color="tab:blue", lw=0.6,
                   label="expected lag", zorder=2)
    ax.set_xlabel("lag (s)   [positive: b after a]")
    ax.set_ylabel("inter-station distance (km)")
    ax.set_xlim(lags[0], lags[-1])
    ax.set_title(f"Ambient-noise cross-correlations: {len(rows)} pairs")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def misfit_station(
    station: str,
    components: Sequence[dict[str, Any]],
    path: str | Path,
) -> Path:
    """One station's misfit image: per component, observed and synthetic
    waveforms, the selected windows shaded and each window's time shift and
    dlnA written on it.

    Each component dict has ``component``, ``times``, ``observed``,
    ``synthetic``, ``windows`` (dicts with ``start``, ``end``, ``time_shift``,
    ``dlnA``) and ``trace`` (the whole-trace measurement dict).
    """
    n = max(1, len(components))
    fig = Figure(figsize=(10, 2.6 * n))
    axes = [fig.add_subplot(n, 1, i + 1) for i in range(n)]
    for ax, comp in zip(axes, components, strict=False):
        t = np.asarray(comp["times"])
        ax.plot(t, comp["observed"], color="black", lw=0.8, label="observed")
        ax.plot(t, comp["synthetic"], color="tab:red", lw=0.8, label="synthetic")
        top = float(np.max(np.abs(comp["observed"]))) if len(t) else 1.0
        for w in comp["windows"]:
            ax.axvspan(w["start"], w["end"], color="tab:blue", alpha=0.15)
            ax.text(
                (w["start"] + w["end"]) / 2, 0.85 * top,
                f"dT={w['time_shift']:+.2f}s\ndlnA={w['dlnA']:+.3f}",
                ha="center", va="top", fontsize=7,
            )
        whole = comp["trace"]
        ax.set_title(
            f"{station} {comp['component']}: whole trace dT={whole['time_shift']:+.2f} s, "
            f"dlnA={whole['dlnA']:+.3f}, L2={whole['l2_relative']:.3f} (relative)",
            fontsize=9,
        )
        ax.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("time after trace start (s)")
    fig.tight_layout()
    return _save(fig, path)


def tf_misfit_plot(
    title: str, tf: Any, observed: np.ndarray, synthetic: np.ndarray, path: str | Path
) -> Path:
    """The time–frequency misfit of one trace as a PNG at ``path``, laid out as
    Kristekova et al. (2009) and ObsPy's ``plot_tf_misfits`` draw it: the
    observed (black) and synthetic (red) waveforms; the envelope misfit
    TFEM and the phase misfit TFPM over time and frequency, each with its
    sum over frequency (TEM, TPM) below and over time (FEM, FPM) beside.

    ``tf`` is a :class:`~d4p_seismo.misfit.TFMisfit`; ``observed`` and
    ``synthetic`` are the traces it was computed from (any sampling: drawn
    over ``tf.times``' span).
    """
    fig = Figure(figsize=(10, 9))
    grid = fig.add_gridspec(5, 2, width_ratios=(6, 1), height_ratios=(1.2, 2, 0.8, 2, 0.8),
                            hspace=0.35, wspace=0.05)
    t = tf.times
    span = (t[0], t[-1]) if t.size > 1 else (0.0, 1.0)
    wave = fig.add_subplot(grid[0, 0])
    samples = np.linspace(span[0], span[1], len(observed))
    wave.plot(samples, observed, color="black", lw=0.8, label="observed")
    wave.plot(samples, synthetic, color="tab:red", lw=0.8, label="synthetic")
    wave.set_xlim(*span)
    wave.legend(loc="upper right", fontsize=7)
    wave.set_title(f"{title}: time-frequency misfit, EM={tf.em:.3f}, PM={tf.pm:.3f}", fontsize=10)
    for row, (name, image, over_time, over_freq) in enumerate(
        (("envelope", tf.tfem, tf.tem, tf.fem), ("phase", tf.tfpm, tf.tpm, tf.fpm))
    ):
        ax = fig.add_subplot(grid[1 + 2 * row, 0], sharex=wave)
        top = float(np.abs(image).max()) or 1.0
        mesh = ax.pcolormesh(t, tf.freqs, image, cmap="RdBu_r", vmin=-top, vmax=top,
                             shading="nearest", rasterized=True)
        ax.set_yscale("log")
        ax.set_ylabel("frequency (Hz)")
        ax.text(0.01, 0.95, f"TF{name[0].upper()}M", transform=ax.transAxes, va="top",
                fontsize=8)
        line = fig.add_subplot(grid[2 + 2 * row, 0], sharex=wave)
        line.plot(t, over_time, color="black", lw=0.8)
        line.axhline(0.0, color="grey", lw=0.5)
        line.set_ylabel(f"T{name[0].upper()}M", fontsize=8)
        side = fig.add_subplot(grid[1 + 2 * row, 1], sharey=ax)
        side.plot(over_freq, tf.freqs, color="black", lw=0.8)
        side.axvline(0.0, color="grey", lw=0.5)
        side.set_xlabel(f"F{name[0].upper()}M", fontsize=8)
        side.tick_params(labelleft=False)
        fig.colorbar(mesh, ax=side, fraction=0.5, pad=0.1)
    line.set_xlabel("time after trace start (s)")
    return _save(fig, path)
