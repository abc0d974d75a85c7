"""What is particular to the threadpool mapping: how d4p finds it, its option,
its threads, progress reports and stopping every thread on a failure."""

import threading
import time

import d4p
import pytest
from d4p.examples import pipeline, wordcount_plain
from d4p.plugins import get_mapping, registered_mappings
from d4p_threadpool import ThreadPoolMapping


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("d4p-threadpool")]


def test_found_through_its_entry_point():
    found = {cls.name: (cls, dist) for cls, dist, _ in registered_mappings()}
    assert found["threadpool"] == (ThreadPoolMapping, "d4p-threadpool")
    assert get_mapping("threadpool") is ThreadPoolMapping


def test_wordcount_spreads_over_threads_and_matches_simple():
    graph, inputs = wordcount_plain(words=5000, vocabulary=50, counters=3, top=5)
    result = d4p.run(graph, inputs, mapping="threadpool", processes=3)
    graph2, inputs2 = wordcount_plain(words=5000, vocabulary=50, counters=3, top=5)
    assert list(result.values()) == list(d4p.run(graph2, inputs2).values())
    assert result.summary.mapping == "threadpool"
    assert result.summary.processes == 3
    counter = next(pe for pe in result.summary.instances if pe.startswith("WordCounter"))
    assert sorted(result.summary.assignment[counter]) == [0, 1, 2]
    assert result.summary.units[counter] == 5000
    assert _threads() == []


def test_pipeline_total():
    graph, inputs = pipeline(10_000)
    result = d4p.run(graph, inputs, mapping="threadpool", processes=2, batch_size=7)
    assert list(result.values()) == [{"output": [10_000 * 9_999]}]


@pytest.mark.parametrize(("bad", "said"), [(0, "must be at least 1, not 0"),
                                           (-3, "must be at least 1, not -3"),
                                           ("many", "must be a whole number, not 'many'"),
                                           (2.5, "must be a whole number, not 2.5")])
def test_bad_batch_size_is_a_usage_error(bad, said):
    graph, inputs = pipeline(10)
    with pytest.raises(d4p.UsageError, match=rf"option 'batch_size' of mapping 'threadpool'"
                                             rf"(:)? {said}"):
        d4p.run(graph, inputs, mapping="threadpool", batch_size=bad)


def test_unknown_option_names_the_known_one():
    graph, inputs = pipeline(10)
    with pytest.raises(d4p.UsageError, match=r"has no option 'batchsize' \(did you mean "
                                             r"'batch_size'\?\); its options are: batch_size"):
        d4p.run(graph, inputs, mapping="threadpool", batchsize=3)


class Endless(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(10**9):
            self.write("output", i)


class Refuse(d4p.IterativePE):
    def _process(self, data):
        if data == 1000:
            raise RuntimeError("no thousands here")
        return data


@pytest.mark.timeout(60)
def test_a_failure_stops_every_thread():
    graph = d4p.WorkflowGraph()
    source, refuse = Endless(), Refuse()
    refuse.numprocesses = 2
    graph.connect(source, "output", refuse, "input")
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, mapping="threadpool", processes=3, batch_size=16)
    assert info.value.pe == refuse.id and info.value.port == "input"
    assert info.value.data == "1000" and info.value.instance == 0
    assert "RuntimeError: no thousands here" in str(info.value)
    assert _threads() == []


class Slow(d4p.IterativePE):
    def _process(self, data):
        time.sleep(0.1)
        return data


def test_progress_reports_units_per_pe():
    graph = d4p.WorkflowGraph()
    source, slow = d4p.examples.NumberProducer(12), Slow()
    slow.numprocesses = 2
    graph.connect(source, "output", slow, "input")
    seen = []
    result = d4p.run(graph, mapping="threadpool", processes=2, progress=seen.append)
    assert sorted(result[slow.id]["output"]) == list(range(12))
    assert seen, "progress was never called during a run of about 0.6 s"
    assert all(set(report) <= {source.id, slow.id} for report in seen)
    assert max(report.get(slow.id, 0) for report in seen) <= 12


class _Tracer:
    def __init__(self):
        self.calls = []
        self.events = []

    def run_started(self, run):
        self.calls.append(("started", run.mapping, run.processes))

    def record(self, events):
        self.events += events

    def run_finished(self, run, seconds, error):
        self.calls.append(("finished", error))


class _TracerPlugin:
    def __init__(self):
        self.tracer = _Tracer()

    @d4p.hookimpl
    def d4p_make_tracer(self, run):
        return self.tracer


def test_monitored_run_hands_timing_events_to_the_tracer():
    plugin = _TracerPlugin()
    pm = d4p.get_plugin_manager()
    pm.register(plugin, name="threadpool-test-tracer")
    try:
        graph, inputs = wordcount_plain(words=3000, vocabulary=20, counters=2, top=3)
        d4p.run(graph, inputs, mapping="threadpool", processes=2, monitor=True)
    finally:
        pm.unregister(name="threadpool-test-tracer")
    tracer = plugin.tracer
    assert tracer.calls == [("started", "threadpool", 2), ("finished", None)]
    calls = {}
    for event in tracer.events:
        if event["kind"] == "instance":
            name = event["pe"].rstrip("0123456789")
            calls[name] = calls.get(name, 0) + event["calls"]
    assert calls == {"WordProducer": 1, "WordCounter": 3000, "CountCollector": 20}
    edges = {(e["src_pe"].rstrip("0123456789"), e["dst_pe"].rstrip("0123456789"))
             for e in tracer.events if e["kind"] == "edge"}
    assert ("WordProducer", "WordCounter") in edges


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("how", "why"), [({"max_units": 500}, "max_units=500"),
                                          ({"stop_after": 0.5}, "stop_after=0.5 s")])
def test_an_endless_source_stops_as_the_run_says(how, why):
    """Before, the example ignored the run's Control: max_units, stop_after,
    the stop event and Ctrl-C never stopped an endless source (it ran for
    ever), and a plugin written after it did the same."""
    from d4p.testing.workflows import endless

    graph = endless()
    result = d4p.run(graph, mapping="threadpool", processes=2, **how)
    ((count,),) = [ports["output"] for ports in result.values()]
    assert count == 500 if "max_units" in how else count > 0
    assert result.summary.stopped == why
    assert _threads() == []
