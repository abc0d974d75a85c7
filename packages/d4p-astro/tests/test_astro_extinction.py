import math

import pytest
from d4p_astro.extinction import (
    DISPEL4PY_T,
    HUBBLE_T,
    RC3_T,
    extinction_for,
    internal_extinction,
    morphological_t,
)


def test_sbc_with_logr25_045_gives_t4_and_ai_07009():
    t, a_i = extinction_for("Sbc", 0.45)
    assert t == 4
    assert a_i == pytest.approx(0.7009, abs=5e-5)


@pytest.mark.parametrize("mtype", ["E", "E-S0", "S0"])
def test_early_types_have_no_internal_extinction(mtype):
    t, a_i = extinction_for(mtype, 0.45)
    assert t < 0
    assert a_i == 0.0
    assert math.copysign(1.0, a_i) == 1.0  # +0.0, not -0.0


def test_dispel4py_table_is_kept_for_comparison():
    assert DISPEL4PY_T == {
        "E": -5, "E-S0": -3, "S0": -2, "S0a": 0,
        "Sa": 1, "SBa": 1, "Sab": 2, "SBab": 2, "Sb": 3, "SBb": 3,
        "Sbc": 4, "SBbc": 4, "Sc": 6, "SBc": 6, "Scd": 7, "SBcd": 7,
        "Sd": 8, "SBd": 8, "Sm": 9, "SBm": 9,
    }  # fmt: skip


def test_the_default_table_is_rc3():
    assert HUBBLE_T is RC3_T
    assert [RC3_T[t] for t in ("E", "S0", "S0-a", "Sa", "Sb", "Sc", "Scd", "Sd", "Sdm", "Sm", "I")] \
        == [-5, -2, 0, 1, 3, 5, 6, 7, 8, 9, 10]
    assert RC3_T["SABbc"] == RC3_T["SBbc"] == RC3_T["SAbc"] == RC3_T["Sbc"] == 4


# exponent = 2 C (1 + 0.2 / K2) - 1 = 0.08 * (1 + 0.2 / 0.094) - 1 = -0.74979 for T >= 0;
# R^exponent = 10**(logR25 * -0.74979): 0.70802 at logR25 = 0.2, 0.35492 at 0.6.
@pytest.mark.parametrize(("mtype", "logr25", "t", "a_i"), [
    ("Sc", 0.2, 5, 0.3416),        # k = 0.754 * 10**-1 = 0.0754; 0.0754 + 0.9246 * 0.70802 = 0.73003
    ("Sc", 0.6, 5, 0.9852),        # 0.0754 + 0.9246 * 0.35492 = 0.40356
    ("Sdm", 0.2, 8, 0.3664),       # k = 0.754 * 10**-1.6 = 0.01894; sum 0.71355
    ("Sdm", 0.6, 8, 1.0879),       # sum 0.36714
    ("SAB(s)bc", 0.2, 4, 0.3227),  # k = 0.754 * 10**-0.8 = 0.11950; sum 0.74291
    ("SAB(s)bc", 0.6, 4, 0.9113),  # sum 0.43201
    ("I", 0.2, 10, 0.3715),        # k = 0.754 * 10**-2 = 0.00754; sum 0.71022
    ("I", 0.6, 10, 1.1099),        # sum 0.35978
])  # fmt: skip
def test_rc3_rows_against_hand_computed_values(mtype, logr25, t, a_i):
    got_t, got_a = extinction_for(mtype, logr25)
    assert got_t == t
    assert got_a == pytest.approx(a_i, abs=5e-5)


def test_dispel4py_table_gives_the_old_values_for_comparison():
    assert extinction_for("Sc", 0.6, DISPEL4PY_T) == extinction_for("Scd", 0.6)
    assert extinction_for("I", 0.6, DISPEL4PY_T) == (None, None)


def test_formula_against_hand_computed_values():
    # T = 0: k = 0.754, K2 = 0.094, exponent = 2*0.04*(1 + 0.2/0.094) - 1
    exponent = 0.08 * (1 + 0.2 / 0.094) - 1
    expected = -2.5 * math.log10(0.754 + 0.246 * 10 ** (0.39 * exponent))
    assert internal_extinction(0, 0.39) == pytest.approx(expected, rel=1e-12)
    assert internal_extinction(0, 0.39) == pytest.approx(0.1395, abs=5e-5)
    # T = 9: k = 0.754 * 10**-1.8 = 0.01195, R**exponent = 10**(0.5 * -0.74979) = 0.42181
    assert internal_extinction(9, 0.5) == pytest.approx(0.9196, abs=5e-5)
    # a face-on galaxy (R = 1) has no extinction whatever its type
    assert internal_extinction(6, 0.0) == pytest.approx(0.0, abs=1e-12)


def test_barred_and_unbarred_types_give_the_same_extinction():
    assert extinction_for("SBbc", 0.3) == extinction_for("Sbc", 0.3)


@pytest.mark.parametrize("mtype", ["E?", "sbc", "Sq", "", None])
def test_unknown_types_give_no_t_and_no_extinction(mtype):
    assert morphological_t(mtype) is None
    assert extinction_for(mtype, 0.45) == (None, None)


def test_blanks_around_a_type_are_ignored():
    assert morphological_t(" Sc ") == 5


@pytest.mark.parametrize("logr25", [None, math.nan])
def test_missing_axis_ratio_keeps_t_but_gives_no_extinction(logr25):
    assert extinction_for("Sc", logr25) == (5, None)


def test_a_custom_type_table_can_extend_the_recipe():
    table = {**HUBBLE_T, "S0-a": 0}
    assert extinction_for("S0-a", 0.39, table) == extinction_for("S0a", 0.39)


HYPERLEDA_TYPES = {  # HyperLEDA's type codes (leda/param/type.html) and their RC3 T
    "E": -5, "E-S0": -3, "S0": -2, "S0-a": 0, "Sa": 1, "Sab": 2, "Sb": 3, "Sbc": 4,
    "Sc": 5, "Scd": 6, "Sd": 7, "Sm": 9, "Irr": 10, "SBa": 1, "SBab": 2, "SBb": 3,
    "SBbc": 4, "SBc": 5, "SBcd": 6, "SBd": 7, "SBm": 9,
}  # fmt: skip


def test_every_hyperleda_type_code_has_its_t_and_the_published_extinction():
    import numpy as np

    types = list(HYPERLEDA_TYPES)
    t = np.array([HYPERLEDA_TYPES[m] for m in types], dtype=float)
    logr25 = np.linspace(0.05, 1.0, len(types))
    # Bottinelli et al. 1995, as HyperLEDA documents its parameter ai
    k = np.minimum(0.754 * 10 ** (-0.2 * t), 1.0)
    k2 = np.where(t < 0, 0.12 - 0.007 * t, 0.094)
    a_i = -2.5 * np.log10(k + (1 - k) * (10**logr25) ** (2 * 0.04 * (1 + 0.2 / k2) - 1))
    got = [extinction_for(m, float(r)) for m, r in zip(types, logr25, strict=True)]
    assert [g[0] for g in got] == [int(x) for x in t]
    assert [g[1] for g in got] == pytest.approx(list(a_i), abs=1e-12)
    # by hand: T 10, logR25 0.62: k = 0.00754, R**-0.74979 = 0.34291, A_i = 1.1466
    assert got[types.index("Irr")] == (10, pytest.approx(1.1466, abs=1e-4))


@pytest.mark.parametrize("logr25", [-0.02, -0.3])
def test_a_negative_axis_ratio_is_a_face_on_disc_with_no_extinction(logr25):
    """logR25 = log10(major / minor axis) is 0 or more; a catalogue value below
    0 made A_i negative (Sb at -0.1: -0.154 mag, a galaxy brightened by its own
    dust). It is now taken as face-on: the A_i of logR25 = 0, which is 0."""
    assert extinction_for("Sb", 0.0) == (3, 0.0)
    assert extinction_for("Sb", logr25) == (3, 0.0)
    assert internal_extinction(10, logr25) == 0.0
    assert extinction_for("Sb", 0.01)[1] > 0
