"""Misfit between observed and synthetic seismograms: windows (pyflex) and measurements.

Conventions (as in FLEXWIN / pyflex / pyadjoint):

* ``time_shift`` is the lag of the maximum of ``c(τ) = Σ s(t) d(t + τ)``
  between synthetic ``s`` and observed ``d``: positive when the observed
  arrives *later* than the synthetic. It is refined below one sample by a
  parabola through the three largest correlation values.
* ``dlnA = 0.5 * ln(Σ d² / Σ s²)``: positive when the observed is larger.
* ``l2 = 0.5 * Σ (d - s)² * dt`` and ``l2_relative = Σ (d - s)² / Σ d²``.

pyflex 0.2.0 does not run on NumPy 2 as released: :mod:`d4p_seismo.pyflex_compat`
explains the two problems and the shim :func:`select_windows` applies.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from obspy import Inventory, Trace
from scipy import signal

from d4p_seismo import processing
from d4p_seismo.errors import MissingDataError, SamplingRateError
from d4p_seismo.pyflex_compat import pyflex_on_numpy2, with_ptp

log = logging.getLogger("d4p_seismo.pyflex")
"""pyflex's messages (its log and its warnings) go here at DEBUG level."""


@dataclass(frozen=True)
class Window:
    """A time window as sample indices ``[left, right]`` (inclusive) of the aligned pair."""

    left: int
    right: int
    sampling_rate: float
    max_cc_value: float = math.nan
    cc_shift: float = math.nan
    dlnA: float = math.nan

    @property
    def start(self) -> float:
        return self.left / self.sampling_rate

    @property
    def end(self) -> float:
        return self.right / self.sampling_rate


@dataclass(frozen=True)
class Measurement:
    """Misfit of one window (or of the whole trace, ``window=None``)."""

    time_shift: float
    dlnA: float
    cc_max: float
    l2: float
    l2_relative: float
    start: float
    end: float

    def as_dict(self) -> dict:
        return asdict(self)


def align(observed: Trace, synthetic: Trace, resample: bool = False) -> tuple[Trace, Trace]:
    """Copies of both traces cut to their common time span, on the same samples.

    Different sampling rates are an error naming both traces unless
    ``resample`` is true, in which case the synthetic is interpolated onto the
    observed samples (low-passed below their Nyquist frequency first when
    they are fewer). An empty overlap is a :class:`MissingDataError`.
    """
    obs, syn = observed.copy(), synthetic.copy()
    if obs.stats.npts == 0 or syn.stats.npts == 0:
        empty = obs if obs.stats.npts == 0 else syn
        raise MissingDataError(f"{empty.id}: trace has no samples")
    rates_differ = (
        abs(obs.stats.sampling_rate - syn.stats.sampling_rate) > 1e-9 * obs.stats.sampling_rate
    )
    if rates_differ and not resample:
        raise SamplingRateError(
            f"observed {obs.id} is sampled at {obs.stats.sampling_rate:.10g} Hz but synthetic "
            f"{syn.id} at {syn.stats.sampling_rate:.10g} Hz; resample one of them "
            "(or pass resample=True, -p resample=true, to interpolate the synthetic)"
        )
    start = max(obs.stats.starttime, syn.stats.starttime)
    end = min(obs.stats.endtime, syn.stats.endtime)
    if end - start < 2 * obs.stats.delta:
        raise MissingDataError(
            f"observed {obs.id} ({obs.stats.starttime} - {obs.stats.endtime}) and synthetic "
            f"{syn.id} ({syn.stats.starttime} - {syn.stats.endtime}) do not overlap"
        )
    obs.trim(start, end, nearest_sample=True)
    _require_numbers(obs, "observed")
    _require_numbers(syn.slice(start, end), "synthetic")
    offset = (syn.stats.starttime - obs.stats.starttime) * obs.stats.sampling_rate
    on_grid = abs(offset - round(offset)) < 0.01
    if rates_differ or not on_grid:
        if not resample:
            raise SamplingRateError(
                f"synthetic {syn.id} samples fall between those of observed {obs.id} "
                f"({offset - round(offset):+.2f} samples); pass resample=True (-p resample=true) "
                "to interpolate"
            )
        syn.data = np.asarray(syn.data, dtype=np.float64)
        if syn.stats.sampling_rate > obs.stats.sampling_rate * (1.0 + 1e-9):
            syn.data = _anti_alias(syn.data, syn.stats.sampling_rate, obs.stats.sampling_rate)
        syn.interpolate(
            sampling_rate=obs.stats.sampling_rate, starttime=obs.stats.starttime,
            npts=obs.stats.npts, method="lanczos", a=20,
        )
    else:
        syn.trim(obs.stats.starttime, obs.stats.endtime, nearest_sample=True)
    n = min(obs.stats.npts, syn.stats.npts)
    obs.data = np.asarray(obs.data[:n], dtype=np.float64)
    syn.data = np.asarray(syn.data[:n], dtype=np.float64)
    return obs, syn


def _anti_alias(data: np.ndarray, rate: float, new_rate: float) -> np.ndarray:
    """``data`` low-passed (zero phase) below the Nyquist frequency of
    ``new_rate``, as a digitiser does before it samples: interpolated onto
    fewer samples without it, what lies above folds into the period band (on
    ObsPy's example against itself at 5 Hz: dlnA -0.1 to -0.2, time shifts of
    0.07 s, where both are 0)."""
    sos = signal.butter(8, 0.45 * new_rate, btype="lowpass", fs=rate, output="sos")
    return signal.sosfiltfilt(sos, data)


def _require_numbers(trace: Trace, kind: str) -> None:
    """A clear error if samples of ``trace`` are masked (a gap that a merge
    left open) or NaN/infinite: they would make every measurement NaN or,
    unmasked, count fill values as data."""
    data = np.ma.masked_invalid(np.ma.asarray(trace.data, dtype=np.float64))
    missing = np.ma.getmaskarray(data)
    if missing.any():
        first = trace.stats.starttime + int(np.argmax(missing)) * trace.stats.delta
        raise MissingDataError(
            f"{kind} {trace.id}: {int(missing.sum())} of its {missing.size} samples in the "
            f"common span are missing (masked) or not numbers (NaN), the first at {first}; "
            "a misfit needs one continuous record: fill them or cut the record to a span "
            "without them"
        )


def preprocess(
    trace: Trace, min_period: float, max_period: float, taper: float = 0.05,
    corners: int = 2,
) -> Trace:
    """Phase 1 of the misfit (done to observed and synthetic alike, in place):
    remove the linear trend and the mean, taper ``taper`` of the length at
    each end (Hann), band-pass to ``[1/max_period, 1/min_period]`` Hz
    (Butterworth, ``corners`` poles, zero phase).

    Without it, energy outside the period band (microseisms, high-frequency
    noise in the observed) enters the amplitude measurement: on ObsPy's
    example data dlnA came out 0.37-0.42 against a true 0.223. Two poles
    (four, applied forward and backward): a steeper filter rings before a wave
    packet whose period is near the band edge, and pyflex then picks windows
    in that precursor.
    """
    if trace.stats.npts < 2:
        raise MissingDataError(f"{trace.id}: too few samples to preprocess")
    if not 0 < min_period < max_period:
        raise ValueError(
            f"min_period={min_period:g} s and max_period={max_period:g} s: need "
            "0 < min_period < max_period"
        )
    rate = trace.stats.sampling_rate
    if 2.0 / rate >= min_period:
        raise SamplingRateError(
            f"{trace.id}: sampled at {rate:g} Hz, too slowly for periods down to "
            f"min_period={min_period:g} s (the Nyquist period is {2.0 / rate:g} s)"
        )
    if trace.stats.npts / rate < max_period:
        raise MissingDataError(
            f"{trace.id}: {trace.stats.npts / rate:g} s of samples (where observed and synthetic "
            f"overlap), shorter than one longest period (max_period={max_period:g} s): no "
            "measurement in the period band; use longer records or a lower max_period"
        )
    data = signal.detrend(np.asarray(trace.data, dtype=np.float64), type="linear")
    data = (data - data.mean()) * hann_taper(data.size, taper)
    sos = signal.butter(
        corners, [1.0 / max_period, 1.0 / min_period], btype="bandpass", fs=rate, output="sos"
    )
    trace.data = signal.sosfiltfilt(sos, data)
    return trace


RESPONSE_OUTPUTS = ("DISP", "VEL", "ACC")


def remove_response(
    trace: Trace, inventory: Any, min_period: float, max_period: float, output: str = "DISP"
) -> Trace:
    """Remove the instrument response of an observed trace (counts → ``output``:
    ``DISP`` m, ``VEL`` m/s or ``ACC`` m/s²), in place, stabilised by a
    pre-filter around the period band (flat over ``[1/max_period,
    1/min_period]``, cosine flanks an octave wide) and no water level."""
    if output not in RESPONSE_OUTPUTS:
        raise ValueError(f"response must be one of {', '.join(RESPONSE_OUTPUTS)}, not {output!r}")
    nyquist = trace.stats.sampling_rate / 2.0
    f3 = 1.0 / min_period
    f4 = min(2.0 * f3, nyquist)
    if f4 <= f3:
        raise SamplingRateError(
            f"{trace.id}: sampled at {trace.stats.sampling_rate:g} Hz, too slowly to remove "
            f"the response up to periods of {min_period:g} s"
        )
    pre_filt = (0.5 / max_period, 1.0 / max_period, f3, f4)
    return processing.remove_response(trace, inventory, pre_filt=pre_filt, water_level=None,
                                      output=output)


class _ToDebug(logging.Handler):
    """Re-emits a pyflex log record as a DEBUG record of :data:`log`."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug("pyflex: %s", record.getMessage())


@contextmanager
def _pyflex_quiet() -> Iterator[None]:
    """pyflex's log (its own console handler) and warnings go to :data:`log` at
    DEBUG for the duration of the block, instead of 27 WARNING lines a run."""
    logger = logging.getLogger("pyflex")
    handlers, level = logger.handlers[:], logger.level
    logger.handlers = [_ToDebug()]
    logger.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for warning in caught:
            log.debug("pyflex: %s", warning.message)
    finally:
        logger.handlers = handlers
        logger.setLevel(level)


def select_windows(
    observed: Trace,
    synthetic: Trace,
    min_period: float,
    max_period: float,
    event: Any = None,
    station: Any = None,
    **config: float,
) -> list[Window]:
    """pyflex window selection on an aligned pair (works on NumPy 1 and 2).

    ``config`` goes to :class:`pyflex.Config` (e.g. ``stalta_waterlevel``,
    ``cc_acceptance_level``, ``tshift_acceptance_level``). ``event`` (an
    ObsPy ``Event``/``Catalog`` or ``pyflex.Event``) and ``station`` (an
    ObsPy ``Inventory`` or ``pyflex.Station``) let pyflex reject windows by
    travel time and signal-to-noise ratio; without them they come from the
    traces' SAC headers when those give them (:func:`sac_event_station`),
    else pyflex skips that. What pyflex logs or warns goes to the
    ``d4p_seismo.pyflex`` logger at DEBUG.
    """
    import pyflex

    if isinstance(station, Inventory):
        station = pyflex_station(observed, station)
    for trace in (observed, synthetic):
        if event is None or station is None:
            from_sac = sac_event_station(trace)
            event = from_sac[0] if event is None else event
            station = from_sac[1] if station is None else station
    cfg = pyflex.Config(min_period=min_period, max_period=max_period, **config)
    obs, syn = with_ptp(observed), with_ptp(synthetic)
    for trace in (obs, syn):  # pyflex would read them itself, wrongly (see above)
        trace.stats.pop("sac", None)
    with pyflex_on_numpy2(), _pyflex_quiet():
        found = pyflex.select_windows(obs, syn, cfg, event=event, station=station)
    rate = observed.stats.sampling_rate
    return [
        Window(
            left=int(w.left), right=int(w.right), sampling_rate=rate,
            max_cc_value=float(w.max_cc_value), cc_shift=float(w.cc_shift) / rate,
            dlnA=float(w.dlnA),
        )
        for w in found
    ]


def pyflex_station(trace: Trace, inventory: Inventory) -> Any:
    """pyflex's ``Station`` of ``trace`` from ``inventory``: the position of
    its network and station at its start (its channel may be renamed, or
    rotated from BH1 to BHN), else that of the station's first channel.
    A station the inventory lacks is a :class:`MissingDataError` naming it
    (pyflex raised ``PyflexError: Could not find the network of the observed
    data in the inventory object``)."""
    import pyflex

    net, sta = trace.stats.network, trace.stats.station
    found = [s for n in inventory.select(network=net, station=sta, time=trace.stats.starttime)
             for s in n]
    where = [(s.latitude, s.longitude) for s in found]
    where += [(c.latitude, c.longitude) for s in found for c in s]
    where = [(lat, lon) for lat, lon in where if lat is not None and lon is not None]
    if not where:
        raise MissingDataError(
            f"{trace.id}: the inventory has no position of station {net}.{sta} at "
            f"{trace.stats.starttime} (pyflex needs it); add the station to the StationXML "
            "(-p inventory) or leave the inventory out"
        )
    return pyflex.Station(latitude=float(where[0][0]), longitude=float(where[0][1]))


def sac_event_station(trace: Trace) -> tuple[Any, Any]:
    """pyflex's ``(Event, Station)`` from the SAC headers of ``trace`` (as read
    from a SAC file), each None where a header it needs is missing: the event
    at ``evla``, ``evlo``, ``evdp`` (km) at the reference time (``nz*``) plus
    ``o``, the station at ``stla``, ``stlo``.

    pyflex reads SAC headers itself, but fails (``AttributeError: evla``) on a
    file that lacks one, and takes the origin time as the trace start minus
    ``b``: wrong when ``o`` is not 0 or when the trace was cut (``b`` is that
    of the file), which moved its travel-time window."""
    import pyflex
    from obspy.io.sac.util import SacHeaderTimeError, get_sac_reftime

    sac = trace.stats.get("sac") or {}

    def given(*keys: str) -> list[float] | None:
        values = [sac.get(key) for key in keys]
        if any(v is None or float(v) == -12345.0 for v in values):
            return None
        return [float(v) for v in values]

    event = station = None
    located = given("evla", "evlo", "evdp")
    if located is not None:
        try:
            origin = get_sac_reftime(sac) + (given("o") or [0.0])[0]
        except SacHeaderTimeError:
            origin = None
        if origin is not None:
            event = pyflex.Event(latitude=located[0], longitude=located[1],
                                 depth_in_m=located[2] * 1000.0, origin_time=origin)
    where = given("stla", "stlo")
    if where is not None:
        station = pyflex.Station(latitude=where[0], longitude=where[1])
    return event, station


def hann_taper(npts: int, fraction: float = 0.1) -> np.ndarray:
    """A cosine taper over ``fraction`` of the length at each end (1 in the middle)."""
    taper = np.ones(npts)
    width = int(fraction * npts)
    if width > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(width) / width)
        taper[:width] = ramp
        taper[npts - width :] = ramp[::-1]
    return taper


def _cc_shift(d: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """(shift in samples with parabolic refinement, normalised cc maximum)."""
    n = d.size
    nfft = 1 << (2 * n - 1).bit_length()
    c = np.fft.irfft(np.conj(np.fft.rfft(s, nfft)) * np.fft.rfft(d, nfft), nfft)
    c = np.concatenate((c[nfft - (n - 1) :], c[:n]))  # lags -(n-1)..(n-1)
    k = int(np.argmax(c))
    shift = float(k - (n - 1))
    if 0 < k < c.size - 1:
        y0, y1, y2 = c[k - 1], c[k], c[k + 1]
        denom = y0 - 2 * y1 + y2
        if denom != 0:
            shift += 0.5 * (y0 - y2) / denom
    norm = math.sqrt(float(np.dot(d, d)) * float(np.dot(s, s)))
    return shift, (float(c[k]) / norm if norm > 0 else 0.0)


def measure(
    observed: np.ndarray,
    synthetic: np.ndarray,
    sampling_rate: float,
    left: int = 0,
    right: int | None = None,
    taper_fraction: float = 0.1,
) -> Measurement:
    """Time shift, dlnA, cc and L2 misfit of samples ``left..right`` (inclusive), tapered."""
    right = observed.size - 1 if right is None else right
    if not 0 <= left < right < observed.size:
        raise MissingDataError(
            f"window [{left}, {right}] is empty or outside the {observed.size} samples"
        )
    taper = hann_taper(right - left + 1, taper_fraction)
    d = np.asarray(observed[left : right + 1], dtype=np.float64) * taper
    s = np.asarray(synthetic[left : right + 1], dtype=np.float64) * taper
    dt = 1.0 / sampling_rate
    shift, cc = _cc_shift(d, s)
    es, ed = float(np.dot(s, s)), float(np.dot(d, d))
    dlna = 0.5 * math.log(ed / es) if es > 0 and ed > 0 else math.nan
    residual = float(np.sum((d - s) ** 2))
    return Measurement(
        time_shift=float(shift * dt), dlnA=dlna, cc_max=cc, l2=0.5 * residual * dt,
        l2_relative=residual / ed if ed > 0 else math.nan,
        start=left * dt, end=right * dt,
    )


@dataclass(frozen=True)
class TFMisfit:
    """Time–frequency misfits of a synthetic against the observed (the
    reference), after Kristekova et al. (2006, 2009), globally normalised.

    ``tfem``/``tfpm`` (frequencies × times) are the envelope and phase
    misfits ``(|W_syn| - |W_obs|) / max|W_obs|`` and ``|W_obs| ΔΦ/π /
    max|W_obs|`` of the Morlet wavelet transforms ``W`` (ΔΦ the phase of the
    synthetic minus that of the observed, in (-π, π]); ``tem``/``tpm`` sum
    them over frequency, ``fem``/``fpm`` over time (each divided by the
    largest such sum of ``|W_obs|``); ``em``/``pm`` are the single-valued
    misfits ``sqrt(Σ misfit² / Σ |W_obs|²)``: 0.2 for a synthetic 0.8 times
    the observed, ``pm`` 0 for any pure scaling.
    """

    times: np.ndarray
    freqs: np.ndarray
    tfem: np.ndarray
    tfpm: np.ndarray
    tem: np.ndarray
    tpm: np.ndarray
    fem: np.ndarray
    fpm: np.ndarray
    em: float
    pm: float


def tf_misfit(
    observed: np.ndarray, synthetic: np.ndarray, sampling_rate: float, fmin: float,
    fmax: float, nf: int = 64, w0: float = 6.0,
) -> TFMisfit:
    """The :class:`TFMisfit` of two aligned traces between ``fmin`` and
    ``fmax`` Hz (``nf`` frequencies, log-spaced; Morlet wavelet of
    parameter ``w0``), from ObsPy's wavelet transform
    (``obspy.signal.tf_misfit.cwt``), each transform computed once.

    Traces sampled much faster than ``fmax`` needs are thinned first (every
    k-th sample, keeping at least 10 per shortest period: they are
    band-passed to it already), so an hour-long trace stays cheap.
    """
    from obspy.signal.tf_misfit import cwt

    if not 0 < fmin < fmax:
        raise ValueError(f"fmin={fmin:g} Hz and fmax={fmax:g} Hz: need 0 < fmin < fmax")
    step = max(1, int(sampling_rate / (10.0 * fmax)))
    obs = np.asarray(observed, dtype=np.float64)[::step]
    syn = np.asarray(synthetic, dtype=np.float64)[::step]
    if obs.size != syn.size or obs.size < 4:
        raise MissingDataError(
            f"time-frequency misfit needs two aligned traces of 4 samples or more "
            f"({obs.size} and {syn.size} after thinning)"
        )
    dt = step / sampling_rate
    w_obs = cwt(obs, dt, w0, fmin, fmax, nf)
    w_syn = cwt(syn, dt, w0, fmin, fmax, nf)
    ref = np.abs(w_obs)
    envelope = np.abs(w_syn) - ref
    with np.errstate(divide="ignore", invalid="ignore"):
        phase = np.where(ref > 0, ref * np.angle(w_syn / w_obs) / np.pi, 0.0)
    peak, per_time, per_freq = ref.max(), ref.sum(axis=0).max(), ref.sum(axis=1).max()
    energy = math.sqrt(float(np.sum(ref**2)))
    if peak == 0:
        raise MissingDataError("time-frequency misfit: the observed trace is zero in the band")
    return TFMisfit(
        times=np.arange(obs.size) * dt,
        freqs=np.logspace(np.log10(fmin), np.log10(fmax), nf),
        tfem=envelope / peak, tfpm=phase / peak,
        tem=envelope.sum(axis=0) / per_time, tpm=phase.sum(axis=0) / per_time,
        fem=envelope.sum(axis=1) / per_freq, fpm=phase.sum(axis=1) / per_freq,
        em=math.sqrt(float(np.sum(envelope**2))) / energy,
        pm=math.sqrt(float(np.sum(phase**2))) / energy,
    )
