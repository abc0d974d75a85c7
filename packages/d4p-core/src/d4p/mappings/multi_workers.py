"""How the ``multi`` mapping (:mod:`d4p.mappings.multi`) runs a plan: the
parent, the pipes between workers, their reader and writer threads, and the
worker processes. Imported when a run starts, so that listing mappings does
not import :mod:`multiprocessing` and the executor."""

from __future__ import annotations

import codecs
import contextlib
import gc
import io
import multiprocessing as mp
import os
import signal
import struct
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any

from .. import codec, shipping
from ..driver import Control, Transport, drive
from ..errors import UsageError, as_failure
from ..executor import Executor, unloadable_results
from ..launcher import Gather, worker_died
from ..mapping import Outcome, keep_freed_memory, share_cores
from ..plan import Plan
from ..stopping import (
    STOP_SIGNALS,
    ArgvDyingWithParent,
    descendants,
    die_with_parent,
    set_stop_handler,
)

RECHECK = 0.05
"""Seconds between two looks of a waiting sender at whom the others wait for."""


def run(plan: Plan, options: dict[str, Any]) -> Outcome:
    """Run ``plan`` as :class:`~d4p.mappings.multi.MultiMapping` does."""
    if options["start_method"] != "fork":
        _check_main_guard(options["start_method"])
    return _Run(plan, options).enact()


def _check_main_guard(start_method: str) -> None:
    """Spawn and forkserver workers run the main script again (as
    multiprocessing does: a script by its path, a module by its name, not a
    package's ``__main__``): a script that runs the workflow outside ``if
    __name__ == "__main__":`` is refused here, in one line, before any
    worker starts the workflow again."""
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    path = getattr(main, "__file__", None)
    if not path or (spec_name or "").endswith("__main__") or not os.path.isfile(path):
        return
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main)
                                     and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:  # not run from the script's own top-level code
        return
    import ast

    line = frame.f_lineno
    try:
        with open(path, "rb") as src:
            tree = ast.parse(src.read())
    except (OSError, SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and node.lineno <= line <= (node.end_lineno or 0) \
                and ast.unparse(node.test).replace("'", '"') in _MAIN_TESTS:
            return
    raise UsageError(f"with start_method={start_method!r} every worker runs {path} again, "
                     f"and its line {line} would run the workflow there too: put the code that "
                     "runs the workflow under `if __name__ == \"__main__\":` (or use "
                     "start_method='fork')")


_MAIN_TESTS = ('__name__ == "__main__"', '"__main__" == __name__')


# -- framing -------------------------------------------------------------------------------


def _frames(message: Any) -> tuple[list, int]:
    """``message`` as the frames that go down a pipe (a header with the
    buffer count and sizes, then the pickle; then each large buffer as it is
    in memory) and their size in bytes."""
    payload, buffers = codec.encode(message)
    header = struct.pack(f"<I{len(buffers)}Q", len(buffers), *(b.nbytes for b in buffers))
    return [header + payload, *buffers], codec.nbytes(payload, buffers) + len(header)


def _write_frames(conn: Connection, frames: list) -> None:
    """The first frame as a message of the pipe, the buffers after it as they
    are: their sizes are in the first frame."""
    conn.send_bytes(frames[0])
    fd = conn.fileno()
    for frame in frames[1:]:
        view, done = memoryview(frame).cast("B"), 0
        while done < len(view):  # the GIL is released while writing
            done += os.write(fd, view[done:])


def _send(conn: Connection, message: Any) -> None:
    _write_frames(conn, _frames(message)[0])


def _recv_frames(conn: Connection) -> tuple[memoryview, list, int]:
    """What :func:`_write_frames` wrote. The buffers are read straight into
    the memory their arrays will use (``Connection.recv_bytes_into`` reads
    through a temporary buffer: two more copies of every byte)."""
    frame = conn.recv_bytes()
    (n,) = struct.unpack_from("<I", frame)
    sizes = struct.unpack_from(f"<{n}Q", frame, 4)
    buffers, fd = [], conn.fileno()
    for size in sizes:
        buf = bytearray(size)
        view, done = memoryview(buf), 0
        while done < size:
            got = os.readv(fd, [view[done:]])
            if not got:
                raise EOFError("the pipe closed in the middle of a message")
            done += got
        buffers.append(buf)
    return memoryview(frame)[4 + 8 * n:], buffers, len(frame) + sum(sizes)


def _recv(conn: Connection) -> Any:
    payload, buffers, _ = _recv_frames(conn)
    return codec.decode(payload, buffers)


# -- the parent ----------------------------------------------------------------------------


class _Run:
    def __init__(self, plan: Plan, options: dict[str, Any]) -> None:
        self.plan = plan
        self.options = options
        self.ctx = mp.get_context(options["start_method"])

    def enact(self) -> Outcome:
        plan = self.plan
        n = plan.processes
        senders: dict[int, set[int]] = {k: set() for k in range(n)}
        for inst in plan.instances:
            for target in plan.downstream[inst.iid]:
                dst = plan.instances[target].process
                if dst != inst.process:
                    senders[dst].add(inst.process)
        pipes = sum(len(srcs) for srcs in senders.values()) + n
        with _open_files_for(2 * pipes + 4 * n, n):
            return self._enact(senders)

    def _enact(self, senders: dict[int, set[int]]) -> Outcome:
        plan, ctx = self.plan, self.ctx
        n = plan.processes
        links: dict[tuple[int, int], tuple[Connection, Connection]] = {}
        reports: list[tuple[Connection, Connection]] = []
        procs: list = []
        try:
            for dst, srcs in senders.items():
                for src in srcs:
                    links[(src, dst)] = ctx.Pipe(duplex=False)
            reports = [ctx.Pipe(duplex=False) for _ in range(n)]
            waits_for = ctx.Array("b", n * n, lock=False)  # [w * n + d]: w, full, waits for d
            settings = {k: self.options[k] for k in ("batch_size", "queue_size", "buffer_mb")}
            settings["progress"] = self.options.get("progress") is not None
            control = self.options.get("control")
            settings["max_units"] = control.max_units if control is not None else None
            settings["trace"] = self.options.get("tracer") is not None
            shipped: Plan | bytes = plan
            if self.options["start_method"] != "fork":
                shipped = shipping.dumps(plan)
            sys.stdout.flush()
            sys.stderr.flush()
            for k in range(n):
                inbox = [r for (src, dst), (r, _) in links.items() if dst == k]
                outbox = {dst: w for (src, dst), (_, w) in links.items() if src == k}
                procs.append(ctx.Process(target=_worker, name=f"d4p-worker-{k}", daemon=True,
                                         args=(shipped, k, inbox, outbox, reports[k][1],
                                               settings, os.getpid(), waits_for)))
            forking = self.options["start_method"] == "fork"
            with share_cores(n), _frozen(forking), _signals_held(), _fresh_workers(forking):
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
            for conn in (c for pair in (*links.values(), *reports) for c in pair):
                conn.close()  # now, not when a failure's traceback is let go

    def _collect(self, procs, reports: list[Connection]) -> Outcome:
        plan = self.plan
        gather = Gather(self.options.get("progress"), self.options.get("tracer"))
        live = {r: k for k, r in enumerate(reports)}
        sentinels = {p.sentinel: k for k, p in enumerate(procs)}
        control = self.options.get("control")
        ready: set[int] = set()  # workers whose signal handlers are in place
        told: set[int] = set()
        while live:
            watched = {reports[k]: s for s, k in sentinels.items() if reports[k] in live}
            if control is not None and control.stopping:
                for k in ready - told:  # a graceful stop: each worker stops its sources
                    told.add(k)
                    if procs[k].is_alive():
                        os.kill(procs[k].pid, signal.SIGINT)
            for conn in wait([*live, *watched.values()], timeout=0.2):
                if conn in sentinels:
                    k = sentinels[conn]
                    if reports[k] in live and not reports[k].poll():
                        procs[k].join(1)
                        raise worker_died(plan, k, procs[k].exitcode)
                    continue  # its last message is waiting: read it first
                k = live[conn]
                try:
                    kind, *body = _recv(conn)
                except (EOFError, OSError):
                    del live[conn]
                    procs[k].join(5)
                    raise worker_died(plan, k, procs[k].exitcode) from None
                except codec.Unloadable as exc:  # its results (the rest are d4p's own)
                    raise unloadable_results(plan, exc, {k}) from None
                if kind == "failed":
                    raise body[0]
                if kind == "output":
                    stream = sys.stdout if body[0] == "stdout" else sys.stderr
                    stream.write(body[1])
                    stream.flush()
                elif kind == "progress":
                    gather.report(k, *body)
                elif kind == "ready":
                    ready.add(k)
                elif kind == "stop":  # a signal to that worker alone stops the whole run
                    if control is not None:
                        control.stop(f"{body[0]} to worker process {k}")
                elif kind == "limited":  # a source of that worker reached max_units
                    if control is not None:
                        control.limit_reached()
                else:
                    gather.add(k, *body)
                    del live[conn]
        for proc in procs:
            proc.join(5)
        return gather.outcome()


@contextmanager
def _open_files_for(count: int, n: int) -> Iterator[None]:
    """While in this context, room for ``count`` more open files (the pipes
    between ``n`` workers: about 2 n² when every worker sends to every
    other): the soft limit is raised towards the hard one when it is lower
    (and restored after), so that Linux's usual soft limit of 1024 does not
    end a run of 24 workers with "Too many open files". Beyond the hard
    limit, a :class:`~d4p.UsageError` saying what to do."""
    try:
        import resource
    except ImportError:  # not POSIX
        yield
        return
    try:
        need = len(os.listdir("/proc/self/fd")) + count + 32
    except OSError:
        need = count + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        raise UsageError(f"the multi mapping with {n} processes needs about {need} open files "
                         f"(pipes between its workers), more than this system allows a process "
                         f"({hard}, see ulimit -Hn): use fewer processes (-n), or fewer PE "
                         "instances that send to each other, or raise the limit")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextmanager
def _frozen(forking: bool) -> Iterator[None]:
    """While forking workers: the parent's objects in the collector's permanent
    generation, so that a worker's full collections skip everything it
    inherited (0.1-0.2 s each in a worker of the xcorr workflow, which has
    ObsPy, SciPy and matplotlib loaded) and do not write to those pages (each
    write copies a page the worker shared with the parent). CPython's
    documentation recommends it (``gc.freeze``); the parent unfreezes at once.
    A parent that froze objects itself is left as it is (unfreezing would
    undo its own arrangement)."""
    if not forking or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _fresh_workers(forking: bool) -> Iterator[None]:
    """While starting workers with spawn or forkserver (not ``forking``):
    ``sys.argv`` is an :class:`~d4p.stopping.ArgvDyingWithParent`, so that a
    worker dies with this process even while it imports the main script
    again; a ``__main__`` whose ``__file__`` is no file (``python - <
    script.py`` says ``<stdin>``) shows none, as in a notebook: the workers
    would run that path again and fail. The plan travels whole
    (:mod:`d4p.shipping`), so they do not need it."""
    if forking:
        yield
        return
    main, argv = sys.modules.get("__main__"), sys.argv
    path = getattr(main, "__file__", None)
    sys.argv = ArgvDyingWithParent(argv)
    hidden = path is not None and not os.path.exists(path)
    if hidden:
        del main.__file__
    try:
        yield
    finally:
        sys.argv = argv
        if hidden:
            main.__file__ = path


@contextmanager
def _signals_held() -> Iterator[None]:
    """While starting workers: SIGINT and SIGTERM wait here (blocked, not
    lost), and the workers start ignoring them (what ``exec`` keeps, for
    spawn) until their own handlers are in place: a signal to the whole
    process group while a worker still imports (a second or more under
    spawn) no longer raises KeyboardInterrupt there or kills it. The
    parent passes a stop on to a worker once it says it is ready."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    old = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS
           if signal.getsignal(s) is not None}  # None: set outside Python, left alone
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _stop(procs) -> None:
    """End every child still running, at once (SIGKILL: SIGTERM, like SIGINT,
    only stops a worker's sources), and the programs its PEs started (a
    tool run with ``subprocess``), which would live on, orphaned. The
    workers are halted first (SIGSTOP), so that they start no more."""
    procs = [p for p in procs if p.pid is not None]
    running = [p.pid for p in procs if p.is_alive()]
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    for pid in [*running, *descendants(running)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for proc in procs:
        proc.join(1)
        with contextlib.suppress(ValueError):  # still running (it cannot be: SIGKILL)
            proc.close()  # its pipes now, not when a failure's traceback is let go


# -- a worker ------------------------------------------------------------------------------


class _PipeTransport(Transport):
    """The driver's transport over pipes: a writer thread per destination, a
    reader thread for every inbox, and a byte budget shared by both sides."""

    def __init__(self, outbox: dict[int, Connection], inbox: list[Connection],
                 queue_size: int, budget: int, me: int = 0, waits_for=None,
                 workers: int = 1) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)  # the worker's thread waits here
        self.room = threading.Condition(self.lock)  # the reader waits here
        self.inbox = list(inbox)
        self.arrived: deque = deque()  # (pickle, buffers, bytes)
        self.held = 0  # bytes read and not yet released
        self.queued = 0  # bytes handed to writers and not yet written
        self.overflow = False  # the reader may read past its budget (see send)
        self.me, self.waits_for, self.workers = me, waits_for, workers
        self.budget = max(budget // 2, 1)
        self.queue_size = queue_size
        self.errors: list[BaseException] = []
        self.absorb = None
        self.queues: dict[int, deque] = {}
        self.ready: dict[int, threading.Condition] = {}
        self.threads: list[threading.Thread] = []
        for dst, conn in outbox.items():
            self.queues[dst] = deque()
            self.ready[dst] = threading.Condition(self.lock)
            self._thread(self._write, dst, conn, name=f"d4p-send-{dst}")

    def _thread(self, target, *args, name: str) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=name)
        thread.start()
        self.threads.append(thread)

    def start(self, absorb) -> None:
        self.absorb = absorb
        if self.inbox:
            self._thread(self._read, name="d4p-receive")

    # -- threads -------------------------------------------------------------------
    def _write(self, dst: int, conn: Connection) -> None:
        queue, ready = self.queues[dst], self.ready[dst]
        while True:
            with self.lock:
                while not queue:
                    ready.wait()
                frames, size = queue[0]
            if frames is None:
                conn.close()
                return
            try:
                _write_frames(conn, frames)
            except BaseException as exc:  # the reader died: the parent will report it
                with self.lock:
                    self.errors.append(exc)
                    self.wake.notify()
                return
            del frames  # now: it holds the units until the next message otherwise
            with self.lock:
                queue.popleft()
                self.queued -= size
                self.wake.notify()

    def _read(self) -> None:
        """One message at a time, while the budget allows: from the pipe that
        has one and was read the longest time ago (the others wait their
        turn, not for a pipe that always has more)."""
        conns = list(self.inbox)
        try:
            while conns:
                with self.lock:
                    while self.held >= self.budget and not self.overflow:
                        self.room.wait()
                conn = wait(conns)[0]  # in the order of ``conns``
                conns.remove(conn)
                try:
                    message = _recv_frames(conn)
                except EOFError:
                    continue
                conns.append(conn)
                with self.lock:
                    self.held += message[2]
                    self.arrived.append(message)
                    self.wake.notify()
                del message  # the worker lets it go once processed
        except BaseException as exc:
            with self.lock:
                self.errors.append(exc)
                self.wake.notify()

    # -- the worker's thread ---------------------------------------------------------
    def send(self, process: int, message) -> int:
        """Encode here, write in the destination's thread. Queue first, then
        wait while the budget is spent, processing what arrives meanwhile (a
        send made meanwhile goes behind this one: order is kept).

        A sender whose input budget is full of units for its own waiting
        instances, and one of whose destinations with bytes still queued
        waits (through any chain of workers) for it, reads past its budget
        until its send goes out: without that, workers sending to each
        other could wait forever. ``waits_for`` (shared by all workers) says
        who waits for whom: every destination with bytes queued (the budget
        counts them all, so a send to one may wait for another), and only
        while the worker's own input is full (a worker whose reader still
        reads is waiting for no one, else a slow source's workers read past
        their budget for nothing, a third of the stream each)."""
        frames, size = _frames(message)
        queue = self.queues[process]
        with self.lock:
            queue.append((frames, size))
            self.queued += size
            self.ready[process].notify()
            while (self.queued > self.budget and self.queued > size) \
                    or len(queue) > self.queue_size:
                if self.errors:
                    raise self.errors[0]
                if self.arrived:
                    self.lock.release()
                    try:
                        self.absorb()
                    finally:
                        self.lock.acquire()
                    continue
                if self.waits_for is not None:
                    full = self.held >= self.budget and not self.overflow
                    for dst, pending in self.queues.items():
                        self.waits_for[self.me * self.workers + dst] = bool(full and pending)
                    if full and self._waits_for_me():
                        self.overflow = True
                        self.room.notify()
                self.wake.wait(RECHECK)
            if self.waits_for is not None:
                for dst in self.queues:
                    self.waits_for[self.me * self.workers + dst] = 0
            self.overflow = False
        return size

    def _waits_for_me(self) -> bool:
        """Whether a chain of waiting workers leads from this one back to it."""
        n, table = self.workers, self.waits_for
        seen, todo = set(), [self.me]
        while todo:
            worker = todo.pop()
            for dst in range(n):
                if table[worker * n + dst]:
                    if dst == self.me:
                        return True
                    if dst not in seen:
                        seen.add(dst)
                        todo.append(dst)
        return False

    def receive(self, timeout: float | None) -> list:
        with self.lock:
            if not self.arrived and timeout != 0:
                if self.errors:
                    raise self.errors[0]
                self.wake.wait(timeout)
            got = list(self.arrived)
            self.arrived.clear()
        return [(codec.decode(payload, buffers), size) for payload, buffers, size in got]

    def release(self, nbytes: int) -> None:
        with self.lock:
            self.held -= nbytes
            self.room.notify()

    def close(self) -> None:
        """Write what is queued, then close the pipes."""
        with self.lock:
            for dst, queue in self.queues.items():
                queue.append((None, 0))
                self.ready[dst].notify()
        for thread in self.threads:
            if thread.name.startswith("d4p-send"):
                thread.join()
        if self.errors:
            raise self.errors[0]


def _quietly(tell, message) -> None:
    with contextlib.suppress(OSError, ValueError):  # the worker has said it is done
        tell(message)


def _worker(plan: Plan | bytes, k: int, inbox, outbox, report: Connection, settings: dict,
            parent: int, waits_for) -> None:
    die_with_parent(parent)
    keep_freed_memory()
    mp.current_process().daemon = False  # so that a PE may start processes (a pool) of its own:
    # daemonic in the parent only, which ends the workers if it exits without d4p's cleanup
    sys.stdin = _run_stdin()
    control = Control(max_units=settings["max_units"])
    # SIGINT or SIGTERM (the parent passing on a stop, or a signal to the whole
    # process group: Ctrl-C, systemd, a batch scheduler) stops the sources
    # gracefully; the parent decides when to abort, and then kills the worker
    lock = threading.Lock()

    def tell_parent(message) -> None:  # from any thread of the worker
        with lock:
            _send(report, message)

    def stop(signum, frame) -> None:  # the parent stops the others (a signal to this one alone)
        if not control.stopping:
            control.stop("interrupted")
            threading.Thread(target=_quietly, args=(tell_parent, (
                "stop", signal.Signals(signum).name)), daemon=True).start()  # not in a handler

    set_stop_handler(stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # see _signals_held

    tell_parent(("ready",))
    control.on_limit(lambda: tell_parent(("limited",)))

    sys.stdout = _Lines("stdout", tell_parent, sys.stdout)
    sys.stderr = _Lines("stderr", tell_parent, sys.stderr)
    try:
        if isinstance(plan, bytes):
            plan = shipping.loads(plan)
    except Exception as exc:
        tell_parent(("failed", UsageError(
            f"worker process {k} cannot load the workflow: {type(exc).__name__}: {exc}")))
        report.close()
        return
    transport = _PipeTransport(outbox, inbox, settings["queue_size"],
                               settings["buffer_mb"] << 20, k, waits_for, plan.processes)
    executor = None

    def progress(counts, events) -> None:
        tell_parent(("progress", counts, events))

    try:
        executor = Executor(plan, k, transport=transport, reuse=True,
                            batch_size=settings["batch_size"], trace=settings["trace"])
        drive(executor, transport, control=control,
              report=progress if settings["progress"] or settings["trace"] else None)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            tell_parent(("done", executor.results, executor.counts(),
                         executor.take_events(final=True)))
        except Exception as exc:
            raise executor.unsendable_results() or exc from None
    except BaseException as exc:
        exc = as_failure(exc, f"worker process {k}")  # drive reported what it measured
        sys.stdout.flush()
        sys.stderr.flush()
        tell_parent(("failed", exc))
    report.close()


def _run_stdin():
    """The run's standard input, for a source that reads it (``d4p run wf.py
    < file``, a pipe): multiprocessing gives its workers ``/dev/null`` as
    ``sys.stdin`` but leaves them file descriptor 0, the caller's stdin."""
    original = sys.__stdin__
    if original is None:
        return sys.stdin
    try:
        return open(0, encoding=original.encoding, errors=original.errors,  # noqa: SIM115
                    closefd=False)
    except (OSError, ValueError):
        return sys.stdin


class _Lines(io.TextIOBase):
    """A worker's stdout or stderr: text is held until a line ends, then the
    complete lines go to the parent in one message, which writes them to its
    own ``sys.stdout`` / ``sys.stderr``: lines of different workers never mix,
    and they reach whatever the caller's streams are (a terminal, a notebook
    cell, a test's capture, a progress display).

    It is a file as ``sys.stdout`` is: bytes written to :attr:`buffer` are
    UTF-8 text, and :meth:`fileno` is the descriptor the worker's own stream
    had (``replaced``), for a program a PE runs with ``stdout=sys.stdout``:
    what that writes goes there directly, as C code's output does."""

    encoding = "utf-8"

    def __init__(self, name: str, send, replaced=None) -> None:
        self.name = name
        self.send = send
        self.pending = ""
        try:
            self.fd = replaced.fileno()
        except (AttributeError, OSError, ValueError):
            self.fd = None
        self.buffer = _Bytes(self)

    def fileno(self) -> int:
        if self.fd is None:
            raise io.UnsupportedOperation("fileno")
        self.flush()
        return self.fd

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        if "\n" in text:
            lines, _, self.pending = self.pending.rpartition("\n")
            self.send(("output", self.name, lines + "\n"))
        return len(text)

    def flush(self) -> None:
        if self.pending:
            text, self.pending = self.pending, ""
            self.send(("output", self.name, text))

    def isatty(self) -> bool:
        return False


class _Bytes(io.RawIOBase):
    """``buffer`` of a :class:`_Lines`: the bytes written are UTF-8 text (a
    character split between two writes is whole in the second)."""

    def __init__(self, lines: _Lines) -> None:
        self.lines = lines
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        self.lines.write(self.decoder.decode(data))
        return len(data)

    def flush(self) -> None:
        self.lines.flush()

    def fileno(self) -> int:
        return self.lines.fileno()
