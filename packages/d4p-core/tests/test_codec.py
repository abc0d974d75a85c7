"""The message codec: large buffers travel beside the pickle, not inside it."""

import numpy as np
from d4p.codec import OUT_OF_BAND, decode, encode


def test_large_array_travels_out_of_band_and_comes_back_writable():
    array = np.arange(100_000, dtype=np.float64)
    message = ("data", [(3, "input", [array, "label"])])
    payload, buffers = encode(message)
    assert len(buffers) == 1 and buffers[0].nbytes == array.nbytes
    assert len(payload) < 1000  # the 800 kB of data are not in the pickle
    received = [bytearray(b) for b in buffers]  # what MPI receives into
    kind, [(iid, port, [back, label])] = decode(bytearray(payload), received)
    assert (kind, iid, port, label) == ("data", 3, "input", "label")
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_small_and_non_contiguous_arrays_stay_in_band():
    small = np.ones(10)
    strided = np.arange(200_000, dtype=np.int64)[::2]
    payload, buffers = encode([small, strided])
    assert buffers == []
    a, b = decode(payload, [])
    np.testing.assert_array_equal(a, small)
    np.testing.assert_array_equal(b, strided)


def test_threshold_is_configurable():
    payload, buffers = encode(np.zeros(16, dtype=np.uint8), out_of_band=8)
    assert len(buffers) == 1
    assert OUT_OF_BAND == 64 * 1024


def test_plain_messages_have_no_buffers():
    payload, buffers = encode(("eos", 1, 2))
    assert buffers == [] and decode(payload, []) == ("eos", 1, 2)
