"""Fixtures of the d4p-monitor tests: a real RunInfo of the word-count
workflow, deterministic events for it, a real MongoDB-wire server
(SecantusDB) started on 127.0.0.1 for the session, and a store of each kind."""

from __future__ import annotations

import itertools
import os
import runpy
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import d4p
import pytest
from d4p.examples import wordcount_plain
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
        graph, inputs = wordcount_plain(words=words, counters=counters)
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

    def __init__(self, root: Path, port: int | None = None, auth: bool = False) -> None:
        self.port = port or free_port()
        self.root = root
        exe = shutil.which("secantusd-py", path=os.path.dirname(sys.executable)) or \
            shutil.which("secantusd-py")
        if exe is None:
            pytest.fail("secantusd-py not found: pip install secantusdb==0.7.0b3 "
                        "(see packages/d4p-monitor/README.md)")
        self.log = open(root / "secantusd.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [exe, "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(root / "data"), "--log-level", "WARNING",
             *(["--auth"] if auth else [])],
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


@pytest.fixture(scope="session", autouse=True)
def own_default_store(tmp_path_factory):
    """The default store (and the notes of unfinished runs beside it) in a
    folder of the test session, never the user's."""
    old = os.environ.get("D4P_MONITOR_DB")
    os.environ["D4P_MONITOR_DB"] = str(tmp_path_factory.mktemp("default") / "monitor.sqlite")
    yield
    if old is None:
        os.environ.pop("D4P_MONITOR_DB", None)
    else:
        os.environ["D4P_MONITOR_DB"] = old


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


@pytest.fixture(name="monitored")
def monitored_fixture():
    """``monitored(uri, graph, inputs, mapping=, processes=, name=)``: a real
    monitored run (see :func:`monitored`)."""
    return monitored


@pytest.fixture
def chain():
    """``chain(length, instances=1, units=3000)``: a workflow of many PEs (see
    :func:`chain_graph`)."""
    return chain_graph


@pytest.fixture
def failing():
    """``failing(units=5, fail_at=3)``: a workflow whose second PE fails (see
    :func:`failing_graph`)."""
    return failing_graph


@pytest.fixture
def recorded():
    """``recorded(store_or_uri, run=None, ...)``: record a run through a Tracer."""
    return record_run


@pytest.fixture
def start_mongo(tmp_path):
    """``start_mongo()``: a SecantusDB server of this test alone (stopped at its end)."""
    servers = []

    def start(port=None, auth=False):
        servers.append(MongoServer(tmp_path, port, auth))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def mongo_with_password(start_mongo):
    """``mongodb://alice:s3cr%2Ft-pw@127.0.0.1:PORT/d4p?authSource=admin``: a SecantusDB
    server of this test that requires that user (created before auth is switched on)."""
    import pymongo

    server = start_mongo()
    client = pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=5000)
    try:
        client.admin.command("createUser", "alice", pwd="s3cr/t-pw", roles=["root"])
    finally:
        client.close()
    server.stop()
    server = start_mongo(server.port, auth=True)
    return f"mongodb://alice:s3cr%2Ft-pw@127.0.0.1:{server.port}/d4p?authSource=admin"


@pytest.fixture
def unreachable_mongo_uri():
    """A mongodb:// URI where nothing listens."""
    return f"mongodb://127.0.0.1:{free_port()}/d4p"


XSS = "<script>alert(1)</script>"


def xss_graph():
    """A two-PE workflow whose first PE is named like a script tag."""
    @d4p.producer
    def numbers(n=3):
        yield from range(n)

    @d4p.consumer
    def sink(x):
        pass

    a, b = numbers(), sink()
    a.name = XSS
    graph = d4p.WorkflowGraph()
    graph.connect(a, "output", b, "input")
    return graph, {a: 1}


def chain_graph(length: int, *, instances: int = 1, units: int = 3000, names=()):
    """numbers (``units``) → ``length`` steps adding one (the first with
    ``instances`` instances) → sink: many PEs, or many instances of one;
    ``names`` name the first PEs."""
    @d4p.producer
    def numbers(n=units):
        yield from range(n)

    @d4p.iterative
    def step(x):
        return x + 1

    @d4p.consumer
    def sink(x):
        pass

    pes = [numbers(), *(step() for _ in range(length)), sink()]
    if length:
        pes[1].numprocesses = instances
    for pe, name in zip(pes, names, strict=False):
        pe.name = name
    graph = d4p.WorkflowGraph()
    for a, b in zip(pes, pes[1:], strict=False):
        graph.connect(a, "output", b, "input")
    return graph


class RunCapture:
    """A plugin that notes every RunInfo d4p.run makes and lets the monitor
    plugin make the tracer (``d4p_make_tracer`` is firstresult: returning
    ``None`` passes on)."""

    def __init__(self) -> None:
        self.runs: list[d4p.RunInfo] = []

    @d4p.hookimpl(tryfirst=True)
    def d4p_make_tracer(self, run):
        self.runs.append(run)


class Recorded:
    """A real monitored run: its RunInfo (``id``, ``plan``) and its result
    (``None`` when it failed, then ``error``)."""

    def __init__(self, run: d4p.RunInfo, result, error=None) -> None:
        self.run, self.result, self.error = run, result, error
        self.id, self.plan = run.id, run.plan


def monitored(uri: str, graph, inputs=None, *, mapping: str = "multi", processes: int = 4,
              name: str | None = None, **options) -> Recorded:
    """Run ``graph`` for real with ``monitor=uri`` (and the mapping's
    ``options``); a WorkflowFailed is kept."""
    capture = RunCapture()
    pm = d4p.get_plugin_manager()
    pm.register(capture)
    try:
        try:
            result, error = d4p.run(graph, inputs, mapping=mapping, processes=processes,
                                    monitor=uri, name=name, **options), None
        except d4p.WorkflowFailed as exc:
            result, error = None, exc
    finally:
        pm.unregister(capture)
    (run,) = capture.runs
    return Recorded(run, result, error)


WORDS = 20_000


def failing_graph(units: int = 5, fail_at: int = 3):
    """numbers (``units``) → a PE that fails on ``fail_at`` with a message
    holding markup."""
    @d4p.producer
    def numbers(n=units):
        yield from range(n)

    @d4p.iterative
    def picky(x):
        if x == fail_at:
            raise ValueError("<b>bad</b> word")
        return x

    graph = d4p.WorkflowGraph()
    graph.connect(numbers(), "output", picky(), "input")
    return graph


def populate(uri: str) -> dict[str, Recorded]:
    """Record four real runs, oldest first: word count on multi -n 4 ("ok")
    and on simple ("simple"), a failing workflow ("failed") and the
    script-named workflow ("xss")."""
    graph, inputs = wordcount_plain(words=WORDS, counters=2)
    ok = monitored(uri, graph, inputs, mapping="multi", processes=4, name="wordcount")
    graph, inputs = wordcount_plain(words=WORDS, counters=2)
    simple = monitored(uri, graph, inputs, mapping="simple", processes=1, name="wordcount")
    failed = monitored(uri, failing_graph(), mapping="multi", processes=2, name="picky")
    assert failed.error is not None
    graph, inputs = xss_graph()
    xss = monitored(uri, graph, inputs, mapping="multi", processes=2, name=f"{XSS} flow")
    return {"ok": ok, "simple": simple, "failed": failed, "xss": xss}


class Served:
    def __init__(self, uri: str) -> None:
        from d4p_monitor import open_store, serve_in_thread

        self.runs = populate(uri)
        self.store = open_store(uri)
        self.server = serve_in_thread(self.store)
        host, port = self.server.server_address[:2]
        self.base = f"http://{host}:{port}"

    def get(self, path: str) -> tuple[int, str, bytes]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as r:
                return r.status, r.headers["Content-Type"], r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"], exc.read()

    def json(self, path: str, status: int = 200):
        import json

        code, ctype, body = self.get(path)
        assert (code, ctype) == (status, "application/json"), (path, code, body[:300])
        return json.loads(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.store.close()


@pytest.fixture(scope="module")
def served_sqlite(tmp_path_factory):
    served = Served(str(tmp_path_factory.mktemp("web") / "monitor.sqlite"))
    yield served
    served.close()


@pytest.fixture(scope="module")
def served_mongodb(mongo_server):
    uri = f"{mongo_server.uri}/d4p_web_{uuid.uuid4().hex[:8]}"
    served = Served(uri)
    yield served
    served.close()
    store = MongoStore(uri)
    store.drop()
    store.close()


@pytest.fixture(scope="module", params=["sqlite", "mongodb"])
def served(request):
    """A web service on a free port over a store of each kind holding three runs."""
    return request.getfixturevalue(f"served_{request.param}")


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (never a downloaded browser);
    the page tests are skipped without one, unless D4P_REQUIRE_CHROMIUM=1 (CI)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "ensure_chromium.py"
    chromium = runpy.run_path(str(script))["find"]()
    if chromium is None:
        reason = ("no Chromium found: install it (apt-get install chromium, or python "
                  "packages/d4p-monitor/scripts/ensure_chromium.py) to run the page tests")
        if os.environ.get("D4P_REQUIRE_CHROMIUM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    p = context.new_page()
    p.dialogs = []
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))
    yield p
    context.close()
