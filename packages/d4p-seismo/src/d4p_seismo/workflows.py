"""The named workflows ``xcorr`` and ``misfit``: graph builders with their defaults.

Each ``build_*`` returns ``(graph, inputs)`` for :func:`d4p.run`; the plugin
registers them so ``d4p run xcorr -p stations=100`` works.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

from d4p import UsageError, WorkflowGraph
from obspy import UTCDateTime

from d4p_seismo import synthetic
from d4p_seismo.errors import MissingDataError
from d4p_seismo.fdsn import FDSNChannels, FDSNWaveforms, fetch_inventory
from d4p_seismo.misfit import RESPONSE_OUTPUTS
from d4p_seismo.misfit_pes import (
    JoinMisfit,
    MisfitPairs,
    MisfitSummary,
    Preprocess,
    SelectWindows,
    StationImage,
    TimeFrequencyMisfit,
    TraceMisfit,
    WindowMisfit,
    parse_channel_map,
)
from d4p_seismo.params import MISFIT_DEFAULTS, XCORR_DEFAULTS
from d4p_seismo.pes import (
    COMPONENT_PAIRS,
    GAP_POLICIES,
    OUTPUT_FORMATS,
    ReadTrace,
    RecordSection,
    Stack,
    StationFiles,
    Summary,
    WriteResults,
    XCorr,
    channel_rates,
    id_matches,
    listed,
    trace_prep,
    waveform_paths,
)
from d4p_seismo.seedlink import ENDLESS, SeedLinkSource, StationWindows, WindowTraces, parse_address
from d4p_seismo.stacking import STACK_KINDS


def _instances(n: int) -> int:
    return n if n > 0 else (os.cpu_count() or 1)


def ensure_synthetic(directory: Path, **params: Any) -> synthetic.SyntheticDataset:
    """The synthetic data set in ``directory``, made (again) unless it exists with ``params``."""
    try:
        existing = synthetic.load_dataset(directory)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        wanted = {k: v for k, v in params.items()}
        same = all(existing.params.get(k) == v for k, v in wanted.items())
        if same and all(p.is_file() for p in existing.waveform_paths):
            return existing
        for path in directory.glob("*.mseed"):
            path.unlink()
    return synthetic.make_dataset(directory, **params)


FDSN_CODES = ("network", "station", "location", "channel")


def _codes(p: dict[str, Any], channel: str) -> tuple[str, str, str, str]:
    """The network/station/location/channel patterns; ``channel`` if none given
    (``BHZ`` online, every channel in files)."""
    net, sta, loc, cha = (str(p[k]) for k in FDSN_CODES)
    return net, sta, loc, cha or channel


def _time(text: str) -> UTCDateTime:
    try:
        return UTCDateTime(text)
    except Exception:
        raise UsageError(
            f"-p starttime={text!r} is not a time; give an ISO time such as 2024-01-01T00:00:00"
        ) from None


def _fetch_fdsn(p: dict[str, Any], output: Path) -> tuple[UTCDateTime, UTCDateTime, str]:
    """The window and the inventory (fetched into ``<output>/stations.xml``) of an online run."""
    for clash in ("data", "inventory"):
        if p[clash]:
            raise UsageError(
                f"-p fdsn={p['fdsn']} downloads the data and the inventory; leave out "
                f"-p {clash}={p[clash]} (or fdsn, to use your own files)"
            )
    if not p["starttime"]:
        raise UsageError(
            f"-p fdsn={p['fdsn']} needs the start of the window: add -p starttime=ISO-TIME "
            "(the window is starttime + hours)"
        )
    start = _time(p["starttime"])
    end = start + float(p["hours"]) * 3600.0
    inventory = output / "stations.xml"
    fetch_inventory(p["fdsn"], inventory, start, end, *_codes(p, "BHZ"))
    return start, end, str(inventory)


def _local_data(
    p: dict[str, Any], output: Path
) -> tuple[Path, UTCDateTime | None, UTCDateTime | None, str, dict | None]:
    """The waveform directory, window, inventory and expected lags (synthetic data
    only) of a run on files: ``data`` or the synthetic data set."""
    if str(p["station"]).isdigit():
        raise UsageError(
            f"-p station={p['station']} selects stations by code; for the number of synthetic "
            "stations use -p stations=N"
        )
    expected = None
    if p["data"]:
        data = Path(p["data"])
        if not data.is_dir():
            raise MissingDataError(f"{data}: waveform directory not found (-p data=DIR)")
        start = _time(p["starttime"]) if p["starttime"] else None
        try:
            dataset = synthetic.load_dataset(data)
            expected = synthetic.expected_lags(dataset)
            start = start or dataset.starttime
        except FileNotFoundError:
            pass
    else:
        data = output / "data"
        dataset = ensure_synthetic(
            data, stations=int(p["stations"]), hours=float(p["hours"]),
            sampling_rate=float(p["rate"]), velocity=float(p["velocity"]), seed=int(p["seed"]),
        )
        expected = synthetic.expected_lags(dataset)
        start = _time(p["starttime"]) if p["starttime"] else dataset.starttime
    end = start + float(p["hours"]) * 3600.0 if start is not None else None
    inventory = p["inventory"] or str(data / "stations.xml")
    if not Path(inventory).is_file():
        raise MissingDataError(
            f"{inventory}: inventory (StationXML) file not found; pass -p inventory=FILE"
        )
    return data, start, end, inventory, expected


def _check_channels(p: dict[str, Any], data: Path, start: UTCDateTime | None,
                    end: UTCDateTime | None, inventory: str) -> None:
    """Codes that select no channel of the files are refused, as a pattern
    matching no file is; with ``-p target_rate=0`` (keep each rate) the
    channels selected must share one sampling rate, or no pair could be
    correlated. Both from the files' headers, before the run."""
    codes = _codes(p, "*")
    given = [f"-p {key}={code}" for key, code in zip(FDSN_CODES, codes, strict=True)
             if code != "*"]
    keep = not float(p["target_rate"])
    if not (given or keep):
        return
    paths = waveform_paths(data, p["pattern"], {"inventory": inventory})[0]
    held = channel_rates([str(path) for path in paths], start, end)
    chosen = {i: rate for i, rate in held.items() if id_matches(i, codes)}
    if held and not chosen:
        raise UsageError(
            f"no channel in {data} matches {' '.join(given)}; the files hold "
            f"{listed(sorted(held))}: check the codes"
        )
    rates: dict[float, list[str]] = {}
    for trace_id, rate in sorted(chosen.items()):
        rates.setdefault(round(rate, 6), []).append(trace_id)
    if not keep or len(rates) < 2:
        return
    found = " and ".join(f"{rate:g} Hz ({listed(ids, 1)})" for rate, ids in sorted(rates.items()))
    whole = [int(rate) for rate in rates if float(rate).is_integer()]
    common = math.gcd(*whole) if len(whole) == len(rates) else 0
    raise UsageError(
        f"-p target_rate={float(p['target_rate']):g} keeps each channel's sampling rate, but the "
        f"channels selected are sampled at {found}: give -p target_rate="
        + (f"{common} (or another rate dividing all)" if common else "RATE (a rate dividing all)")
        + ", or select channels of one rate with -p channel"
    )


def _check_numbers(p: dict[str, Any], checks: tuple[tuple[str, Any, str], ...]) -> None:
    """Raise a `UsageError` naming the first parameter whose value fails its check:
    ``(name, test of the value as a float, what to give)``."""
    for name, ok, what in checks:
        if not ok(float(p[name])):
            raise UsageError(f"-p {name}={p[name]}: give {what}")


_XCORR_NUMBERS = (
    ("hours", lambda v: v > 0, "the length of the time window in hours, more than 0"),
    ("rate", lambda v: v > 0, "the synthetic data's sampling rate in Hz, more than 0"),
    ("seed", lambda v: v >= 0 and v.is_integer(), "a whole number, 0 or more"),
    ("target_rate", lambda v: v >= 0, "a rate in Hz to decimate to (0: keep each rate)"),
    ("freqmin", lambda v: v > 0, "the low corner of the band in Hz, more than 0"),
    ("max_lag", lambda v: v > 0, "the largest lag to keep in seconds, more than 0"),
    ("instances", lambda v: v >= 0 and v.is_integer(),
     "the instances of each parallel PE (0: one per CPU)"),
)


def _band(p: dict[str, Any]) -> None:
    """``freqmin < freqmax``, and below the Nyquist frequency of ``target_rate``."""
    freqmin, freqmax, rate = float(p["freqmin"]), float(p["freqmax"]), float(p["target_rate"])
    if freqmax <= freqmin:
        raise UsageError(
            f"-p freqmin={p['freqmin']} -p freqmax={p['freqmax']}: the band needs "
            "freqmin < freqmax (Hz)"
        )
    if rate and freqmax >= rate / 2:
        raise UsageError(
            f"-p freqmax={p['freqmax']} is not below the Nyquist frequency ({rate / 2:g} Hz) "
            f"of -p target_rate={p['target_rate']}; lower freqmax or raise target_rate"
        )


def _gap_policy(p: dict[str, Any]) -> dict[str, Any]:
    """``gaps`` and ``min_coverage`` for the reader, from ``-p gaps`` and ``-p max_gap``."""
    if p["gaps"] not in GAP_POLICIES:
        raise UsageError(
            f"-p gaps={p['gaps']}: choose one of {', '.join(GAP_POLICIES)} (zero: zero the gaps "
            "and fail on a window missing more than max_gap; reject: leave such windows out)"
        )
    max_gap = float(p["max_gap"])
    if not 0.0 <= max_gap < 1.0:
        raise UsageError(
            f"-p max_gap={p['max_gap']}: give the largest missing fraction of a window "
            "to accept, from 0 up to (not including) 1"
        )
    return {"gaps": p["gaps"], "min_coverage": 1.0 - max_gap}


def _window(p: dict[str, Any]) -> float:
    """The window length (s) from ``-p window``/``-p overlap``, checked."""
    window, overlap = float(p["window"]), float(p["overlap"])
    if window < 0 or not 0.0 <= overlap < 1.0:
        raise UsageError(
            f"-p window={p['window']} -p overlap={p['overlap']}: give a window length in "
            "seconds (0: one window) and an overlap from 0 up to (not including) 1"
        )
    if window > float(p["hours"]) * 3600.0 and not p["seedlink"]:
        raise UsageError(
            f"-p window={p['window']} s is longer than -p hours={p['hours']}; "
            "choose a shorter window or more hours"
        )
    return window


def _seedlink(p: dict[str, Any], window: float) -> tuple[str, dict | None]:
    """The inventory and expected lags (a synthetic data set's inventory only) of
    a real-time run, with its parameters checked."""
    for clash in ("data", "fdsn", "starttime"):
        if p[clash]:
            raise UsageError(
                f"-p seedlink={p['seedlink']} reads the stream from now on; leave out "
                f"-p {clash}={p[clash]}"
            )
    parse_address(p["seedlink"])
    if not window:
        raise UsageError(
            f"-p seedlink={p['seedlink']} cuts the endless stream into windows: add "
            "-p window=SECONDS (e.g. 3600)"
        )
    if float(p["lateness"]) < 0:
        raise UsageError(f"-p lateness={p['lateness']}: give the seconds a station may lag "
                         "behind the others (0 or more)")
    inventory = p["inventory"]
    if not inventory or not Path(inventory).is_file():
        raise MissingDataError(
            f"-p seedlink={p['seedlink']} needs the stations' responses and coordinates: "
            "-p inventory=STATIONXML" + (f" ({inventory}: file not found)" if inventory else "")
        )
    try:
        expected = synthetic.expected_lags(synthetic.load_dataset(Path(inventory).parent))
    except FileNotFoundError:
        expected = None
    return inventory, expected


def _formats(p: dict[str, Any]) -> set[str]:
    formats = {f.strip() for f in str(p["format"]).split(",") if f.strip()}
    if not formats or formats - set(OUTPUT_FORMATS):
        raise UsageError(
            f"-p format={p['format']}: choose sac, asdf or sac,asdf"
        )
    return formats


def build_xcorr(**overrides: Any) -> tuple[WorkflowGraph, dict]:
    """The ambient-noise cross-correlation workflow (see :data:`XCORR_DEFAULTS`).

    files → read (parallel), or FDSN channels → download (parallel), or a
    SeedLink stream → windows per channel → cut (parallel; endless, until
    stopped), →
    trace_prep (parallel) → spectra (broadcast) → xcorr, which forms the pairs
    (parallel) → write_results (parallel) → summary and record section
    (global, one instance each). With ``gaps="reject"`` the windows rejected for their gaps go
    from the reader to the summary; otherwise the reader has no such port and
    fuses with the preprocessing into one chain (no trace leaves its
    process). The result of :func:`d4p.run` holds, at the summary PE's
    ``'output'``, a dict with the paths of the results, the summary CSV and
    the plot.
    """
    unknown = sorted(set(overrides) - set(XCORR_DEFAULTS))
    if unknown:
        raise ValueError(
            f"xcorr has no parameter {unknown[0]!r}; its parameters are: "
            + ", ".join(XCORR_DEFAULTS)
        )
    p = {**XCORR_DEFAULTS, **overrides}
    _check_numbers(p, _XCORR_NUMBERS)
    _band(p)
    gap_policy, formats = _gap_policy(p), _formats(p)
    if p["stack"] not in ("", *STACK_KINDS):
        raise UsageError(
            f"-p stack={p['stack']}: choose linear or pws (phase-weighted), or leave it empty"
        )
    if p["components"] not in COMPONENT_PAIRS:
        raise UsageError(
            f"-p components={p['components']}: choose same (Z with Z, N with N, ...) or all "
            "(every channel with every other)"
        )
    window = _window(p)
    length = window or float(p["hours"]) * 3600.0
    if float(p["max_lag"]) >= length:
        raise UsageError(
            f"-p max_lag={p['max_lag']} s is not shorter than the {length:g} s window it is "
            "correlated over; choose a smaller max_lag or a longer window"
        )
    output = Path(p["output"]).resolve()
    if p["seedlink"]:
        inventory, expected = _seedlink(p, window)
        start = end = None
    elif p["fdsn"]:
        start, end, inventory = _fetch_fdsn(p, output)
        expected = None
    else:
        data, start, end, inventory, expected = _local_data(p, output)
        _check_channels(p, data, start, end, inventory)
    correlations = output / "correlations"
    if correlations.is_dir():
        for old in correlations.glob("*.sac"):
            old.unlink()
    if window and start is None and not p["seedlink"]:
        raise UsageError(
            f"-p window={p['window']} cuts [starttime, starttime + hours) into windows: "
            "add -p starttime=ISO-TIME"
        )
    n = _instances(int(p["instances"]))

    step = window * (1.0 - float(p["overlap"]))
    if p["seedlink"]:
        files = SeedLinkSource(p["seedlink"], *_codes(p, ""))
        windows = StationWindows(window, step, lateness=float(p["lateness"]))
        windows.numprocesses = n
        read = WindowTraces(inventory, f"SeedLink {p['seedlink']}", on_error=p["on_error"],
                            **gap_policy)
    elif p["fdsn"]:
        files = FDSNChannels(p["fdsn"], start, end, *_codes(p, "BHZ"))
        read = FDSNWaveforms(
            p["fdsn"], inventory, start, end, on_error=p["on_error"], window=window,
            overlap=float(p["overlap"]), **gap_policy,
        )
    else:
        files = StationFiles(data, p["pattern"], shares=n, starttime=start, endtime=end,
                             metadata={"inventory": inventory})
        read = ReadTrace(
            inventory, start, end, on_error=p["on_error"], select=_codes(p, "*"),
            window=window, overlap=float(p["overlap"]), **gap_policy,
        )
    read.numprocesses = n
    prep = trace_prep(
        inventory,
        sampling_rate=float(p["target_rate"]) or None,
        freqmin=float(p["freqmin"]),
        freqmax=float(p["freqmax"]),
        normalisation=p["normalisation"],
        whiten=bool(p["whiten"]),
        max_lag=float(p["max_lag"]),
        numprocesses=n,
        on_error=p["on_error"],
    )
    release = 2 * window + float(p["lateness"]) if p["seedlink"] else None
    xcorr = XCorr(float(p["max_lag"]), by_window=bool(window), release=release,
                  components=p["components"], one_window=not window, seen=True)
    xcorr.numprocesses = n
    symmetric = bool(p["symmetric"])
    write = WriteResults(
        correlations, windowed=bool(window), symmetric=symmetric, sac="sac" in formats,
        samples="asdf" in formats, plot=bool(p["plot"]),
    )
    write.numprocesses = n
    summary = Summary(
        output, plot=bool(p["plot"]), expected=expected, asdf="asdf" in formats,
        inventory=inventory, symmetric=symmetric,
    )

    graph = WorkflowGraph()
    if p["seedlink"]:
        graph.connect(files, "output", windows, "input")
        graph.connect(windows, "output", read, "input")
    else:
        graph.connect(files, "output", read, "input")
    graph.connect(read, "output", prep, "input")
    graph.connect(prep, "output", xcorr, "spectra")
    graph.connect(xcorr, "output", write, "input")
    graph.connect(write, "output", summary, "input")
    graph.connect(xcorr, "seen", summary, "seen")
    if p["plot"]:
        graph.connect(write, "plot", RecordSection(output, expected), "input")
    if p["gaps"] == "reject":
        graph.connect(read, "rejected", summary, "rejected")
    if p["stack"]:
        stack = Stack(output / "stacks", p["stack"], symmetric=symmetric, sac="sac" in formats)
        stack.numprocesses = n
        graph.connect(xcorr, "output", stack, "input")
        graph.connect(stack, "output", summary, "stacks")
    graph.name = "xcorr"
    return graph, {files: ENDLESS if p["seedlink"] else 1}


_MISFIT_NUMBERS = (
    ("stations", lambda v: v >= 1 and v.is_integer(), "the number of synthetic stations, 1 or more"),
    ("seed", lambda v: v >= 0 and v.is_integer(), "a whole number, 0 or more"),
    ("amplitude_ratio", lambda v: v > 0, "the synthetic observed's scale, more than 0"),
    ("taper", lambda v: 0 <= v <= 0.5, "the fraction tapered at each end, from 0 to 0.5"),
    ("instances", lambda v: v >= 0 and v.is_integer(),
     "the instances of each parallel PE (0: one per CPU)"),
)


def build_misfit(**overrides: Any) -> tuple[WorkflowGraph, dict]:
    """The misfit workflow (see :data:`MISFIT_DEFAULTS`).

    pairs → preprocess → (select windows → window misfit) and (whole-trace misfit)
    and, with ``tf``, (time–frequency misfit and its image) → join
    (group_by station, component) → image per station (group_by station) →
    summary JSON (global).
    """
    unknown = sorted(set(overrides) - set(MISFIT_DEFAULTS))
    if unknown:
        raise ValueError(
            f"misfit has no parameter {unknown[0]!r}; its parameters are: "
            + ", ".join(MISFIT_DEFAULTS)
        )
    p = {**MISFIT_DEFAULTS, **overrides}
    _check_numbers(p, _MISFIT_NUMBERS)
    output = Path(p["output"]).resolve()
    if p["observed"] or p["synthetic"]:
        if not (p["observed"] and p["synthetic"]):
            raise ValueError("misfit needs both observed=DIR and synthetic=DIR, or neither")
        observed, synth = p["observed"], p["synthetic"]
    else:
        event = synthetic.make_event_waveforms(
            stations=int(p["stations"]), seed=int(p["seed"]),
            time_shift=float(p["time_shift"]), amplitude_ratio=float(p["amplitude_ratio"]),
        )
        data = output / "data"
        if data.is_dir():
            shutil.rmtree(data)
        observed, synth = synthetic.write_event_waveforms(event, data)
    n = _instances(int(p["instances"]))

    min_period, max_period = float(p["min_period"]), float(p["max_period"])
    if not 0 < min_period < max_period:
        raise UsageError(
            f"-p min_period={p['min_period']} -p max_period={p['max_period']}: the period band "
            "needs 0 < min_period < max_period (seconds)"
        )
    for key in ("event", "inventory"):
        if p[key] and not Path(p[key]).is_file():
            raise MissingDataError(f"{p[key]}: file not found (-p {key}=FILE)")
    try:
        channel_map = parse_channel_map(str(p["channel_map"]))
    except ValueError as exc:
        raise UsageError(f"-p channel_map={p['channel_map']}: {exc}") from None
    pairs = MisfitPairs(
        observed, synth, resample=bool(p["resample"]), on_error=p["on_error"],
        channel_map=channel_map, inventory=p["inventory"] or None,
        select=(str(p["location"]), str(p["channel"])),
    )
    if p["response"] and (p["response"] not in RESPONSE_OUTPUTS or not p["inventory"]):
        raise UsageError(
            f"-p response={p['response']}: give DISP, VEL or ACC (the synthetics' unit) and "
            "-p inventory=STATIONXML with the observed stations' responses"
        )
    prep = Preprocess(
        min_period, max_period, inventory=p["inventory"] or None, response=p["response"] or None,
        on_error=p["on_error"],
    )
    windows = SelectWindows(
        min_period, max_period, event=p["event"] or None, inventory=p["inventory"] or None
    )
    per_window = WindowMisfit(float(p["taper"]))
    whole = TraceMisfit(float(p["taper"]))
    join = JoinMisfit(tf=bool(p["tf"]))
    image = StationImage(output)
    summary = MisfitSummary(output)
    tf = TimeFrequencyMisfit(min_period, max_period, output) if p["tf"] else None
    for pe in (prep, windows, per_window, whole, join, image, tf):
        if pe is not None:
            pe.numprocesses = n

    graph = WorkflowGraph()
    graph.connect(pairs, "output", prep, "input")
    graph.connect(prep, "output", windows, "input")
    graph.connect(windows, "output", per_window, "input")
    graph.connect(prep, "output", whole, "input")
    graph.connect(per_window, "output", join, "windows")
    graph.connect(whole, "output", join, "trace")
    if tf is not None:
        graph.connect(prep, "output", tf, "input")
        graph.connect(tf, "output", join, "tf")
    graph.connect(join, "output", image, "input")
    graph.connect(image, "output", summary, "input")
    graph.name = "misfit"
    return graph, {pairs: 1}


def summary_of(result: dict) -> dict:
    """The summary dict from a :func:`d4p.run` result of either workflow."""
    for ports in result.values():
        for values in ports.values():
            if values and isinstance(values[0], dict) and "summary" in values[0]:
                return values[0]
    raise ValueError("no workflow summary in this result")
