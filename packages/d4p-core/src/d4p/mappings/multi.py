"""The ``multi`` mapping: the plan's processes as OS processes on one machine.

Transport: one pipe per pair of processes that exchange data, written by a
writer thread per destination so that the executor never blocks in a system
call. Batches are pickled with protocol 5; large NumPy buffers travel
out-of-band, straight from the array's memory into the pipe and into a
writable buffer on the other side, with no extra copy into a pickle. Each
destination has a bounded queue of batches (backpressure): a process that
finds it full keeps reading its own inbox into a local list, without running
PE code, so two processes sending to each other can never deadlock.

Start method: ``fork`` by default on Linux (fast start; workflows defined in
notebooks and scripts need no re-import), ``spawn`` everywhere else and on
request (``start_method="spawn"``); PEs and their state are then pickled.

A PE that raises, a worker that dies, or Ctrl-C end every process: the
parent terminates the rest and raises.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import pickle
import queue
import signal
import struct
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any

from .. import hookimpl
from ..errors import D4PError, UsageError, WorkflowFailed
from ..executor import DATA, EOS, Executor
from ..loader import workflow_modules
from ..mapping import Mapping, Option, Outcome, share_cores
from ..plan import Plan

_IN_BAND = 64 * 1024  # NumPy buffers smaller than this travel inside the pickle


def _default_start_method() -> str:
    return "fork" if sys.platform.startswith("linux") else "spawn"


class MultiMapping(Mapping):
    name = "multi"
    description = "parallel OS processes on this machine (multiprocessing)"
    default_processes = None
    options = (
        Option("start_method", _default_start_method(),
               "how worker processes start: fork (default on Linux) or spawn",
               choices=("fork", "spawn", "forkserver")),
        Option("batch_size", 1024, "data units per message between processes", type=int),
        Option("queue_size", 64, "messages in flight per destination (backpressure)", type=int),
    )

    def run(self, plan: Plan, options: dict[str, Any]) -> Outcome:
        return _Run(plan, options).enact()


@hookimpl
def d4p_register_mappings():
    return [MultiMapping]


# -- framing -------------------------------------------------------------------------------


def _frames(message: Any) -> list:
    """``message`` as the frames that go down a pipe: a header (buffer count
    and sizes, then the pickle), then each large buffer as it is in memory."""
    buffers: list[pickle.PickleBuffer] = []

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        if buf.raw().nbytes < _IN_BAND:
            return True
        buffers.append(buf)
        return False

    body = pickle.dumps(message, protocol=5, buffer_callback=out_of_band)
    raws = [b.raw() for b in buffers]
    return [struct.pack(f"<I{len(raws)}Q", len(raws), *(r.nbytes for r in raws)) + body, *raws]


def _send(conn: Connection, message: Any) -> None:
    for frame in _frames(message):
        conn.send_bytes(frame)


def _recv(conn: Connection) -> Any:
    frame = conn.recv_bytes()
    (n,) = struct.unpack_from("<I", frame)
    sizes = struct.unpack_from(f"<{n}Q", frame, 4)
    buffers = []
    for size in sizes:
        buf = bytearray(size)
        conn.recv_bytes_into(buf)
        buffers.append(buf)
    return pickle.loads(memoryview(frame)[4 + 8 * n:], buffers=buffers)


# -- the parent ----------------------------------------------------------------------------


class _Run:
    def __init__(self, plan: Plan, options: dict[str, Any]) -> None:
        self.plan = plan
        self.options = options
        self.ctx = mp.get_context(options["start_method"])

    def enact(self) -> Outcome:
        plan, ctx = self.plan, self.ctx
        n = plan.processes
        senders: dict[int, set[int]] = {k: set() for k in range(n)}
        for inst in plan.instances:
            for target in plan.downstream[inst.iid]:
                dst = plan.instances[target].process
                if dst != inst.process:
                    senders[dst].add(inst.process)
        links: dict[tuple[int, int], tuple[Connection, Connection]] = {}
        for dst, srcs in senders.items():
            for src in srcs:
                links[(src, dst)] = ctx.Pipe(duplex=False)
        reports = [ctx.Pipe(duplex=False) for _ in range(n)]
        settings = {k: self.options[k] for k in ("batch_size", "queue_size")}
        settings["progress"] = self.options.get("progress") is not None
        settings["trace"] = self.options.get("tracer") is not None
        preload = []
        shipped: Plan | bytes = plan
        if self.options["start_method"] != "fork":
            preload = [(m.__name__, m.__file__) for m in workflow_modules()]
            shipped = pickle.dumps(plan, protocol=5)
        sys.stdout.flush()
        sys.stderr.flush()
        procs = []
        for k in range(n):
            inbox = [r for (src, dst), (r, _) in links.items() if dst == k]
            outbox = {dst: w for (src, dst), (_, w) in links.items() if src == k}
            proc = ctx.Process(target=_worker, name=f"d4p-worker-{k}", daemon=True,
                               args=(shipped, k, inbox, outbox, reports[k][1], settings,
                                     os.getpid(), preload))
            procs.append(proc)
        try:
            with share_cores(n):  # what the workers start with
                for proc in procs:
                    proc.start()
            for r, w in links.values():  # the children hold their own ends
                r.close()
                w.close()
            for _, w in reports:
                w.close()
            return self._collect(procs, [r for r, _ in reports])
        finally:
            _stop(procs)

    def _collect(self, procs, reports: list[Connection]) -> Outcome:
        plan = self.plan
        progress = self.options.get("progress")
        tracer = self.options.get("tracer")
        results: dict[str, dict[str, list]] = {}
        counts: dict[str, int] = {}
        live = {r: k for k, r in enumerate(reports)}
        sentinels = {p.sentinel: k for k, p in enumerate(procs)}
        latest: dict[int, dict[str, int]] = {}
        while live:
            watched = {reports[k]: s for s, k in sentinels.items() if reports[k] in live}
            for conn in wait([*live, *watched.values()], timeout=1.0):
                if conn in sentinels:
                    k = sentinels[conn]
                    if reports[k] in live and not reports[k].poll():
                        procs[k].join(1)
                        raise _died(plan, k, procs[k].exitcode)
                    continue  # its last message is waiting: read it first
                k = live[conn]
                try:
                    kind, *body = _recv(conn)
                except (EOFError, OSError):
                    del live[conn]
                    procs[k].join(5)
                    raise _died(plan, k, procs[k].exitcode) from None
                if kind == "failed":
                    if tracer is not None and body[1:] and body[1]:
                        tracer.record(body[1])  # what the failed run measured
                    raise body[0]
                if kind == "progress":
                    latest[k], events = body
                    if progress is not None:
                        progress(_merge(latest.values()))
                    if tracer is not None and events:
                        tracer.record(events)
                    continue
                got, got_counts, events = body
                if tracer is not None and events:
                    tracer.record(events)
                for pe, ports in got.items():
                    mine = results.setdefault(pe, {})
                    for port, units in ports.items():
                        mine.setdefault(port, []).extend(units)
                for pe, c in got_counts.items():
                    counts[pe] = counts.get(pe, 0) + c
                del live[conn]
        for proc in procs:
            proc.join(5)
        return Outcome(results, counts)


def _merge(many) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in many:
        for pe, c in counts.items():
            total[pe] = total.get(pe, 0) + c
    return total


def _died(plan: Plan, k: int, exitcode: int | None) -> WorkflowFailed:
    hosted = ", ".join(f"{i.pe_id}[{i.index}]" for i in plan.on_process(k))
    how = (f"was killed by signal {-exitcode} ({_signal_name(-exitcode)})"
           if exitcode is not None and exitcode < 0 else f"exited with status {exitcode}")
    return WorkflowFailed(f"worker process {k} (running {hosted}) {how} before finishing")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def _stop(procs) -> None:
    """End every child still running: SIGTERM, then SIGKILL."""
    procs = [p for p in procs if p.pid is not None]
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + 3
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1)


# -- a worker ------------------------------------------------------------------------------


class _PipeTransport:
    """Sends through a writer thread per destination; waits for a free slot
    while reading its own inbox into ``pending``."""

    def __init__(self, outbox: dict[int, Connection], inbox: list[Connection],
                 queue_size: int, parent: int) -> None:
        self.inbox = list(inbox)
        self.pending: deque = deque()
        self.parent = parent
        self.queues: dict[int, queue.Queue] = {}
        self.errors: list[BaseException] = []
        self.writers: list[threading.Thread] = []
        for dst, conn in outbox.items():
            q: queue.Queue = queue.Queue(maxsize=queue_size)
            self.queues[dst] = q
            writer = threading.Thread(target=self._write, args=(conn, q), daemon=True,
                                      name=f"d4p-send-{dst}")
            writer.start()
            self.writers.append(writer)

    def _write(self, conn: Connection, q: queue.Queue) -> None:
        while True:
            frames = q.get()
            if frames is None:
                conn.close()
                return
            try:
                for frame in frames:  # the GIL is released while writing
                    conn.send_bytes(frame)
            except BaseException as exc:  # the reader died: the parent will report it
                self.errors.append(exc)
                return

    def send(self, process: int, message: tuple) -> None:
        """Pickle here, write in the destination's thread."""
        self.send_to(self.queues[process], _frames(message))

    def send_to(self, q: queue.Queue, frames: list | None) -> None:
        while True:
            try:
                q.put(frames, timeout=0.01)
                return
            except queue.Full:
                self.read_available()
                _check_parent(self.parent)

    def read_available(self) -> None:
        for conn in wait(self.inbox, timeout=0) if self.inbox else ():
            self._read(conn)

    def _read(self, conn: Connection, since: float | None = None) -> None:
        start = time.perf_counter() if since is None else since
        try:
            message = _recv(conn)
        except EOFError:
            self.inbox.remove(conn)
            return
        self.pending.append((message, time.perf_counter() - start))

    def wait_one(self, timeout: float) -> None:
        """Wait for input; the waiting counts as read time of what arrives."""
        if self.inbox:
            start = time.perf_counter()
            for conn in wait(self.inbox, timeout=timeout):
                self._read(conn, since=start)
                start = None
        else:
            time.sleep(timeout)

    def close(self) -> None:
        """Send what is queued, then close the pipes."""
        for q in self.queues.values():
            self.send_to(q, None)
        for writer in self.writers:
            while writer.is_alive():
                writer.join(0.2)
                _check_parent(self.parent)


def _check_parent(parent: int) -> None:
    if os.getppid() != parent:
        os._exit(3)  # the parent is gone: leave no orphan behind


def _worker(plan: Plan | bytes, k: int, inbox, outbox, report: Connection, settings: dict,
            parent: int, preload: list) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    signal.signal(signal.SIGTERM, lambda *a: os._exit(143))
    sys.stdout = _Lines(sys.stdout)
    sys.stderr = _Lines(sys.stderr)
    try:
        for name, path in preload:
            _preload(name, path)
        if isinstance(plan, bytes):
            plan = pickle.loads(plan)
    except Exception as exc:
        _send(report, ("failed", UsageError(
            f"worker process {k} cannot load the workflow: {type(exc).__name__}: {exc}. "
            "With start_method='spawn' every PE class must be importable (defined in a "
            "module or workflow file, not in a test or a notebook cell); or use "
            "start_method='fork'")))
        report.close()
        return
    transport = _PipeTransport(outbox, inbox, settings["queue_size"], parent)
    executor = None
    try:
        executor = Executor(plan, k, transport=transport, reuse=True,
                            batch_size=settings["batch_size"], trace=settings["trace"])
        _drive(executor, transport, report, settings["progress"] or settings["trace"], parent)
        transport.close()
        _send(report, ("done", executor.results, executor.counts(),
                       executor.take_events(final=True)))
    except BaseException as exc:
        if not isinstance(exc, D4PError):
            import traceback

            exc = WorkflowFailed(f"worker process {k} failed: {type(exc).__name__}: {exc}",
                                 traceback="".join(traceback.format_exception(exc)))
        events = executor.take_events(final=True) if executor is not None else []
        _send(report, ("failed", exc, events))
    report.close()


class _Lines(io.TextIOBase):
    """A worker's stdout or stderr: text is held until a line ends, then every
    complete line goes out in one ``os.write``, so lines printed by different
    processes never mix."""

    def __init__(self, stream) -> None:
        stream.flush()
        self.stream = stream
        self.fd = stream.fileno()
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        if "\n" in text:
            lines, _, self.pending = self.pending.rpartition("\n")
            self._out(lines + "\n")
        return len(text)

    def flush(self) -> None:
        if self.pending:
            text, self.pending = self.pending, ""
            self._out(text)

    def _out(self, text: str) -> None:
        data = memoryview(text.encode(self.stream.encoding or "utf-8", "replace"))
        while data:
            data = data[os.write(self.fd, data):]

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)


def _preload(name: str, path: str) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, os.path.dirname(path))
    spec.loader.exec_module(module)


def _drive(executor: Executor, transport: _PipeTransport, report: Connection,
           progress: bool, parent: int) -> None:
    last_flush = last_report = time.monotonic()

    def report_now() -> None:
        nonlocal last_report
        if progress and time.monotonic() - last_report > 0.5:
            _send(report, ("progress", executor.counts(), executor.take_events()))
            last_report = time.monotonic()

    def between() -> None:
        nonlocal last_flush
        now = time.monotonic()
        if now - last_flush > executor.latency:
            executor.flush()
            transport.read_available()
            last_flush = now
            report_now()

    executor.preprocess()
    executor.run_sources(between=between)
    executor.flush()
    pending = transport.pending
    while not executor.done:
        if not pending:
            executor.flush()
            transport.wait_one(0.2)
            _check_parent(parent)
            if transport.errors:
                raise transport.errors[0]
        while pending:
            (kind, *body), read_s = pending.popleft()
            if kind == DATA:
                executor.receive(body[0], read_s)
            elif kind == EOS:
                executor.end_of_stream(*body)
        report_now()
    executor.flush()
