"""Run pyflex 0.2.0 on NumPy 2 without pinning ``numpy<2``.

pyflex 0.2.0, its latest release, breaks on NumPy 2 in two places:

1. ``WindowSelector._sanity_checks`` calls ``trace.data.ptp()``; NumPy 2
   removed the ``ndarray.ptp`` method (the function ``np.ptp`` remains).
2. ``pyflex.utils.find_local_extrema`` calls ``int()`` on a one-element 1-D
   array for every flat stretch of the STA/LTA curve; NumPy 2 refuses that
   conversion, so any trace with a plateau (e.g. exact zeros) fails.

:func:`pyflex_on_numpy2` fixes both for the duration of one pyflex call only:

* the traces handed to pyflex carry their data as :class:`PtpArray`, an
  ``ndarray`` subclass whose only addition is ``ptp()`` returning ``np.ptp``;
* ``pyflex.utils.find_local_extrema`` is replaced by :func:`local_extrema`,
  our own vectorised implementation of the same contract (indices of strict
  local maxima and minima; a flat extremum counts once, at its first index),
  and restored afterwards.

Both are harmless on NumPy 1, so the same code path runs everywhere. A lock
keeps the temporary replacement safe if threads call pyflex concurrently.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from obspy import Trace

_LOCK = threading.Lock()


class PtpArray(np.ndarray):
    """``ndarray`` with the ``ptp()`` method that NumPy 2 removed."""

    def ptp(self, axis=None, out=None, keepdims=False):
        return np.ptp(np.asarray(self), axis=axis, out=out, keepdims=keepdims)


def with_ptp(trace: Trace) -> Trace:
    """A float64 copy of ``trace`` whose data is a :class:`PtpArray`."""
    copy = trace.copy()
    copy.data = np.ascontiguousarray(copy.data, dtype=np.float64).view(PtpArray)
    return copy


def local_extrema(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(maxima, minima) indices of ``data`` as int32 arrays, plateaus at their first index.

    The first and last runs of equal values are never extrema (they have only
    one neighbour).
    """
    data = np.asarray(data)
    if data.size < 3:
        empty = np.array([], dtype="int32")
        return empty, empty.copy()
    starts = np.flatnonzero(np.concatenate(([True], np.diff(data) != 0)))
    values = data[starts]
    if values.size < 3:
        empty = np.array([], dtype="int32")
        return empty, empty.copy()
    mid, left, right = values[1:-1], values[:-2], values[2:]
    inner = starts[1:-1]
    maxima = inner[(mid > left) & (mid > right)].astype("int32")
    minima = inner[(mid < left) & (mid < right)].astype("int32")
    return maxima, minima


@contextmanager
def pyflex_on_numpy2() -> Iterator[None]:
    """Within the block, ``pyflex.utils.find_local_extrema`` is :func:`local_extrema`."""
    import pyflex.utils

    with _LOCK:
        original = pyflex.utils.find_local_extrema
        pyflex.utils.find_local_extrema = local_extrema
        try:
            yield
        finally:
            pyflex.utils.find_local_extrema = original
