"""Columns of text for the terminal (``d4p monitor runs | show | advise``),
measured in the cells a terminal gives each character: a Chinese, Japanese
or Korean character takes two, an accent combined with its letter none."""

from __future__ import annotations

import unicodedata


def cells(text: str) -> int:
    """The terminal cells ``text`` takes."""
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` cells."""
    return text + " " * max(width - cells(text), 0)


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` cells, ending ``…`` when cut."""
    if cells(text) <= width:
        return text
    out = ""
    for c in text:
        if cells(out + c) > width - 1:
            break
        out += c
    return out + "…"
