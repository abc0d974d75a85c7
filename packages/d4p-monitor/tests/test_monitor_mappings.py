"""Monitored runs on the mappings of other packages, when they are installed:
their events reach the store and account for every unit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import d4p
import pytest
from d4p.examples import wordcount_plain
from d4p_monitor import communication, load, open_store, profile

OTHERS = [m for m in ("mpi",) if m in d4p.installed_mappings()]


@pytest.mark.skipif(not OTHERS, reason="no other mapping installed (d4p-mpi)")
@pytest.mark.parametrize("mapping", OTHERS)
def test_events_from_every_process_of_another_mapping(tmp_path, monitored, mapping):
    db = str(tmp_path / "m.sqlite")
    graph, inputs = wordcount_plain(words=5000, counters=2)
    run = monitored(db, graph, inputs, mapping=mapping, processes=4, name="wordcount")
    summary = run.result.summary
    with open_store(db) as store:
        record, events = load(store, run.id)
    assert record["mapping"] == mapping and record["status"] == "ok"
    prof = profile(record, events["instance"], events["edge"])
    assert {p["pe"]: p["calls"] for p in prof["pes"]} == summary.units
    assert {(r["pe"], r["instance"], r["process"]) for r in prof["instances"]} == {
        (i.pe_id, i.index, i.process) for i in run.plan.instances}
    comm = communication(record, events["edge"])
    assert {(e["src_pe"], e["dst_pe"]): e["units"] for e in comm["edges"]} == {
        (r.src_pe, r.dst_pe): summary.units[r.dst_pe] for r in run.plan.routes}
    assert all(e["bytes"] > 0 for e in comm["edges"])


@pytest.mark.skipif("spark" not in d4p.installed_mappings(), reason="d4p-spark is not installed")
def test_a_spark_run_is_recorded_with_the_processes_the_summary_reports(tmp_path):
    db = str(tmp_path / "s.sqlite")
    graph, inputs = wordcount_plain(words=2000, counters=3)
    result = d4p.run(graph, inputs, mapping="spark", monitor=db, name="wordcount")
    summary = result.summary
    with open_store(db) as store:
        record, events = load(store, summary.run_id)
    assert summary.processes == 5  # Spark: one partition each, 1 + 3 + 1 instances
    assert record["processes"] == summary.processes and record["status"] == "ok"
    assert {a["pe"]: a["processes"] for a in record["assignment"]} == summary.assignment
    assert {e["process"] for e in events["instance"]} == set(range(summary.processes))
    producer, counter, collector = summary.units  # each in a stage of its own:
    comm = communication(record, events["edge"])  # their units cross, pickled
    assert {(e["src_pe"], e["dst_pe"]): e["units"] for e in comm["edges"]} == {
        (producer, counter): 2000, (counter, collector): summary.units[collector]}
    assert all(e["bytes"] > e["units"] for e in comm["edges"])


@pytest.mark.parametrize("mapping", ["simple", "multi", *OTHERS])
def test_a_long_run_of_many_pes_adds_up_in_every_process(tmp_path, chain, mapping):
    """54 PEs over 4 processes (or all in one on simple), 100,000 units through
    each: the counts are the run's, and no process spends more time in its
    PEs' code and sending than the run lasted (a send that waits for room runs
    the PEs of what arrives meanwhile: their time is theirs, not the send's).
    On simple, where every call happens inside the source's one call, own
    times are estimates that add up to about the run's time (96-99.5%
    measured); 2% is left for sampling, whose noise grows with load (cut at
    0, the estimates of the chain's cheap PEs added up to 101-104%)."""
    db = str(tmp_path / "long.sqlite")
    processes = 1 if mapping == "simple" else 4
    d4p.run(chain(2), mapping=mapping, processes=processes, fuse=False)  # warm: imports, MPI
    summary = d4p.run(chain(52, units=100_000), mapping=mapping, processes=processes,
                      fuse=False, monitor=db).summary
    with open_store(db) as store:
        record, events = load(store, summary.run_id)
    prof = profile(record, events["instance"], events["edge"])
    assert {p["pe"]: p["calls"] for p in prof["pes"]} == summary.units
    assert sum(summary.units.values()) == 53 * 100_000 + 1
    assert len(prof["processes"]) == processes
    slack = 1.02 if mapping == "simple" else 1.0
    for p in prof["processes"]:
        assert p["send_s"] + p["process_s"] <= summary.seconds * slack, (p["process"],
                                                                          p["send_s"])


def _calls(db: str, run) -> dict[str, int]:
    with open_store(db) as store:
        record, events = load(store, run.id)
    assert record["status"] == "failed"
    return {p["pe"]: p["calls"] for p in profile(record, events["instance"], events["edge"])["pes"]}


@pytest.mark.parametrize("mapping", ["multi", *OTHERS])
def test_a_failed_run_records_what_its_processes_did_before_the_failure(tmp_path, monitored,
                                                                       failing, mapping):
    """The failing PE processed 1,500 units, then failed on the next one: the
    profile says so (on mpi it said 0 units for every PE: the ranks' events
    reached the launcher only with the results)."""
    db = str(tmp_path / "f.sqlite")
    run = monitored(db, failing(2000, 1500), mapping=mapping, processes=2, name="picky",
                    fuse=False)
    assert "bad</b> word" in str(run.error)
    assert {i.pe_id: i.process for i in run.plan.instances} == {"numbers0": 0, "picky1": 1}
    calls = _calls(db, run)
    assert calls["picky1"] == 1501  # the failed call counts, as on multi
    assert calls["numbers0"] <= 1


def _stuck_third():
    """numbers (100) → double → a PE that never ends its first call."""
    @d4p.producer
    def numbers(n=100):
        yield from range(n)

    @d4p.iterative
    def double(x):
        return 2 * x

    @d4p.consumer
    def stuck(x):
        time.sleep(600)

    middle = double()
    graph = d4p.WorkflowGraph()
    graph.connect(numbers(), "output", middle, "input")
    graph.connect(middle, "output", stuck(), "input")
    return graph


@pytest.mark.skipif(not OTHERS, reason="d4p-mpi is not installed")
def test_a_timed_out_mpi_run_records_what_the_ranks_did(tmp_path, monitored):
    """Ranks 0 and 1 finish their work, rank 2 hangs in a PE: the run is
    stopped at its timeout, and the profile holds the first two ranks' units
    (it held 0 for every PE)."""
    db = str(tmp_path / "t.sqlite")
    run = monitored(db, _stuck_third(), mapping="mpi", processes=3, name="stuck", timeout=3,
                    fuse=False)
    assert "timeout" in str(run.error)
    calls = _calls(db, run)
    assert calls["numbers0"] == 1 and calls["double1"] == 100
    assert calls["stuck2"] <= 1


HANGING = """
import time

from d4p.testing.workflows import Show, StdinLines
import d4p


class Hangs(Show):
    def _process(self, data):
        if data == "hang":
            time.sleep(600)
        super()._process(data)


graph = d4p.WorkflowGraph()
graph.connect(StdinLines(), "output", Hangs(), "input")
"""


@pytest.mark.skipif(not OTHERS, reason="d4p-mpi is not installed")
def test_an_aborted_mpi_run_records_what_the_ranks_reported(tmp_path):
    """``d4p run`` on mpi whose sink prints two lines, then hangs in its third:
    the first SIGINT cannot drain it, the second aborts the run. The profile
    holds the sink's two units, which its rank reported while it waited for
    the third (it held none: a progress report carried only windows of 1,000
    units)."""
    (tmp_path / "hangs.py").write_text(HANGING)
    db = str(tmp_path / "a.sqlite")
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", "hangs.py", "-m", "mpi", "-n",
                             "2", "--no-fuse", "-q", "--monitor", db], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, start_new_session=True)
    try:
        proc.stdin.write("a\nb\n")
        proc.stdin.flush()
        assert [proc.stdout.readline(), proc.stdout.readline()] == ["got a\n", "got b\n"]
        time.sleep(2)  # the ranks report every half second
        proc.stdin.write("hang\n")
        proc.stdin.flush()
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
    finally:
        proc.kill()
        proc.wait(5)
    with open_store(db) as store:
        (run,) = store.runs()
        record, events = load(store, run["id"])
    prof = profile(record, events["instance"], events["edge"])
    assert record["status"] == "interrupted"
    assert {p["pe"]: p["calls"] for p in prof["pes"]}["Hangs1"] >= 2
