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
import warnings
from collections.abc import Iterable
from pathlib import Path

import obspy

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
    for warning in caught:
        warnings.warn(f"{path}: {warning.message}", warning.category, stacklevel=2)
    return stream


def is_miniseed(path: str | Path) -> bool:
    """Whether the file at ``path`` starts with a miniSEED 2 record header
    (a sequence number of digits, a quality code D, R, Q or M), as libmseed
    tells one. ObsPy's header parser reads any file as miniSEED, warning
    about the codes it finds there ("This is an invalid MiniSEED file")."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
    except OSError:
        return False
    return (len(head) == 8 and all(c in b"0123456789 \x00" for c in head[:6])
            and head[6:7] in (b"D", b"R", b"Q", b"M") and head[7:8] in (b" ", b"\x00"))
