"""The steps of ambient-noise preprocessing and cross-correlation, as plain functions.

Each trace step takes an ObsPy ``Trace``, changes its data in place and
returns it (so steps chain, and a PE can wrap any of them). The last step,
:func:`spectrum`, turns a trace into a :class:`StationSpectrum` computed once
per station, so that correlating a pair (:func:`correlate`) is one complex
multiplication and one inverse FFT.

Order used by the xcorr workflow (after Bensen et al., 2007, GJI 169):
align_to_grid → decimate → detrend → demean → remove_response → bandpass →
zero_gaps → normalise (one-bit or running-absolute-mean) → zero_gaps →
whiten → zero_gaps → spectrum → correlate.

Gaps. A reader merges the pieces of a record by interpolating across gaps
(so filters see a continuous signal) and records the spans without data in
``trace.stats.gaps`` (see :func:`find_gaps`). :func:`zero_gaps` sets those
samples to zero, with cosine-tapered edges, before and after normalisation
and after whitening, so filled samples never count as data (Bensen et al.,
2007; MSNoise and NoisePy do the same). :func:`correlate` then normalises a
pair over the samples both stations recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from obspy import Inventory, Trace, UTCDateTime
from obspy.geodetics import gps2dist_azimuth
from scipy import fft as sp_fft
from scipy import signal
from scipy.ndimage import distance_transform_edt, uniform_filter1d

from d4p_seismo.errors import MissingDataError, ResponseError, SamplingRateError


def _require_data(trace: Trace, step: str) -> None:
    if trace.stats.npts == 0:
        raise MissingDataError(f"{trace.id}: empty trace reached the {step} step")


def align_to_grid(
    trace: Trace, anchor: UTCDateTime | None = None, tolerance: float = 1e-3
) -> Trace:
    """Put the samples of ``trace`` at ``anchor + k / sampling_rate`` (k integer).

    A trace whose samples fall between grid points (by more than
    ``tolerance`` of a sample) is interpolated onto the first grid point at
    or after its start with a Lanczos kernel (``a=20``, as ObsPy's
    :meth:`~obspy.core.trace.Trace.interpolate`, see :func:`lanczos_shift`);
    a smaller offset only moves the start time onto the grid.
    ``anchor=None`` means the grid of whole multiples of the sample interval
    since 1970, so traces of different files line up without a common
    window. Without it two stations a fraction of a sample apart would
    correlate with their lags shifted by that fraction.
    """
    _require_data(trace, "align_to_grid")
    anchor = anchor if anchor is not None else UTCDateTime(0)
    delta = trace.stats.delta
    position = (trace.stats.starttime - anchor) / delta
    offset = position - math.floor(position)
    if offset <= tolerance or offset >= 1.0 - tolerance:
        trace.stats.starttime = anchor + round(position) * delta
        return trace
    start = anchor + math.ceil(position) * delta
    npts = int(math.floor((trace.stats.endtime - start) / delta + 1e-9)) + 1
    if npts < 1:
        raise MissingDataError(f"{trace.id}: too short to interpolate onto the sample grid")
    shift = (start - trace.stats.starttime) / delta
    trace.data = lanczos_shift(np.asarray(trace.data, dtype=np.float64), shift, npts)
    trace.stats.starttime = start
    return trace


def lanczos_shift(data: np.ndarray, shift: float, npts: int, a: int = 20) -> np.ndarray:
    """``npts`` samples of ``data`` interpolated at ``shift + k`` (``0 <= shift``,
    k = 0, 1, ...; in samples) with the Lanczos kernel ``sinc(t) sinc(t / a)``
    of ObsPy's ``Trace.interpolate(method="lanczos")``, samples beyond the
    ends taken as zero as ObsPy does.

    Every output sample is the same fraction of a sample past an input
    sample, so the kernel's ``2a`` weights are the same for all of them and
    the interpolation is one correlation with them: 0.3 s for a day at 100 Hz
    where ObsPy's general resampler, which computes the kernel anew for
    every sample, takes 6 to 14 s. Its values are the Lanczos sum in
    float64; ObsPy's differ from it by up to 1e-5 of the amplitude.
    """
    whole = math.floor(shift)
    fraction = shift - whole
    t = fraction - np.arange(-a + 1, a + 1)
    weights = np.sinc(t) * np.sinc(t / a)
    padded = np.concatenate([np.zeros(a - 1), data, np.zeros(a)])
    return np.correlate(padded[whole:whole + npts + 2 * a - 1], weights, mode="valid")


def nominal_rate(trace: Trace, tolerance: float = 1e-6) -> Trace:
    """``trace``, or a copy sampled at its nominal rate: a header rate within
    ``tolerance`` (relative) of a whole number of mHz is set to it.

    miniSEED can carry the rate as a float32 (99.99999237 Hz for 100 Hz) or a
    measured one (19.99999 Hz). Kept, such a station's windows would not hold
    a whole number of samples: they would start a sample later than the
    other stations' and never pair with them. The times of the samples move
    by at most ``tolerance`` of the trace's length (6 ms in a day at
    99.99999237 Hz).
    """
    rate = trace.stats.sampling_rate
    nominal = round(rate, 3)
    if nominal == rate or nominal <= 0 or abs(nominal - rate) > tolerance * rate:
        return trace
    trace = trace.copy()
    trace.stats.sampling_rate = nominal
    return trace


def find_gaps(trace: Trace, segments: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The spans of ``trace`` (merged, possibly padded) that no data segment covers.

    ``segments`` are the ``(first sample, last sample)`` times (POSIX seconds)
    of the pieces the trace was merged from. Each gap is ``(a, b)``: the time
    of the last recorded sample before it (``-inf`` at the start) and of the
    first after it (``inf`` at the end); samples strictly between are missing.
    Only gaps holding at least one sample of ``trace`` are returned.
    """
    delta = trace.stats.delta
    merged: list[list[float]] = []
    for start, end in sorted(segments):
        if merged and start <= merged[-1][1] + 1.5 * delta:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    first = trace.stats.starttime.timestamp
    last = trace.stats.endtime.timestamp
    edges = [-math.inf] + [v for seg in merged for v in seg] + [math.inf]
    gaps = []
    tol = 1e-3 * delta
    for a, b in zip(edges[0::2], edges[1::2], strict=True):
        lo, hi = max(a, first - delta), min(b, last + delta)
        if hi - lo > delta + tol and lo + tol < last and hi - tol > first:
            gaps.append((a, b))
    return gaps


def gap_mask(trace: Trace, taper: float = 0.0) -> np.ndarray | None:
    """Weights of the samples of ``trace``: 0 in its gaps (``stats.gaps``), 1
    elsewhere, rising as a cosine over ``taper`` s next to each gap; ``None``
    when the trace has no gap."""
    gaps = trace.stats.get("gaps")
    if not gaps:
        return None
    npts, delta = trace.stats.npts, trace.stats.delta
    t0 = trace.stats.starttime.timestamp
    recorded = np.ones(npts, dtype=bool)
    for a, b in gaps:
        i0 = 0 if a == -math.inf else int(math.floor((a - t0) / delta + 1e-3)) + 1
        i1 = npts if b == math.inf else int(math.ceil((b - t0) / delta - 1e-3))
        recorded[max(i0, 0) : min(i1, npts)] = False
    width = int(round(taper / delta))
    if width < 1 or recorded.all():
        return recorded.astype(np.float64)
    distance = distance_transform_edt(recorded)
    return np.where(
        distance < width, 0.5 - 0.5 * np.cos(np.pi * np.minimum(distance, width) / width), 1.0
    )


def missing_fraction(trace: Trace) -> float:
    """The fraction of the samples of ``trace`` that fall in its gaps."""
    mask = gap_mask(trace)
    return 0.0 if mask is None else 1.0 - float(mask.mean())


def zero_gaps(trace: Trace, taper: float = 0.0) -> Trace:
    """Zero the samples in the gaps of ``trace`` (tapered over ``taper`` s beside them)."""
    mask = gap_mask(trace, taper)
    if mask is not None:
        trace.data = np.asarray(trace.data, dtype=np.float64) * mask
    return trace


def decimate(trace: Trace, factor: int) -> Trace:
    """Anti-alias low-pass (zero phase) and keep every ``factor``-th sample."""
    if factor != int(factor) or factor < 1:
        raise SamplingRateError(f"{trace.id}: decimation factor must be a positive integer, got {factor}")
    factor = int(factor)
    if factor == 1:
        return trace
    _require_data(trace, "decimate")
    data = np.asarray(trace.data, dtype=np.float64)
    trace.data = signal.decimate(data, factor, ftype="iir", zero_phase=True)
    trace.stats.sampling_rate = trace.stats.sampling_rate / factor
    return trace


def decimation_factor(trace: Trace, sampling_rate: float) -> int:
    """The integer factor that brings ``trace`` to ``sampling_rate``, or a clear error."""
    ratio = trace.stats.sampling_rate / sampling_rate
    factor = round(ratio)
    if factor < 1 or abs(ratio - factor) > 1e-6:
        raise SamplingRateError(
            f"{trace.id}: sampled at {trace.stats.sampling_rate:.10g} Hz, which is not an integer "
            f"multiple of the target {sampling_rate:g} Hz; resample it first "
            "(Trace.resample), choose another target rate or leave the channel out"
        )
    return factor


def detrend(trace: Trace) -> Trace:
    """Remove the least-squares straight line."""
    _require_data(trace, "detrend")
    trace.data = signal.detrend(np.asarray(trace.data, dtype=np.float64), type="linear")
    return trace


def demean(trace: Trace) -> Trace:
    """Remove the mean."""
    _require_data(trace, "demean")
    data = np.asarray(trace.data, dtype=np.float64)
    trace.data = data - data.mean()
    return trace


def remove_response(
    trace: Trace,
    inventory: Inventory,
    pre_filt: tuple[float, float, float, float] | None = None,
    water_level: float | None = 60.0,
    output: str = "VEL",
    freqmin: float | None = None,
) -> Trace:
    """Deconvolve the instrument response (counts → m/s for ``output="VEL"``).

    ``pre_filt`` defaults to a cosine taper passing 0.005–0.01 Hz up to 40–45 %
    of the sampling rate, which keeps the deconvolution stable at both ends;
    with ``freqmin`` (the lowest frequency the processing keeps) below 0.01
    Hz, it passes from half of ``freqmin`` to ``freqmin`` instead, so that a
    long-period band is not cut before it is band-passed.

    A trace across the start of another epoch of its channel (a sensor or
    digitiser changed) is deconvolved with each epoch's response and its
    samples taken from the one of their epoch: one response for the whole
    trace (ObsPy's, the first) shifted the lags of a station whose sensor
    changed in the window by 0.2 s and halved its correlations.
    """
    _require_data(trace, "remove_response")
    if pre_filt is None:
        nyquist = trace.stats.sampling_rate / 2.0
        low = min(0.01, freqmin) if freqmin else 0.01
        pre_filt = (low / 2, low, 0.8 * nyquist, 0.9 * nyquist)
    epochs = response_epochs(trace, inventory)
    parts = []
    for k, (start, response) in enumerate(epochs):
        whole = trace.copy() if len(epochs) > 1 else trace
        whole.stats.response = response
        whole.remove_response(pre_filt=pre_filt, water_level=water_level, output=output)
        del whole.stats.response
        first = _sample_at(trace, start)
        last = _sample_at(trace, epochs[k + 1][0]) if k + 1 < len(epochs) else trace.stats.npts
        parts.append(whole.data[first:last])
    trace.data = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return trace


def _sample_at(trace: Trace, time: UTCDateTime) -> int:
    """The index of the first sample of ``trace`` at or after ``time``."""
    return max(0, math.ceil((time - trace.stats.starttime) / trace.stats.delta - 1e-6))


def response_epochs(trace: Trace, inventory: Inventory) -> list[tuple[UTCDateTime, Any]]:
    """``[(from, Response)]``: the response of the channel of ``trace`` at its
    start, and that of every later epoch of the channel starting within the
    trace, from that epoch's start; a :class:`ResponseError` naming the
    trace and the time if one has no response or one without stages."""
    start, end = trace.stats.starttime, trace.stats.endtime
    try:
        first = inventory.get_response(trace.id, start)
    except Exception:  # ObsPy raises a bare Exception when nothing matches
        first = None
    epochs = [(start, first)]
    net, sta, loc, cha = trace.id.split(".")
    later = [channel for network in inventory.select(net, sta, loc, cha) for station in network
             for channel in station if channel.start_date and start < channel.start_date <= end]
    epochs += sorted(((c.start_date, c.response) for c in later), key=lambda e: e[0])
    for time, response in epochs:
        if response is None or not response.response_stages:
            what = "no instrument response" if response is None else (
                "a response without stages (only the overall sensitivity, as a StationXML "
                "at level=channel gives)")
            raise ResponseError(
                f"{trace.id}: {what} in the inventory for {time}; add the station's "
                "StationXML with its full response (level=response) or skip the station"
            )
    return epochs


def bandpass(
    trace: Trace, freqmin: float, freqmax: float, corners: int = 4, zerophase: bool = True
) -> Trace:
    """Butterworth band-pass (zero phase by default, so all stations keep their timing)."""
    _require_data(trace, "bandpass")
    nyquist = trace.stats.sampling_rate / 2.0
    if not 0 < freqmin < freqmax < nyquist:
        raise SamplingRateError(
            f"{trace.id}: band-pass {freqmin:g}-{freqmax:g} Hz does not fit below the "
            f"Nyquist frequency {nyquist:g} Hz"
        )
    sos = signal.butter(corners, [freqmin, freqmax], btype="bandpass", fs=trace.stats.sampling_rate, output="sos")
    data = np.asarray(trace.data, dtype=np.float64)
    edge = 3 * (2 * len(sos) + 1)  # the samples sosfiltfilt extends each end by
    if zerophase and data.size <= edge:
        raise SamplingRateError(
            f"{trace.id}: {data.size} samples ({data.size / trace.stats.sampling_rate:g} s) are "
            f"too few for the zero-phase band-pass, which needs more than {edge}; use longer "
            "windows or a higher rate"
        )
    trace.data = signal.sosfiltfilt(sos, data) if zerophase else signal.sosfilt(sos, data)
    return trace


def onebit(trace: Trace) -> Trace:
    """One-bit normalisation: keep only the sign of every sample."""
    _require_data(trace, "onebit")
    trace.data = np.sign(np.asarray(trace.data, dtype=np.float64))
    return trace


def running_absolute_mean(trace: Trace, window: float) -> Trace:
    """Divide every sample by the mean absolute amplitude in a centred window of ``window`` s.

    Bensen et al. (2007) suggest half the longest period of the pass band. It
    removes earthquakes and instrument glitches without clipping to one bit.
    In a trace with gaps the mean is taken over the recorded samples only and
    the gaps stay zero.
    """
    _require_data(trace, "running_absolute_mean")
    data = np.asarray(trace.data, dtype=np.float64)
    width = max(1, int(round(window * trace.stats.sampling_rate)) | 1)
    weight = uniform_filter1d(np.abs(data), size=width, mode="nearest")
    recorded = gap_mask(trace)
    if recorded is not None:  # the mean over recorded samples only: gaps do not lower it
        share = uniform_filter1d(recorded, size=width, mode="nearest")
        np.divide(weight, share, out=weight, where=share > 1e-9)
        weight[recorded == 0] = 0.0
    out = np.zeros_like(data)
    np.divide(data, weight, out=out, where=weight > 0)
    trace.data = out
    return trace


def whiten(trace: Trace, freqmin: float, freqmax: float, smoothing: float = 0.0) -> Trace:
    """Spectral whitening: flat amplitude spectrum between ``freqmin`` and ``freqmax`` Hz.

    The amplitude is divided by itself (or, with ``smoothing`` > 0, by its
    running mean over ``smoothing`` Hz); outside the band a cosine taper half
    an octave wide brings it to zero. Phases are kept, so timing is unchanged.
    """
    _require_data(trace, "whiten")
    data = np.asarray(trace.data, dtype=np.float64)
    n = data.size
    spec = sp_fft.rfft(data)
    freqs = sp_fft.rfftfreq(n, d=1.0 / trace.stats.sampling_rate)
    amplitude = np.abs(spec)
    if smoothing > 0:
        width = max(1, int(round(smoothing / (freqs[1] - freqs[0]))))
        amplitude = uniform_filter1d(amplitude, size=width, mode="nearest")
    taper = band_taper(freqs, freqmin, freqmax)
    scale = np.zeros_like(amplitude)
    np.divide(taper, amplitude, out=scale, where=amplitude > 0)
    trace.data = sp_fft.irfft(spec * scale, n=n)
    return trace


def band_taper(freqs: np.ndarray, freqmin: float, freqmax: float) -> np.ndarray:
    """1 inside [freqmin, freqmax], cosine flanks half an octave wide, 0 beyond."""
    taper = np.zeros(freqs.shape)
    lo0, hi1 = freqmin / math.sqrt(2.0), freqmax * math.sqrt(2.0)
    taper[(freqs >= freqmin) & (freqs <= freqmax)] = 1.0
    rise = (freqs > lo0) & (freqs < freqmin)
    taper[rise] = 0.5 - 0.5 * np.cos(math.pi * (freqs[rise] - lo0) / (freqmin - lo0))
    fall = (freqs > freqmax) & (freqs < hi1)
    taper[fall] = 0.5 + 0.5 * np.cos(math.pi * (freqs[fall] - freqmax) / (hi1 - freqmax))
    return taper


@dataclass
class StationSpectrum:
    """The FFT of one preprocessed trace plus what a pair needs about its station.

    ``weights`` (``None`` without gaps) are the trace's gap weights
    (:func:`gap_mask`); ``block_energy`` is the energy of the trace in blocks
    of ``block`` samples, so that a pair can be normalised over the samples
    both stations recorded without shipping the samples themselves.
    """

    id: str
    sampling_rate: float
    npts: int
    nfft: int
    starttime: float
    energy: float
    spectrum: np.ndarray = field(repr=False)
    latitude: float = math.nan
    longitude: float = math.nan
    elevation: float = 0.0
    azimuth: float = math.nan
    """The channel's azimuth (degrees from north) from the inventory, NaN if unknown."""
    weights: np.ndarray | None = field(default=None, repr=False)
    block: int = 1
    block_energy: np.ndarray | None = field(default=None, repr=False)

    @property
    def endtime(self) -> float:
        return self.starttime + self.npts / self.sampling_rate

    @property
    def station(self) -> str:
        return self.id.split(".")[1]


def trace_coordinates(trace: Trace) -> tuple[float, float, float]:
    """(latitude, longitude, elevation) from ``trace.stats.coordinates``, NaN if unknown."""
    coords = trace.stats.get("coordinates") or {}
    return (
        float(coords.get("latitude", math.nan)),
        float(coords.get("longitude", math.nan)),
        float(coords.get("elevation", 0.0)),
    )


def attach_coordinates(trace: Trace, inventory: Inventory) -> Trace:
    """Copy the station position from ``inventory`` into ``trace.stats.coordinates``,
    and for a component 1/2/3 the channel's azimuth (degrees from north; NaN
    if the inventory has none, and for other components, which need none)."""
    try:
        coords = inventory.get_coordinates(trace.id, trace.stats.starttime)
    except Exception as exc:  # ObsPy raises a bare Exception here
        raise ResponseError(
            f"{trace.id}: no channel metadata (coordinates) in the inventory for "
            f"{trace.stats.starttime}; add the station's StationXML or skip the station"
        ) from exc
    azimuth = None
    if trace.stats.channel[-1:] in ("1", "2", "3"):
        try:
            azimuth = inventory.get_orientation(trace.id, trace.stats.starttime)["azimuth"]
        except Exception:  # no orientation given
            pass
    trace.stats.coordinates = {
        "latitude": coords["latitude"], "longitude": coords["longitude"],
        "elevation": coords.get("elevation", 0.0),
        "azimuth": math.nan if azimuth is None else float(azimuth),
    }
    return trace


def fft_length(npts: int, max_lag_samples: int) -> int:
    """FFT length with enough zero padding that lags up to ``max_lag_samples`` do not wrap."""
    return sp_fft.next_fast_len(npts + max_lag_samples, real=True)


def spectrum(trace: Trace, max_lag: float) -> StationSpectrum:
    """Zero-padded real FFT of ``trace``, ready to correlate at lags up to ``max_lag`` s.

    Gaps are expected to be zero already (:func:`zero_gaps`); their weights
    and the energy per second go with the spectrum.
    """
    _require_data(trace, "spectrum")
    data = np.asarray(trace.data, dtype=np.float64)
    m = int(math.ceil(max_lag * trace.stats.sampling_rate))
    nfft = fft_length(data.size, m)
    lat, lon, elev = trace_coordinates(trace)
    block = max(1, int(round(trace.stats.sampling_rate)))
    squared = np.square(data)
    padded = np.zeros(-(-data.size // block) * block)
    padded[: data.size] = squared
    return StationSpectrum(
        id=trace.id,
        sampling_rate=float(trace.stats.sampling_rate),
        npts=int(data.size),
        nfft=int(nfft),
        starttime=float(trace.stats.starttime.timestamp),
        energy=float(np.dot(data, data)),
        spectrum=sp_fft.rfft(data, n=nfft),
        latitude=lat,
        longitude=lon,
        elevation=elev,
        azimuth=float((trace.stats.get("coordinates") or {}).get("azimuth", math.nan)),
        weights=gap_mask(trace),
        block=block,
        block_energy=padded.reshape(-1, block).sum(axis=1),
    )


def _energy_where_recorded(spec: StationSpectrum, weights: np.ndarray) -> float:
    """Energy of ``spec`` weighted by another station's (squared) gap weights."""
    share = np.zeros(spec.block_energy.size * spec.block)
    share[: weights.size] = np.square(weights)
    return float(np.dot(spec.block_energy, share.reshape(-1, spec.block).mean(axis=1)))


def pair_energy(a: StationSpectrum, b: StationSpectrum) -> float:
    """The normaliser of a pair: ``sqrt(Ea Eb)``, each energy taken over the
    samples the other station recorded when either has gaps (in blocks of one
    second, exact where no gap edge falls inside a block)."""
    if a.weights is None and b.weights is None:
        return math.sqrt(a.energy * b.energy)
    ea = a.energy if b.weights is None else _energy_where_recorded(a, b.weights)
    eb = b.energy if a.weights is None else _energy_where_recorded(b, a.weights)
    return math.sqrt(max(ea, 0.0) * max(eb, 0.0))


@dataclass
class Correlation:
    """The normalised cross-correlation of stations ``a`` and ``b``.

    ``data[k]`` is ``c(τ_k) = Σ_t a(t) b(t + τ_k) / sqrt(Σa² Σb²)`` at lag
    ``τ_k = (k - max_lag_samples) / sampling_rate``: a positive lag means the
    signal reaches ``b`` after ``a``. ``starttime``/``endtime`` (POSIX
    seconds) are the window the stations' traces covered.
    """

    id_a: str
    id_b: str
    sampling_rate: float
    data: np.ndarray = field(repr=False)
    distance_km: float = math.nan
    azimuth: float = math.nan
    coords_a: tuple[float, float] = (math.nan, math.nan)
    coords_b: tuple[float, float] = (math.nan, math.nan)
    starttime: float = math.nan
    endtime: float = math.nan

    @property
    def max_lag_samples(self) -> int:
        return (self.data.size - 1) // 2

    @property
    def lags(self) -> np.ndarray:
        m = self.max_lag_samples
        return np.arange(-m, m + 1) / self.sampling_rate

    @property
    def peak_lag(self) -> float:
        """Lag (s) of the largest correlation value."""
        return (int(np.argmax(self.data)) - self.max_lag_samples) / self.sampling_rate

    @property
    def pair(self) -> str:
        return f"{self.id_a}_{self.id_b}"


def interstation_distance(
    lat_a: float, lon_a: float, lat_b: float, lon_b: float
) -> tuple[float, float]:
    """(distance in km, azimuth from a to b in degrees) on the WGS84 ellipsoid."""
    if any(math.isnan(v) for v in (lat_a, lon_a, lat_b, lon_b)):
        return math.nan, math.nan
    metres, azimuth, _ = gps2dist_azimuth(lat_a, lon_a, lat_b, lon_b)
    return metres / 1000.0, azimuth


def correlate(a: StationSpectrum, b: StationSpectrum, max_lag: float) -> Correlation:
    """Cross-correlate two precomputed spectra at lags up to ``max_lag`` seconds."""
    if a.sampling_rate != b.sampling_rate or a.nfft != b.nfft or a.npts != b.npts:
        raise SamplingRateError(
            f"cannot correlate {a.id} ({a.npts} samples at {a.sampling_rate:.10g} Hz) with "
            f"{b.id} ({b.npts} samples at {b.sampling_rate:.10g} Hz): preprocess every station "
            "to the same sampling rate and time window"
        )
    if abs(a.starttime - b.starttime) > 1e-3 / a.sampling_rate:
        raise SamplingRateError(
            f"cannot correlate {a.id} with {b.id}: their windows start "
            f"{b.starttime - a.starttime:+.3f} s apart; trim both to the same window "
            "on a common sample grid (align_to_grid)"
        )
    m = int(math.ceil(max_lag * a.sampling_rate))
    if a.nfft < a.npts + m:
        raise ValueError(
            f"{a.id}: spectrum padded for shorter lags than max_lag={max_lag:g} s; "
            "compute the spectra with the same max_lag as the correlation"
        )
    full = sp_fft.irfft(np.conj(a.spectrum) * b.spectrum, n=a.nfft)
    data = np.concatenate((full[-m:], full[: m + 1])) if m > 0 else full[:1].copy()
    denominator = pair_energy(a, b)
    if denominator > 0:
        data /= denominator
    distance, azimuth = interstation_distance(a.latitude, a.longitude, b.latitude, b.longitude)
    return Correlation(
        id_a=a.id, id_b=b.id, sampling_rate=a.sampling_rate, data=data,
        distance_km=distance, azimuth=azimuth,
        coords_a=(a.latitude, a.longitude), coords_b=(b.latitude, b.longitude),
        starttime=a.starttime, endtime=a.endtime,
    )


def symmetrise(data: np.ndarray) -> np.ndarray:
    """The symmetric part of a correlation at lags ``-m..m``: the mean of its
    causal and time-reversed acausal sides, at lags ``0..m``."""
    data = np.asarray(data)
    m = (data.size - 1) // 2
    return 0.5 * (data[m:] + data[m::-1])


def xcorr(
    a: np.ndarray, b: np.ndarray, max_lag: int, normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """FFT cross-correlation of two equally long arrays: ``(lags in samples, c)``.

    ``c[k] = Σ_t a[t] b[t + lags[k]]`` for ``lags = -max_lag..max_lag``,
    divided by ``sqrt(Σa² Σb²)`` when ``normalize``. The maximum is at the
    delay of ``b`` relative to ``a``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"xcorr needs two 1-D arrays of equal length, got {a.shape} and {b.shape}")
    if not 0 <= max_lag < a.size:
        raise ValueError(f"max_lag={max_lag} must be between 0 and len(a) - 1 = {a.size - 1}")
    nfft = fft_length(a.size, max_lag)
    full = sp_fft.irfft(np.conj(sp_fft.rfft(a, nfft)) * sp_fft.rfft(b, nfft), n=nfft)
    c = np.concatenate((full[nfft - max_lag :], full[: max_lag + 1])) if max_lag else full[:1]
    if normalize:
        denominator = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
        if denominator > 0:
            c = c / denominator
    return np.arange(-max_lag, max_lag + 1), c
