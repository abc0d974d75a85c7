"""Processing elements of the ambient-noise cross-correlation workflow.

Data units, in the order they flow:

* ``str`` — a waveform file path (from :class:`StationFiles`);
* ``obspy.Trace`` — one station's trace, cut to the common window and carrying
  ``stats.coordinates`` (from :class:`ReadTrace`, through every step PE);
* :class:`~d4p_seismo.processing.StationSpectrum` — from :class:`Spectrum`;
* :class:`~d4p_seismo.processing.Correlation` — from :class:`XCorr`;
* ``dict`` — one row of the summary per pair (from :class:`WriteResults`).

Pairs are formed in a streaming, parallel-friendly way: spectra are broadcast
(grouping ``'all'``) to every :class:`XCorr` instance, and each instance pairs
each new spectrum with those seen before and correlates the pairs it owns (a
stable hash of the pair decides, the same in every process). Each spectrum
travels once per instance, never once per pair, and no pair key travels at
all.
"""

from __future__ import annotations

import functools
import glob
import math
import warnings
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
import obspy
from d4p import CompositePE, GenericPE, IterativePE, ProducerPE, group_by, stable_hash
from obspy import Inventory, Stream, Trace, UTCDateTime

from d4p_seismo import processing
from d4p_seismo.errors import MissingDataError, SamplingRateError, SeismoDataError, fail_or_skip
from d4p_seismo.files import is_miniseed, read_waveforms, waveform_files
from d4p_seismo.plot import record_section
from d4p_seismo.results import (
    REJECTED_FIELDS,
    STACK_FIELDS,
    AsdfWriter,
    compare_with_expected,
    correlation_row,
    output_data,
    write_sac,
    write_summary,
)
from d4p_seismo.stacking import STACK_KINDS, PairStack


def _load_inventory(inventory: str | Path | Inventory | None) -> Inventory | None:
    """The inventory, read from a path once per process (PEs only read it: the
    reader and the response removal of every instance share one copy)."""
    if inventory is None or isinstance(inventory, Inventory):
        return inventory
    path = Path(inventory)
    if not path.is_file():
        raise MissingDataError(f"{path}: inventory (StationXML) file not found")
    stat = path.stat()
    return _read_inventory(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_inventory(path: str, mtime_ns: int, size: int) -> Inventory:
    try:
        return obspy.read_inventory(path)
    except Exception as exc:
        raise MissingDataError(f"{path}: cannot read the inventory ({exc})") from exc


class StationFiles(ProducerPE):
    """Writes the paths of the waveform files in ``directory`` matching ``pattern``, sorted
    (files only, so ``**/*.D*`` walks an SDS archive without its ``EHZ.D`` folders).

    Files that hold pieces of one record (a station's day files, say) go
    together, as one tuple of paths, so that one :class:`ReadTrace` reads
    and merges them: the SEED ids of each file are read from its headers,
    and files sharing an id are grouped. A file whose headers cannot be
    read goes alone (the reader then names it). With ``starttime`` and
    ``endtime`` (the run's window) the files of other days are left out
    (see :func:`record_groups`).

    Files a wildcard pattern matches that are not waveforms (``metadata``,
    the run's other input files by role, e.g. ``{"inventory": path}``;
    StationXML, QuakeML, JSON by their content, see
    :func:`~d4p_seismo.files.waveform_files`) are left out and named in the
    log; a pattern without wildcards reads the file it names whatever it is.

    With ``shares`` = n > 0 it writes n lists of paths (or groups) instead
    (item k in list k mod n; empty lists left out), for n :class:`ReadTrace`
    instances fed round robin: each reader then gets its whole share at the
    start.
    One path at a time, a reader in another process gets its next file only
    when the source writes it, and a source writes its next path only when
    the reader in its own process has done everything that follows the
    previous one (local writes are calls), so the other readers keep pace
    with that one and wait whenever they are ahead.
    """

    def __init__(
        self, directory: str | Path, pattern: str = "*.mseed", shares: int = 0,
        starttime: UTCDateTime | str | None = None, endtime: UTCDateTime | str | None = None,
        metadata: dict[str, str | Path | None] | None = None,
    ) -> None:
        super().__init__()
        self.directory = str(directory)
        self.pattern = pattern
        self.metadata = {role: str(path) for role, path in (metadata or {}).items() if path}
        self.shares = shares
        self.starttime = UTCDateTime(starttime) if starttime is not None else None
        self.endtime = UTCDateTime(endtime) if endtime is not None else None

    def _process(self, inputs: Any) -> None:
        folder = Path(self.directory)
        if not folder.is_dir():
            raise MissingDataError(f"{folder}: waveform directory not found")
        paths, skipped = waveform_paths(folder, self.pattern, self.metadata)
        if skipped:
            self.log(f"pattern {self.pattern!r} also matched files that are not "
                     f"waveforms, left out: {', '.join(skipped)}")
        if not paths:
            also = f" (it matched only {', '.join(skipped)}: not waveforms)" if skipped else ""
            raise MissingDataError(
                f"{folder}: no waveform files match {self.pattern!r}{also}; check the "
                f"directory and the pattern{_files_there(folder, self.metadata)}"
            )
        groups = record_groups([str(path) for path in paths], self.starttime, self.endtime)
        if self.shares > 0:
            for k in range(min(self.shares, len(groups))):
                self.write(self.OUTPUT_NAME, groups[k::self.shares])
            return
        for group in groups:
            self.write(self.OUTPUT_NAME, group)


def waveform_paths(
    folder: Path, pattern: str, metadata: dict[str, str] | None = None
) -> tuple[list[Path], list[str]]:
    """The files in ``folder`` matching ``pattern``, sorted, and the names of
    those a wildcard pattern matched that are not waveforms (``metadata``
    and the like, see :func:`~d4p_seismo.files.waveform_files`), left out."""
    paths = sorted(path for path in folder.glob(pattern) if path.is_file())
    if glob.has_magic(pattern):
        return waveform_files(paths, metadata or {})
    return paths, []


def _files_there(folder: Path, metadata: dict[str, str]) -> str:
    """A hint naming a few of the waveform files in ``folder`` (by name, not
    content), for a pattern that matched none: ``'; the folder holds
    A.SAC, B.SAC and 40 more: -p pattern='*.SAC'?'``."""
    names = sorted(p.name for p in waveform_files(
        (p for p in folder.iterdir() if p.is_file()), metadata)[0])
    if not names:
        return ""
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    suffix = Path(names[0]).suffix
    guess = f"'*{suffix}'" if suffix and all(n.endswith(suffix) for n in names) else "'*'"
    return f"; the folder holds {', '.join(names[:3])}{more}: -p pattern={guess}?"


def _ids_and_span(path: str) -> tuple[dict[str, float], tuple[float, float] | None]:
    """The SEED ids in the file at ``path`` (with their sampling rates) and the
    time span of its data.
    A miniSEED file whose records all have one id (the SEED codes at bytes
    8-19 of every record) is read from its first and last record headers
    (50x faster than ObsPy's reading of every header, which costs a run of
    1,000 stations a second); any other file (several ids, as a multiplexed
    file of a station's channels, records of several lengths, another
    format) through ``obspy.read(headonly=True)``."""
    from obspy.io.mseed.util import get_record_information

    first = last = None
    if is_miniseed(path):
        try:
            first = get_record_information(path)
            last = get_record_information(path, offset=(first["number_of_records"] - 1)
                                          * first["record_length"])
        except Exception:  # not of records of one length
            first = last = None
    keys = ("network", "station", "location", "channel")
    if first is not None and _one_seed_id(path, first["record_length"]):
        return ({".".join(first[key].replace("\x00", "").strip() for key in keys):
                 first["samp_rate"]}, (first["starttime"].timestamp, last["endtime"].timestamp))
    headers = obspy.read(path, headonly=True)
    if not len(headers):
        return {}, None
    return ({tr.id: tr.stats.sampling_rate for tr in headers}, (min(tr.stats.starttime for tr in headers).timestamp,
                                        max(tr.stats.endtime for tr in headers).timestamp))


def _one_seed_id(path: str, record_length: int) -> bool:
    """Whether every record of the miniSEED file at ``path`` (records of
    ``record_length`` bytes) has the station, location, channel and network
    codes of the first."""
    size = Path(path).stat().st_size
    if size == 0 or size % record_length:
        return False
    codes = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, record_length)[:, 8:20]
    return bool((codes == codes[0]).all())  # reads the pages holding the codes only


def _near(starttime: UTCDateTime | None, endtime: UTCDateTime | None) -> tuple[float, float]:
    """The span (timestamps) a file's data must reach into to count for the
    window: the window and a minute either side (unbounded without one)."""
    return (starttime.timestamp - 60.0 if starttime is not None else -math.inf,
            endtime.timestamp + 60.0 if endtime is not None else math.inf)


def channel_rates(
    paths: list[str], starttime: UTCDateTime | None = None, endtime: UTCDateTime | None = None,
) -> dict[str, float]:
    """The SEED ids of the channels in ``paths`` and their sampling rates,
    read from the files' headers; with ``starttime``/``endtime`` only the
    files with data near the window count (as in :func:`record_groups`). A
    file whose headers cannot be read is left to the reader to name."""
    lo, hi = _near(starttime, endtime)
    found: dict[str, float] = {}
    for path in paths:
        rates, span = _headers(path)
        if span is None or (span[1] >= lo and span[0] <= hi):
            found.update(rates)
    return found


def _headers(path: str) -> tuple[dict[str, float], tuple[float, float] | None]:
    """:func:`_ids_and_span`, quietly: nothing for a file whose headers cannot
    be read (the reader names it, and warns again about an odd file)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _ids_and_span(path)
    except Exception:
        return {}, None


def record_groups(
    paths: list[str], starttime: UTCDateTime | None = None, endtime: UTCDateTime | None = None,
) -> list[str | tuple[str, ...]]:
    """``paths`` grouped so that the files holding one SEED id are together:
    a path alone, or a tuple of the paths (sorted) of one group; groups in
    the order of their first path. Ids and times come from the files'
    headers (``obspy.read(headonly=True)``); a file they cannot be read from
    is a group of its own. With ``starttime``/``endtime``, a group's files
    whose records end before or start after the window (other days of an
    archive) are left out, but a group keeps at least its first file, so the
    reader still reports a station without data in the window."""
    owner = list(range(len(paths)))
    spans: dict[int, tuple[float, float]] = {}

    def root(k: int) -> int:
        while owner[k] != k:
            owner[k] = owner[owner[k]]
            k = owner[k]
        return k

    first_with: dict[str, int] = {}
    for k, path in enumerate(paths):
        ids, span = _headers(path)
        if span is not None:
            spans[k] = span
        for trace_id in ids:
            if trace_id in first_with:
                owner[root(k)] = root(first_with[trace_id])
            else:
                first_with[trace_id] = k
    lo, hi = _near(starttime, endtime)

    def near(k: int) -> bool:
        return k not in spans or (spans[k][1] >= lo and spans[k][0] <= hi)

    members: dict[int, list[int]] = {}
    for k in range(len(paths)):
        members.setdefault(root(k), []).append(k)
    groups = []
    for group in members.values():
        kept = [k for k in group if near(k)] or group[:1]
        groups.append(sorted(paths[k] for k in kept))
    groups.sort()
    return [group[0] if len(group) == 1 else tuple(group) for group in groups]


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
    """Reads one waveform file (any ObsPy format; or each of a list of files)
    into traces cut to a common window.

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
    ``reason``), which the :class:`Summary` lists; that output exists only
    with ``gaps="reject"``.

    With ``window`` > 0 (s) the time window ``[starttime, endtime)`` is cut
    into windows of that length, each ``window * (1 - overlap)`` s after the
    previous one, and each becomes a trace of its own (the coverage rule and
    ``gaps`` apply to each window).

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
        window: float = 0.0,
        overlap: float = 0.0,
    ) -> None:
        super().__init__()
        if window < 0 or not 0.0 <= overlap < 1.0:
            raise ValueError(
                f"window={window} s and overlap={overlap}: need window >= 0 and 0 <= overlap < 1"
            )
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        if gaps not in GAP_POLICIES:
            raise ValueError(f"gaps must be one of {', '.join(GAP_POLICIES)}, not {gaps!r}")
        if gaps == "reject":
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
        self.window = float(window)
        self.overlap = float(overlap)
        self._inventory: Inventory | None = None

    def preprocess(self) -> None:
        self._inventory = _load_inventory(self.inventory)

    def _process(self, paths: str | tuple[str, ...] | list[str | tuple[str, ...]]) -> None:
        for path in paths if isinstance(paths, list) else [paths]:
            try:
                for trace in self.read(path):
                    self.write(self.OUTPUT_NAME, trace)
            except SeismoDataError as error:
                fail_or_skip(self, self.on_error, error)

    def read(self, path: str | tuple[str, ...]) -> list[Trace]:
        """The traces of ``path`` (or of a group of files read together, see
        :func:`record_groups`) ready for preprocessing (raises
        :class:`SeismoDataError`)."""
        paths = [path] if isinstance(path, str) else list(path)
        stream = Stream()
        for one in paths:
            stream += read_waveforms(one, fix="move it out of the folder, leave it out with "
                                     "-p pattern, or skip it with -p on_error=skip")
        return self.prepare(stream, ", ".join(paths))

    def prepare(self, stream: Stream, source: str) -> list[Trace]:
        """``stream`` merged, on the common grid, cut to the window(s), as
        float64, with its gaps and coordinates attached.

        ``source`` (a file, a web service) says where the data came from in
        error messages. Subclasses that get their data elsewhere (e.g.
        :class:`~d4p_seismo.fdsn.FDSNWaveforms`) override :meth:`read` and end
        with this. A window rejected for its gaps (``gaps="reject"``) is
        written to ``'rejected'`` and left out of the list.
        """
        stream, segments = self._pieces(stream, source)
        try:
            stream.merge(method=1, fill_value="interpolate")
        except Exception as exc:  # ObsPy: calibration factors that differ
            ids = ", ".join(sorted(segments))
            raise MissingDataError(f"{ids} ({source}): cannot merge the pieces ({exc})") from exc
        traces = []
        for trace in stream:
            for start, end in self.windows(trace):
                if start is None:
                    piece = trace
                elif not self._covered(trace, segments[trace.id], source, start, end):
                    continue
                else:
                    piece = self._cut(trace, start, end)
                gaps = processing.find_gaps(piece, segments[trace.id])
                if gaps:
                    piece.stats.gaps = gaps
                if self._flat(piece, source):
                    continue
                if self._inventory is not None:
                    processing.attach_coordinates(piece, self._inventory)
                traces.append(piece)
        return traces

    def _pieces(
        self, stream: Stream, source: str
    ) -> tuple[Stream, dict[str, list[tuple[float, float]]]]:
        """The selected traces of ``stream`` at their nominal sampling rates
        (:func:`~d4p_seismo.processing.nominal_rate`) near the time window, as float64,
        split around NaN samples (which count as gaps), contiguous pieces
        joined, and each piece on the common sample grid; and per SEED id the
        ``(first, last)`` sample times of the pieces as recorded.

        Pieces are put on the grid one by one, before they are merged: a
        record whose timing jumped by a fraction of a sample between two
        pieces (a clock resynchronised, another day's file) would otherwise
        keep the later piece that fraction off the grid.
        """
        if self.select is not None:
            stream = Stream([tr for tr in stream if id_matches(tr.id, self.select)])
        stream = Stream([processing.nominal_rate(trace) for trace in stream])
        rates = self._rates(stream, source)
        near = Stream()
        for trace in stream:
            if trace.stats.sampling_rate != rates.get(trace.id):
                continue  # another rate, beside the window (another day's file)
            margin = 25 * trace.stats.delta  # the Lanczos kernel (a=20) needs samples around
            piece = trace.slice(
                self.starttime - margin if self.starttime is not None else None,
                self.endtime + margin if self.endtime is not None else None,
            )
            if piece.stats.npts == 0:
                continue
            data = np.ma.masked_invalid(np.ma.asarray(piece.data, dtype=np.float64))
            if np.ma.getmaskarray(data).any():  # masked (a merge's gaps) or NaN: missing
                piece.data = data
                near += piece.split()
            else:
                piece.data = data.data
                near += piece
        try:
            near.merge(method=-1)  # join contiguous pieces (misaligned by < 1% of a sample)
        except Exception as exc:  # ObsPy: calibration factors that differ
            raise MissingDataError(
                f"{', '.join(sorted(rates))} ({source}): cannot merge the pieces ({exc})"
            ) from exc
        segments: dict[str, list[tuple[float, float]]] = {}
        for piece in near:
            segments.setdefault(piece.id, []).append(
                (piece.stats.starttime.timestamp, piece.stats.endtime.timestamp)
            )
        aligned = Stream()
        for piece in near:
            try:
                aligned += processing.align_to_grid(piece, self.starttime)
            except MissingDataError:
                continue  # a lone sample between grid points: counted as missing
        for trace_id in sorted({tr.id for tr in stream} - {tr.id for tr in aligned}):
            whole = stream.select(id=trace_id)
            if not any(np.ma.masked_invalid(np.ma.asarray(tr.data, dtype=np.float64)).count()
                       for tr in whole):
                raise MissingDataError(
                    f"{trace_id} ({source}): no sample is a number (all NaN, masked or none); "
                    "leave the station out"
                )
            if self.starttime is None and self.endtime is None:
                raise MissingDataError(f"{trace_id} ({source}): no samples")
            for start, end in self.windows(whole[0]):  # nothing near the window(s)
                self._covered(whole[0], [], source, start, end)
        return aligned, segments

    def _rates(self, stream: Stream, source: str) -> dict[str, float]:
        """Per SEED id, the sampling rate of its pieces in the time window
        (all of them without one): an error if they differ, or if a piece
        is sampled at 0 Hz. Pieces at another rate outside the window (a
        day file of the station before its digitiser changed) do not count."""
        found: dict[str, set[float]] = {}
        for trace in stream:
            if trace.stats.sampling_rate <= 0:
                raise SamplingRateError(
                    f"{trace.id} ({source}): sampling rate 0 Hz, not a waveform (a log or "
                    "state-of-health channel?); select the seismic channels with -p channel"
                )
            inside = ((self.starttime is None or trace.stats.endtime >= self.starttime)
                      and (self.endtime is None or trace.stats.starttime < self.endtime))
            if inside:
                found.setdefault(trace.id, set()).add(trace.stats.sampling_rate)
        for trace_id, rates in found.items():
            if len(rates) > 1:
                listed = " and ".join(f"{rate:.10g}" for rate in sorted(rates))
                raise SamplingRateError(
                    f"{trace_id} ({source}): pieces sampled at {listed} Hz in the window cannot "
                    "be merged into one record; resample them to one rate or leave the "
                    "station out"
                )
        return {trace_id: rates.pop() for trace_id, rates in found.items()}

    def _flat(self, piece: Trace, source: str) -> bool:
        """Whether every recorded sample of ``piece`` has the same value (a dead
        channel, a datalogger writing zeros): an error, or with
        ``gaps="reject"`` a rejected window. Such a trace would correlate to
        zeros and report a peak at the first lag."""
        mask = processing.gap_mask(piece)
        recorded = piece.data if mask is None else piece.data[mask > 0]
        if recorded.size == 0 or recorded.max() != recorded.min():
            return False
        start, end = piece.stats.starttime, piece.stats.endtime + piece.stats.delta
        reason = (f"all {recorded.size} recorded samples of the window {start} - {end} are "
                  f"{recorded[0]:g} (a dead channel?)")
        self._reject(piece, source, start, end, 1.0, reason)
        return True

    def windows(self, trace: Trace) -> list[tuple[UTCDateTime | None, UTCDateTime | None]]:
        """The ``(start, end)`` windows to cut from ``trace``: ``[(None, None)]``
        (the trace as it is) without a time window; with ``window`` > 0 every
        window of that length starting ``window * (1 - overlap)`` s after the
        previous one that fits in ``[starttime, endtime)``."""
        if self.starttime is None and self.endtime is None:
            return [(None, None)]
        start = self.starttime if self.starttime is not None else trace.stats.starttime
        end = self.endtime if self.endtime is not None else trace.stats.endtime
        if not self.window:
            return [(start, end)]
        step = self.window * (1.0 - self.overlap)
        count = int(math.floor((end - start - self.window) / step + 1e-9)) + 1
        return [(start + k * step, start + k * step + self.window) for k in range(max(count, 0))]

    def _covered(
        self, trace: Trace, segments: list[tuple[float, float]], source: str,
        start: UTCDateTime, end: UTCDateTime,
    ) -> bool:
        """Whether the station recorded enough of the window; raise or reject if not."""
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
        self._reject(trace, source, start, end, 1.0 - covered / (end - start), reason)
        return False

    def _reject(
        self, trace: Trace, source: str, start: UTCDateTime, end: UTCDateTime, missing: float,
        reason: str,
    ) -> None:
        """Write the window to ``'rejected'`` (``gaps="reject"``), or raise, or
        with ``on_error="skip"`` leave this window (only) out with a warning."""
        if self.gaps == "reject":
            self.log(f"rejecting {trace.id} ({source}): {reason}")
            self.write("rejected", {
                "station": trace.id, "starttime": str(start), "endtime": str(end),
                "missing": round(missing, 4), "reason": reason,
            })
            return
        fail_or_skip(self, self.on_error, MissingDataError(
            f"{trace.id} ({source}): {reason}; choose another window or leave the station out"
        ))

    def _cut(self, trace: Trace, start: UTCDateTime, end: UTCDateTime) -> Trace:
        """``[start, end)`` of ``trace`` (on the grid of ``self.starttime``),
        padded with its mean, starting at exactly ``start``: every station's
        window then has the same start time to the nanosecond, which is how
        :class:`XCorr` knows the spectra of one window."""
        piece = trace.slice(start - trace.stats.delta, end).copy() if self.window else trace
        fill = float(piece.data.mean())
        piece.trim(start, end - trace.stats.delta / 2, pad=True, fill_value=fill, nearest_sample=False)
        late = (piece.stats.starttime - start) * piece.stats.sampling_rate
        if late > 1e-3:
            step = self.window * (1.0 - self.overlap)
            raise SamplingRateError(
                f"{trace.id}: the window {start} - {end} starts {late:.3f} samples before a "
                f"sample of this {piece.stats.sampling_rate:g} Hz record; choose -p window and "
                f"-p overlap whose step ({step:g} s) is a whole number of samples"
            )
        piece.stats.starttime = start
        return piece


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
    """Decimate to ``sampling_rate`` Hz (an integer factor of the trace's rate).

    A trace at another rate (a 1 Hz LHZ beside the 100 Hz HHZ of a data
    centre's download) fails the run naming it, or with ``on_error="skip"``
    is left out with a :class:`SkippedStationWarning`, as the reader does."""

    def __init__(self, sampling_rate: float, on_error: str = "raise") -> None:
        super().__init__()
        self.sampling_rate = sampling_rate
        self.on_error = on_error

    def _process(self, trace: Trace) -> Trace | None:
        try:
            factor = processing.decimation_factor(trace, self.sampling_rate)
        except SamplingRateError as error:
            fail_or_skip(self, self.on_error, SamplingRateError(
                f"{error} (-p channel, or -p on_error=skip)"))
            return None
        return processing.decimate(trace.copy(), factor)


class Detrend(TraceStep):
    function = staticmethod(processing.detrend)


class Demean(TraceStep):
    function = staticmethod(processing.demean)


class RemoveResponse(TraceStep):
    """Instrument correction with the inventory (a path, read once per instance);
    ``freqmin``, the band's lowest frequency, keeps the pre-filter below it
    (see :func:`~d4p_seismo.processing.remove_response`).

    A trace whose response the inventory lacks (or gives without stages)
    fails the run naming it, or with ``on_error="skip"`` is left out with a
    :class:`SkippedStationWarning`, as the reader does."""

    def __init__(
        self,
        inventory: str | Path | Inventory,
        pre_filt: tuple[float, float, float, float] | None = None,
        water_level: float | None = 60.0,
        output: str = "VEL",
        on_error: str = "raise",
        freqmin: float | None = None,
    ) -> None:
        super().__init__(pre_filt=pre_filt, water_level=water_level, output=output,
                         freqmin=freqmin)
        self.inventory = inventory if isinstance(inventory, Inventory) else str(inventory)
        self.on_error = on_error
        self._inventory: Inventory | None = None

    def preprocess(self) -> None:
        self._inventory = _load_inventory(self.inventory)

    def _process(self, trace: Trace) -> Trace | None:
        try:
            return processing.remove_response(trace.copy(), self._inventory, **self.params)
        except SeismoDataError as error:
            fail_or_skip(self, self.on_error, error)
            return None


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
    on_error: str = "raise",
) -> CompositePE:
    """The preprocessing composite: decimate → detrend → demean → remove response →
    band-pass → zero gaps → normalise → zero gaps → whiten → zero gaps →
    spectrum; input ``'input'`` (traces), output ``'output'`` (spectra).

    ``sampling_rate=None`` skips decimation; ``normalisation`` is ``"onebit"``,
    ``"ram"`` (running absolute mean over ``ram_window`` s, by default half the
    longest period) or ``"none"``; ``on_error="skip"`` leaves out a station
    whose rate is no multiple of ``sampling_rate`` (see :class:`Decimate`) or
    whose response the inventory lacks (see :class:`RemoveResponse`). Gaps
    are zeroed before normalisation (so
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
        steps.append(Decimate(sampling_rate, on_error=on_error))
    taper = 1.0 / freqmin
    steps += [
        Detrend(), Demean(), RemoveResponse(inventory, on_error=on_error, freqmin=freqmin),
        Bandpass(freqmin, freqmax), ZeroGaps(),
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


def window_of(spectrum: processing.StationSpectrum) -> float:
    """The group-by key of a spectrum when pairs are grouped by window: its start."""
    return spectrum.starttime


AZIMUTH_TOLERANCE = 5.0
"""Degrees two 1/2/3 components may point apart and still count as the same component."""


class XCorr(GenericPE):
    """Forms the station pairs and cross-correlates them at lags up to ``max_lag`` s.

    Input ``'spectra'`` (grouping ``'all'``) gives every instance every
    spectrum; each instance pairs a new spectrum with those of its window seen
    before and correlates the pairs it owns: ``d4p.stable_hash`` of the pair
    modulo the number of instances, the same answer in every instance and
    process whatever the order of arrival, so each pair is computed exactly
    once and the work is shared evenly (the number of instances is
    ``numprocesses``, as the plan makes them for a PE fed by another; give
    the spectra through an upstream PE, not as the run's inputs). Output
    ``'output'``: one :class:`~d4p_seismo.processing.Correlation` per pair,
    station ``a`` the smaller id (so a pair and the sign of its lags do not
    depend on arrival order). Stations pair only within one window; a station seen twice in a
    window is an error (two files for one channel?). With ``one_window``
    (every station cut to one common window) so is a spectrum whose window
    starts elsewhere than the first one's: traces not cut to a common window
    would otherwise never pair, without a word.

    ``components="same"`` (default) pairs only channels of the same component
    (the last letter of the channel code: Z with Z, N with N, ...); components
    1/2/3 point where their sensor was installed, so two of them pair only if
    the inventory gives both the same azimuth (within ``AZIMUTH_TOLERANCE``
    degrees); the pairs left out are counted and named in the log at the end;
    ``"all"`` pairs every channel with every other, cross-components (Z with
    N) and the components of one station included.

    With ``by_window`` (runs cut into many windows) spectra are grouped by
    window instead: each instance gets the spectra of its windows only and
    correlates all their pairs, so a window's spectra travel once and are
    held by one instance. Every instance keeps the spectra of its windows
    until the end of the run (so split very long runs into days), unless
    ``release`` (s) is given: for streams whose windows come in time order,
    the spectra of windows starting more than ``release`` s before the newest
    window are dropped, so an endless run holds a few windows only.

    With ``seen``, output ``'seen'`` gets at the end one dict per instance:
    ``channels`` (the ids that reached it), ``most`` (the most in one
    window) and ``components``, from which :func:`why_no_correlation` tells
    a run that made none why.
    """

    def __init__(self, max_lag: float = 60.0, by_window: bool = False,
                 release: float | None = None, components: str = "same",
                 one_window: bool = False, seen: bool = False) -> None:
        super().__init__()
        if components not in COMPONENT_PAIRS:
            raise ValueError(
                f"components must be one of {', '.join(COMPONENT_PAIRS)}, not {components!r}"
            )
        self._add_input("spectra", grouping=group_by(key=window_of) if by_window else "all")
        self._add_output("output")
        if seen:
            self._add_output("seen")
        self.seen = seen
        self.channels: set[str] = set()
        self.most = 0
        self.max_lag = max_lag
        self.by_window = by_window
        self.release = release
        self.components = components
        self.one_window = one_window
        self.newest = -math.inf
        self.spectra: dict[float, dict[str, processing.StationSpectrum]] = {}
        self.turned: dict[tuple[str, str], str] = {}

    def process(self, inputs: dict) -> None:
        spec = inputs["spectra"]
        window = spec.starttime
        if self.release is not None:
            if window < self.newest - self.release:
                raise SeismoDataError(
                    f"{spec.id}: the spectrum of the window {window_stamp(window)} came after "
                    f"the spectra of windows {self.release:g} s older than the newest were "
                    "released; the run falls behind the stream (fewer stations, more "
                    "processes, or a larger -p lateness)"
                )
            if window > self.newest:
                self.newest = window
                for old in [w for w in self.spectra if w < window - self.release]:
                    del self.spectra[old]
        if self.one_window and self.spectra and window not in self.spectra:
            first, stations = next(iter(self.spectra.items()))
            raise SeismoDataError(
                f"{spec.id} starts at {UTCDateTime(window)} but {next(iter(stations))} at "
                f"{UTCDateTime(first)}: stations pair only over one common window; give "
                "-p starttime=ISO-TIME (with -p hours) to cut every station to it"
            )
        seen = self.spectra.setdefault(window, {})
        if spec.id in seen:
            raise SeismoDataError(
                f"{spec.id}: station reached the pairing step twice; give each channel one file"
            )
        for other in seen.values():
            if self.components == "same" and not self._same_component(other, spec):
                continue
            a, b = (other, spec) if other.id < spec.id else (spec, other)
            if self.by_window or self._owns(a.id, b.id):
                self.write("output", processing.correlate(a, b, self.max_lag))
        seen[spec.id] = spec
        self.channels.add(spec.id)
        self.most = max(self.most, len(seen))

    def _same_component(self, a: processing.StationSpectrum,
                        b: processing.StationSpectrum) -> bool:
        """Whether ``a`` and ``b`` record the same component: the same last
        letter, and for 1/2/3 also the same azimuth (else noted in ``turned``)."""
        if a.id[-1:] != b.id[-1:]:
            return False
        if a.id[-1:] not in "123":
            return True
        turn = abs((a.azimuth - b.azimuth + 180.0) % 360.0 - 180.0)
        if turn <= AZIMUTH_TOLERANCE:
            return True
        pair = (min(a.id, b.id), max(a.id, b.id))
        if self.by_window or self._owns(*pair):
            self.turned[pair] = (f"{a.id} at {a.azimuth:g}° and {b.id} at {b.azimuth:g}°"
                                 if not math.isnan(turn) else f"{a.id} and {b.id} (azimuth unknown)")
        return False

    def postprocess(self) -> None:
        if self.turned:
            pairs = sorted(self.turned.values())
            self.log(f"left out {len(pairs)} pair{'' if len(pairs) == 1 else 's'} of 1/2/3 "
                     "components whose sensors point at "
                     f"different azimuths (e.g. {pairs[0]}): rotate them to N/E first, or "
                     "correlate them anyway with -p components=all")
        if self.seen:
            self.write("seen", {"channels": sorted(self.channels), "most": self.most,
                                "components": self.components})

    def _owns(self, id_a: str, id_b: str) -> bool:
        return stable_hash(f"{id_a}_{id_b}") % self.numprocesses == self.instance


def why_no_correlation(seen: list[dict[str, Any]]) -> str:
    """Why a run made no correlation, and what to do, from what the
    :class:`XCorr` instances saw (their ``'seen'`` dicts)."""
    channels = sorted({c for one in seen for c in one["channels"]})
    most = max((one["most"] for one in seen), default=0)
    if not channels:
        return ("no channel reached the correlation: every one was left out (named in the "
                "lines above: -p on_error=skip, -p gaps=reject); fix or replace those stations")
    if len(channels) == 1:
        return (f"1 channel reached the correlation ({channels[0]}), and a pair needs two: "
                "add stations (-p data, -p station)")
    if most < 2:
        return (f"{len(channels)} channels reached the correlation ({listed(channels)}) but never "
                "two in one window: give windows that all of them record (-p starttime, "
                "-p hours, -p window)")
    by_component: dict[str, list[str]] = {}
    for channel in channels:
        by_component.setdefault(channel[-1:], []).append(channel)
    if all(len(ids) == 1 for ids in by_component.values()):
        groups = "; ".join(f"{c}: {listed(ids)}" for c, ids in sorted(by_component.items()))
        return (f"{len(channels)} channels reached the correlation, of no common component "
                f"({groups}), and -p components=same pairs channels of one component only: "
                "add stations recording a common component, or correlate across components "
                "with -p components=all")
    return (f"{len(channels)} channels reached the correlation ({listed(channels)}) but no two "
            "of one component and window pair (1/2/3 components pointing at different "
            "azimuths are named above): rotate them to N/E first, or use -p components=all")


def listed(ids: list[str], shown: int = 3) -> str:
    """The first ``shown`` of ``ids`` and how many more: ``A, B, C and 5 more``."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


OUTPUT_FORMATS = ("sac", "asdf")


def window_stamp(timestamp: float) -> str:
    """A window start as it appears in file names: ``20200101T000000``."""
    return UTCDateTime(timestamp).strftime("%Y%m%dT%H%M%S")


class WriteResults(IterativePE):
    """Writes each correlation to ``<directory>/<id_a>_<id_b>.sac`` (with
    ``windowed``: ``<id_a>_<id_b>_<window start>.sac``); outputs its summary row.

    With ``samples`` the row carries the samples written (``"output"``,
    float32: all lags, or with ``symmetric`` the symmetric part) for the ASDF
    file. ``sac=False`` writes no SAC file (the ASDF file is then the only
    output). With ``plot`` each correlation's samples also go to output
    ``'plot'`` (a dict with ``pair``, ``starttime``, ``station_a``,
    ``station_b``, ``distance_km``, ``peak_lag``, ``sampling_rate`` and
    ``data``, float32) for :class:`RecordSection`, so the record section is
    drawn without reading the files back; that output exists only with
    ``plot``.

    Rows leave in bursts of ``burst`` (and the rest at the end of the
    stream): the summary is one instance, so most rows cross to another
    process, and one message per burst costs far less than one every few
    rows (as they would leave while correlations are made, a few ms apart).
    The SAC files are written at once.
    """

    def __init__(
        self, directory: str | Path, windowed: bool = False, symmetric: bool = False,
        sac: bool = True, burst: int = 64, samples: bool = True, plot: bool = False,
    ) -> None:
        super().__init__()
        if plot:
            self._add_output("plot")
        self.directory = str(directory)
        self.windowed = windowed
        self.symmetric = symmetric
        self.sac = sac
        self.burst = burst
        self.samples = samples
        self.plot = plot
        self.held: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    def preprocess(self) -> None:
        if self.sac:
            Path(self.directory).mkdir(parents=True, exist_ok=True)

    def _process(self, corr: processing.Correlation) -> None:
        name = f"{corr.pair}_{window_stamp(corr.starttime)}" if self.windowed else corr.pair
        path = Path(self.directory) / f"{name}.sac"
        if self.sac:
            write_sac(corr, path, symmetric=self.symmetric)
        row = correlation_row(corr, str(path) if self.sac else "")
        row["sampling_rate"] = corr.sampling_rate
        data = corr.data.astype(np.float32)
        if self.samples:
            row["output"] = output_data(corr, self.symmetric) if self.symmetric else data
        drawn = None
        if self.plot:
            drawn = {k: row[k] for k in PLOTTED}
            drawn.update(starttime=corr.starttime, data=data)
        self.held.append((row, drawn))
        if len(self.held) >= self.burst:
            self._release()

    def _release(self) -> None:
        held, self.held = self.held, []
        for row, drawn in held:
            self.write(self.OUTPUT_NAME, row)
            if drawn is not None:
                self.write("plot", drawn)

    def postprocess(self) -> None:
        self._release()


def pair_of(corr: processing.Correlation) -> str:
    """The group-by key of a correlation: its pair."""
    return corr.pair


class Stack(GenericPE):
    """Stacks each pair's correlations over the windows of the run, and over
    earlier runs into the same ``directory`` (incremental, see
    :mod:`d4p_seismo.stacking`).

    Input ``'input'`` (correlations, grouped by pair) is added to the pair's
    :class:`~d4p_seismo.stacking.PairStack`, loaded from
    ``<directory>/<pair>.npz`` when a run left one (windows it holds already
    are not added again). At the end each stack is saved and written as
    ``<directory>/<pair>.sac`` (``kind``: ``"linear"`` or ``"pws"``;
    ``symmetric`` as in :class:`WriteResults`; the number of windows in
    ``user1``); output ``'output'`` is one row per pair (``pair``,
    ``windows``, ``added``, ``file``, ``output`` samples, ...).
    """

    def __init__(
        self, directory: str | Path, kind: str = "linear", symmetric: bool = False,
        sac: bool = True,
    ) -> None:
        super().__init__()
        if kind not in STACK_KINDS:
            raise ValueError(f"stack must be one of {', '.join(STACK_KINDS)}, not {kind!r}")
        self._add_input("input", grouping=group_by(key=pair_of))
        self._add_output("output")
        self.directory = str(directory)
        self.kind = kind
        self.symmetric = symmetric
        self.sac = sac
        self.stacks: dict[str, PairStack] = {}
        self.added: dict[str, int] = {}

    def process(self, inputs: dict) -> None:
        corr = inputs["input"]
        stack = self.stacks.get(corr.pair)
        if stack is None:
            saved = Path(self.directory) / f"{corr.pair}.npz"
            stack = PairStack.load(saved) if saved.is_file() else PairStack.empty(
                corr.pair, corr.sampling_rate, corr.data.size, meta={
                    "id_a": corr.id_a, "id_b": corr.id_b, "coords_a": list(corr.coords_a),
                    "coords_b": list(corr.coords_b), "distance_km": corr.distance_km,
                    "azimuth": corr.azimuth,
                },
            )
            self.stacks[corr.pair] = stack
            self.added[corr.pair] = 0
        added = stack.add(corr.data, corr.starttime, corr.endtime, corr.sampling_rate)
        self.added[corr.pair] += added
        if not added:
            self.log(f"{corr.pair}: the stack holds the window {window_stamp(corr.starttime)} "
                     "already; not added again")

    def postprocess(self) -> None:
        folder = Path(self.directory)
        folder.mkdir(parents=True, exist_ok=True)
        for pair in sorted(self.stacks):
            stack = self.stacks[pair]
            stack.save(folder / f"{pair}.npz")
            meta = stack.meta
            corr = processing.Correlation(
                id_a=meta["id_a"], id_b=meta["id_b"], sampling_rate=stack.sampling_rate,
                data=stack.stack(self.kind), distance_km=meta["distance_km"],
                azimuth=meta["azimuth"], coords_a=tuple(meta["coords_a"]),
                coords_b=tuple(meta["coords_b"]), starttime=stack.starttime,
                endtime=stack.endtime,
            )
            path = folder / f"{pair}.sac"
            if self.sac:
                write_sac(corr, path, symmetric=self.symmetric, windows=stack.count)
            row = correlation_row(corr, str(path) if self.sac else "")
            row.update(
                stack=self.kind, windows=stack.count, added=self.added[pair],
                sampling_rate=stack.sampling_rate, output=output_data(corr, self.symmetric),
            )
            self.write("output", row)


PLOTTED = ("pair", "station_a", "station_b", "distance_km", "peak_lag", "sampling_rate")
"""The fields of a summary row that :class:`WriteResults` sends to :class:`RecordSection`."""


class RecordSection(GenericPE):
    """Draws ``<directory>/record_section.png`` at the end (grouping
    ``'global'``): one wiggle per pair, the mean of its correlations over the
    windows (see :func:`~d4p_seismo.plot.record_section`), with the peak lag
    of its first window and, with ``expected`` lags, the expected lag.

    Input ``'input'``: the dicts of :class:`WriteResults`' output ``'plot'``.
    A PE of its own beside :class:`Summary`, so that with several processes
    the drawing and the summary's CSV are made at the same time.
    """

    def __init__(
        self, directory: str | Path, expected: dict[tuple[str, str], float] | None = None
    ) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self.directory = str(directory)
        self.expected = expected
        self.first: dict[str, dict[str, Any]] = {}  # per pair: its earliest window
        self.sums: dict[str, tuple[np.ndarray, int]] = {}  # per pair: samples summed, count

    def process(self, inputs: dict) -> None:
        drawn = inputs["input"]
        pair, data = drawn["pair"], drawn.pop("data")
        if pair in self.sums:  # float64 from the second window on
            total, count = self.sums[pair]
            self.sums[pair] = (total + np.asarray(data, np.float64), count + 1)
            if drawn["starttime"] < self.first[pair]["starttime"]:
                self.first[pair] = drawn
        else:
            self.sums[pair] = (data, 1)
            self.first[pair] = drawn

    def postprocess(self) -> None:
        if not self.first:
            return
        rows = []
        for pair in sorted(self.first):
            total, count = self.sums[pair]
            row = {**self.first[pair],
                   "data": total if count == 1 else (total / count).astype(np.float32)}
            lag = (self.expected or {}).get((row["station_a"], row["station_b"]))
            if lag is not None:
                row["expected_lag"] = lag
            rows.append(row)
        out = Path(self.directory)
        out.mkdir(parents=True, exist_ok=True)
        record_section(rows, out / "record_section.png")


class Summary(GenericPE):
    """Collects every pair's row (grouping ``'global'``); at the end writes
    ``summary.csv`` (sorted by pair and window), logs where the results are,
    and outputs ``{"results", "summary", "plot", "pairs", "correlations",
    ...}``. With ``plot`` the record section (drawn by a
    :class:`RecordSection` beside it) is ``<directory>/record_section.png``
    when there is any row.

    With ``expected`` lags (e.g. from the synthetic data set) it adds the
    expected lag and the error in samples to each row, and counts the pairs
    recovered within one sample.

    Input ``'rejected'`` takes the windows :class:`ReadTrace` dropped for
    their gaps; they are listed in ``rejected.csv`` and in the output
    (``"rejected"``: a list of dicts). Input ``'stacks'`` takes the rows of
    :class:`Stack`, listed in ``stacks.csv``. With ``asdf`` every correlation
    and stack is also written to ``correlations.h5`` (ASDF, with the
    StationXML of ``inventory``; see :class:`~d4p_seismo.results.AsdfWriter`),
    row by row as they come.

    Input ``'seen'`` takes what the :class:`XCorr` instances saw (their
    output ``'seen'``): a run without any correlation then ends with one line
    saying why and what to do (:func:`why_no_correlation`).
    """

    def __init__(
        self,
        directory: str | Path,
        plot: bool = True,
        expected: dict[tuple[str, str], float] | None = None,
        asdf: bool = False,
        inventory: str | Path | None = None,
        symmetric: bool = False,
    ) -> None:
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_input("rejected", grouping="global")
        self._add_input("stacks", grouping="global")
        self._add_input("seen", grouping="global")
        self._add_output("output")
        self.directory = str(directory)
        self.plot = plot
        self.expected = expected
        self.asdf = asdf
        self.inventory = str(inventory) if inventory else None
        self.symmetric = symmetric
        self.rows: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.stacks: list[dict[str, Any]] = []
        self.seen: list[dict[str, Any]] = []
        self._asdf: AsdfWriter | None = None

    def process(self, inputs: dict) -> None:
        if "input" in inputs:
            row = inputs["input"]
            self._write_asdf(row)
            self.rows.append(row)
        if "rejected" in inputs:
            self.rejected.append(inputs["rejected"])
        if "stacks" in inputs:
            self._write_asdf(inputs["stacks"], "Stack")
            self.stacks.append(inputs["stacks"])
        if "seen" in inputs:
            self.seen.append(inputs["seen"])

    def _write_asdf(self, row: dict[str, Any], kind: str = "CrossCorrelation") -> None:
        """Each row goes to the ASDF file as it comes, so no samples pile up here."""
        output = row.pop("output", None)
        if not self.asdf or output is None:
            return
        if self._asdf is None:
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            self._asdf = AsdfWriter(
                Path(self.directory) / "correlations.h5", self.inventory, self.symmetric
            )
        self._asdf.add({**row, "output": output}, kind)

    def postprocess(self) -> None:
        out = Path(self.directory)
        out.mkdir(parents=True, exist_ok=True)
        rows = sorted(self.rows, key=lambda r: (r["pair"], r["starttime"]))
        stacks = sorted(self.stacks, key=lambda r: r["pair"])
        within = None
        if self.expected is not None:
            within = compare_with_expected(rows, self.expected)
        summary = write_summary(rows, out / "summary.csv")
        png = out / "record_section.png" if self.plot and rows else None
        result = {
            "results": str(out / "correlations"), "summary": str(summary),
            "plot": str(png) if png else None, "pairs": len({r["pair"] for r in rows}),
            "correlations": len(rows),
            "stations": len({r["station_a"] for r in rows} | {r["station_b"] for r in rows}),
        }
        if stacks:
            result["stacks"] = str(write_summary(stacks, out / "stacks.csv", STACK_FIELDS))
        if self.asdf:
            if self._asdf is None:  # no correlation at all: an empty file with the stations
                self._asdf = AsdfWriter(out / "correlations.h5", self.inventory, self.symmetric)
            result["asdf"] = str(self._asdf.close())
            self._asdf = None
        if within is not None:
            result["within_one_sample"] = within
        rejected = sorted(self.rejected, key=lambda r: (r["starttime"], r["station"]))
        result["rejected"] = rejected
        if rejected:
            write_summary(rejected, out / "rejected.csv", REJECTED_FIELDS)
        if rows or not self.seen:
            made = (f"{len(rows)} correlations in {result['results']}, summary {summary}"
                    + (f", record section {png}" if png else "")
                    + (f"; {within}/{len(rows)} peak lags within one sample of the expected "
                       "lag" if within is not None else ""))
        else:
            made = f"0 correlations: {why_no_correlation(self.seen)}; summary {summary} (empty)"
        self.log(
            made
            + (f"; {len(rejected)} station window(s) rejected for gaps, listed in "
               f"{out / 'rejected.csv'}" if rejected else "")
            + (f"; {len(stacks)} stacks, listed in {result['stacks']}" if stacks else "")
            + (f"; ASDF {result['asdf']}" if self.asdf else "")
        )
        self.write("output", result)
