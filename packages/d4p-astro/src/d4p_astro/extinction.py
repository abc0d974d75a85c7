"""Internal extinction of a galaxy from its morphological type and axis ratio.

The recipe is the one of dispel4py's internal-extinction example, with T on
the RC3 scale that HyperLEDA's types follow (``RC3_T``; dispel4py's own table,
one step off from Sc on, is ``DISPEL4PY_T``):

    T   from the morphological type
    k   = min(0.754 * 10**(-0.2 T), 1)
    K2  = 0.12 - 0.007 T  if T < 0  else 0.094
    C   = 0.04
    R   = 10**max(logR25, 0)
    A_i = -2.5 log10(k + (1 - k) * R**(2 C (1 + 0.2 / K2) - 1))

(after Bottinelli et al. 1995, A&A 296, 64, as HyperLEDA computes its ``ai``;
logR25 < 0 is a face-on disc: see :func:`internal_extinction`). An unknown morphological type gives no T and no A_i (``None``), never a number:
dispel4py used T = -10, which makes k = 1 and so A_i = 0, a value that cannot be
told apart from the real "no extinction" of an elliptical galaxy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

DISPEL4PY_T: Mapping[str, int] = {
    "E": -5, "E-S0": -3, "S0": -2, "S0a": 0,
    "Sa": 1, "SBa": 1, "Sab": 2, "SBab": 2, "Sb": 3, "SBb": 3,
    "Sbc": 4, "SBbc": 4, "Sc": 6, "SBc": 6, "Scd": 7, "SBcd": 7,
    "Sd": 8, "SBd": 8, "Sm": 9, "SBm": 9,
}  # fmt: skip
"""dispel4py's table: one step off the RC3 scale from Sc on (Sc = 6), and without
SAB*, S0-a, Sdm and I. Kept to compare with dispel4py (``-p types=dispel4py``)."""

_STAGES = {"a": 1, "ab": 2, "b": 3, "bc": 4, "c": 5, "cd": 6, "d": 7, "dm": 8, "m": 9}

RC3_T: Mapping[str, int] = {
    "E": -5, "E-S0": -3, "S0": -2, "S0-a": 0, "S0a": 0,
    **{family + stage: t for family in ("S", "SA", "SB", "SAB") for stage, t in _STAGES.items()},
    "I": 10, "Im": 10, "IB": 10, "IAB": 10, "Irr": 10,
}  # fmt: skip
"""Numerical type T of each MType on the RC3 scale (de Vaucouleurs et al. 1991, Third
Reference Catalogue of Bright Galaxies, section 3.1.c), which HyperLEDA's type
codes follow: Sa = 1 ... Sc = 5, Scd = 6, Sd = 7, Sdm = 8, Sm = 9, I = 10, for
every bar family (S, SA, SB, SAB)."""

HUBBLE_T = RC3_T
"""The table used by default."""

TYPE_TABLES: Mapping[str, Mapping[str, int]] = {"rc3": RC3_T, "dispel4py": DISPEL4PY_T}
"""The tables ``-p types=`` chooses from."""

C = 0.04
"""The constant C of the recipe."""


def morphological_t(mtype: str | None, table: Mapping[str, int] = HUBBLE_T) -> int | None:
    """T of a morphological type such as ``"Sbc"`` or ``"SAB(s)bc"``; ``None`` when
    the type is not in `table`.

    Surrounding blanks and the ring/spiral marks in parentheses (``(s)``, ``(r)``,
    ``(rs)``) are ignored; any other spelling (``"E?"``, ``"sbc"``, an empty or
    masked value) is unknown.
    """
    if mtype is None:
        return None
    return table.get(re.sub(r"\([a-z]*\)", "", mtype.strip()))


def internal_extinction(t: float, logr25: float) -> float:
    """A_i in magnitudes for numerical type `t` and decimal log of the axis ratio `logr25`.

    logR25 is log10 of the major over the minor axis (Paturel et al. 1997, A&AS
    124, 109, section 6; HyperLEDA), so it is 0 or more: a face-on disc has 0
    and no inclination extinction. A catalogue value below 0 (the scatter of a
    nearly round image, after the reduction of its measured axes to the
    standard system) is taken as face-on, logR25 = 0, A_i = 0: used as it is,
    R < 1 would make A_i negative, a galaxy brightened by its own dust.
    """
    k = min(0.754 * 10 ** (-0.2 * t), 1.0)
    k2 = 0.12 - 0.007 * t if t < 0 else 0.094
    r = 10 ** max(logr25, 0.0)
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
