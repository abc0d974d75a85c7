"""Which files of a data folder are waveforms.

A folder of waveforms often holds the stations' StationXML, the event's
QuakeML or a manifest beside them, and a pattern such as ``*`` matches those
too. :func:`waveform_files` leaves out the files that are recognisably not
waveforms (the run's own metadata files, XML or JSON documents by their
first bytes: no waveform format ObsPy reads is either), so that they are not
read as waveforms and fail the run; the caller names what was left out.
Every other file is kept, so a file that is truly unreadable still fails,
naming it.

:func:`read_waveforms` reads one such file, naming it in its errors and in
the warnings of the reader (a truncated record), and :func:`is_miniseed`
tells a miniSEED file by its first record's header.
"""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Iterable
from pathlib import Path

import obspy
from obspy import UTCDateTime

from d4p_seismo.errors import MissingDataError

_XML_KINDS = ((b"fdsnstationxml", "StationXML"), (b"quakeml", "QuakeML"),
              (b"seiscomp", "SeisComP XML"))
_XML_START = re.compile(rb"<(\?xml|[A-Za-z][\w:.-]*[\s>/])")


def not_a_waveform(path: str | Path) -> str | None:
    """What the file at ``path`` is if its first bytes show it is no waveform
    (``'StationXML'``, ``'QuakeML'``, ``'SeisComP XML'``, ``'an XML
    document'``, ``'JSON'``), else None. Only text counts: a binary file that
    happens to start with ``<`` (a big-endian SAC file sampled at 100 Hz
    does) is left to the waveform reader."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(1024)
    except OSError:
        return None
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if b"\x00" in head or not text:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not text (a character cut at the end is)
            return None
    if _XML_START.match(text):
        lower = text.lower()
        return next((kind for key, kind in _XML_KINDS if key in lower), "an XML document")
    if re.match(rb'\{\s*("|\})', text):
        return "JSON"
    return None


def waveform_files(
    paths: Iterable[str | Path], metadata: dict[str, str | Path | None] | None = None,
) -> tuple[list[Path], list[str]]:
    """``paths`` without those that are not waveforms, and a description of
    each left out (``'stations.xml (StationXML)'``): the files of ``metadata``
    (the run's other input files by role, e.g. ``{"inventory": path}``:
    ``'stations.xml (the inventory)'``) and those :func:`not_a_waveform`
    recognises."""
    given = {Path(path).resolve(): f"the {role}" for role, path in (metadata or {}).items()
             if isinstance(path, str | Path) and path}
    kept: list[Path] = []
    skipped: list[str] = []
    for path in map(Path, paths):
        kind = given.get(path.resolve()) or not_a_waveform(path)
        if kind is None:
            kept.append(path)
        else:
            skipped.append(f"{path.name} ({kind})")
    return kept, skipped


def read_waveforms(path: str | Path, what: str = "waveform file", fix: str = "") -> obspy.Stream:
    """The traces of the file at ``path`` (any format ObsPy reads).

    A missing, empty or unreadable file is a :class:`MissingDataError` naming
    it (``what`` it is, and ``fix``, what to do, after a semicolon); what the
    reader warns (a truncated file's last record left out, say) is warned
    again with the file's name in front, which ObsPy's messages lack."""
    if not Path(path).is_file():
        raise MissingDataError(f"{path}: {what} not found")
    advice = f"; {fix}" if fix else ""
    if Path(path).stat().st_size == 0:
        raise MissingDataError(f"{path}: cannot read {what} (the file is empty){advice}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stream = obspy.read(str(path))
        except Exception as exc:
            raise MissingDataError(f"{path}: cannot read {what} ({exc}){advice}") from exc
    cut = cut_record(path)
    if cut is not None:  # said below, with what it means (ObsPy says so for a few bytes only)
        caught = [w for w in caught if "Last record only has" not in str(w.message)]
        warnings.warn(
            f"{path}: the file ends {cut[0]} bytes into its last record of {cut[1]} (cut short "
            f"in a copy or a download?); that record, of {cut[2]} from {cut[3]}, is left out: "
            "copy the file again to keep it", UserWarning, stacklevel=2)
    for warning in caught:
        warnings.warn(f"{path}: {warning.message}", warning.category, stacklevel=2)
    return stream


def cut_record(path: str | Path) -> tuple[int, int, str, UTCDateTime] | None:
    """``(bytes there, record length, SEED id, start)`` of the last record of
    a miniSEED file whose records have the first one's length when the file
    ends inside it, else None. ObsPy leaves such a record out, and warns
    only when fewer than a header's bytes are left."""
    size = Path(path).stat().st_size
    with open(path, "rb") as stream:
        first = record_length(stream.read(256))
        if first is None or size % first == 0:
            return None
        stream.seek(size - size % first)
        head = stream.read(256)
    last = record_length(head)
    if last is None or size % first >= last:
        return None
    order = _byte_order(head)
    year, day, hour, minute, second, _, tenth_ms = struct.unpack(order + "HHBBBBH", head[20:30])
    try:
        start = UTCDateTime(year=year, julday=day, hour=hour, minute=minute) + second
    except ValueError:  # no time: no header
        return None
    start += tenth_ms / 1e4
    codes = head[8:20].decode("ascii", "replace")
    seed_id = ".".join(part.strip() for part in (codes[10:12], codes[0:5], codes[5:7],
                                                  codes[7:10]))
    return size % first, last, seed_id, start


def record_length(head: bytes) -> int | None:
    """The record length a miniSEED 2 record header gives (its blockette
    1000), None if ``head`` starts with no such header."""
    order = _byte_order(head) if len(head) >= 48 and _FIXED_HEADER.match(head) else None
    if order is None:
        return None
    count, position = head[39], struct.unpack(order + "H", head[46:48])[0]
    for _ in range(count):
        if not 48 <= position <= len(head) - 8:
            return None
        kind, position_next = struct.unpack(order + "HH", head[position:position + 4])
        if kind == 1000:
            return 2 ** head[position + 6]
        position = position_next
    return None


def is_miniseed(path: str | Path) -> bool:
    """Whether the file at ``path`` starts with a miniSEED 2 record header
    (a sequence number of digits, a quality code D, R, Q or M), as libmseed
    tells one. ObsPy's header parser reads any file as miniSEED, warning
    about the codes it finds there ("This is an invalid MiniSEED file")."""
    try:
        with open(path, "rb") as stream:
            return bool(_FIXED_HEADER.match(stream.read(8)))
    except OSError:
        return False


def _byte_order(head: bytes) -> str | None:
    """``">"`` or ``"<"``: the byte order in which a record header's start
    time has a plausible year and day, None if in neither."""
    for order in ">", "<":
        year, day = struct.unpack(order + "HH", head[20:24])
        if 1900 <= year <= 2100 and 1 <= day <= 366:
            return order
    return None


_FIXED_HEADER = re.compile(rb"[0-9 \x00]{6}[DRQM][ \x00]")
"""The first 8 bytes of a miniSEED 2 record: sequence number, quality code, a reserved byte."""
