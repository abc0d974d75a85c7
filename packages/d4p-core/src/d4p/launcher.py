"""Workers that run as processes of their own, and what they report back:
what every mapping that starts processes needs, written once.

* :class:`Gather` collects what the workers report: results and counts
  merged, the sum of their latest progress for the run's ``progress``,
  tracing events for its tracer, and the first failure.
* :func:`worker_died` is the error for a worker that ended without
  reporting: it names the worker, the PE instances it ran and how it ended.
* :class:`RunFolder` is a temporary folder that a launcher shares with the
  workers it starts through another program (``mpiexec``): the plan (by
  value), progress, results, failures, how each worker ended, and a stop
  request, every file written whole. It is removed at the end, or at the
  next start on the same host when its launcher was killed. Put in a
  folder that other machines see (a cluster's shared file system), it
  serves workers on those machines too.
* :class:`StopLine` carries a graceful stop to workers on machines that
  share no folder with the launcher (Spark's executors on a cluster): they
  connect to it over TCP and stop their sources when it says so.
* :func:`supervise` makes a worker fork: the child runs the worker, the
  parent records how it ended (a signal, an exit status). A process manager
  that ends every worker when one dies (mpiexec) then cannot hide which one
  died first.
* :class:`Child` runs a command in a session of its own, passes its output
  on line by line, waits for it without polling and ends it with everything
  it started; it also ends when the process that started it dies.
* :func:`whole_lines` makes a stream write each line in one system call, so
  that the lines of workers sharing a terminal never mix.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import shipping
from .driver import Control, Report
from .errors import D4PError, UsageError, WorkflowFailed, as_failure
from .mapping import Outcome
from .plan import Plan
from .stopping import alive, die_with_parent

__all__ = ["Child", "Gather", "NoStdin", "RunFolder", "StopLine", "ended", "supervise", "whole_lines", "worker_died"]


class Gather:
    """What the workers of a run report, collected. ``progress`` and
    ``tracer`` are the run's (``options["progress"]``, ``options["tracer"]``);
    either may be ``None``. Workers are named by any key (a number, a
    ``(stage, partition)`` pair)."""

    def __init__(self, progress: Callable[[dict[str, int]], None] | None = None,
                 tracer: Any = None) -> None:
        self.progress = progress
        self.tracer = tracer
        self.results: dict[str, dict[str, list]] = {}
        self.latest: dict[Any, dict[str, int]] = {}
        self.failures: list[tuple[Any, BaseException]] = []

    @property
    def listening(self) -> bool:
        """Whether anyone hears progress or tracing events."""
        return self.progress is not None or self.tracer is not None

    def record(self, events: list[dict]) -> None:
        """Hand tracing events to the tracer."""
        if events and self.tracer is not None:
            self.tracer.record(events)

    def report(self, worker: Any, counts: dict[str, int], events: list[dict] = ()) -> None:
        """A running worker's progress: units per PE so far, and the tracing
        events since its last report."""
        self.record(events)
        self.latest[worker] = counts
        if self.progress is not None:
            self.progress(self.counts())

    def add(self, worker: Any, results: dict[str, dict[str, list]], counts: dict[str, int],
            events: list[dict] = ()) -> None:
        """What a finished worker produced (results are kept in the order added)."""
        for pe, ports in results.items():
            mine = self.results.setdefault(pe, {})
            for port, units in ports.items():
                mine.setdefault(port, []).extend(units)
        self.report(worker, counts, events)

    def fail(self, error: BaseException, order: Any = 0) -> None:
        """A worker failed; :meth:`outcome` raises the failure of smallest ``order``."""
        self.failures.append((order, error))

    def counts(self) -> dict[str, int]:
        """Units processed per PE, summed over the workers."""
        total: dict[str, int] = {}
        for counts in self.latest.values():
            for pe, n in counts.items():
                total[pe] = total.get(pe, 0) + n
        return total

    def outcome(self, placement: Plan | None = None) -> Outcome:
        """The merged :class:`~d4p.mapping.Outcome`; raises the first failure."""
        if self.failures:
            raise min(self.failures, key=lambda f: f[0])[1]
        return Outcome(self.results, self.counts(), placement=placement)


def ended(code: int | None) -> str:
    """How a process ended, from its exit status (negative: killed by that signal)."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"was killed by signal {-code} ({name})"
    return f"exited with status {code}"


def worker_died(plan: Plan, worker: int, code: int | None, what: str = "worker process",
                hint: str = "") -> WorkflowFailed:
    """The error for worker ``worker`` of ``plan`` ending with exit status
    ``code`` before it finished: names it (``what``, e.g. ``"MPI rank"``) and
    the PE instances it ran; ``hint`` is added (``"; look for ..."``)."""
    hosted = ", ".join(f"{i.pe_id}[{i.index}]" for i in plan.on_process(worker))
    return WorkflowFailed(f"{what} {worker} (running {hosted}) {ended(code)} before "
                          f"finishing{hint}")


def _this_host() -> str:
    """Names this host and process table: the host name, the kernel's boot id
    and the pid namespace (Linux), so that two containers of one machine
    differ. A pid is meaningful only between processes that agree on it."""
    key = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    with contextlib.suppress(OSError):
        with open("/proc/sys/kernel/random/boot_id") as src:
            key += "/" + src.read().strip()
        key += f"/{os.stat('/proc/self/ns/pid').st_ino}"
    return key


class RunFolder:
    """A temporary folder shared by a launcher and the workers it starts.

    Files: ``owner`` (the launcher's pid and host), ``plan.pkl`` (:meth:`write_plan`),
    ``started-W`` (worker W is running; its pid), ``progress-W-SEQ.pkl``
    (:meth:`reporter`), ``failure-W.pkl`` (:meth:`fail`), ``ended-W.pkl``
    (:func:`supervise`), ``stop`` (:meth:`request_stop`), ``limited`` (a
    source reached ``max_units``, see :meth:`tell`), ``files-HOST-W``
    (:meth:`note_files`), and what the
    mapping itself puts there with :meth:`write`. As a context manager it is
    removed at the end.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, prefix: str, where: str | os.PathLike | None = None) -> RunFolder:
        """A new folder in folder ``where`` (default: the temporary directory);
        first removes the folders of this ``prefix`` there whose launcher ran
        on this host and is gone (it was killed before it could: its workers
        have ended by themselves, see :meth:`watch`), with the files its
        workers noted (:meth:`note_files`). Raises ``OSError`` when
        ``where`` cannot hold it."""
        import tempfile

        where = Path(tempfile.gettempdir() if where is None else where)
        for folder in where.glob(prefix + "*"):
            try:
                pid, _, host = (folder / "owner").read_text().partition(" ")
                if host in ("", _this_host()):  # "": written by d4p 0.1 on this host
                    os.kill(int(pid), 0)
            except ProcessLookupError:
                cls(folder).remove_noted()  # its workers have ended too
                shutil.rmtree(folder, ignore_errors=True)
            except (OSError, ValueError):  # not ours, or another user's live run
                continue
        run = cls(tempfile.mkdtemp(prefix=prefix, dir=where))
        (run.path / "owner").write_text(f"{os.getpid()} {_this_host()}")
        return run

    def on_launcher_host(self) -> bool:
        """Whether this process runs where the launcher does (same kernel and
        process table), so that the launcher's pid means that process here."""
        try:
            return (self.path / "owner").read_text().partition(" ")[2] == _this_host()
        except OSError:
            return False

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def write(self, name: str, obj: object) -> None:
        """Pickle ``obj`` to file ``name``: readers see all of it or nothing."""
        path = self.path / name
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            pickle.dump(obj, out, protocol=5)
        os.replace(tmp, path)

    def read(self, name: str) -> Any:
        with open(self.path / name, "rb") as src:
            return pickle.load(src)

    def write_plan(self, plan: Plan, options: dict[str, Any]) -> None:
        """Ship ``plan`` (by :mod:`d4p.shipping`: a PE that cannot travel is a
        :class:`~d4p.UsageError` naming it) with ``options`` and this
        process's ``sys.path``, for :meth:`read_plan` in the workers."""
        body = shipping.dumps(plan)
        with open(self.path / "plan.pkl", "wb") as out:
            pickle.dump({"sys_path": [p for p in sys.path if p], "options": options}, out,
                        protocol=5)
            out.write(body)

    def read_plan(self) -> tuple[Plan, dict[str, Any]]:
        with open(self.path / "plan.pkl", "rb") as src:
            header = pickle.load(src)
            for entry in reversed(header["sys_path"]):
                if entry not in sys.path:
                    sys.path.insert(0, entry)
            return shipping.loads(src.read()), header["options"]

    # -- the workers' side ------------------------------------------------------------------
    def started(self, worker: int) -> None:
        (self.path / f"started-{worker}").write_text(str(os.getpid()))

    def reporter(self, worker: int) -> Report:
        """A ``report`` for :func:`~d4p.mapping.drive` that leaves worker
        ``worker``'s progress for :meth:`take_progress`."""
        seq = 0

        def report(counts: dict[str, int], events: list[dict]) -> None:
            nonlocal seq
            self.write(f"progress-{worker}-{seq:08d}.pkl", (counts, events))
            seq += 1

        return report

    def fail(self, worker: int, exc: BaseException, where: str) -> None:
        """Record that worker ``worker`` (``where``, e.g. ``"MPI rank 2"``) failed."""
        self.write(f"failure-{worker}.pkl", (time.time(), as_failure(exc, where)))

    def watch(self, control: Control, launcher: int | None = None, code: int = 17) -> None:
        """Stop this worker's sources gracefully (``control.stop()``) on a stop
        request (:meth:`request_stop`), from a thread. Without ``launcher`` (a
        task in a process the engine owns: Spark's, Storm's) the watch ends
        when ``control`` stops. With it (a process of the run's own) it also
        ends this process (exit status ``code``) when this folder is gone, or
        process ``launcher`` when it runs on this host (elsewhere its pid
        means nothing: the program that started the worker ends it, as
        ``mpiexec`` does)."""
        local = launcher is not None and self.on_launcher_host()
        control.on_limit(self._limit_reached)

        def watch() -> None:
            while launcher is not None or not control.stopping:
                time.sleep(0.2)
                if launcher is not None and (local and not alive(launcher)
                                             or not self.path.is_dir()):
                    os._exit(code)
                if not control.stopping and self.stop_requested():
                    control.stop("stopped by the launcher")

        threading.Thread(target=watch, name="d4p-stop-watch", daemon=True).start()

    def note_files(self, worker: int, paths: Iterable[str]) -> None:
        """Note files outside this folder that worker ``worker`` made on this
        host and that outlive it when it is killed (MPI's shared memory): the
        launcher removes them (:meth:`remove_noted`), or the next
        :meth:`create` on this host when the launcher was killed too."""
        if paths := sorted(paths):
            (self.path / f"files-{os.uname().nodename}-{worker}").write_text("\n".join(paths))

    def _limit_reached(self) -> None:
        """A source of this worker reached ``max_units``: for :meth:`tell`."""
        with contextlib.suppress(OSError):  # the run has ended and its folder is gone
            self.write("limited", True)

    # -- the launcher's side ----------------------------------------------------------------
    def remove_noted(self) -> None:
        """Remove the files that workers on this host noted
        (:meth:`note_files`) and that are still there; call it once every
        worker has ended (a file a worker removed itself is skipped)."""
        for noted in self.path.glob(f"files-{os.uname().nodename}-*"):
            with contextlib.suppress(OSError):
                for path in noted.read_text().splitlines():
                    with contextlib.suppress(OSError):
                        os.unlink(path)

    def request_stop(self, reason: str = "") -> None:
        """Ask the workers to stop their sources (a graceful stop); a worker
        that asks gives its ``reason`` for the launcher (:meth:`tell`)."""
        with contextlib.suppress(OSError):  # the run has ended and its folder is gone
            if reason and not self.stop_requested():
                self.write("stop", reason)
            else:
                (self.path / "stop").touch()

    def stop_requested(self) -> bool:
        """Whether :meth:`request_stop` was called (the workers' side)."""
        return (self.path / "stop").exists()

    def tell(self, control: Control | None) -> None:
        """Tell the launcher's ``control`` (once the workers have ended) why
        their sources stopped early, for the run's summary: the reason a
        worker gave to :meth:`request_stop` (a signal to it alone), or that a
        source reached ``max_units`` in a worker that called :meth:`watch`."""
        if control is None:
            return
        with contextlib.suppress(OSError, EOFError, pickle.UnpicklingError):
            if reason := self.read("stop"):
                control.stop(reason)
        if (self.path / "limited").exists():
            control.limit_reached()

    def take_progress(self, gather: Gather) -> None:
        """Hand the workers' progress reports to ``gather`` and remove them."""
        for path in sorted(self.path.glob("progress-*.pkl")):
            try:
                counts, events = self.read(path.name)
                path.unlink()
            except (OSError, EOFError, pickle.UnpicklingError):
                continue
            gather.report(int(path.name.split("-")[1]), counts, events)

    def started_workers(self) -> int:
        return len(list(self.path.glob("started-*")))

    def failure(self) -> D4PError | None:
        """The first failure a worker recorded, if any."""
        found = [self.read(p.name) for p in self.path.glob("failure-*.pkl")]
        return min(found, key=lambda f: f[0])[1] if found else None

    def first_death(self) -> tuple[int, int] | None:
        """``(worker, exit status)`` of the first worker whose process ended
        badly by itself (see :func:`supervise`), if any."""
        found = [(*self.read(p.name), int(p.name[len("ended-"):-len(".pkl")]))
                 for p in self.path.glob("ended-*.pkl")]
        if not found:
            return None
        _, code, worker = min(found)
        return worker, code

    def processes(self) -> list[int]:
        """Pids of live processes with this folder on their command line (Linux)."""
        marker, pids = str(self.path).encode(), []
        with contextlib.suppress(OSError):
            for entry in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as src:
                        if marker in src.read().split(b"\0"):
                            pids.append(int(entry))
                except OSError:
                    continue
        return pids


class StopLine:
    """A graceful stop for workers on any machine that reaches this one over
    TCP: the launcher listens on ``host`` (its address as the workers see
    it), the workers are given :attr:`address`, and each calls
    :meth:`watch`; :meth:`request_stop` stops their sources, those that
    connect later included. Use it as a context manager: at the end it stops
    listening and closes every connection (which ends the workers' watches,
    not the workers)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        import socket

        self._server = socket.create_server((host, 0))
        self.address = f"{host}:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        self._lines: list = []
        self._stopped = False
        threading.Thread(target=self._accept, name="d4p-stop-line", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # closed
                return
            with self._lock:
                self._lines.append(conn)
                if self._stopped:
                    self._tell(conn)

    @staticmethod
    def _tell(conn) -> None:
        with contextlib.suppress(OSError):  # that worker is gone
            conn.sendall(b"s")

    def request_stop(self) -> None:
        with self._lock:
            self._stopped = True
            for conn in self._lines:
                self._tell(conn)

    def __enter__(self) -> StopLine:
        return self

    def __exit__(self, *exc: object) -> None:
        import socket

        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close does not)
        self._server.close()
        with self._lock:
            for conn in self._lines:
                conn.close()

    @staticmethod
    def watch(address: str, control: Control) -> None:
        """In a worker: stop the sources (``control.stop()``) when the launcher
        at ``address`` asks, from a thread that ends when ``control`` stops or
        the line closes (a launcher that cannot be reached stops nothing)."""
        import socket

        host, _, port = address.rpartition(":")

        def watch() -> None:
            try:
                with socket.create_connection((host, int(port)), timeout=30) as line:
                    line.settimeout(0.2)
                    while not control.stopping:
                        try:
                            said = line.recv(1)
                        except TimeoutError:
                            continue
                        if said:
                            control.stop("stopped by the launcher")
                        return
            except OSError:
                return

        threading.Thread(target=watch, name="d4p-stop-watch", daemon=True).start()


def supervise(folder: RunFolder, worker: int) -> None:
    """Run the rest of this worker in a child process. This process waits for
    it, records in ``folder`` how it ended unless it ended well or by a
    signal this process passed on (``ended-W.pkl``: time, exit status), and
    ends the same way. Returns in the child only; call it before starting
    threads. The child dies with this process."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        die_with_parent(parent)
        return
    passed: list[int] = []

    def pass_on(signum, frame) -> None:
        passed.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, pass_on)
    code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    if code != 0 and not passed:
        with contextlib.suppress(OSError):
            folder.write(f"ended-{worker}.pkl", (time.time(), code))
    if code < 0:
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP keep theirs
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if code >= 0 else 128 - code)


class Child:
    """``argv`` run in a session of its own (in folder ``cwd``), so that it and
    every process it starts end together (:meth:`kill`); it gets SIGTERM when
    this process (the thread that made it) dies (Linux), so that it can end
    what it started, on any host. Its stdout goes line by line (bytes) to ``lines`` (default: this process's ``sys.stdout``, so
    that a notebook or a test's capture sees it), which gets ``None`` at the
    end, or straight to ``stdout`` (an open file); its stderr to ``stderr``
    (an open file; default: ours). With ``stdin`` it reads this process's
    standard input (``d4p run wf.py < file``, a pipe), unless that is a
    terminal; else nothing. Raises ``OSError`` when it
    cannot start. Use it as a context manager: at the end it is killed if
    still running, and all its output has been passed on."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None,
                 lines: Callable[[bytes | None], None] | None = None, stderr=None,
                 stdout=None, cwd: str | None = None, stdin: bool = False) -> None:
        import subprocess

        given = stdin and _readable(0) and not os.isatty(0)
        self.proc = subprocess.Popen(argv, stdin=None if given else subprocess.DEVNULL,
                                     stdout=stdout or subprocess.PIPE, stderr=stderr, env=env,
                                     cwd=cwd, start_new_session=True,
                                     preexec_fn=_terminate_with_parent())
        self._relay = threading.Thread(target=self._relay_lines, args=(lines or self.echo,),
                                       name="d4p-child-output", daemon=True)
        if stdout is None:
            self._relay.start()

    def _relay_lines(self, lines: Callable[[bytes | None], None]) -> None:
        with self.proc.stdout as stream:
            for line in stream:
                lines(line)
        lines(None)

    def wait(self, timeout: float | None = None, *, every: float = 3600.0,
             tick: Callable[[], None] | None = None) -> int:
        """The exit status, calling ``tick()`` every ``every`` seconds
        meanwhile; raises :class:`subprocess.TimeoutExpired` after ``timeout``
        seconds. A pidfd (Linux) wakes up as soon as the process exits
        (``Popen.wait(timeout)`` would poll with sleeps of up to 50 ms)."""
        import select
        import subprocess

        deadline = time.monotonic() + timeout if timeout else None
        try:
            fd = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):  # not Linux, or an old kernel
            fd = None
        try:
            while self.proc.poll() is None:
                step = every if deadline is None else min(every, deadline - time.monotonic())
                if step <= 0:
                    raise subprocess.TimeoutExpired(self.proc.args, timeout)
                if fd is not None:
                    select.select([fd], [], [], step)
                else:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(timeout=step)
                if tick is not None and self.proc.poll() is None:
                    tick()
        finally:
            if fd is not None:
                os.close(fd)
        return self.proc.returncode

    def kill(self, also: Callable[[], Iterable[int]] = tuple, grace: float = 2.0) -> None:
        """SIGKILL the processes that ``also()`` names (workers, which take
        SIGTERM for a graceful stop, and those it started in sessions of
        their own); SIGTERM its process group; SIGKILL it when any of the
        group still runs after ``grace`` seconds, and wait until none does;
        then SIGKILL what ``also()`` names again (any started meanwhile)."""
        import subprocess

        def kill_also() -> None:
            for pid in also():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

        group = self.proc.pid
        kill_also()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + grace
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        while _group_running(group) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_running(group):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while _group_running(group) and time.monotonic() < deadline:  # dying takes a while
                time.sleep(0.02)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5.0)
        kill_also()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.kill()
        if self._relay.is_alive():
            self._relay.join(10)  # its output has all been passed on (unless a process it
        # started outlives it holding the pipe: that one must not hold us)

    @staticmethod
    def echo(line: bytes | None) -> None:
        """Write ``line`` to this process's ``sys.stdout`` (the default ``lines``)."""
        if not line:
            return
        try:
            sys.stdout.write(line.decode(errors="replace"))
            sys.stdout.flush()
        except (OSError, ValueError):  # our stdout is closed: drop the output
            pass


def _group_running(group: int) -> bool:
    """Whether any process of process group ``group`` is still running. A
    zombie is not (an orphan's waits for init to reap it, and no signal can
    end it); where there is no ``/proc``, zombies count."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as src:
                fields = src.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            return True
    return False


def _terminate_with_parent() -> Callable[[], None] | None:
    """For ``Popen(preexec_fn=...)``: the child gets SIGTERM when its parent
    dies (Linux ``PR_SET_PDEATHSIG``; ``None`` elsewhere). Looked up here, so
    that the child only calls a C function."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM, 0, 0, 0)


def _readable(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:  # closed
        return False
    return True


class NoStdin(io.TextIOBase):
    """``sys.stdin`` of a worker that cannot read the run's standard input
    (an MPI rank other than 0: mpiexec gives it to rank 0 only). Reading it
    raises :class:`d4p.UsageError` saying ``why``, instead of waiting forever."""

    def __init__(self, why: str) -> None:
        super().__init__()
        self.why = why

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        raise UsageError(self.why)

    def readline(self, size: int | None = -1) -> str:
        raise UsageError(self.why)


def whole_lines(stream):
    """``stream`` writing each line in one system call as soon as it ends
    (even under PYTHONUNBUFFERED), so that the lines of different workers
    writing to one terminal never mix."""
    if getattr(stream, "d4p_whole_lines", False):
        return stream
    stream.flush()
    raw = io.FileIO(stream.fileno(), "w", closefd=False)
    wrapped = io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding=stream.encoding,
                               errors=stream.errors, line_buffering=True)
    wrapped.d4p_whole_lines = True
    return wrapped
