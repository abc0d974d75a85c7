"""A synthetic ambient-noise data set whose inter-station delays are known.

The noise field is made of a few point sources in the plane of the array
(a dominant one, like a stretch of coast generating microseisms, and weaker
ones at other azimuths), each radiating a random band-limited signal that
travels along straight rays at a constant ``velocity``. Station ``i`` at
distance ``r_ik`` from source ``k`` records the sum of the source signals
delayed by ``r_ik / velocity`` (with cylindrical spreading), plus incoherent
local noise, seen through its own instrument response and digitised to
integer counts.

Because the dominant source is far stronger than the rest, the cross-correlation
of the preprocessed traces of stations ``i`` and ``j`` peaks at the differential
travel time from the dominant source, ``(r_j - r_i) / velocity``: see
:func:`expected_lags`. Delays are applied in the frequency domain, so they are
exact for any fraction of a sample.

Everything is deterministic by ``seed``. :func:`make_dataset` writes:

* ``<NET>.<STA>..<CHA>.mseed``: one miniSEED file per station (int32 counts);
* ``stations.xml``: the StationXML inventory with each station's response;
* ``dataset.json``: the parameters, the stations and the sources, read back by
  :func:`load_dataset`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
from obspy import Inventory, Stream, Trace, UTCDateTime
from obspy.core.inventory import Channel, Network, Site
from obspy.core.inventory import Station as InventoryStation
from obspy.core.inventory.response import Response
from scipy import fft as sp_fft

from d4p_seismo.processing import band_taper

KM_PER_DEGREE = 111.195
"""Kilometres per degree of latitude on a spherical Earth (radius 6371 km)."""

DEFAULT_STARTTIME = UTCDateTime(2020, 1, 1)


@dataclass(frozen=True)
class SyntheticStation:
    """One station of the synthetic array.

    ``x_km``/``y_km`` are east/north offsets from the array reference point;
    ``latitude``/``longitude`` are the same position on a local flat-Earth
    projection. The instrument is a velocity seismometer with natural period
    ``natural_period`` (s), damping ``damping`` and overall sensitivity
    ``sensitivity`` (counts per m/s at 1 Hz).
    """

    network: str
    code: str
    channel: str
    x_km: float
    y_km: float
    latitude: float
    longitude: float
    natural_period: float
    damping: float
    sensitivity: float

    @property
    def seed_id(self) -> str:
        return f"{self.network}.{self.code}..{self.channel}"

    @property
    def filename(self) -> str:
        return f"{self.seed_id}.mseed"


@dataclass(frozen=True)
class NoiseSource:
    """A point noise source in the plane of the array (km from the reference point)."""

    x_km: float
    y_km: float
    amplitude: float


@dataclass
class SyntheticDataset:
    """What :func:`make_dataset` wrote and the physics needed to check results."""

    directory: Path
    stations: list[SyntheticStation]
    sources: list[NoiseSource]
    velocity: float
    sampling_rate: float
    starttime: UTCDateTime
    hours: float
    seed: int
    reference: tuple[float, float] = (46.0, 8.0)
    params: dict = field(default_factory=dict)

    @property
    def inventory_path(self) -> Path:
        return self.directory / "stations.xml"

    @property
    def waveform_paths(self) -> list[Path]:
        return [self.directory / s.filename for s in self.stations]

    @property
    def endtime(self) -> UTCDateTime:
        return self.starttime + self.hours * 3600.0

    @property
    def npts(self) -> int:
        return int(round(self.hours * 3600.0 * self.sampling_rate))


def xy_to_latlon(x_km: float, y_km: float, reference: tuple[float, float]) -> tuple[float, float]:
    """Local flat-Earth projection: km east/north of ``reference`` to (lat, lon) degrees."""
    lat0, lon0 = reference
    lat = lat0 + y_km / KM_PER_DEGREE
    lon = lon0 + x_km / (KM_PER_DEGREE * math.cos(math.radians(lat0)))
    return lat, lon


def seismometer_response(
    natural_period: float, damping: float, sensitivity: float
) -> Response:
    """A velocity seismometer + digitiser as one poles-and-zeros stage (M/S → COUNTS).

    The PAZ are normalised to 1 at 1 Hz, so ``sensitivity`` is the gain at 1 Hz.
    """
    w0 = 2.0 * math.pi / natural_period
    root = w0 * math.sqrt(max(1.0 - damping**2, 0.0))
    poles = [complex(-damping * w0, root), complex(-damping * w0, -root)]
    zeros = [0j, 0j]
    s = 2j * math.pi * 1.0
    a0 = 1.0 / abs(np.prod([s - z for z in zeros]) / np.prod([s - p for p in poles]))
    response = Response.from_paz(
        zeros,
        poles,
        stage_gain=sensitivity,
        stage_gain_frequency=1.0,
        input_units="M/S",
        output_units="COUNTS",
        normalization_frequency=1.0,
        normalization_factor=float(a0),
    )
    response.recalculate_overall_sensitivity(1.0)
    return response


def _make_stations(
    n: int, rng: np.random.Generator, region_km: float, reference: tuple[float, float],
    network: str, channel: str,
) -> list[SyntheticStation]:
    if n < 2:
        raise ValueError(f"stations={n}: a cross-correlation data set needs at least 2 stations")
    if n > 9999:
        raise ValueError(f"stations={n}: at most 9999 stations (codes are S0001..S9999)")
    xy = rng.uniform(-region_km / 2.0, region_km / 2.0, size=(n, 2))
    periods = rng.choice([120.0, 60.0, 30.0], size=n)
    sensitivities = rng.uniform(4.0e8, 1.2e9, size=n)
    stations = []
    for i in range(n):
        lat, lon = xy_to_latlon(float(xy[i, 0]), float(xy[i, 1]), reference)
        stations.append(
            SyntheticStation(
                network=network,
                code=f"S{i + 1:04d}",
                channel=channel,
                x_km=round(float(xy[i, 0]), 6),
                y_km=round(float(xy[i, 1]), 6),
                latitude=lat,
                longitude=lon,
                natural_period=float(periods[i]),
                damping=0.707,
                sensitivity=round(float(sensitivities[i]), 1),
            )
        )
    return stations


def _make_sources(
    rng: np.random.Generator, source_distance_km: float, source_azimuth: float,
    weak_sources: int, weak_amplitude: float,
) -> list[NoiseSource]:
    az = math.radians(source_azimuth)
    sources = [
        NoiseSource(
            x_km=source_distance_km * math.sin(az), y_km=source_distance_km * math.cos(az),
            amplitude=1.0,
        )
    ]
    for _ in range(weak_sources):
        a = rng.uniform(0.0, 2.0 * math.pi)
        d = source_distance_km * rng.uniform(0.7, 1.3)
        sources.append(
            NoiseSource(x_km=d * math.sin(a), y_km=d * math.cos(a), amplitude=weak_amplitude)
        )
    return sources


def make_dataset(
    directory: str | Path,
    stations: int = 10,
    hours: float = 1.0,
    sampling_rate: float = 20.0,
    velocity: float = 3.0,
    seed: int = 0,
    region_km: float = 100.0,
    source_distance_km: float = 400.0,
    source_azimuth: float = 60.0,
    weak_sources: int = 3,
    weak_amplitude: float = 0.25,
    local_noise: float = 0.5,
    band: tuple[float, float] = (0.05, 2.0),
    ground_velocity: float = 1.0e-6,
    network: str = "SY",
    channel: str = "BHZ",
    starttime: UTCDateTime = DEFAULT_STARTTIME,
    reference: tuple[float, float] = (46.0, 8.0),
    time_offsets: dict[str, float] | None = None,
) -> SyntheticDataset:
    """Write a synthetic ambient-noise data set into ``directory`` and describe it.

    Parameters
    ----------
    stations: number of stations, placed uniformly at random in a square of
        ``region_km`` km around ``reference`` (lat, lon).
    hours: length of each trace.
    sampling_rate: samples per second of the recorded traces (Hz).
    velocity: propagation speed of the noise (km/s).
    seed: seeds everything (positions, instruments, source signals, local noise).
    source_distance_km, source_azimuth: where the dominant source is, from the
        array centre (azimuth in degrees clockwise from north).
    weak_sources, weak_amplitude: number and relative amplitude of the weaker
        sources at random azimuths (they make the correlations less trivial
        without moving their main peak).
    local_noise: RMS of each station's incoherent noise, relative to the
        dominant source's signal at ``source_distance_km``.
    band: (fmin, fmax) Hz of the source spectra (cosine tapered outside).
    ground_velocity: RMS ground velocity of the dominant source (m/s).
    time_offsets: station code → seconds: that station samples the ground at
        ``starttime + offset + i / sampling_rate`` (its file starts there), as
        a digitiser off the common grid would; the expected lags do not change.
    """
    if hours <= 0:
        raise ValueError(f"hours={hours}: must be positive")
    if velocity <= 0:
        raise ValueError(f"velocity={velocity}: must be positive (km/s)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    station_list = _make_stations(stations, rng, region_km, reference, network, channel)
    sources = _make_sources(rng, source_distance_km, source_azimuth, weak_sources, weak_amplitude)

    npts = int(round(hours * 3600.0 * sampling_rate))
    nfft = sp_fft.next_fast_len(npts, real=True)
    freqs = np.fft.rfftfreq(nfft, d=1.0 / sampling_rate)
    shape = band_taper(freqs, *band)
    # Parseval for a real signal from its rfft: variance ~ 2 * norm**2 * sum(shape**2) / nfft**2.
    norm = ground_velocity * nfft / math.sqrt(2.0 * max(float(np.sum(shape**2)), 1.0))

    def random_spectrum() -> np.ndarray:
        spec = rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size)
        return spec * shape * norm / math.sqrt(2.0)

    source_spectra = [random_spectrum() * src.amplitude for src in sources]
    reference_km = source_distance_km
    stream_paths = []
    inventory_stations = []
    for sta in station_list:
        ground = np.zeros(freqs.size, dtype=np.complex128)
        for src, spec in zip(sources, source_spectra, strict=True):
            r = math.hypot(sta.x_km - src.x_km, sta.y_km - src.y_km)
            spreading = math.sqrt(reference_km / max(r, 1.0))
            ground += spreading * spec * np.exp(-2j * math.pi * freqs * (r / velocity))
        ground += local_noise * random_spectrum()
        offset = (time_offsets or {}).get(sta.code, 0.0)
        if offset:
            ground = ground * np.exp(2j * math.pi * freqs * offset)
        response = seismometer_response(sta.natural_period, sta.damping, sta.sensitivity)
        transfer = np.asarray(
            response.get_evalresp_response_for_frequencies(freqs, output="VEL")
        )
        counts = sp_fft.irfft(ground * transfer, n=nfft)[:npts]
        trace = Trace(
            data=np.round(counts).astype(np.int32),
            header={
                "network": sta.network,
                "station": sta.code,
                "location": "",
                "channel": sta.channel,
                "sampling_rate": sampling_rate,
                "starttime": starttime + offset,
            },
        )
        path = directory / sta.filename
        Stream([trace]).write(str(path), format="MSEED", encoding="STEIM2", reclen=4096)
        stream_paths.append(path)
        inventory_stations.append(_inventory_station(sta, response, sampling_rate, starttime))

    inventory = Inventory(
        networks=[Network(code=network, stations=inventory_stations, description="d4p synthetic")],
        source="d4p-seismo synthetic",
    )
    inventory.write(str(directory / "stations.xml"), format="STATIONXML")
    params = {
        "stations": stations, "hours": hours, "sampling_rate": sampling_rate,
        "velocity": velocity, "seed": seed, "region_km": region_km,
        "source_distance_km": source_distance_km, "source_azimuth": source_azimuth,
        "weak_sources": weak_sources, "weak_amplitude": weak_amplitude,
        "local_noise": local_noise, "band": list(band), "ground_velocity": ground_velocity,
        "time_offsets": dict(time_offsets or {}),
    }
    dataset = SyntheticDataset(
        directory=directory, stations=station_list, sources=sources, velocity=velocity,
        sampling_rate=sampling_rate, starttime=starttime, hours=hours, seed=seed,
        reference=reference, params=params,
    )
    _write_manifest(dataset)
    return dataset


def _inventory_station(
    sta: SyntheticStation, response: Response, sampling_rate: float, starttime: UTCDateTime
) -> InventoryStation:
    channel = Channel(
        code=sta.channel, location_code="", latitude=sta.latitude, longitude=sta.longitude,
        elevation=0.0, depth=0.0, azimuth=0.0, dip=-90.0, sample_rate=sampling_rate,
        start_date=starttime - 86400, response=response,
    )
    return InventoryStation(
        code=sta.code, latitude=sta.latitude, longitude=sta.longitude, elevation=0.0,
        channels=[channel], site=Site(name=f"synthetic station {sta.code}"),
        start_date=starttime - 86400,
    )


def _write_manifest(dataset: SyntheticDataset) -> None:
    manifest = {
        "params": dataset.params,
        "starttime": str(dataset.starttime),
        "reference": list(dataset.reference),
        "stations": [asdict(s) for s in dataset.stations],
        "sources": [asdict(s) for s in dataset.sources],
    }
    (dataset.directory / "dataset.json").write_text(json.dumps(manifest, indent=1))


def load_dataset(directory: str | Path) -> SyntheticDataset:
    """Read back what :func:`make_dataset` wrote (from ``dataset.json``)."""
    directory = Path(directory)
    manifest_path = directory / "dataset.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{manifest_path}: no synthetic data set here; create one with "
            "d4p_seismo.synthetic.make_dataset(directory)"
        )
    manifest = json.loads(manifest_path.read_text())
    params = manifest["params"]
    return SyntheticDataset(
        directory=directory,
        stations=[SyntheticStation(**s) for s in manifest["stations"]],
        sources=[NoiseSource(**s) for s in manifest["sources"]],
        velocity=params["velocity"],
        sampling_rate=params["sampling_rate"],
        starttime=UTCDateTime(manifest["starttime"]),
        hours=params["hours"],
        seed=params["seed"],
        reference=tuple(manifest["reference"]),
        params=params,
    )


def travel_time(station: SyntheticStation, source: NoiseSource, velocity: float) -> float:
    """Straight-ray travel time (s) from ``source`` to ``station``."""
    return math.hypot(station.x_km - source.x_km, station.y_km - source.y_km) / velocity


def expected_lags(dataset: SyntheticDataset) -> dict[tuple[str, str], float]:
    """The lag (s) at which the correlation of every station pair must peak.

    Keys are ``(id_a, id_b)`` with ``id_a < id_b`` (SEED ids, the order the
    xcorr workflow uses); the value is ``t_b - t_a``, the travel time from the
    dominant source to station ``b`` minus that to station ``a``. It is the lag
    of the maximum of ``c(τ) = Σ_t a(t) b(t + τ)`` (see
    :func:`d4p_seismo.processing.xcorr`).
    """
    dominant = max(dataset.sources, key=lambda s: s.amplitude)
    times = {s.seed_id: travel_time(s, dominant, dataset.velocity) for s in dataset.stations}
    return {
        (a, b): times[b] - times[a]
        for a, b in combinations(sorted(times), 2)
    }


@dataclass
class EventWaveforms:
    """Observed and synthetic seismograms of one event, and the truth relating them.

    ``observed(t) = amplitude_ratio * synthetic(t - time_shift)`` plus a little
    noise, so a misfit measurement must find ``time_shift`` (s, observed later
    when positive) and ``dlnA = ln(amplitude_ratio)``.
    """

    observed: Stream
    synthetic: Stream
    time_shift: float
    amplitude_ratio: float
    distances_km: dict[str, float]
    origin_time: UTCDateTime


def _wave_packet(t: np.ndarray, arrival: float, period: float, cycles: float) -> np.ndarray:
    width = cycles * period / 2.0
    return np.exp(-(((t - arrival) / width) ** 2)) * np.cos(2 * math.pi * (t - arrival) / period)


def make_event_waveforms(
    stations: int = 3,
    components: str = "ZNE",
    sampling_rate: float = 2.0,
    duration: float = 1800.0,
    time_shift: float = 2.3,
    amplitude_ratio: float = 1.25,
    noise: float = 0.01,
    seed: int = 0,
    network: str = "SY",
    origin_time: UTCDateTime = DEFAULT_STARTTIME,
) -> EventWaveforms:
    """Three-component seismograms of one event at ``stations`` stations.

    Each synthetic has a P, an S and a surface-wave packet (periods 15–40 s)
    at travel times for 8, 4.5 and 3.6 km/s over distances of 800–2500 km; the
    observed is the synthetic delayed by ``time_shift`` s (exactly, through the
    FFT), scaled by ``amplitude_ratio`` and with Gaussian noise of relative RMS
    ``noise``. Traces start 60 s before the origin so there is a quiet
    pre-event window.
    """
    rng = np.random.default_rng(seed)
    npts = int(round(duration * sampling_rate))
    t = np.arange(npts) / sampling_rate - 60.0
    observed, synthetic = Stream(), Stream()
    distances = {}
    nfft = sp_fft.next_fast_len(2 * npts, real=True)
    freqs = sp_fft.rfftfreq(nfft, d=1.0 / sampling_rate)
    delay = np.exp(-2j * math.pi * freqs * time_shift)
    for i in range(stations):
        code = f"E{i + 1:03d}"
        distance = float(rng.uniform(800.0, 2500.0))
        distances[code] = distance
        for comp in components:
            amps = rng.uniform(0.5, 1.5, size=3) * (1.0 if comp == "Z" else 0.6)
            syn = (
                amps[0] * _wave_packet(t, distance / 8.0, float(rng.uniform(15, 20)), 3)
                + amps[1] * _wave_packet(t, distance / 4.5, float(rng.uniform(18, 25)), 3)
                + amps[2] * _wave_packet(t, distance / 3.6, float(rng.uniform(25, 40)), 5)
            ) * 1.0e-6
            obs = sp_fft.irfft(sp_fft.rfft(syn, nfft) * delay, nfft)[:npts] * amplitude_ratio
            obs += noise * np.std(obs) * rng.standard_normal(npts)
            header = {
                "network": network, "station": code, "location": "",
                "channel": f"BH{comp}", "sampling_rate": sampling_rate,
                "starttime": origin_time - 60.0,
            }
            synthetic.append(Trace(data=syn, header=dict(header)))
            observed.append(Trace(data=obs, header=dict(header)))
    return EventWaveforms(
        observed=observed, synthetic=synthetic, time_shift=time_shift,
        amplitude_ratio=amplitude_ratio, distances_km=distances, origin_time=origin_time,
    )


def write_event_waveforms(event: EventWaveforms, directory: str | Path) -> tuple[Path, Path]:
    """Write ``observed/`` and ``synthetic/`` miniSEED files (one per trace) into ``directory``."""
    directory = Path(directory)
    paths = []
    for kind, stream in (("observed", event.observed), ("synthetic", event.synthetic)):
        folder = directory / kind
        folder.mkdir(parents=True, exist_ok=True)
        for tr in stream:
            tr2 = tr.copy()
            tr2.data = tr2.data.astype(np.float64)
            tr2.write(str(folder / f"{tr.id}.mseed"), format="MSEED", encoding="FLOAT64")
        paths.append(folder)
    return paths[0], paths[1]
