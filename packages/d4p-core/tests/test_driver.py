"""d4p.driver.Handoff: a helper thread's items handed to a reader that pulls them."""

import threading
import time

import pytest
from d4p.driver import Handoff


def _until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_items_arrive_in_order_and_the_end_is_seen():
    handoff = Handoff(lambda put: [put(i) for i in range(7)], bound=3)
    assert list(handoff) == list(range(7))
    assert handoff.ended
    assert handoff.take() == []


def test_take_gives_at_most_most_items_and_nothing_when_none_came_in_time():
    release = threading.Event()

    def work(put):
        for i in range(5):
            put(i)
        release.wait()

    handoff = Handoff(work, bound=10)
    _until(lambda: handoff._queue.qsize() == 5)
    assert handoff.take(most=2) == [0, 1]
    assert handoff.take(most=10) == [2, 3, 4]
    assert handoff.take(wait=0.05) == []
    assert not handoff.ended
    release.set()
    assert handoff.take(wait=10) == []
    assert handoff.ended


def test_a_full_queue_makes_the_work_wait():
    put_so_far = []

    def work(put):
        for i in range(100):
            put(i)
            put_so_far.append(i)

    handoff = Handoff(work, bound=4)
    _until(lambda: len(put_so_far) == 4)
    time.sleep(0.2)
    assert len(put_so_far) == 4  # the fifth put waits for the reader
    assert list(handoff) == list(range(100))


def test_the_works_error_reaches_the_reader_after_its_items():
    def work(put):
        put("a")
        put("b")
        raise ValueError("bad unit")

    handoff = Handoff(work, bound=10)
    _until(lambda: handoff._queue.qsize() == 3)
    assert handoff.take(most=10) == ["a", "b"]
    with pytest.raises(ValueError, match="bad unit"):
        handoff.take()
    assert handoff.ended
    assert handoff.take() == []  # raised once


def test_iteration_raises_the_works_error():
    def work(put):
        put(1)
        raise KeyError("k")

    got = []
    with pytest.raises(KeyError):
        for item in Handoff(work, bound=1):
            got.append(item)
    assert got == [1]


def test_closing_ends_a_work_that_waits_to_put():
    finished = threading.Event()

    def work(put):
        try:
            i = 0
            while True:  # a source that never ends
                put(i)
                i += 1
        finally:
            finished.set()

    handoff = Handoff(work, bound=2)
    assert handoff.take(most=3, wait=10) != []
    handoff.close()
    assert finished.wait(10)
