"""The message codec: large buffers travel beside the pickle, not inside it."""

import numpy as np
import numpy.ma as ma
import pytest
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


def test_small_arrays_stay_in_band():
    small, strided = np.ones(10), np.arange(20, dtype=np.int64)[::2]
    payload, buffers = encode([small, strided])
    assert buffers == []
    a, b = decode(payload, [])
    np.testing.assert_array_equal(a, small)
    np.testing.assert_array_equal(b, strided)


@pytest.mark.parametrize("view", [
    lambda a: a[::2],
    lambda a: a.reshape(400, 500)[:, 7],  # a column
    lambda a: a.reshape(400, 500)[::-1, 100:300].T,
])
def test_large_strided_views_travel_out_of_band_as_one_contiguous_copy(view):
    """NumPy pickles a view that is not contiguous into the pickle itself,
    through two more copies (its bytes, the pickle's buffer) on the sending
    side and one on the receiving side; d4p makes it contiguous first, once."""
    strided = view(np.arange(200_000, dtype=np.float64) + 0.5)
    if strided.nbytes < OUT_OF_BAND:
        strided = np.broadcast_to(strided, (40, *strided.shape)).T  # large, not contiguous
    assert not strided.flags.c_contiguous and not strided.flags.f_contiguous
    payload, buffers = encode(("unit", strided))
    assert len(payload) < 1000 and [b.nbytes for b in buffers] == [strided.nbytes]
    kind, back = decode(payload, [bytearray(b) for b in buffers])
    assert back.dtype == strided.dtype and back.shape == strided.shape
    np.testing.assert_array_equal(back, strided)
    assert back.flags.c_contiguous and back.flags.writeable


def _masked_kinds():
    data = np.arange(120_000, dtype=np.float64).reshape(300, 400)
    return [
        ma.masked_greater(data, 50_000.0),
        ma.masked_array(data, fill_value=-1.0),  # no mask (nomask)
        ma.masked_array(np.asfortranarray(data), mask=data % 3 == 0, hard_mask=True),
        ma.masked_less(data, 100.0)[::2, 1::3],
        ma.masked_array(np.zeros(20_000, dtype=[("t", "f8"), ("n", ">i4")]),
                        mask=[(i % 2 == 0, i % 3 == 0) for i in range(20_000)]),
        ma.masked_array(3.0, mask=True),
        ma.masked_array(np.zeros((0, 4))),
    ]


@pytest.mark.parametrize("index", range(len(_masked_kinds())))
def test_masked_arrays_travel_out_of_band_and_arrive_equal(index):
    """NumPy pickles a masked array's data and mask as bytes inside the
    pickle; d4p sends them as arrays, so that they travel out of band."""
    unit = _masked_kinds()[index]
    payload, buffers = encode(unit)
    if unit.nbytes >= OUT_OF_BAND:  # the data out of band (and the mask, if large too)
        assert buffers[0].nbytes == unit.nbytes and len(payload) < unit.nbytes // 4
    back = decode(payload, [bytearray(b) for b in buffers])
    assert type(back) is ma.MaskedArray
    assert back.dtype == unit.dtype and back.shape == unit.shape
    assert back.data.tobytes() == unit.data.tobytes()
    assert (back.mask is ma.nomask) == (unit.mask is ma.nomask)
    np.testing.assert_array_equal(ma.getmaskarray(back), ma.getmaskarray(unit))
    assert back.fill_value == unit.fill_value and back.hardmask == unit.hardmask
    assert back.flags.f_contiguous == unit.flags.f_contiguous


def test_threshold_is_configurable():
    payload, buffers = encode(np.zeros(16, dtype=np.uint8), out_of_band=8)
    assert len(buffers) == 1
    assert OUT_OF_BAND == 64 * 1024


def test_plain_messages_have_no_buffers():
    payload, buffers = encode(("eos", 1, 2))
    assert buffers == [] and decode(payload, []) == ("eos", 1, 2)
