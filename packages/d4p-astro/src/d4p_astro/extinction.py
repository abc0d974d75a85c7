"""Internal extinction of a galaxy from its morphological type and axis ratio.

The recipe is the one of dispel4py's internal-extinction example:

    T   from the morphological type (``HUBBLE_T``)
    k   = min(0.754 * 10**(-0.2 T), 1)
    K2  = 0.12 - 0.007 T  if T < 0  else 0.094
    C   = 0.04
    R   = 10**logR25
    A_i = -2.5 log10(k + (1 - k) * R**(2 C (1 + 0.2 / K2) - 1))

An unknown morphological type gives no T and no A_i (``None``), never a number:
dispel4py used T = -10, which makes k = 1 and so A_i = 0, a value that cannot be
told apart from the real "no extinction" of an elliptical galaxy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

HUBBLE_T: Mapping[str, int] = {
    "E": -5,
    "E-S0": -3,
    "S0": -2,
    "S0a": 0,
    "Sa": 1,
    "SBa": 1,
    "Sab": 2,
    "SBab": 2,
    "Sb": 3,
    "SBb": 3,
    "Sbc": 4,
    "SBbc": 4,
    "Sc": 6,
    "SBc": 6,
    "Scd": 7,
    "SBcd": 7,
    "Sd": 8,
    "SBd": 8,
    "Sm": 9,
    "SBm": 9,
}
"""Numerical morphological type T of each known MType (exact, case-sensitive names)."""

C = 0.04
"""The constant C of the recipe."""


def morphological_t(mtype: str | None, table: Mapping[str, int] = HUBBLE_T) -> int | None:
    """T of a morphological type such as ``"Sbc"``; ``None`` when the type is not in `table`.

    Surrounding blanks are ignored; any other spelling (``"S0-a"``, ``"SABb"``, ``"I"``,
    ``"E?"``, an empty or masked value) is unknown.
    """
    if mtype is None:
        return None
    return table.get(mtype.strip())


def internal_extinction(t: float, logr25: float) -> float:
    """A_i in magnitudes for numerical type `t` and decimal log of the axis ratio `logr25`."""
    k = min(0.754 * 10 ** (-0.2 * t), 1.0)
    k2 = 0.12 - 0.007 * t if t < 0 else 0.094
    r = 10**logr25
    a_i = -2.5 * math.log10(k + (1 - k) * r ** (2 * C * (1 + 0.2 / k2) - 1))
    return a_i + 0.0  # -0.0 (k = 1) becomes 0.0


def extinction_for(
    mtype: str | None, logr25: float | None, table: Mapping[str, int] = HUBBLE_T
) -> tuple[int | None, float | None]:
    """(T, A_i) of one galaxy; A_i is ``None`` when the type is unknown or logR25 is missing."""
    t = morphological_t(mtype, table)
    if t is None or logr25 is None or math.isnan(logr25):
        return t, None
    return t, internal_extinction(t, logr25)
