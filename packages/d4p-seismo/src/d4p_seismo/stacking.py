"""Stacking a pair's correlations over windows (hours, days): linear and phase-weighted.

A :class:`PairStack` keeps sums, not the correlations: the sum of the
correlations (for the linear stack) and the sum of their instantaneous-phase
phasors ``exp(iφ(t))`` (for the phase-weighted stack of Schimmel & Paulssen,
1997, as in MSNoise and NoisePy), plus the start times of the windows it
holds. Saved as ``<pair>.npz`` it makes stacking incremental: a later run
(the next day) loads it, adds only windows it does not hold yet, and saves it
again, so earlier days are never recomputed and a window is never counted
twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import hilbert

from d4p_seismo.errors import SeismoDataError

STACK_KINDS = ("linear", "pws")


def phasor(data: np.ndarray) -> np.ndarray:
    """``exp(iφ(t))`` of the analytic signal of ``data`` (0 where it vanishes)."""
    analytic = hilbert(np.asarray(data, dtype=np.float64))
    magnitude = np.abs(analytic)
    out = np.zeros_like(analytic)
    np.divide(analytic, magnitude, out=out, where=magnitude > 0)
    return out


@dataclass
class PairStack:
    """The running stack of one station pair; ``windows`` are POSIX start times."""

    pair: str
    sampling_rate: float
    npts: int
    linear_sum: np.ndarray = field(repr=False)
    phasor_sum: np.ndarray = field(repr=False)
    windows: list[float] = field(default_factory=list)
    window_length: float = 0.0
    meta: dict = field(default_factory=dict)

    @classmethod
    def empty(cls, pair: str, sampling_rate: float, npts: int, meta: dict | None = None) -> PairStack:
        return cls(pair, float(sampling_rate), int(npts), np.zeros(npts),
                   np.zeros(npts, dtype=np.complex128), meta=dict(meta or {}))

    @property
    def count(self) -> int:
        return len(self.windows)

    def add(self, data: np.ndarray, starttime: float, endtime: float, sampling_rate: float) -> bool:
        """Add one window's correlation; ``False`` (nothing added) if it is held already."""
        if sampling_rate != self.sampling_rate or data.size != self.npts:
            raise SeismoDataError(
                f"{self.pair}: the stack holds {self.npts} lags at {self.sampling_rate:g} Hz, "
                f"this correlation {data.size} at {sampling_rate:g} Hz; stack runs with the "
                "same target_rate and max_lag (or write to another -p output)"
            )
        if self.count and abs((endtime - starttime) - self.window_length) > 1e-6:
            raise SeismoDataError(
                f"{self.pair}: the stack holds windows of {self.window_length:g} s, this "
                f"correlation's window is {endtime - starttime:g} s (its data would count "
                "twice, and its windows weigh alike whatever their length); stack runs with "
                "the same -p window (or write to another -p output)"
            )
        if any(abs(starttime - t) < 1e-6 for t in self.windows):
            return False
        self.linear_sum += data
        self.phasor_sum += phasor(data)
        self.windows.append(float(starttime))
        self.window_length = float(endtime - starttime)
        return True

    def linear(self) -> np.ndarray:
        """The mean of the correlations."""
        return self.linear_sum / max(self.count, 1)

    def pws(self, power: float = 2.0) -> np.ndarray:
        """Phase-weighted stack: the linear stack times the phase coherence
        ``|Σ exp(iφ)| / N`` to the ``power``."""
        coherence = np.abs(self.phasor_sum) / max(self.count, 1)
        return self.linear() * coherence**power

    def stack(self, kind: str) -> np.ndarray:
        if kind not in STACK_KINDS:
            raise ValueError(f"stack must be one of {', '.join(STACK_KINDS)}, not {kind!r}")
        return self.linear() if kind == "linear" else self.pws()

    @property
    def starttime(self) -> float:
        return min(self.windows)

    @property
    def endtime(self) -> float:
        return max(self.windows) + self.window_length

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_name(path.name + ".part.npz")
        np.savez(
            tmp, linear_sum=self.linear_sum, phasor_sum=self.phasor_sum,
            windows=np.asarray(self.windows),
            header=json.dumps({
                "pair": self.pair, "sampling_rate": self.sampling_rate, "npts": self.npts,
                "window_length": self.window_length, "meta": self.meta,
            }),
        )
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PairStack:
        try:
            with np.load(path) as saved:
                header = json.loads(str(saved["header"]))
                return cls(
                    header["pair"], header["sampling_rate"], header["npts"],
                    saved["linear_sum"].copy(), saved["phasor_sum"].copy(),
                    [float(t) for t in saved["windows"]], header["window_length"],
                    header["meta"],
                )
        except (OSError, KeyError, ValueError) as exc:
            raise SeismoDataError(
                f"{path}: cannot read this stack ({exc}); remove it to start the stack anew"
            ) from exc
