"""Processing elements of the ambient-noise cross-correlation workflow.

Data units, in the order they flow:

* ``str`` — a waveform file path (from :class:`StationFiles`);
* ``obspy.Trace`` — one station's trace, cut to the common window and carrying
  ``stats.coordinates`` (from :class:`ReadTrace`, through every step PE);
* :class:`~d4p_seismo.processing.StationSpectrum` — from :class:`Spectrum`;
* ``(id_a, id_b)`` — a station pair, ``id_a < id_b`` (from :class:`ProductPairs`);
* :class:`~d4p_seismo.processing.Correlation` — from :class:`XCorr`;
* ``dict`` — one row of the summary per pair (from :class:`WriteResults`).

Pairs are formed in a streaming, parallel-friendly way: spectra are broadcast
(grouping ``'all'``) to every :class:`XCorr` instance, while one
:class:`ProductPairs` instance (grouping ``'global'``) sees each station once
and emits the new pairs it makes with the stations already seen. Only the
small pair keys are shuffled across instances; each spectrum travels once per
instance, never once per pair.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
import obspy
from d4p import CompositePE, GenericPE, IterativePE, ProducerPE
from obspy import Inventory, Stream, Trace, UTCDateTime

from d4p_seismo import processing
from d4p_seismo.errors import MissingDataError, SeismoDataError, fail_or_skip
from d4p_seismo.plot import record_section
from d4p_seismo.results import (
    compare_with_expected,
    correlation_row,
    write_rejected,
    write_sac,
    write_summary,
)


def _load_inventory(inventory: str | Path | Inventory | None) -> Inventory | None:
    if inventory is None or isinstance(inventory, Inventory):
        return inventory
    path = Path(inventory)
    if not path.is_file():
        raise MissingDataError(f"{path}: inventory (StationXML) file not found")
    try:
        return obspy.read_inventory(str(path))
    except Exception as exc:
        raise MissingDataError(f"{path}: cannot read the inventory ({exc})") from exc


class StationFiles(ProducerPE):
    """Writes the paths of the waveform files in ``directory`` matching ``pattern``, sorted."""

    def __init__(self, directory: str | Path, pattern: str = "*.mseed") -> None:
        super().__init__()
        self.directory = str(directory)
        self.pattern = pattern

    def _process(self, inputs: Any) -> None:
        folder = Path(self.directory)
        if not folder.is_dir():
            raise MissingDataError(f"{folder}: waveform directory not found")
        paths = sorted(folder.glob(self.pattern))
        if not paths:
            raise MissingDataError(
                f"{folder}: no waveform files match {self.pattern!r}; check the directory "
                "and the pattern"
            )
        for path in paths:
            self.write(self.OUTPUT_NAME, str(path))


GAP_POLICIES = ("zero", "reject")
COMPONENT_PAIRS = ("same", "all")


def id_matches(seed_id: str, codes: tuple[str, str, str, str]) -> bool:
    """Whether ``NET.STA.LOC.CHA`` matches the four patterns (``*``/``?`` wildcards,
    comma lists, ``--`` for an empty location), as an FDSN station query does."""
    parts = seed_id.split(".")
    if len(parts) != 4:
        return False
    for value, pattern in zip(parts, codes, strict=True):
        options = [o.strip() for o in str(pattern).split(",")]
        if not any(fnmatchcase(value, "" if o == "--" else o) for o in options):
            return False
    return True


class ReadTrace(IterativePE):
    """Reads one waveform file (any ObsPy format) into traces cut to a common window.

    The pieces of a record are merged by interpolating across gaps and a
    window edge not covered by data is padded with the mean, so every
    station ends up with the same samples; the spans without data are kept
    in ``stats.gaps`` (see :func:`~d4p_seismo.processing.find_gaps`) for
    :class:`ZeroGaps`. Samples falling between those of the common grid
    (the window start plus whole samples) are interpolated onto it
    (:func:`~d4p_seismo.processing.align_to_grid`). Each trace gets
    ``stats.coordinates`` from the inventory.

    A window in which the station recorded less than ``min_coverage`` of the
    samples is, with ``gaps="zero"``, an error (below); with
    ``gaps="reject"`` it is dropped and described on output ``'rejected'``
    (a dict: ``station``, ``starttime``, ``endtime``, ``missing`` fraction,
    ``reason``), which the :class:`Summary` lists.

    ``select`` (network, station, location, channel patterns, see
    :func:`id_matches`) keeps only the matching traces of each file, e.g.
    ``("*", "*", "*", "?HZ")`` for the vertical components.

    ``on_error="raise"`` (default) fails the run on a missing or unreadable
    file, a trace without metadata or an empty window, naming the file or
    station; ``"skip"`` leaves the station out with a
    :class:`SkippedStationWarning` and a log line instead.
    """

    def __init__(
        self,
        inventory: str | Path | Inventory | None = None,
        starttime: UTCDateTime | str | None = None,
        endtime: UTCDateTime | str | None = None,
        min_coverage: float = 0.5,
        on_error: str = "raise",
        gaps: str = "zero",
        select: tuple[str, str, str, str] | None = None,
    ) -> None:
        super().__init__()
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        if gaps not in GAP_POLICIES:
            raise ValueError(f"gaps must be one of {', '.join(GAP_POLICIES)}, not {gaps!r}")
        self._add_output("rejected")
        self.inventory = inventory if isinstance(inventory, Inventory) else (
            str(inventory) if inventory is not None else None
        )
        self.starttime = UTCDateTime(starttime) if starttime is not None else None
        self.endtime = UTCDateTime(endtime) if endtime is not None else None
        self.min_coverage = min_coverage
        self.on_error = on_error
        self.gaps = gaps
        self.select = tuple(select) if select is not None else None
        self._inventory: Inventory | None = None

    def preprocess(self) -> None:
        self._inventory = _load_inventory(self.inventory)

    def _process(self, path: str) -> None:
        try:
            for trace in self.read(path):
                self.write(self.OUTPUT_NAME, trace)
        except SeismoDataError as error:
            fail_or_skip(self, self.on_error, error)

    def read(self, path: str) -> list[Trace]:
        """The traces of ``path`` ready for preprocessing (raises :class:`SeismoDataError`)."""
        if not Path(path).is_file():
            raise MissingDataError(f"{path}: waveform file not found")
        try:
            stream = obspy.read(path)
        except Exception as exc:
            raise MissingDataError(f"{path}: cannot read waveform file ({exc})") from exc
        return self.prepare(stream, path)

    def prepare(self, stream: Stream, source: str) -> list[Trace]:
        """``stream`` merged, on the common grid, cut to the window, as float64,
        with its gaps and coordinates attached.

        ``source`` (a file, a web service) says where the data came from in
        error messages. Subclasses that get their data elsewhere (e.g.
        :class:`~d4p_seismo.fdsn.FDSNWaveforms`) override :meth:`read` and end
        with this. A window rejected for its gaps (``gaps="reject"``) is
        written to ``'rejected'`` and left out of the list.
        """
        if self.select is not None:
            stream = Stream([tr for tr in stream if id_matches(tr.id, self.select)])
        segments: dict[str, list[tuple[float, float]]] = {}
        for trace in stream:
            segments.setdefault(trace.id, []).append(
                (trace.stats.starttime.timestamp, trace.stats.endtime.timestamp)
            )
        stream.merge(method=1, fill_value="interpolate")
        traces = []
        for trace in stream:
            trace.data = np.asarray(trace.data, dtype=np.float64)
            if trace.stats.npts == 0:
                raise MissingDataError(f"{trace.id} ({source}): no samples")
            processing.align_to_grid(trace, self.starttime)
            if self.starttime is not None or self.endtime is not None:
                if not self._covered(trace, segments[trace.id], source):
                    continue
                trace = self._cut(trace)
            gaps = processing.find_gaps(trace, segments[trace.id])
            if gaps:
                trace.stats.gaps = gaps
            if self._inventory is not None:
                processing.attach_coordinates(trace, self._inventory)
            traces.append(trace)
        return traces

    def _covered(self, trace: Trace, segments: list[tuple[float, float]], source: str) -> bool:
        """Whether the station recorded enough of the window; raise or reject if not."""
        start = self.starttime if self.starttime is not None else trace.stats.starttime
        end = self.endtime if self.endtime is not None else trace.stats.endtime
        delta = trace.stats.delta
        spans: list[list[float]] = []
        for first, last in sorted(segments):
            lo, hi = max(first, start.timestamp), min(last + delta, end.timestamp)
            if hi <= lo:
                continue
            if spans and lo <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], hi)
            else:
                spans.append([lo, hi])
        covered = sum(hi - lo for lo, hi in spans)
        if covered >= self.min_coverage * (end - start):
            return True
        reason = (
            f"data cover {max(covered, 0.0):.0f} s of the {end - start:.0f} s window "
            f"{start} - {end} (less than {self.min_coverage:.0%})"
        )
        if self.gaps == "reject":
            self.log(f"rejecting {trace.id} ({source}): {reason}")
            self.write("rejected", {
                "station": trace.id, "starttime": str(start), "endtime": str(end),
                "missing": round(1.0 - covered / (end - start), 4), "reason": reason,
            })
            return False
        raise MissingDataError(
            f"{trace.id} ({source}): {reason}; choose another window or leave the station out"
        )

    def _cut(self, trace: Trace) -> Trace:
        start = self.starttime if self.starttime is not None else trace.stats.starttime
        end = self.endtime if self.endtime is not None else trace.stats.endtime
        fill = float(trace.data.mean())
        trace.trim(start, end - trace.stats.delta / 2, pad=True, fill_value=fill, nearest_sample=False)
        return trace


class TraceStep(IterativePE):
    """One preprocessing step: ``function(trace, **params)`` on a copy of each trace.

    Subclasses set ``function``; the PE name is the class name (``Detrend``...).
    """

    function: Any = None

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.params = params

    def _process(self, trace: Trace) -> Trace:
        return type(self).function(trace.copy(), **self.params)


class Decimate(TraceStep):
    """Decimate to ``sampling_rate`` Hz (an integer factor of the trace's rate)."""

    def __init__(self, sampling_rate: float) -> None:
        super().__init__()
        self.sampling_rate = sampling_rate

    def _process(self, trace: Trace) -> Trace:
        factor = processing.decimation_factor(trace, self.sampling_rate)
        return processing.decimate(trace.copy(), factor)


class Detrend(TraceStep):
    function = staticmethod(processing.detrend)


class Demean(TraceStep):
    function = staticmethod(processing.demean)


class RemoveResponse(TraceStep):
    """Instrument correction with the inventory (a path, read once per instance)."""

    def __init__(
        self,
        inventory: str | Path | Inventory,
        pre_filt: tuple[float, float, float, float] | None = None,
        water_level: float | None = 60.0,
        output: str = "VEL",
    ) -> None:
        super().__init__(pre_filt=pre_filt, water_level=water_level, output=output)
        self.inventory = inventory if isinstance(inventory, Inventory) else str(inventory)
        self._inventory: Inventory | None = None

    def preprocess(self) -> None:
        self._inventory = _load_inventory(self.inventory)

    def _process(self, trace: Trace) -> Trace:
        return processing.remove_response(trace.copy(), self._inventory, **self.params)


class Bandpass(TraceStep):
    function = staticmethod(processing.bandpass)

    def __init__(self, freqmin: float, freqmax: float, corners: int = 4) -> None:
        super().__init__(freqmin=freqmin, freqmax=freqmax, corners=corners)


class ZeroGaps(TraceStep):
    """Zero the samples in a trace's gaps (``stats.gaps``), tapered over ``taper``
    s beside them; a trace without gaps passes unchanged (not copied)."""

    def __init__(self, taper: float = 0.0) -> None:
        super().__init__(taper=taper)

    def _process(self, trace: Trace) -> Trace:
        if not trace.stats.get("gaps"):
            return trace
        return processing.zero_gaps(trace.copy(), **self.params)


class OneBit(TraceStep):
    function = staticmethod(processing.onebit)


class RunningAbsoluteMean(TraceStep):
    function = staticmethod(processing.running_absolute_mean)

    def __init__(self, window: float) -> None:
        super().__init__(window=window)


class Whiten(TraceStep):
    function = staticmethod(processing.whiten)

    def __init__(self, freqmin: float, freqmax: float, smoothing: float = 0.0) -> None:
        super().__init__(freqmin=freqmin, freqmax=freqmax, smoothing=smoothing)


class Spectrum(IterativePE):
    """Trace → :class:`~d4p_seismo.processing.StationSpectrum`, padded for ``max_lag`` s."""

    def __init__(self, max_lag: float) -> None:
        super().__init__()
        self.max_lag = max_lag

    def _process(self, trace: Trace) -> processing.StationSpectrum:
        return processing.spectrum(trace, self.max_lag)


NORMALISATIONS = ("onebit", "ram", "none")


def trace_prep(
    inventory: str | Path | Inventory,
    sampling_rate: float | None = 10.0,
    freqmin: float = 0.1,
    freqmax: float = 1.0,
    normalisation: str = "onebit",
    ram_window: float | None = None,
    whiten: bool = True,
    max_lag: float = 60.0,
    numprocesses: int = 1,
) -> CompositePE:
    """The preprocessing composite: decimate → detrend → demean → remove response →
    band-pass → zero gaps → normalise → zero gaps → whiten → zero gaps →
    spectrum; input ``'input'`` (traces), output ``'output'`` (spectra).

    ``sampling_rate=None`` skips decimation; ``normalisation`` is ``"onebit"``,
    ``"ram"`` (running absolute mean over ``ram_window`` s, by default half the
    longest period) or ``"none"``. Gaps are zeroed before normalisation (so
    filled samples never reach it) and after it and after whitening with
    edges tapered over one longest period (``1 / freqmin``). Every step PE
    gets ``numprocesses`` instances.
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(
            f"normalisation must be one of {', '.join(NORMALISATIONS)}, not {normalisation!r}"
        )
    steps: list[GenericPE] = []
    if sampling_rate:
        steps.append(Decimate(sampling_rate))
    taper = 1.0 / freqmin
    steps += [
        Detrend(), Demean(), RemoveResponse(inventory), Bandpass(freqmin, freqmax), ZeroGaps(),
    ]
    if normalisation == "onebit":
        steps.append(OneBit())
    elif normalisation == "ram":
        steps.append(RunningAbsoluteMean(ram_window or 0.5 / freqmin))
    if normalisation != "none":
        steps.append(ZeroGaps(taper))
    if whiten:
        steps += [Whiten(freqmin, freqmax), ZeroGaps(taper)]
    steps.append(Spectrum(max_lag))
    for pe in steps:
        pe.numprocesses = numprocesses
    composite = CompositePE()
    for first, second in zip(steps, steps[1:], strict=False):
        composite.connect(first, "output", second, "input")
    composite._map_input("input", steps[0], "input")
    composite._map_output("output", steps[-1], "output")
    composite.name = "trace_prep"
    return composite


class ProductPairs(GenericPE):
    """Every pair of stations, streamed: each new station pairs with all seen before.

    Input ``'input'`` (grouping ``'global'``: one instance sees every station)
    takes anything with an ``id`` (a spectrum, a trace) or a plain id string;
    output ``'output'`` is ``(id_a, id_b)`` with ``id_a < id_b``, so the pair
    and the sign of its lags do not depend on arrival order. A station seen
    twice is an error (two files for one channel?).

    ``components="same"`` (default) pairs only channels of the same component
    (the last letter of the channel code: Z with Z, N with N, ...);
    ``"all"`` pairs every channel with every other, cross-components (Z with
    N) and the components of one station included.
    """

    def __init__(self, components: str = "same") -> None:
        super().__init__()
        if components not in COMPONENT_PAIRS:
            raise ValueError(
                f"components must be one of {', '.join(COMPONENT_PAIRS)}, not {components!r}"
            )
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.components = components
        self.seen: list[str] = []

    def process(self, inputs: dict) -> None:
        item = inputs["input"]
        sid = item if isinstance(item, str) else item.id
        if sid in self.seen:
            raise SeismoDataError(
                f"{sid}: station reached the pairing step twice; give each channel one file"
            )
        for other in self.seen:
            if self.components == "same" and other[-1:] != sid[-1:]:
                continue
            self.write("output", (other, sid) if other < sid else (sid, other))
        self.seen.append(sid)


class XCorr(GenericPE):
    """Cross-correlates station pairs at lags up to ``max_lag`` s.

    Input ``'spectra'`` (grouping ``'all'``) gives every instance every
    spectrum; input ``'pairs'`` (shuffled) says which pairs this instance
    computes. A pair whose spectra have not arrived yet waits for them; a
    pair still waiting at the end of the stream names the station that never
    came.
    """

    def __init__(self, max_lag: float = 60.0) -> None:
        super().__init__()
        self._add_input("spectra", grouping="all")
        self._add_input("pairs")
        self._add_output("output")
        self.max_lag = max_lag
        self.spectra: dict[str, processing.StationSpectrum] = {}
        self.waiting: dict[str, list[tuple[str, str]]] = {}

    def process(self, inputs: dict) -> None:
        if "spectra" in inputs:
            spec = inputs["spectra"]
            self.spectra[spec.id] = spec
            for pair in self.waiting.pop(spec.id, []):
                self._try(pair)
        if "pairs" in inputs:
            self._try(tuple(inputs["pairs"]))

    def _try(self, pair: tuple[str, str]) -> None:
        missing = [sid for sid in pair if sid not in self.spectra]
        if missing:
            self.waiting.setdefault(missing[0], []).append(pair)
            return
        a, b = self.spectra[pair[0]], self.spectra[pair[1]]
        self.write("output", processing.correlate(a, b, self.max_lag))

    def postprocess(self) -> None:
        if self.waiting:
            sid, pairs = next(iter(self.waiting.items()))
            raise MissingDataError(
                f"{sid}: {len(pairs)} pair(s) such as {pairs[0]} wait for this station's "
                "spectrum, which never arrived"
            )


class WriteResults(IterativePE):
    """Writes each correlation to ``<directory>/<id_a>_<id_b>.sac``; outputs its summary row.

    The row carries the correlation samples too (``"data"``, float32) so the
    record section can be drawn downstream without reading the files back.
    """

    def __init__(self, directory: str | Path) -> None:
        super().__init__()
        self.directory = str(directory)

    def preprocess(self) -> None:
        Path(self.directory).mkdir(parents=True, exist_ok=True)

    def _process(self, corr: processing.Correlation) -> dict[str, Any]:
        path = Path(self.directory) / f"{corr.pair}.sac"
        write_sac(corr, path)
        row = correlation_row(corr, str(path))
        row["sampling_rate"] = corr.sampling_rate
        row["data"] = corr.data.astype(np.float32)
        return row


class Summary(GenericPE):
    """Collects every pair's row (grouping ``'global'``); at the end writes
    ``summary.csv`` (sorted by pair) and the record-section PNG, logs where
    they are, and outputs ``{"results", "summary", "plot", "pairs", ...}``.

    With ``expected`` lags (e.g. from the synthetic data set) it adds the
    expected lag and the error in samples to each row, and counts the pairs
    recovered within one sample.

    Input ``'rejected'`` takes the windows :class:`ReadTrace` dropped for
    their gaps; they are listed in ``rejected.csv`` and in the output
    (``"rejected"``: a list of dicts).
    """

    def __init__(
        self,
        directory: str | Path,
        plot: bool = True,
        expected: dict[tuple[str, str], float] | None = None,
    ) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_input("rejected", grouping="global")
        self._add_output("output")
        self.directory = str(directory)
        self.plot = plot
        self.expected = expected
        self.rows: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []

    def process(self, inputs: dict) -> None:
        if "input" in inputs:
            self.rows.append(inputs["input"])
        if "rejected" in inputs:
            self.rejected.append(inputs["rejected"])

    def postprocess(self) -> None:
        out = Path(self.directory)
        out.mkdir(parents=True, exist_ok=True)
        rows = sorted(self.rows, key=lambda r: r["pair"])
        within = None
        if self.expected is not None:
            within = compare_with_expected(rows, self.expected)
        summary = write_summary(rows, out / "summary.csv")
        png = None
        if self.plot and rows:
            png = out / "record_section.png"
            record_section(rows, png)
        result = {
            "results": str(out / "correlations"), "summary": str(summary),
            "plot": str(png) if png else None, "pairs": len(rows),
            "stations": len({r["station_a"] for r in rows} | {r["station_b"] for r in rows}),
        }
        if within is not None:
            result["within_one_sample"] = within
        rejected = sorted(self.rejected, key=lambda r: (r["starttime"], r["station"]))
        result["rejected"] = rejected
        if rejected:
            write_rejected(rejected, out / "rejected.csv")
        self.log(
            f"{len(rows)} correlations in {result['results']}, summary {summary}"
            + (f", record section {png}" if png else "")
            + (f"; {within}/{len(rows)} peak lags within one sample of the expected lag"
               if within is not None else "")
            + (f"; {len(rejected)} station window(s) rejected for gaps, listed in "
               f"{out / 'rejected.csv'}" if rejected else "")
        )
        self.write("output", result)
