"""How a message becomes bytes: pickle protocol 5 with large buffers (NumPy
arrays, bytes-likes) taken out of band, so that the transport sends them as
raw MPI messages of their own instead of copying them into the pickle."""

from __future__ import annotations

import pickle

OUT_OF_BAND = 64 * 1024
"""Buffers of this many bytes or more travel out of band."""
_MAX_BUFFERS = 1 << 16


def encode(message: object, out_of_band: int = OUT_OF_BAND) -> tuple[bytes, list]:
    """Pickle ``message``; buffers of at least ``out_of_band`` bytes are
    returned beside the pickle instead of copied into it."""
    buffers: list = []

    def take(buffer: pickle.PickleBuffer) -> bool:
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: pickle copies it in band
            return True
        if raw.nbytes < out_of_band or len(buffers) >= _MAX_BUFFERS:
            return True
        buffers.append(raw)
        return False

    return pickle.dumps(message, protocol=5, buffer_callback=take), buffers


def decode(payload, buffers) -> object:
    """The message from :func:`encode`'s pickle and buffers (received buffers
    are writable ``bytearray`` objects, so arrays built on them are too)."""
    return pickle.loads(payload, buffers=buffers)
