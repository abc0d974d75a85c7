"""Processing elements of the misfit workflow (the dispel4py paper's appendix).

A producer emits aligned observed/synthetic pairs ``(station, component,
observed, synthetic)``; :class:`Preprocess` (the paper's Phase 1) detrends,
tapers and band-passes both to the period band; the stream is then tee'd
into pyflex window selection →
per-window misfit, and into the whole-trace misfit; the two halves meet again
in :class:`JoinMisfit` (group_by station and component); :class:`StationImage`
(group_by station) draws one image per station, and :class:`MisfitSummary`
writes the metadata summary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import obspy
from d4p import GenericPE, IterativePE, ProducerPE, group_by

from d4p_seismo import misfit, processing
from d4p_seismo.errors import MissingDataError, SeismoDataError, fail_or_skip
from d4p_seismo.files import read_waveforms, waveform_files
from d4p_seismo.pes import id_matches
from d4p_seismo.plot import misfit_station, tf_misfit_plot


def match_key(trace: obspy.Trace, channel_map: dict[str, str] | None = None) -> str:
    """``NET.STA.C``: how observed and synthetic traces are matched (network,
    station and component, the last letter of the channel), since synthetics
    seldom carry the location and band codes of the real channel
    (``IU.ANMO.00.BHZ`` matches ``IU.ANMO..MXZ``).

    ``channel_map`` (observed channel code or component → the synthetic's,
    see :func:`parse_channel_map`) renames the observed component first:
    with ``{"E": "X", "N": "Y"}`` an observed ``BHE`` matches a synthetic
    ``MXX``; a whole channel code (``{"HHZ": "MXZ"}``) wins over its component."""
    channel = trace.stats.channel
    if channel_map:
        channel = channel_map.get(channel, channel_map.get(channel[-1:], channel))
    return f"{trace.stats.network}.{trace.stats.station}.{channel[-1:]}"


ORIENTED = "123"
"""Component codes of sensors oriented by azimuth and dip (the inventory
says where they point), rotated to Z/N/E before matching."""


def parse_channel_map(text: str) -> dict[str, str]:
    """``"E:X,N:Y"`` → ``{"E": "X", "N": "Y"}``: observed → synthetic channel
    codes (three letters, ``HHZ:MXZ``) or components (one letter, ``E:X``).

    Components ``1``/``2``/``3`` cannot be renamed: they point where the
    inventory says, not north or east, so they are rotated instead (give
    an inventory; see :func:`rotate_to_zne`). Raises ``ValueError`` naming
    the entry at fault.
    """
    mapping: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        obs, sep, syn = (part.strip() for part in entry.partition(":"))
        if not sep or not obs or not syn or len(obs) != len(syn) or len(obs) not in (1, 3):
            raise ValueError(
                f"{entry!r}: write OBSERVED:SYNTHETIC, both components (E:X) or both "
                "channel codes (HHZ:MXZ), entries separated by commas"
            )
        if obs[-1] in ORIENTED and syn[-1] not in ORIENTED:
            raise ValueError(
                f"{entry!r}: component {obs[-1]} points at the azimuth the inventory gives, "
                f"not along {syn[-1]}; give the StationXML (-p inventory=FILE) and the observed "
                "1/2/3 components are rotated to Z/N/E before matching"
            )
        if obs in mapping:
            raise ValueError(f"{entry!r}: {obs} is mapped twice")
        mapping[obs] = syn
    return mapping


def rotate_to_zne(stream: obspy.Stream, inventory: obspy.Inventory) -> obspy.Stream:
    """``stream`` with every station's Z/1/2 (or 1/2/3) set rotated to Z/N/E
    by the azimuths and dips of ``inventory`` (ObsPy's
    ``Stream.rotate("->ZNE")``); other traces pass unchanged. A station with
    1/2 components but no orientation in the inventory is an error naming it."""
    if not any(tr.stats.channel[-1:] in ORIENTED for tr in stream):
        return stream
    stream = stream.copy()
    try:
        stream.rotate("->ZNE", inventory=inventory, components=("Z12", "123"))
    except Exception as exc:
        oriented = sorted({tr.id for tr in stream if tr.stats.channel[-1:] in ORIENTED})
        raise MissingDataError(
            f"{', '.join(oriented)}: cannot rotate to Z/N/E with the inventory ({exc}); "
            "give a StationXML with these channels' azimuth and dip"
        ) from exc
    return stream


def _unrotated(trace: obspy.Trace, stream: obspy.Stream) -> str:
    """Why ``trace`` (a 1/2/3 component) was not rotated with the inventory:
    the components of its sensor that are missing from ``stream``."""
    band = trace.stats.channel[:2]
    have = {tr.stats.channel[-1] for tr in stream if tr.id[:-1] == trace.id[:-1]}
    wanted = "Z12" if have & set("Z12") else "123"
    missing = ", ".join(band + c for c in wanted if c not in have)
    return (f"; it was not rotated to Z/N/E, which needs all three components of its "
            f"sensor: {missing} missing from the observed traces (add their files)")


def _require_signal(trace: obspy.Trace, kind: str) -> None:
    """Raise a `MissingDataError` naming ``trace`` if all its samples are equal
    (a dead channel): its misfit would be a shift of a whole trace length and
    a dlnA of NaN, reported as a measurement."""
    if trace.stats.npts and np.ptp(trace.data) == 0:
        raise MissingDataError(
            f"{trace.id}: all {trace.stats.npts} {kind} samples of the common span are "
            f"{trace.data[0]:g} (a dead channel?); leave it out (-p channel, or "
            "-p on_error=skip)"
        )


def _joined(
    stream: obspy.Stream, kind: str, files: dict[str, list[str]],
    fail: Callable[[SeismoDataError], None] | None = None,
) -> obspy.Stream:
    """``stream`` with the pieces of each record (split files, or records a
    reader returned apart) joined into one trace. Pieces with a gap between
    them, or at different rates, are an error naming the trace, its files
    and the first gap: a misfit needs one continuous record. ``fail`` (if
    given) gets that error instead of it being raised, and the trace is left
    out. Header rates a float32 away from their nominal value are read as it
    (:func:`~d4p_seismo.processing.nominal_rate`)."""
    stream = obspy.Stream([processing.nominal_rate(tr) for tr in stream])
    out = obspy.Stream()
    for trace_id in dict.fromkeys(tr.id for tr in stream):
        pieces = stream.select(id=trace_id)
        if len(pieces) == 1:
            out += pieces
            continue
        try:
            joined = pieces.copy().merge(method=1)
        except Exception as exc:  # ObsPy: sampling rates or data types that differ
            problem, fix = str(exc), "resample the pieces to one rate"
        else:
            if len(joined) == 1 and not np.ma.isMaskedArray(joined[0].data):
                out += joined
                continue
            gaps = pieces.copy().sort().get_gaps()
            problem = (f"a gap of {gaps[0][6]:g} s at {gaps[0][4]}" if gaps
                       else "pieces that do not join")
            fix = ("fill the gap (ObsPy's Stream.merge with a fill_value) or cut the record to "
                   "a span without it")
        where = f" in {', '.join(dict.fromkeys(files[trace_id]))}" if files.get(trace_id) else ""
        error = MissingDataError(
            f"{kind} {trace_id} comes in {len(pieces)} pieces{where} ({problem}); a misfit "
            f"needs one continuous record: {fix}"
        )
        if fail is None:
            raise error
        fail(error)
    return out


class MisfitPairs(ProducerPE):
    """Pairs each observed trace with its synthetic, aligned.

    Give either two directories (``observed``, ``synthetic``; every file is
    read) or two ``obspy.Stream`` objects. Traces are matched by network,
    station and component (:func:`match_key`, renamed by ``channel_map``);
    two traces of one side with the same key (two location codes, two band
    codes such as BH and HH) are an error naming both, unless ``select``
    (location and channel patterns, see :func:`~d4p_seismo.pes.id_matches`)
    keeps one of them: it chooses the observed traces used. The pieces of
    one record are joined first. With ``inventory`` (a StationXML path or an
    ``Inventory``), observed components 1/2/3 are rotated to Z/N/E first
    (:func:`rotate_to_zne`). An observed trace without a synthetic (or the
    reverse) raises a :class:`MissingDataError` naming it, or with
    ``on_error="skip"`` is left out with a warning. The pair carries the
    observed channel code.
    """

    def __init__(
        self,
        observed: str | Path | obspy.Stream,
        synthetic: str | Path | obspy.Stream,
        resample: bool = False,
        on_error: str = "raise",
        channel_map: dict[str, str] | None = None,
        inventory: str | Path | obspy.Inventory | None = None,
        select: tuple[str, str] = ("*", "*"),
    ) -> None:
        super().__init__()
        self.select = tuple(select)
        self.observed = observed if isinstance(observed, obspy.Stream) else str(observed)
        self.synthetic = synthetic if isinstance(synthetic, obspy.Stream) else str(synthetic)
        self.resample = resample
        self.on_error = on_error
        self.channel_map = dict(channel_map or {})
        self.inventory = inventory if isinstance(inventory, obspy.Inventory | None) else str(
            inventory)

    def _fail(self, error: SeismoDataError) -> None:
        fail_or_skip(self, self.on_error, error)

    def _stream(self, source: str | obspy.Stream, kind: str) -> obspy.Stream:
        """The traces of ``source`` (a directory or a stream), those ``select``
        chooses if observed, pieces joined;
        files that are not waveforms (the inventory, StationXML, QuakeML, JSON:
        :func:`~d4p_seismo.files.waveform_files`) are left out and named in
        the log; an unreadable file or a record with a gap fails the run or, with
        ``on_error="skip"``, is left out with a warning."""
        if isinstance(source, obspy.Stream):
            return _joined(self._selected(source, kind), kind, {}, self._fail)
        folder = Path(source)
        if not folder.is_dir():
            raise MissingDataError(f"{folder}: {kind} waveform directory not found")
        stream = obspy.Stream()
        files: dict[str, list[str]] = {}
        inventory = self.inventory if isinstance(self.inventory, str) else None
        paths, skipped = waveform_files(sorted(p for p in folder.iterdir() if p.is_file()),
                                        {"inventory": inventory})
        if skipped:
            self.log(f"{folder}: left out the files that are not waveforms: "
                     f"{', '.join(skipped)}")
        for path in paths:
            try:
                read = read_waveforms(path, f"{kind} waveform", "move it out of the folder "
                                      "or skip it with -p on_error=skip")
            except MissingDataError as error:
                self._fail(error)
                continue
            for tr in read:
                files.setdefault(tr.id, []).append(str(path))
            stream += read
        if not stream:
            raise MissingDataError(f"{folder}: no {kind} waveforms")
        return _joined(self._selected(stream, kind), kind, files, self._fail)

    @staticmethod
    def _by_key(
        stream: obspy.Stream, kind: str, channel_map: dict[str, str] | None = None
    ) -> dict[str, obspy.Trace]:
        traces: dict[str, obspy.Trace] = {}
        for tr in stream:
            key = match_key(tr, channel_map)
            if key in traces:
                choose = ("choose one with -p location=CODE or -p channel=PATTERN (e.g. "
                          f"-p channel={tr.stats.channel[:2]}?)" if kind == "observed"
                          else "keep one of them")
                raise MissingDataError(
                    f"{kind} traces {traces[key].id} and {tr.id} both match {key} "
                    f"(network.station.component); {choose}"
                    + (" or change -p channel_map" if channel_map else "")
                )
            traces[key] = tr
        return traces

    def _selected(self, stream: obspy.Stream, kind: str) -> obspy.Stream:
        """The traces of ``stream`` whose location and channel codes match
        ``select`` (observed), before their pieces are joined (the gaps of
        a channel left out do not matter); all of them (synthetic)."""
        codes = ("*", "*", *self.select)
        if kind != "observed" or codes == ("*",) * 4:
            return stream
        kept = obspy.Stream([tr for tr in stream if id_matches(tr.id, codes)])
        if not kept:
            raise MissingDataError(
                f"no observed trace has location {self.select[0]!r} and channel "
                f"{self.select[1]!r} (there are {', '.join(sorted({tr.id for tr in stream}))}); "
                "change -p location or -p channel"
            )
        return kept

    def _process(self, inputs: Any) -> None:
        stream = self._stream(self.observed, "observed")
        if self.inventory is not None:
            inventory = self.inventory
            if not isinstance(inventory, obspy.Inventory):
                inventory = read_inventory(inventory)
            stream = rotate_to_zne(stream, inventory)
        observed = self._by_key(stream, "observed", self.channel_map)
        synthetic = self._by_key(self._stream(self.synthetic, "synthetic"), "synthetic")
        for key in sorted(set(observed) | set(synthetic)):
            try:
                if key not in synthetic:
                    hint = ""
                    if observed[key].stats.channel[-1:] in ORIENTED and self.inventory is None:
                        hint = ("; components 1/2/3 are rotated to Z/N/E when you give the "
                                "inventory (-p inventory=STATIONXML)")
                    elif observed[key].stats.channel[-1:] in ORIENTED:
                        hint = _unrotated(observed[key], stream)
                    elif self.channel_map or len(synthetic):
                        hint = ("; if the synthetics name this component differently, map it: "
                                "-p channel_map=OBSERVED:SYNTHETIC (e.g. E:X,N:Y)")
                    raise MissingDataError(
                        f"{observed[key].id}: observed trace has no synthetic ({key}){hint}"
                    )
                if key not in observed:
                    raise MissingDataError(
                        f"{synthetic[key].id}: synthetic trace has no observed data ({key})"
                    )
                obs, syn = misfit.align(observed[key], synthetic[key], resample=self.resample)
                _require_signal(obs, "observed")
                _require_signal(syn, "synthetic")
            except SeismoDataError as error:
                fail_or_skip(self, self.on_error, error)
                continue
            station = f"{obs.stats.network}.{obs.stats.station}"
            self.write(self.OUTPUT_NAME, (station, obs.stats.channel, obs, syn))


class Preprocess(IterativePE):
    """Phase 1: :func:`~d4p_seismo.misfit.preprocess` on the observed and the
    synthetic of each pair (detrend, demean, taper, band-pass to the period band).

    With ``response`` (``"DISP"``, ``"VEL"`` or ``"ACC"``) and ``inventory``
    (a StationXML file, read once per instance) the observed's instrument
    response is removed first (:func:`~d4p_seismo.misfit.remove_response`),
    for observed data in counts against synthetics in physical units.

    A pair that cannot be preprocessed (observed and synthetic overlapping
    for less than ``max_period``, a response the inventory lacks) fails the
    run naming the trace, or with ``on_error="skip"`` is left out with a
    :class:`~d4p_seismo.errors.SkippedStationWarning`.
    """

    def __init__(
        self, min_period: float, max_period: float, taper: float = 0.05,
        inventory: str | Path | None = None, response: str | None = None,
        on_error: str = "raise",
    ) -> None:
        super().__init__()
        if response and not inventory:
            raise ValueError(f"response={response!r} needs the inventory (StationXML)")
        self.min_period = min_period
        self.max_period = max_period
        self.taper = taper
        self.inventory = str(inventory) if inventory else None
        self.response = response or None
        self.on_error = on_error
        self._inventory: Any = None

    def preprocess(self) -> None:
        if self.response:
            self._inventory = read_inventory(self.inventory)

    def _process(self, data: tuple) -> tuple | None:
        station, channel, obs, syn = data
        obs = obs.copy()
        try:
            if self.response:
                misfit.remove_response(
                    obs, self._inventory, self.min_period, self.max_period, self.response
                )
            return station, channel, *(
                misfit.preprocess(tr, self.min_period, self.max_period, self.taper)
                for tr in (obs, syn.copy())
            )
        except SeismoDataError as error:
            fail_or_skip(self, self.on_error, error)
            return None


class SelectWindows(IterativePE):
    """pyflex window selection; appends the list of windows to the data unit.

    ``event`` (a QuakeML file) and ``inventory`` (a StationXML file), when
    given, are read once per instance and passed to pyflex, which then
    rejects windows by travel time and signal-to-noise ratio.
    """

    def __init__(
        self, min_period: float, max_period: float, event: str | Path | None = None,
        inventory: str | Path | None = None, **config: float,
    ) -> None:
        super().__init__()
        self.min_period = min_period
        self.max_period = max_period
        self.event = str(event) if event else None
        self.inventory = str(inventory) if inventory else None
        self.config = config
        self._event: Any = None
        self._inventory: Any = None

    def preprocess(self) -> None:
        if self.event:
            self._event = read_event(self.event)
        if self.inventory:
            self._inventory = read_inventory(self.inventory)

    def _process(self, data: tuple) -> tuple:
        station, channel, obs, syn = data
        windows = misfit.select_windows(
            obs, syn, self.min_period, self.max_period, event=self._event,
            station=self._inventory, **self.config,
        )
        return station, channel, obs, syn, windows


def read_event(path: str | Path) -> obspy.core.event.Event:
    """The one event of a QuakeML file, or a clear error naming the file."""
    if not Path(path).is_file():
        raise MissingDataError(f"{path}: event (QuakeML) file not found")
    try:
        catalog = obspy.read_events(str(path))
    except Exception as exc:
        raise MissingDataError(f"{path}: cannot read the event file ({exc})") from exc
    if len(catalog) != 1:
        raise MissingDataError(f"{path}: holds {len(catalog)} events; give a file with one")
    event = catalog[0]
    origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
    missing = ["origin"] if origin is None else [
        f"origin {key}" for key in ("time", "latitude", "longitude", "depth")
        if origin.get(key) is None]
    if missing:
        raise MissingDataError(
            f"{path}: the event has no {', '.join(missing)} (pyflex needs the origin's time, "
            "position and depth); give a QuakeML event with them"
        )
    return event


def read_inventory(path: str | Path) -> obspy.Inventory:
    """A StationXML file, or a clear error naming it."""
    if not Path(path).is_file():
        raise MissingDataError(f"{path}: inventory (StationXML) file not found")
    try:
        return obspy.read_inventory(str(path))
    except Exception as exc:
        raise MissingDataError(f"{path}: cannot read the inventory ({exc})") from exc


class WindowMisfit(IterativePE):
    """Tapers each window and measures its time shift, dlnA and L2 misfit.

    A trace with no window left is kept, with an empty list (and a log line),
    so the join still completes; the summary shows it.
    """

    def __init__(self, taper_fraction: float = 0.1) -> None:
        super().__init__()
        self.taper_fraction = taper_fraction

    def _process(self, data: tuple) -> tuple:
        station, channel, obs, syn, windows = data
        rate = obs.stats.sampling_rate
        measured = [
            misfit.measure(obs.data, syn.data, rate, w.left, w.right, self.taper_fraction).as_dict()
            for w in windows
        ]
        if not measured:
            self.log(f"{station} {channel}: pyflex selected no window")
        return station, channel, {
            "windows": measured,
            "times": obs.times(),
            "observed": np.asarray(obs.data),
            "synthetic": np.asarray(syn.data),
        }


class TraceMisfit(IterativePE):
    """Misfit of the whole (tapered) trace."""

    def __init__(self, taper_fraction: float = 0.1) -> None:
        super().__init__()
        self.taper_fraction = taper_fraction

    def _process(self, data: tuple) -> tuple:
        station, channel, obs, syn = data
        whole = misfit.measure(
            obs.data, syn.data, obs.stats.sampling_rate, taper_fraction=self.taper_fraction
        )
        return station, channel, {"trace": whole.as_dict()}


class TimeFrequencyMisfit(IterativePE):
    """The time–frequency misfit of each whole trace (observed as reference,
    :func:`~d4p_seismo.misfit.tf_misfit`, over the period band), drawn as
    ``<directory>/<station>.<channel>.tf.png``; outputs ``{"tf": {"em",
    "pm", "image"}}`` for the join."""

    def __init__(self, min_period: float, max_period: float, directory: str | Path) -> None:
        super().__init__()
        self.min_period = min_period
        self.max_period = max_period
        self.directory = str(directory)

    def preprocess(self) -> None:
        Path(self.directory).mkdir(parents=True, exist_ok=True)

    def _process(self, data: tuple) -> tuple:
        station, channel, obs, syn = data
        try:
            tf = misfit.tf_misfit(obs.data, syn.data, obs.stats.sampling_rate,
                                  1.0 / self.max_period, 1.0 / self.min_period)
        except MissingDataError as exc:
            raise MissingDataError(f"{obs.id}: {exc}") from None
        path = tf_misfit_plot(f"{station} {channel}", tf, obs.data, syn.data,
                              Path(self.directory) / f"{station}.{channel}.tf.png")
        return station, channel, {"tf": {"em": tf.em, "pm": tf.pm, "image": str(path)}}


class JoinMisfit(GenericPE):
    """Joins the window and whole-trace results (and with ``tf`` the
    time–frequency misfit) of one station/component.

    Every input is grouped by ``(station, component)``, so the parts of a
    trace meet in the same instance whatever the mapping.
    """

    def __init__(self, tf: bool = False) -> None:
        super().__init__()
        self.expected = ("windows", "trace", "tf") if tf else ("windows", "trace")
        for port in self.expected:
            self._add_input(port, grouping=group_by(0, 1))
        self._add_output("output")
        self.parts: dict[tuple[str, str], dict] = {}

    def process(self, inputs: dict) -> None:
        for data in inputs.values():
            station, channel, part = data
            merged = self.parts.setdefault((station, channel), {})
            merged.update(part)
            if all(port in merged for port in self.expected):
                del self.parts[(station, channel)]
                self.write("output", (station, channel, merged))

    def postprocess(self) -> None:
        if self.parts:
            (station, channel), part = next(iter(self.parts.items()))
            missing = next(port for port in self.expected if port not in part)
            raise MissingDataError(f"{station} {channel}: the {missing} misfit never arrived")


class StationImage(GenericPE):
    """Collects the components of each station (group_by station) and draws
    one PNG per station at the end; outputs ``(station, summary dict)``."""

    def __init__(self, directory: str | Path) -> None:
        super().__init__()
        self._add_input("input", grouping=group_by(0))
        self._add_output("output")
        self.directory = str(directory)
        self.stations: dict[str, list[tuple[str, dict]]] = {}

    def process(self, inputs: dict) -> None:
        station, channel, result = inputs["input"]
        self.stations.setdefault(station, []).append((channel, result))

    def postprocess(self) -> None:
        out = Path(self.directory)
        out.mkdir(parents=True, exist_ok=True)
        for station in sorted(self.stations):
            comps = sorted(self.stations[station], key=lambda c: c[0])
            png = misfit_station(
                station,
                [
                    {"component": ch, "times": r["times"], "observed": r["observed"],
                     "synthetic": r["synthetic"], "windows": r["windows"], "trace": r["trace"]}
                    for ch, r in comps
                ],
                out / f"{station}.png",
            )
            self.write("output", (station, {
                "image": str(png),
                "components": {
                    ch: {k: r[k] for k in ("trace", "windows", "tf") if k in r}
                    for ch, r in comps
                },
            }))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.floating | np.integer):
        return _clean(value.item())
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class MisfitSummary(GenericPE):
    """Writes ``misfit_summary.json`` (every station, component, window and
    measurement, plus mean time shift and dlnA over windows) and outputs it."""

    def __init__(self, directory: str | Path) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.directory = str(directory)
        self.stations: dict[str, dict] = {}

    def process(self, inputs: dict) -> None:
        station, info = inputs["input"]
        self.stations[station] = info

    def postprocess(self) -> None:
        windows = [
            w for info in self.stations.values() for comp in info["components"].values()
            for w in comp["windows"]
        ]
        summary = {
            "stations": {k: self.stations[k] for k in sorted(self.stations)},
            "windows": len(windows),
            "mean_time_shift": float(np.mean([w["time_shift"] for w in windows])) if windows else None,
            "mean_dlnA": float(np.mean([w["dlnA"] for w in windows])) if windows else None,
        }
        out = Path(self.directory)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "misfit_summary.json"
        path.write_text(json.dumps(_clean(summary), indent=1))
        summary["summary"] = str(path)
        self.log(
            f"{len(self.stations)} stations, {len(windows)} windows; summary {path}, "
            f"images in {out}"
        )
        self.write("output", summary)
