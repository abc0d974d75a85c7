"""Count and event-time windows, global and per key, on simple and multi;
what is open at the end of the stream (or a graceful stop) is written."""

from __future__ import annotations

import d4p
import pytest
from d4p.testing.workflows import Endless


def _run(window, units, mapping="simple"):
    @d4p.producer
    def source():
        yield from units

    graph = d4p.WorkflowGraph()
    graph.connect(source(), "output", window, "input")
    return d4p.run(graph, mapping=mapping, processes=2)[window.id]["output"]


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_tumbling_count_windows_write_the_rest_at_the_end(mapping):
    assert _run(d4p.window.count(4), list(range(10)), mapping) == \
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_sliding_count_windows_do_not_repeat_units_at_the_end():
    assert _run(d4p.window.count(4, 2), list(range(8))) == \
        [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7]]
    assert _run(d4p.window.count(4, 2), list(range(9))) == \
        [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8]]
    assert _run(d4p.window.count(3, partial=False), list(range(7))) == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_keyed_count_windows(mapping):
    got = _run(d4p.window.count(2, by=0), [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)],
               mapping)
    assert sorted(got) == [("a", [("a", 1), ("a", 3)]), ("a", [("a", 5)]),
                           ("b", [("b", 2), ("b", 4)])]


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_nan_keys_share_their_windows(mapping):
    """Each NaN object was a key of its own: on multi (units arrive pickled,
    new objects) np.nan's units each had a window of one."""
    nan = float("nan")
    got = _run(d4p.window.count(3, by=0), [(nan if i % 2 else "k", i) for i in range(12)],
               mapping)
    assert sorted((repr(key), [i for _, i in units]) for key, units in got) == [
        ("'k'", [0, 2, 4]), ("'k'", [6, 8, 10]), ("nan", [1, 3, 5]), ("nan", [7, 9, 11])]


def test_tumbling_time_windows_close_when_time_passes_their_end():
    units = [(0.5, "a"), (3.0, "b"), (9.9, "c"), (10.0, "d"), (25.0, "e")]
    got = _run(d4p.window.time(10, time=lambda u: u[0]), units)
    assert got == [(0, 10, [(0.5, "a"), (3.0, "b"), (9.9, "c")]), (10, 20, [(10.0, "d")]),
                   (20, 30, [(25.0, "e")])]


def test_sliding_time_windows_hold_each_unit_in_every_window_it_falls_in():
    got = _run(d4p.window.time(10, time=lambda u: u, slide=5), [1, 6, 12])
    assert got == [(-5, 5, [1]), (0, 10, [1, 6]), (5, 15, [6, 12]), (10, 20, [12])]


def test_a_fractional_slide_gives_each_window_once_with_all_its_units():
    units = [0.05, 0.55, 0.95, 1.25]
    got = _run(d4p.window.time(1, time=lambda u: u, slide=0.1), units)
    # window k spans [k/10, k/10 + 1): one window per k, holding every unit inside
    want = [[u for u in units if k / 10 <= u < k / 10 + 1] for k in range(-9, 13)]
    assert [w[2] for w in got] == want
    assert [round(w[0], 9) for w in got] == [k / 10 for k in range(-9, 13)]


def test_late_units_are_counted_and_left_out_unless_within_lateness(capsys):
    window = d4p.window.time(10, time=lambda u: u)
    got = _run(window, [1, 12, 3, 25])
    assert got == [(0, 10, [1]), (10, 20, [12]), (20, 30, [25])]  # 3 came after 0-10 closed
    assert f"{window.id}: 1 unit(s) arrived after their window was written (more than " \
        "lateness=0 behind) and were left out; raise lateness to keep them" in capsys.readouterr().err
    relaxed = d4p.window.time(10, time=lambda u: u, lateness=5)
    assert _run(relaxed, [1, 12, 3, 25]) == [(0, 10, [1, 3]), (10, 20, [12]), (20, 30, [25])]


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_keyed_time_windows(mapping):
    units = [("x", 1), ("y", 2), ("x", 11), ("y", 13), ("x", 21)]
    got = _run(d4p.window.time(10, time=lambda u: u[1], by=0), units, mapping)
    assert sorted(got) == [("x", 0, 10, [("x", 1)]), ("x", 10, 20, [("x", 11)]),
                           ("x", 20, 30, [("x", 21)]), ("y", 0, 10, [("y", 2)]),
                           ("y", 10, 20, [("y", 13)])]


def test_a_shared_watermark_writes_the_windows_of_all_keys_in_the_order_of_their_ends():
    """Keys that need not compare (None, a string, a number), windows ending
    together: written in the order of their ends, not key by key."""
    units = [(None, 1), ("b", 2), (None, 13), (3, 5), ("b", 31)]
    got = _run(d4p.window.time(10, time=lambda u: u[1], by=0), units)
    assert [(key, start) for key, start, _, _ in got] == [
        (None, 0), ("b", 0), (3, 0), (None, 10), ("b", 30)]


LAGGING = [("x", 1), ("y", 2), ("x", 15), ("y", 5), ("x", 27), ("y", 12)]
"""Station y lags x: its 5 arrives after x's time has passed 10."""


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_shared_watermark_makes_a_lagging_key_late(mapping):
    window = d4p.window.time(10, time=lambda u: u[1], by=0)
    got = _run(window, LAGGING, mapping)
    assert sorted(got) == [("x", 0, 10, [("x", 1)]), ("x", 10, 20, [("x", 15)]),
                           ("x", 20, 30, [("x", 27)]), ("y", 0, 10, [("y", 2)]),
                           ("y", 10, 20, [("y", 12)])]  # ("y", 5) was late


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_watermark_per_key_lets_keys_lag_each_other(mapping):
    window = d4p.window.time(10, time=lambda u: u[1], by=0, watermark="key")
    got = _run(window, LAGGING, mapping)
    assert sorted(got) == [("x", 0, 10, [("x", 1)]), ("x", 10, 20, [("x", 15)]),
                           ("x", 20, 30, [("x", 27)]), ("y", 0, 10, [("y", 2), ("y", 5)]),
                           ("y", 10, 20, [("y", 12)])]


def test_a_watermark_per_key_still_drops_a_keys_own_late_units():
    window = d4p.window.time(10, time=lambda u: u[1], by=0, watermark="key")
    got = _run(window, [("x", 1), ("y", 30), ("x", 12), ("x", 3), ("y", 4)])
    assert got == [("x", 0, 10, [("x", 1)]), ("x", 10, 20, [("x", 12)]),
                   ("y", 0, 10, [("y", 4)]), ("y", 30, 40, [("y", 30)])]
    # ("x", 3) was late (x's 0-10 was written); ("y", 4) was not: y's 0-10 was open


def test_per_key_windows_do_not_depend_on_how_keys_are_spread_over_instances():
    units = [(k, t) for t in range(0, 60, 3) for k in "abcde"[: 1 + t % 5]]
    outputs = []
    for instances in (1, 3):
        window = d4p.window.time(10, time=lambda u: u[1], by=0, watermark="key", slide=5)
        window.numprocesses = instances
        outputs.append(sorted(_run(window, units, "multi")))
    assert outputs[0] == outputs[1] and len(outputs[0]) > 20


def test_a_graceful_stop_writes_the_open_windows():
    graph = d4p.WorkflowGraph()
    window = d4p.window.count(1000)
    graph.connect(Endless(), "output", window, "input")
    result = d4p.run(graph, max_units=2500)
    assert [len(w) for w in result[window.id]["output"]] == [1000, 1000, 500]


@pytest.mark.parametrize(("make", "said"), [
    (lambda: d4p.window.count(0), "positive size"),
    (lambda: d4p.window.count(2, 3), r"at most its size \(2\), not 3"),
    (lambda: d4p.window.time(0, time=abs), "positive length"),
    (lambda: d4p.window.time(5, time=abs, slide=6), "at most its length"),
    (lambda: d4p.window.time(5, time=abs, by=0, watermark="each"), "'shared'.*or 'key'"),
    (lambda: d4p.window.time(5, time=abs, watermark="key"), "needs the key: give by="),
    (lambda: d4p.window.count("3"), "positive size, not '3'"),
    (lambda: d4p.window.count(3, by=2.5), r"by= must be a tuple index, a tuple of indices or a "
                                          r"key function \(the forms d4p.group_by takes\), not "
                                          "2.5"),
    (lambda: d4p.window.count(3, by=(0, None)), "group_by takes tuple indices"),
    (lambda: d4p.window.time("5", time=abs), "positive length, not '5'"),
    (lambda: d4p.window.time(5, time=0), "time= must be a function giving a unit's time, such "
                                         "as lambda unit: unit\\[0\\], not 0"),
    (lambda: d4p.window.time(5, time=abs, lateness="1"), "lateness must be a number not below "
                                                         "0, not '1'"),
])
def test_bad_window_parameters(make, said):
    """Before: ValueError (a TypeError comparing text with 0; a time= that
    is no function failed in the run), where the rest of d4p raises its
    UsageError."""
    with pytest.raises(d4p.UsageError, match=said):
        make()


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_a_key_index_the_units_lack_is_a_usage_error_naming_by(mapping):
    """Before: an IndexError in window.py, exit status 1."""
    window = d4p.window.count(2, by=3)
    with pytest.raises(d4p.UsageError) as info:
        _run(window, [("a", 1), ("b", 2)], mapping)
    assert str(info.value) == (f"PE '{window.id}': by=3 does not fit the unit ('a', 1) "
                               "(IndexError: tuple index out of range): give the index of a "
                               "field the units have, or a function")


def test_a_dict_key_as_by_groups_dict_units():
    """Before: by="station" was read as the keys 's', 't', 'a', ... (a KeyError in the run)."""
    units = [{"station": s, "v": i} for i, s in enumerate("ABAB")]
    assert _run(d4p.window.count(2, by="station"), units) == [
        ("A", [units[0], units[2]]), ("B", [units[1], units[3]])]


def test_numpy_numbers_are_numbers_to_a_time_window():
    np = pytest.importorskip("numpy")
    window = d4p.window.time(np.int64(10), time=lambda u: u, slide=np.float32(5),
                             lateness=np.int32(0))
    assert _run(window, [1, 12]) == [(-5, 5, [1]), (0, 10, [1]), (5, 15, [12]), (10, 20, [12])]
