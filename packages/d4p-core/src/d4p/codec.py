"""How a message becomes bytes between processes: pickle protocol 5 with
large buffers (NumPy arrays, bytes-likes) taken out of band, so that a
transport sends them straight from the array's memory and receives them into
writable buffers, with no copy into or out of a pickle. NumPy pickles only
contiguous arrays that way; a large strided view (``a[:, ::2]``, a column)
is made contiguous first, and a masked array travels as its data and mask
arrays, so that they too travel out of band (else each is copied into the
pickle three times over, on both sides).

A transport that crosses process boundaries (multi's pipes, MPI messages)
encodes with :func:`encode`, learns the bytes a message holds from
:func:`nbytes` (the unit of d4p's backpressure budget) and decodes with
:func:`decode`.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
from typing import Any

OUT_OF_BAND = 64 * 1024
"""Buffers of this many bytes or more travel out of band."""
_MAX_BUFFERS = 1 << 16


def encode(message: Any, out_of_band: int = OUT_OF_BAND) -> tuple[bytes, list[memoryview]]:
    """Pickle ``message``; buffers of at least ``out_of_band`` bytes are
    returned beside the pickle (as raw memoryviews) instead of copied into it."""
    buffers: list[memoryview] = []

    def take(buffer: pickle.PickleBuffer) -> bool:
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: pickle copies it in band
            return True
        if raw.nbytes < out_of_band or len(buffers) >= _MAX_BUFFERS:
            return True
        buffers.append(raw)
        return False

    numpy = sys.modules.get("numpy")
    if numpy is None:  # no arrays to care for
        return pickle.dumps(message, protocol=5, buffer_callback=take), buffers
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5, buffer_callback=take)
    pickler.dispatch_table = _array_reducers(numpy, out_of_band)
    pickler.dump(message)
    return out.getvalue(), buffers


def _array_reducers(numpy, out_of_band: int) -> dict:
    """``copyreg``'s reducers, and d4p's for plain and masked arrays (their
    exact types: subclasses pickle as they do), unless ``copyreg`` has one."""
    def array(a):
        if a.nbytes >= out_of_band and not (a.flags.c_contiguous or a.flags.f_contiguous):
            a = numpy.ascontiguousarray(a)  # one copy, out of band (numpy pickles it in band)
        return a.__reduce_ex__(5)

    def masked(m):
        return _masked, (m.data, m.mask, m.fill_value, m.hardmask)

    ours = {numpy.ndarray: array}
    ma = sys.modules.get("numpy.ma")  # not loaded: no masked arrays
    if ma is not None:
        ours[ma.MaskedArray] = masked
    return {**ours, **copyreg.dispatch_table}


def _masked(data, mask, fill_value, hard_mask):
    """A masked array from what :func:`_array_reducers` took from it."""
    from numpy.ma import MaskedArray

    return MaskedArray(data, mask=mask, fill_value=fill_value, hard_mask=hard_mask, copy=False)


def nbytes(payload: bytes, buffers: list) -> int:
    """The bytes an encoded message occupies: its pickle and its buffers."""
    return len(payload) + sum(memoryview(b).nbytes for b in buffers)


class Unloadable(Exception):
    """A message that pickled where it was sent but does not load here (an
    object whose pickle does not rebuild it: an exception whose ``__init__``
    takes required arguments)."""


def decode(payload: Any, buffers: list) -> Any:
    """The message from :func:`encode`'s pickle and buffers (buffers received
    as writable ``bytearray`` objects give writable arrays); :class:`Unloadable`
    when it does not load."""
    try:
        return pickle.loads(payload, buffers=buffers)
    except Exception as exc:
        raise Unloadable(f"{type(exc).__name__}: {exc}") from exc
