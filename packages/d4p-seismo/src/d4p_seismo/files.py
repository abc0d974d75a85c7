"""Which files of a data folder are waveforms.

A folder of waveforms often holds the stations' StationXML, the event's
QuakeML or a manifest beside them, and a pattern such as ``*`` matches those
too. :func:`waveform_files` leaves out the files that are recognisably not
waveforms (the run's own metadata files, XML or JSON documents by their
first bytes: no waveform format ObsPy reads is either), so that they are not
read as waveforms and fail the run; the caller names what was left out.
Every other file is kept, so a file that is truly unreadable still fails,
naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

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
