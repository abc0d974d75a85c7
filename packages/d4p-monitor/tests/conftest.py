"""Fixtures of the d4p-monitor tests: a real RunInfo of the word-count
workflow, deterministic events for it, a real MongoDB-wire server
(SecantusDB) started on 127.0.0.1 for the session, and a store of each kind."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import d4p
import pytest
from d4p.examples import wordcount
from d4p.plan import make_plan
from d4p_monitor.mongo_store import MongoStore
from d4p_monitor.sqlite_store import SQLiteStore

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts" / "monitor"
_runs = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_run(processes: int = 3, *, words: int = 1000, counters: int = 2, started=None,
             graph=None, inputs=None, workflow: str = "wordcount", monitor=None) -> d4p.RunInfo:
    """A real RunInfo: the word-count workflow planned on ``processes`` processes."""
    if graph is None:
        graph, inputs = wordcount(words=words, counters=counters)
    plan = make_plan(graph, processes, inputs)
    run = d4p.RunInfo(f"run{next(_runs):03d}{uuid.uuid4().hex[:6]}", workflow, "multi",
                      plan.processes, plan, monitor)
    if started is not None:
        run.started = started
    return run


INSTANCE_COSTS = {
    # PE class → (events, calls per event, process_s, read_s, write_s per event)
    "WordProducer": (4, 250, 0.010, 0.0, 0.020),
    "WordCounter": (4, 125, 0.050, 0.005, 0.0),
    "CountCollector": (1, 20, 0.001, 0.002, 0.0005),
}


def sample_events(run: d4p.RunInfo) -> list[dict]:
    """Deterministic events for a word-count run: every instance reports as the
    executor would, instance 1 of the counter is 20% slower than instance 0."""
    events = []
    s = run.started
    plan = run.plan
    for inst in plan.instances:
        kind = type(plan.pes[inst.pe_id]).__name__
        n, calls, proc, read, write = INSTANCE_COSTS[kind]
        slower = 1.2 if kind == "WordCounter" and inst.index == 1 else 1.0
        for k in range(n):
            t0 = s + 0.9 if kind == "CountCollector" else s + 0.25 * k
            events.append({"kind": "instance", "pe": inst.pe_id, "instance": inst.index,
                           "process": inst.process, "t0": t0, "t1": t0 + (0.1 if n == 1 else
                                                                           0.25),
                           "calls": calls, "process_s": proc * slower, "read_s": read,
                           "write_s": write})
    producer, counter, collector = plan.pes
    for k in range(4):
        events.append({"kind": "edge", "src_pe": producer, "dst_pe": counter, "units": 250,
                       "bytes": 10_000, "send_s": 0.03, "t1": s + 0.25 * (k + 1)})
    events.append({"kind": "edge", "src_pe": counter, "dst_pe": collector, "units": 20,
                   "bytes": 800, "send_s": 0.002, "t1": s + 1.0})
    return events


def record_run(store, run=None, *, events=None, seconds: float = 1.05, error=None,
               **tracer_options):
    """Record ``run`` (a new word-count run by default) with its sample events
    through a real Tracer; returns the run."""
    from d4p_monitor import Tracer

    run = run or make_run()
    tracer = Tracer(run, store, **tracer_options)
    tracer.run_started(run)
    evs = sample_events(run) if events is None else events
    tracer.record(evs[: len(evs) // 2])
    tracer.record(evs[len(evs) // 2:])
    tracer.run_finished(run, seconds, error)
    return run


class MongoServer:
    """A SecantusDB server (MongoDB wire protocol) on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.root = root
        exe = shutil.which("secantusd-py", path=os.path.dirname(sys.executable)) or \
            shutil.which("secantusd-py")
        if exe is None:
            pytest.fail("secantusd-py not found: pip install secantusdb==0.7.0b3 "
                        "(see packages/d4p-monitor/README.md)")
        self.log = open(root / "secantusd.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [exe, "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(root / "data"), "--log-level", "WARNING"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.uri = f"mongodb://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"secantusd-py exited with {self.proc.returncode}: "
                            f"{(root / 'secantusd.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            pytest.fail("secantusd-py did not listen within 30 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    server = MongoServer(tmp_path_factory.mktemp("secantus"))
    yield server
    server.stop()


@pytest.fixture
def mongo_uri(mongo_server):
    """A fresh database on the session's server."""
    uri = f"{mongo_server.uri}/d4p_test_{uuid.uuid4().hex[:8]}"
    yield uri
    store = MongoStore(uri)
    store.drop()
    store.close()


@pytest.fixture(params=["sqlite", "mongodb"])
def store_uri(request, tmp_path):
    """The URI of an empty store of each kind."""
    if request.param == "sqlite":
        return str(tmp_path / "monitor.sqlite")
    return request.getfixturevalue("mongo_uri")


@pytest.fixture
def store(store_uri):
    s = MongoStore(store_uri) if store_uri.startswith("mongodb://") else SQLiteStore(store_uri)
    yield s
    s.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def new_run():
    """``new_run(processes=3, ...)``: a real RunInfo (see :func:`make_run`)."""
    return make_run


@pytest.fixture
def events_for():
    """``events_for(run)``: the deterministic sample events of a word-count run."""
    return sample_events


@pytest.fixture
def recorded():
    """``recorded(store_or_uri, run=None, ...)``: record a run through a Tracer."""
    return record_run


@pytest.fixture
def start_mongo(tmp_path):
    """``start_mongo()``: a SecantusDB server of this test alone (stopped at its end)."""
    servers = []

    def start():
        servers.append(MongoServer(tmp_path))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def unreachable_mongo_uri():
    """A mongodb:// URI where nothing listens."""
    return f"mongodb://127.0.0.1:{free_port()}/d4p"
