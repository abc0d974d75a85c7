"""pyflex 0.2.0 on NumPy 2: the ptp shim and the plateau-safe extrema finder."""

import numpy as np
import pyflex.utils
import pytest
from d4p_seismo.pyflex_compat import PtpArray, local_extrema, pyflex_on_numpy2, with_ptp
from obspy import Trace


def test_ptp_array_restores_the_method():
    a = np.array([3.0, -2.0, 7.0]).view(PtpArray)
    assert a.ptp() == 9.0
    assert np.array([[1, 5], [2, 3]]).view(PtpArray).ptp(axis=0).tolist() == [1, 2]
    tr = with_ptp(Trace(np.arange(5, dtype=np.int32)))
    assert isinstance(tr.data, PtpArray) and tr.data.dtype == np.float64 and tr.data.ptp() == 4


def test_local_extrema_without_plateaus_matches_strict_extrema():
    data = np.array([0.0, 2.0, 1.0, 3.0, -1.0, 0.5, 0.2])
    maxima, minima = local_extrema(data)
    assert maxima.tolist() == [1, 3, 5]
    assert minima.tolist() == [2, 4]
    assert maxima.dtype == np.int32


def test_local_extrema_counts_a_plateau_once_at_its_first_index():
    data = np.array([0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 2.0, 2.0, 3.0, 0.0, 0.0])
    maxima, minima = local_extrema(data)
    assert maxima.tolist() == [1, 8]
    assert minima.tolist() == [4]  # 2,2 is a step, not an extremum; the end is never one


def test_local_extrema_on_tiny_inputs():
    for data in ([], [1.0], [1.0, 2.0], [1.0, 1.0, 1.0]):
        maxima, minima = local_extrema(np.array(data))
        assert maxima.size == 0 and minima.size == 0


def test_replacement_is_scoped_to_the_block():
    original = pyflex.utils.find_local_extrema
    with pyflex_on_numpy2():
        assert pyflex.utils.find_local_extrema is local_extrema
    assert pyflex.utils.find_local_extrema is original
    with pytest.raises(RuntimeError), pyflex_on_numpy2():
        raise RuntimeError
    assert pyflex.utils.find_local_extrema is original
