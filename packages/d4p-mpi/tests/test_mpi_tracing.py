"""Progress and tracing: the ranks' counts and timing events reach the caller."""

import d4p
import mpi_workflows
from d4p.examples import wordcount


class Recorder:
    """A tracer, as a monitoring plugin returns from ``d4p_make_tracer``."""

    def __init__(self):
        self.events, self.calls = [], []

    def run_started(self, run):
        self.calls.append(("started", run.mapping, run.processes))

    def record(self, events):
        self.events += events

    def run_finished(self, run, seconds, error):
        self.calls.append(("finished", error))


class TracerPlugin:
    def __init__(self, tracer):
        self.tracer = tracer

    @d4p.hookimpl
    def d4p_make_tracer(self, run):
        return self.tracer


def test_every_ranks_timing_events_reach_the_tracer():
    recorder = Recorder()
    plugin = TracerPlugin(recorder)
    manager = d4p.get_plugin_manager()
    manager.register(plugin)
    try:
        result = d4p.run(*wordcount(5000, counters=2), mapping="mpi", processes=3,
                         monitor=True, timeout=60)
    finally:
        manager.unregister(plugin)
    assert recorder.calls == [("started", "mpi", 3), ("finished", None)]
    instances = [e for e in recorder.events if e["kind"] == "instance"]
    calls: dict[str, int] = {}
    for event in instances:
        calls[event["pe"]] = calls.get(event["pe"], 0) + event["calls"]
    assert calls == {pe: n for pe, n in result.summary.units.items() if n}
    assert {e["process"] for e in instances} == {0, 1, 2}
    edges = {(e["src_pe"], e["dst_pe"]) for e in recorder.events if e["kind"] == "edge"}
    # producer → count (through its partial), count → top (through top's partial)
    assert edges == {("WordProducer0", "count1.partial"), ("count1.partial", "count1"),
                     ("count1", "top2.partial"), ("top2.partial", "top2")}


def test_progress_hears_counts_while_the_run_goes_on():
    seen = []
    # 4 units of 0.6 s on 2 sleeper instances: the run lasts about 1.2 s, so
    # the ranks' half-second reports arrive before the end however fast the machine
    d4p.run(*mpi_workflows.sleeping(0.6), mapping="mpi", processes=3,
            progress=lambda counts: seen.append(sum(counts.values())), timeout=120)
    assert len(seen) >= 2  # at least one report before the final one
    assert seen == sorted(seen)
    assert seen[-1] == 1 + 4 + 4  # numbers' one iteration, 4 sleeps, 4 totals
