import math

import pytest
from d4p_astro.extinction import HUBBLE_T, extinction_for, internal_extinction, morphological_t


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


def test_type_table_is_the_one_of_the_recipe():
    assert HUBBLE_T == {
        "E": -5, "E-S0": -3, "S0": -2, "S0a": 0,
        "Sa": 1, "SBa": 1, "Sab": 2, "SBab": 2, "Sb": 3, "SBb": 3,
        "Sbc": 4, "SBbc": 4, "Sc": 6, "SBc": 6, "Scd": 7, "SBcd": 7,
        "Sd": 8, "SBd": 8, "Sm": 9, "SBm": 9,
    }  # fmt: skip


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


@pytest.mark.parametrize("mtype", ["I", "S0-a", "SABb", "E?", "sbc", "", None])
def test_unknown_types_give_no_t_and_no_extinction(mtype):
    assert morphological_t(mtype) is None
    assert extinction_for(mtype, 0.45) == (None, None)


def test_blanks_around_a_type_are_ignored():
    assert morphological_t(" Sc ") == 6


@pytest.mark.parametrize("logr25", [None, math.nan])
def test_missing_axis_ratio_keeps_t_but_gives_no_extinction(logr25):
    assert extinction_for("Sc", logr25) == (6, None)


def test_a_custom_type_table_can_extend_the_recipe():
    table = {**HUBBLE_T, "S0-a": 0}
    assert extinction_for("S0-a", 0.39, table) == extinction_for("S0a", 0.39)
