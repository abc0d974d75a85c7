"""Timing events for monitors: what the executor reports through the tracer hook."""

from __future__ import annotations

import pickle

import d4p
import pytest
from d4p.examples import wordcount, wordcount_plain


class Recorder:
    def __init__(self):
        self.runs, self.events, self.finished = [], [], []

    def run_started(self, run):
        self.runs.append(run)

    def record(self, events):
        self.events.extend(events)

    def run_finished(self, run, seconds, error):
        self.finished.append((run.id, seconds, error))

    def of(self, kind):
        return [e for e in self.events if e["kind"] == kind]


@pytest.fixture
def recorder():
    rec = Recorder()

    class Plugin:
        @d4p.hookimpl
        def d4p_make_tracer(self, run):
            return rec if run.monitor == "test://recorder" else None

    plugin = Plugin()
    d4p.get_plugin_manager().register(plugin)
    try:
        yield rec
    finally:
        d4p.get_plugin_manager().unregister(plugin)


@pytest.mark.parametrize(("mapping", "processes"), [("simple", 1), ("multi", 4)])
def test_events_account_for_every_unit(recorder, mapping, processes):
    graph, inputs = wordcount_plain(words=30_000)
    result = d4p.run(graph, inputs, mapping=mapping, processes=processes,
                     monitor="test://recorder")
    (run,) = recorder.runs
    assert run.mapping == mapping and run.processes == processes
    assert recorder.finished[0][0] == run.id and recorder.finished[0][2] is None
    calls: dict[str, int] = {}
    for e in recorder.of("instance"):
        calls[e["pe"]] = calls.get(e["pe"], 0) + e["calls"]
        assert e["t0"] <= e["t1"] and e["process_s"] >= 0 and e["write_s"] >= 0
        assert e["process"] in run.plan.assignment()[e["pe"]]
    assert calls == result.summary.units
    edges: dict[tuple, int] = {}
    for e in recorder.of("edge"):
        edges[(e["src_pe"], e["dst_pe"])] = edges.get((e["src_pe"], e["dst_pe"]), 0) + e["units"]
    producer, counter, collector = run.plan.pes
    assert edges == {(producer, counter): 30_000, (counter, collector): 1000}
    crossing = sum(e["bytes"] for e in recorder.of("edge"))
    assert (crossing > 30_000) if mapping == "multi" else (crossing == 0)
    busy = sum(e["process_s"] for e in recorder.of("instance"))  # sampled: an estimate
    assert 0 < busy <= 1.5 * result.summary.seconds * processes


def test_a_failure_is_recorded_as_an_error_event(recorder):
    graph = d4p.WorkflowGraph()

    @d4p.producer
    def one():
        yield 1

    @d4p.iterative
    def broken(x):
        raise RuntimeError("boom")

    graph.connect(one(), "output", broken(), "input")
    with pytest.raises(d4p.WorkflowFailed):
        d4p.run(graph, monitor="test://recorder")
    (error,) = recorder.of("error")
    assert error["pe"].startswith("broken") and "RuntimeError: boom" in error["message"]
    assert isinstance(recorder.finished[0][2], d4p.WorkflowFailed)


def test_monitoring_nobody_accepts_is_a_usage_error_naming_the_uri():
    graph, inputs = wordcount(words=10)
    with pytest.raises(d4p.UsageError, match="nothing://here"):
        d4p.run(graph, inputs, monitor="nothing://here")


def test_own_times_of_a_fused_chain_add_up_and_name_the_slow_pe(recorder):
    """producer → cheap → slow → cheap, fused in one process: most calls are not
    timed, yet every PE gets an own time. (How well own times name the slow PE
    and add up to the run's time is a timing question: bench/monitor_overhead.py
    prints it; a loaded machine must not fail a test.)"""
    graph = d4p.WorkflowGraph()

    @d4p.producer
    def numbers():
        yield from range(20_000)

    @d4p.iterative
    def cheap(x):
        return x + 1

    @d4p.iterative
    def slow(x):
        return sum(range(400)) + x

    @d4p.consumer
    def sink(x):
        pass

    pes = [numbers(), cheap(), slow(), sink()]
    for a, b in zip(pes, pes[1:], strict=False):
        graph.connect(a, "output", b, "input")
    result = d4p.run(graph, mapping="simple", monitor="test://recorder")
    own: dict[str, float] = {}
    for e in recorder.of("instance"):
        own[e["pe"]] = own.get(e["pe"], 0.0) + e["process_s"]
    ids = [pe.id for pe in pes]
    assert result.summary.units == dict.fromkeys(ids[1:], 20_000) | {ids[0]: 1}
    assert set(own) == set(ids) and all(seconds >= 0.0 for seconds in own.values())


def test_pickled_size_counts_numpy_buffers_exactly():
    np = pytest.importorskip("numpy")
    from d4p.tracing import pickled_size

    arrays = [np.zeros(16_384), np.ones(1000, dtype=np.int32), np.arange(7, dtype=np.uint8)]
    payload = sum(a.nbytes for a in arrays)  # 131,072 + 4,000 + 7
    size = pickled_size(arrays)
    assert payload <= size <= payload * 1.01
    stream = len(pickle.dumps(arrays, protocol=5, buffer_callback=lambda buf: False))
    assert size == stream + payload


def test_edge_bytes_of_an_array_workflow_match_the_arrays_sent(recorder):
    np = pytest.importorskip("numpy")

    @d4p.producer
    def arrays():
        for i in range(40):
            yield np.full(16_384, float(i))

    @d4p.iterative
    def total(a):
        return float(a.sum())

    graph = d4p.WorkflowGraph()
    source, sink = arrays(), total()
    sink.numprocesses = 2
    graph.connect(source, "output", sink, "input")
    result = d4p.run(graph, mapping="multi", processes=3, monitor="test://recorder")
    (sums,) = result.values()
    assert sorted(*sums.values()) == [16_384.0 * i for i in range(40)]
    crossing = sum(e["bytes"] for e in recorder.of("edge"))
    assert 40 * 131_072 <= crossing <= 40 * 131_072 * 1.01


def test_an_own_time_estimated_below_zero_is_taken_from_the_next_window():
    """A sampled PE's window can come out below zero (the estimates of the
    calls made inside its timed calls exceeded what those took): it is
    reported as 0 and the deficit is taken from its next window. Cut at 0 and
    forgotten, the own times of a 54-PE chain on simple added up to 103% of
    the run."""
    from d4p.tracing import Trace

    trace = Trace(0)
    win = trace.window(1, "step1", 0)
    win.calls, win.process_s = 100, -0.004
    assert win.event()["process_s"] == 0.0
    win.reset()
    win.calls, win.process_s = 100, win.process_s + 0.010
    assert trace.take(final=True)[0]["process_s"] == pytest.approx(0.006)
    win.process_s = -0.001  # a deficit alone is no event
    assert trace.take(final=True) == []
