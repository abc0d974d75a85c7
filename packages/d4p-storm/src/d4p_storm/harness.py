"""Storm's side of the multi-lang protocol, without Storm: runs the components
of a streamparse project and routes their tuples.

Apache Storm cannot be installed everywhere (no Python or Debian package
carries it), so this module plays the part of Storm's ``ShellSpout`` /
``ShellBolt`` and of its tuple routing and acker, to run and test a project
that ``d4p storm export`` wrote:

* It loads the project's topology as ``sparse run`` does (``config.json``, the
  topology module, the serializer argument, the options), gives every
  component as many tasks as its parallelism (task ids 1, 2, ... by component
  name, like Storm) and starts each task with the exact command line the
  topology declares (``streamparse_run "-s json NAME_d4p.Class"``), working
  directory its ``resources/`` folder (a copy of ``src/``).
* Handshake: ``{"conf", "pidDir", "context"}`` with the task id, component
  id, ``task->component`` and the stream/grouping maps; it expects
  ``{"pid": ...}`` (the process's own pid) and the pid file in ``pidDir``.
* Spouts are driven like ``ShellSpout``: ``activate`` (Storm 1.1 and later
  send it), then ``next`` while fewer than ``topology.max.spout.pending``
  tuple trees are pending, and ``ack`` / ``fail`` of finished trees, one
  command at a time, each answered by ``sync``. A spout that emitted nothing
  is asked again after the pause of Storm's spout wait strategy: Storm 1.x's
  ``SleepSpoutWaitStrategy`` (``topology.sleep.spout.wait.strategy.time.ms``)
  or, with ``storm_version="2"``, Storm 2's ``WaitStrategyProgressive``
  (``topology.spout.wait.progressive.level1.count``, ``level2.count``,
  ``level3.sleep.millis``). A spout dies when it does not finish a command
  within the subprocess timeout of its last message (``ShellSpout`` checks
  only while it waits for a ``sync``).
* Bolts get tuples ``{"id", "comp", "stream", "task", "tuple"}`` through a
  write queue of ``topology.shellbolt.max.pending`` messages (the tuples
  ``ShellBolt`` has taken but not yet written to the process; more wait
  upstream, as Storm's executor blocks), and a heartbeat tuple (stream
  ``__heartbeat``, task -1) every second whatever else happens, answered by
  ``sync``; every message of a task counts as a heartbeat.
* The subprocess timeout is ``topology.subprocess.timeout.secs``, else
  ``supervisor.worker.timeout.secs`` (30), as in ``ShellSpout`` /
  ``ShellBolt``. Storm 1.2 and 2 behave alike in all of this but the spout
  wait strategy.
* ``emit`` messages are checked against the declared streams and fields and
  routed per the declared groupings: ``SHUFFLE`` (round-robin over a shuffled
  task list), ``FIELDS`` (task index ``floorMod(Arrays.deepHashCode(values),
  tasks)`` with Java's ``hashCode`` of the JSON values as Storm parses them),
  ``ALL``, ``GLOBAL`` (lowest task), ``DIRECT``; task ids are sent back unless
  ``need_task_ids`` is false. Tuples between two tasks keep their order.
* The acker follows every tuple tree from a spout's message id through
  anchored emits to ``ack`` / ``fail`` and tells the spout; it fails trees
  older than ``topology.message.timeout.secs``. Anchoring on a tuple already
  acked, acking twice, or a malformed message is a :class:`HarnessError`, as
  is a task that dies (Storm would restart it; the harness stops).
* ``log`` and ``error`` messages are written to the harness's log stream.

Command line, like ``sparse run``: ``python -m d4p_storm.harness PROJECT [-n
NAME] [-o KEY=VALUE]... [-t SECONDS] [--until-idle]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from d4p import D4PError, Option

from .mapping import StormMapping
from .project import DEFAULT_STORM_VERSION, Project, load_topology

LEVELS = {0: "TRACE", 1: "DEBUG", 2: "INFO", 3: "WARN", 4: "ERROR"}
HEARTBEAT_SECONDS = 1.0

_WAIT_DEFAULTS = {
    1: (("topology.sleep.spout.wait.strategy.time.ms", 1),),
    2: (("topology.spout.wait.progressive.level1.count", 0),
        ("topology.spout.wait.progressive.level2.count", 0),
        ("topology.spout.wait.progressive.level3.sleep.millis", 1)),
}
"""Storm's defaults (``conf/defaults.yaml``) of the spout wait strategy, by major version."""

_WRITTEN = object()
"""A bolt's writer thread wrote a tuple: room in its write queue."""


class HarnessError(D4PError):
    """A component broke the multi-lang protocol, timed out or died."""


# -- Java's hashCode of the values Storm's JSON serializer makes -----------------------------


def _int32(h: int) -> int:
    h &= 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def java_hash(value: Any) -> int:
    """``hashCode()`` of ``value`` as json-simple parses it in Storm: integers
    are ``Long``, other numbers ``Double``, text ``String``, arrays ``List``."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1231 if value else 1237
    if isinstance(value, int):
        v = value & 0xFFFFFFFFFFFFFFFF
        return _int32(v ^ (v >> 32))
    if isinstance(value, float):
        (bits,) = struct.unpack(">Q", struct.pack(">d", value))
        return _int32(bits ^ (bits >> 32))
    if isinstance(value, str):
        h = 0
        units = value.encode("utf-16-be")
        for i in range(0, len(units), 2):
            h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
        return _int32(h)
    if isinstance(value, list | tuple):
        return deep_hash(value)
    if isinstance(value, dict):
        return _int32(sum(java_hash(k) ^ java_hash(v) for k, v in value.items()))
    raise TypeError(f"not a JSON value: {value!r}")


def deep_hash(values) -> int:
    """``Arrays.deepHashCode`` of ``values``."""
    h = 1
    for v in values:
        h = (31 * h + java_hash(v)) & 0xFFFFFFFF
    return _int32(h)


def fields_task_index(values: list, tasks: int) -> int:
    """The task index Storm's fields grouping picks for the grouping ``values``."""
    return deep_hash(values) % tasks  # Python's % is Java's Math.floorMod


# -- one component process -------------------------------------------------------------------


class ShellComponent:
    """One task's process, talking JSON messages terminated by ``end`` lines,
    or msgpack messages (``serializer="msgpack"``, delimited by msgpack)."""

    def __init__(self, argv: list[str], cwd: str, env: dict, stderr_path: str,
                 name: str, serializer: str = "json") -> None:
        self.name = name
        self.stderr_path = stderr_path
        self.serializer = serializer
        if serializer == "msgpack":
            import msgpack

            self._packb = msgpack.packb
            self._unpacker = msgpack.Unpacker()
        with open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err)
        self.pid = self.proc.pid

    def send(self, message: Any) -> None:
        data = self._packb(message) if self.serializer == "msgpack" else \
            json.dumps(message).encode() + b"\nend\n"
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise self._died("while Storm was writing to it") from None

    def read(self) -> Any:
        if self.serializer == "msgpack":
            return self._read_msgpack()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise self._died("before answering")
            if line == b"end\n":
                break
            lines.append(line)
        text = b"".join(lines)
        try:
            return json.loads(text)
        except ValueError:
            raise HarnessError(f"{self.name} wrote a message that is not JSON: "
                               f"{text[:200]!r}") from None

    def _read_msgpack(self) -> Any:
        while True:
            try:
                return next(self._unpacker)
            except StopIteration:
                pass
            chunk = self.proc.stdout.read1(1 << 16)
            if not chunk:
                raise self._died("before answering")
            self._unpacker.feed(chunk)

    def handshake(self, conf: dict, context: dict, pid_dir: str) -> int:
        """Send the setup message; check the pid reply and the pid file."""
        self.send_setup(conf, context, pid_dir)
        return self.check_setup(pid_dir)

    def send_setup(self, conf: dict, context: dict, pid_dir: str) -> None:
        self.send({"conf": conf, "pidDir": pid_dir, "context": context})

    def check_setup(self, pid_dir: str) -> int:
        reply = self.read()
        if not isinstance(reply, dict) or "pid" not in reply:
            raise HarnessError(f"{self.name} answered the handshake with {reply!r}, not "
                               "{\"pid\": ...}")
        pid = reply["pid"]
        if pid != self.proc.pid:
            raise HarnessError(f"{self.name} reported pid {pid}, but its process is "
                               f"{self.proc.pid}")
        if not os.path.exists(os.path.join(pid_dir, str(pid))):
            raise HarnessError(f"{self.name} wrote no pid file {pid} in the pidDir {pid_dir}")
        return pid

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            text = Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def _died(self, when: str) -> HarnessError:
        try:
            status = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            status = None
        tail = self.stderr_tail()
        return HarnessError(f"{self.name} closed its pipes {when} (exit status {status})"
                            + (f"; its stderr ends with:\n{tail}" if tail else ""))

    def close(self) -> None:
        """Close the process's stdin: pystorm exits when Storm goes away."""
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass

    def stop(self, grace: float = 1.0) -> None:
        """Close stdin, wait ``grace`` seconds, then terminate, then kill."""
        self.close()
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def environment() -> dict[str, str]:
    """The environment of the tasks: this Python's ``bin/`` first on PATH, so
    that ``streamparse_run`` is this Python's."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


# -- the topology run ------------------------------------------------------------------------


@dataclass
class _Grouping:
    kind: str
    fields: tuple[int, ...] = ()


@dataclass
class _Task:
    id: int
    component: str
    spout: bool
    shell: ShellComponent
    outbox: queue.Queue = field(default_factory=queue.Queue)
    # spouts
    commands: deque = field(default_factory=deque)
    waiting: str | None = None
    waiting_since: float = 0.0
    slowest_next: float = 0.0
    emitted_in_next: int = 0
    idle_nexts: int = 0
    next_at: float = 0.0
    pending_trees: int = 0
    # bolts
    backlog: deque = field(default_factory=deque)
    unacked: int = 0
    queued: int = 0  # messages in the write queue, not yet written to the process
    heartbeat_sent: float = field(default_factory=time.monotonic)
    last_heard: float = field(default_factory=time.monotonic)
    # counters
    emitted: int = 0
    executed: int = 0
    acked: int = 0
    failed: int = 0
    heartbeats: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"component {self.component!r} task {self.id}"


@dataclass
class _Tree:
    spout: int
    message_id: Any
    pending: int = 0
    started: float = field(default_factory=time.monotonic)


class LocalCluster:
    """Runs the topology ``name`` of the streamparse project ``folder``.

    ``options`` are Storm settings like ``sparse run -o`` (they override the
    topology's ``config``). Use :meth:`run`, or :meth:`start` and
    :meth:`shutdown` around your own calls of :meth:`step`.
    """

    def __init__(self, folder: str | os.PathLike, name: str | None = None,
                 options: dict | None = None, *, log: TextIO | None = None,
                 seed: int | None = None, storm_version: str = "1") -> None:
        if storm_version.partition(".")[0] not in ("1", "2"):
            raise HarnessError(f"the harness plays Storm 1.x or 2.x, not {storm_version!r}")
        self.storm_version = int(storm_version.partition(".")[0])
        with warnings.catch_warnings():  # paramiko, imported by streamparse.util
            warnings.simplefilter("ignore")
            from streamparse.cli.common import resolve_options
            from streamparse.util import set_topology_serializer

        self.folder = Path(folder).resolve()
        self.log = log if log is not None else sys.stderr
        self.random = random.Random(seed)
        config = json.loads((self.folder / "config.json").read_text())
        topology = load_topology(self.folder, name)
        self.name = name or next((self.folder / "topologies").glob("*.py")).stem
        envs = config.get("envs", {})
        env_config = next(iter(envs.values())) if len(envs) == 1 else {}
        set_topology_serializer(env_config, config, topology)
        conf = resolve_options(options, env_config, topology, self.name, local_only=True)
        conf["topology.workers"] = 1
        conf.update({"topology.name": self.name, "storm.id": f"{self.name}-1-{int(time.time())}"})
        for key, value in (("topology.message.timeout.secs", 30),
                           ("supervisor.worker.timeout.secs", 30),
                           ("topology.shellbolt.max.pending", 100),
                           ("topology.debug", False),
                           *_WAIT_DEFAULTS[self.storm_version]):
            conf.setdefault(key, value)
        self.conf = conf
        self.subprocess_timeout = float(conf.get("topology.subprocess.timeout.secs")
                                        or conf["supervisor.worker.timeout.secs"])
        self._lock = threading.Lock()
        self.specs = {spec.name: spec for spec in topology.specs}
        self.tasks_of: dict[str, list[int]] = {}
        next_id = 1
        for comp in sorted(self.specs):
            par = int(self.specs[comp].par or 1)
            self.tasks_of[comp] = list(range(next_id, next_id + par))
            next_id += par
        self.component_of = {t: c for c, ts in self.tasks_of.items() for t in ts}
        self.subscribers: dict[tuple[str, str], list[tuple[str, _Grouping]]] = {}
        for comp, spec in self.specs.items():
            for stream_id, grouping in spec.inputs.items():
                source = self.specs[stream_id.componentId]
                fields = source.outputs[stream_id.streamId].output_fields
                self.subscribers.setdefault((stream_id.componentId, stream_id.streamId), []) \
                    .append((comp, _grouping(grouping, fields, f"{comp} <- {stream_id}")))
        self.tasks: dict[int, _Task] = {}
        self.events: queue.Queue = queue.Queue()
        self.trees: dict[int, _Tree] = {}
        self.inflight: dict[str, tuple[int, tuple[int, ...]]] = {}
        self._ids = itertools.count(1)
        self._shuffles: dict[tuple, list] = {}
        self._stop = threading.Event()
        self.workdir: str | None = None
        self.errors: list[str] = []

    # -- starting and stopping ---------------------------------------------------------------

    def command(self, comp: str) -> list[str]:
        """The command line that starts a task of ``comp``, as the topology
        declares it (after ``sparse``'s serializer argument)."""
        shell = self.specs[comp].component_object.shell
        if shell is None:
            raise HarnessError(f"component {comp!r} is a Java component: it needs Storm")
        return [shell.execution_command, shell.script]

    def context(self, task: int) -> dict:
        """The handshake's ``context`` for task ``task``."""
        comp = self.component_of[task]
        spec = self.specs[comp]
        outputs = {s: list(info.output_fields) for s, info in spec.outputs.items()}
        to_targets: dict[str, dict] = {}
        for stream in outputs:
            for target, grouping in self.subscribers.get((comp, stream), []):
                to_targets.setdefault(stream, {})[target] = _describe(grouping, outputs[stream])
        sources: dict[str, dict] = {}
        fields: dict[str, dict] = {}
        for (source, stream), subs in self.subscribers.items():
            for target, grouping in subs:
                if target == comp:
                    out = list(self.specs[source].outputs[stream].output_fields)
                    sources.setdefault(source, {})[stream] = _describe(grouping, out)
                    fields.setdefault(source, {})[stream] = out
        return {
            "task->component": {str(t): c for t, c in sorted(self.component_of.items())},
            "taskid": task,
            "componentid": comp,
            "stream->target->grouping": to_targets,
            "streams": list(outputs),
            "stream->outputfields": outputs,
            "source->stream->grouping": sources,
            "source->stream->fields": fields,
        }

    def start(self) -> None:
        """Copy ``src/`` to ``resources/``, start every task and shake hands."""
        self.workdir = tempfile.mkdtemp(prefix=f"d4p-storm-{self.name}-")
        resources = os.path.join(self.workdir, "resources")
        shutil.copytree(self.folder / "src", resources,
                        ignore=shutil.ignore_patterns("__pycache__"))
        pid_dir = os.path.join(self.workdir, "pids")
        logs = os.path.join(self.workdir, "logs")
        os.makedirs(pid_dir)
        os.makedirs(logs)
        env = environment()
        for task_id, comp in sorted(self.component_of.items()):
            spec = self.specs[comp]
            argv = self.command(comp)
            name = f"component {comp!r} task {task_id}"
            serializer = "msgpack" if argv[-1].startswith("-s msgpack ") else "json"
            try:
                proc = ShellComponent(argv, resources, env,
                                      os.path.join(logs, f"{comp}-{task_id}.stderr"), name,
                                      serializer)
            except OSError as exc:
                raise HarnessError(f"cannot start {name} with {argv}: {exc}") from None
            self.tasks[task_id] = _Task(task_id, comp, spec in self._spouts(), proc)
        for task in self.tasks.values():  # the processes start up side by side
            task.shell.send_setup(self.conf, self.context(task.id), pid_dir)
        for task in self.tasks.values():
            task.shell.check_setup(pid_dir)
            task.last_heard = time.monotonic()
            for target, role in ((self._reader, "read"), (self._writer, "write")):
                threading.Thread(target=target, args=(task,), daemon=True,
                                 name=f"harness-{role}-{task.id}").start()
            if task.spout:
                task.commands.append({"command": "activate"})

    def _spouts(self) -> list:
        from streamparse.dsl.spout import ShellSpoutSpec

        return [s for s in self.specs.values() if isinstance(s, ShellSpoutSpec)]

    def _reader(self, task: _Task) -> None:
        try:
            while True:
                self.events.put((task.id, task.shell.read()))
        except HarnessError as exc:
            self.events.put((task.id, exc))

    def _writer(self, task: _Task) -> None:
        while True:
            message = task.outbox.get()
            if message is None or self._stop.is_set():
                return
            try:
                task.shell.send(message)
            except HarnessError as exc:
                self.events.put((task.id, exc))
                return
            if isinstance(message, dict) and "tuple" in message and not task.spout:
                with self._lock:
                    task.queued -= 1
                self.events.put((task.id, _WRITTEN))

    def stop(self) -> None:
        """Ask :meth:`run` to return (from another thread or a signal handler)."""
        self._stop.set()

    def shutdown(self) -> None:
        """Stop every task process and remove the working folder."""
        self._stop.set()
        for task in self.tasks.values():
            task.outbox.put(None)
        for task in self.tasks.values():
            task.shell.close()
        for task in self.tasks.values():
            task.shell.stop()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- the loop ------------------------------------------------------------------------------

    def run(self, seconds: float | None = None, until_idle: bool = False) -> dict:
        """Start, route tuples until ``seconds`` have passed, the topology is
        idle (``until_idle``) or :meth:`stop` is called; then shut down.
        Returns :meth:`summary`."""
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            self.start()
            while not self._stop.is_set():
                self.step(0.05)
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if until_idle and self.idle():
                    break
        finally:
            self.shutdown()
        return self.summary()

    def step(self, wait: float = 0.05) -> None:
        """Handle the messages that arrive within ``wait`` seconds and drive the
        spouts, bolt queues, heartbeats and timeouts once."""
        self._pump()
        try:
            task_id, message = self.events.get(timeout=wait)
        except queue.Empty:
            pass
        else:
            self._handle(task_id, message)
            for _ in range(1000):
                try:
                    task_id, message = self.events.get_nowait()
                except queue.Empty:
                    break
                self._handle(task_id, message)
                self._pump()
        self._timers()

    def idle(self) -> bool:
        """Nothing in flight and every spout idle for a while."""
        if self.trees or self.inflight or not self.events.empty():
            return False
        for task in self.tasks.values():
            if task.spout and (task.waiting or task.commands or task.idle_nexts < 3):
                return False
            if not task.spout and (task.backlog or task.unacked):
                return False
        return True

    def _pump(self) -> None:
        now = time.monotonic()
        max_pending = self.conf.get("topology.max.spout.pending")
        for task in self.tasks.values():
            if not task.spout or task.waiting:
                continue
            if task.commands:
                self._command(task, task.commands.popleft())
            elif now >= task.next_at and (max_pending is None
                                          or task.pending_trees < int(max_pending)):
                task.emitted_in_next = 0
                self._command(task, {"command": "next"})

    def _command(self, task: _Task, message: dict) -> None:
        task.waiting = message["command"]
        task.waiting_since = time.monotonic()
        task.outbox.put(message)

    def _timers(self) -> None:
        now = time.monotonic()
        limit = self.subprocess_timeout
        for task in self.tasks.values():
            if task.spout:
                silent = now - max(task.waiting_since, task.last_heard)
                if task.waiting and silent > limit:
                    raise HarnessError(f"{task.name}: subprocess heartbeat timeout: no answer to "
                                       f"{task.waiting!r} for {limit:g} s "
                                       "(topology.subprocess.timeout.secs)")
                continue
            if now - task.last_heard > limit:
                raise HarnessError(f"{task.name}: subprocess heartbeat timeout ({limit:g} s, "
                                   "topology.subprocess.timeout.secs)")
            if now - task.heartbeat_sent >= HEARTBEAT_SECONDS:  # every second, as ShellBolt
                task.heartbeat_sent = now
                task.heartbeats += 1
                task.outbox.put({"id": str(next(self._ids)), "comp": "__system",
                                 "stream": "__heartbeat", "task": -1, "tuple": []})
        timeout = float(self.conf["topology.message.timeout.secs"])
        for root, tree in list(self.trees.items()):
            if now - tree.started > timeout:
                self._end_tree(root, "fail")

    # -- messages from tasks -------------------------------------------------------------------

    def _handle(self, task_id: int, message: Any) -> None:
        task = self.tasks[task_id]
        if message is _WRITTEN:
            self._refill(task)
            return
        if isinstance(message, BaseException):
            if self._stop.is_set():
                return
            raise message
        if not isinstance(message, dict) or "command" not in message:
            raise HarnessError(f"{task.name} sent {message!r}, which is no command")
        task.last_heard = time.monotonic()
        command = message["command"]
        if command == "emit":
            self._emit(task, message)
        elif command == "sync":
            self._sync(task)
        elif command in ("ack", "fail") and not task.spout:
            self._acked(task, message, command)
        elif command == "log":
            level = LEVELS.get(message.get("level", 2), "INFO")
            self._say(f"{task.component}:{task.id} {level} {message.get('msg', '')}")
        elif command == "error":
            task.errors.append(str(message.get("msg", "")))
            self.errors.append(f"{task.name}: {message.get('msg', '')}")
            self._say(f"{task.component}:{task.id} ERROR (reported) {message.get('msg', '')}")
        elif command == "metrics":
            pass
        else:
            raise HarnessError(f"{task.name} sent the unknown command {command!r}")

    def _say(self, text: str) -> None:
        try:
            print(text, file=self.log, flush=True)
        except ValueError:
            pass

    def _sync(self, task: _Task) -> None:
        if not task.spout:
            return
        if task.waiting is None:
            raise HarnessError(f"{task.name} sent sync without a command to answer")
        if task.waiting == "next":
            now = time.monotonic()
            task.slowest_next = max(task.slowest_next, now - task.waiting_since)
            if task.emitted_in_next:
                task.idle_nexts = 0
            else:
                task.idle_nexts += 1
                task.next_at = now + self.idle_pause(task.idle_nexts)
        task.waiting = None

    def idle_pause(self, streak: int) -> float:
        """Seconds before a spout that emitted nothing in its last ``streak``
        ``next`` calls is asked again: Storm's spout wait strategy."""
        conf = self.conf
        if self.storm_version == 1:  # SleepSpoutWaitStrategy
            return float(conf["topology.sleep.spout.wait.strategy.time.ms"]) / 1000
        level1 = int(conf["topology.spout.wait.progressive.level1.count"])
        level2 = int(conf["topology.spout.wait.progressive.level2.count"])
        if streak <= level1:
            return 0.0  # spins
        if streak <= level1 + level2:
            return 1e-9  # parkNanos(1)
        return float(conf["topology.spout.wait.progressive.level3.sleep.millis"]) / 1000

    def _emit(self, task: _Task, message: dict) -> None:
        stream = message.get("stream") or "default"
        values = message.get("tuple")
        spec = self.specs[task.component]
        info = spec.outputs.get(stream)
        if info is None:
            raise HarnessError(f"{task.name} emitted on undeclared stream {stream!r} (its "
                               f"streams: {', '.join(spec.outputs)})")
        if not isinstance(values, list) or len(values) != len(info.output_fields):
            raise HarnessError(f"{task.name} emitted {values!r:.100} on stream {stream!r}, "
                               f"whose fields are {list(info.output_fields)}")
        if task.spout:
            if task.waiting is None:
                raise HarnessError(f"{task.name} emitted while Storm was not waiting for it "
                                   "(outside next, ack, fail, activate)")
            if task.waiting == "next":
                task.emitted_in_next += 1
            roots: tuple[int, ...] = ()
            if message.get("id") is not None:
                root = next(self._ids)
                self.trees[root] = _Tree(task.id, message["id"])
                task.pending_trees += 1
                roots = (root,)
        else:
            roots = self._roots_of(task, message.get("anchors") or [])
        targets = self._targets(task, stream, values, message)
        task.emitted += 1
        for target in targets:
            tuple_id = str(next(self._ids))
            live = tuple(r for r in roots if r in self.trees)
            for root in live:
                self.trees[root].pending += 1
            self.inflight[tuple_id] = (target, live)
            self._deliver(self.tasks[target], {"id": tuple_id, "comp": task.component,
                                               "stream": stream, "task": task.id,
                                               "tuple": values})
        if message.get("need_task_ids", True):
            task.outbox.put(targets)
        for root in roots:
            if root in self.trees and self.trees[root].pending == 0:
                self._end_tree(root, "ack")

    def _roots_of(self, task: _Task, anchors: list) -> tuple[int, ...]:
        roots: set[int] = set()
        for anchor in anchors:
            got = self.inflight.get(str(anchor))
            if got is None or got[0] != task.id:
                raise HarnessError(f"{task.name} anchored onto tuple {anchor} after ack/fail "
                                   "(or onto a tuple it was never given)")
            roots.update(got[1])
        return tuple(sorted(roots))

    def _targets(self, task: _Task, stream: str, values: list, message: dict) -> list[int]:
        out: list[int] = []
        for target, grouping in self.subscribers.get((task.component, stream), []):
            tasks = self.tasks_of[target]
            if grouping.kind == "FIELDS":
                out.append(tasks[fields_task_index([values[i] for i in grouping.fields],
                                                   len(tasks))])
            elif grouping.kind == "ALL":
                out.extend(tasks)
            elif grouping.kind == "GLOBAL":
                out.append(min(tasks))
            elif grouping.kind == "DIRECT":
                direct = message.get("task")
                if direct not in tasks:
                    raise HarnessError(f"{task.name} emitted on direct stream {stream!r} to "
                                       f"task {direct}, which is no task of {target!r}")
                out.append(direct)
            else:
                out.append(self._shuffled(task.id, target, stream, tasks))
        return out

    def _shuffled(self, source: int, target: str, stream: str, tasks: list[int]) -> int:
        state = self._shuffles.get((source, target, stream))
        if state is None or not state[0]:
            order = list(tasks)
            self.random.shuffle(order)
            state = [order, 0]
            self._shuffles[(source, target, stream)] = state
        order, i = state
        state[1] = (i + 1) % len(order)
        if state[1] == 0:
            state[0] = []
        return order[i]

    def _deliver(self, target: _Task, message: dict) -> None:
        target.unacked += 1
        target.backlog.append(message)
        self._refill(target)

    def _refill(self, task: _Task) -> None:
        """Move tuples from the backlog (upstream, blocked) to the write queue
        while it holds fewer than ``topology.shellbolt.max.pending``."""
        most = int(self.conf["topology.shellbolt.max.pending"])
        while task.backlog and task.queued < most:
            with self._lock:
                task.queued += 1
            task.outbox.put(task.backlog.popleft())

    def _acked(self, task: _Task, message: dict, command: str) -> None:
        tuple_id = str(message.get("id"))
        got = self.inflight.pop(tuple_id, None)
        if got is None or got[0] != task.id:
            raise HarnessError(f"{task.name} sent {command} for tuple {tuple_id}, which it was "
                               "not given or had already acked or failed")
        task.unacked -= 1
        task.executed += 1
        if command == "ack":
            task.acked += 1
        else:
            task.failed += 1
        for root in got[1]:
            tree = self.trees.get(root)
            if tree is None:
                continue
            if command == "fail":
                self._end_tree(root, "fail")
            else:
                tree.pending -= 1
                if tree.pending == 0:
                    self._end_tree(root, "ack")

    def _end_tree(self, root: int, command: str) -> None:
        tree = self.trees.pop(root)
        spout = self.tasks[tree.spout]
        spout.pending_trees -= 1
        if command == "ack":
            spout.acked += 1
        else:
            spout.failed += 1
        spout.commands.append({"command": command, "id": tree.message_id})

    # -- results -------------------------------------------------------------------------------

    def summary(self) -> dict:
        """Per component: tasks, tuples emitted, executed (bolts), trees acked
        and failed (spouts) or tuples acked and failed (bolts), errors; the
        longest ``next`` of its spout tasks (seconds from ``next`` to
        ``sync``), the heartbeats sent to its bolt tasks."""
        out: dict[str, dict] = {}
        for task in self.tasks.values():
            row = out.setdefault(task.component, {
                "kind": "spout" if task.spout else "bolt", "tasks": 0, "emitted": 0,
                "executed": 0, "acked": 0, "failed": 0, "errors": [], "slowest_next_s": 0.0,
                "heartbeats": 0})
            row["tasks"] += 1
            row["slowest_next_s"] = max(row["slowest_next_s"], task.slowest_next)
            row["heartbeats"] += task.heartbeats
            row["emitted"] += task.emitted
            row["executed"] += task.executed
            row["acked"] += task.acked
            row["failed"] += task.failed
            row["errors"] += task.errors
        return out


def _grouping(grouping, fields: list[str], where: str) -> _Grouping:
    if grouping.fields is not None:
        if not grouping.fields:
            return _Grouping("GLOBAL")
        return _Grouping("FIELDS", tuple(fields.index(f) for f in grouping.fields))
    if grouping.all is not None:
        return _Grouping("ALL")
    if grouping.direct is not None:
        return _Grouping("DIRECT")
    if grouping.shuffle is not None or grouping.none is not None \
            or grouping.local_or_shuffle is not None:
        return _Grouping("SHUFFLE")
    raise HarnessError(f"{where}: grouping {grouping!r} needs Storm (custom groupings run in Java)")


def _describe(grouping: _Grouping, fields: list[str]) -> dict:
    if grouping.kind == "FIELDS":
        return {"type": "FIELDS", "fields": [fields[i] for i in grouping.fields]}
    return {"type": grouping.kind}


# -- the same runs through d4p.run ----------------------------------------------------------


class HarnessMapping(StormMapping):
    """The ``storm`` mapping with this harness in place of ``sparse run``: the
    same export, components, results folder and failure reports, no Storm.

    It is not registered as a plugin (it proves the components, it is not a
    way to run workflows); a test suite registers it::

        class _Plugin:
            @d4p.hookimpl
            def d4p_register_mappings(self):
                return [HarnessMapping]

        d4p.get_plugin_manager().register(_Plugin(), "storm-harness")
    """

    name = "storm-harness"
    description = "the storm mapping's topology over the multi-lang harness (tests; no Storm)"
    options = tuple(o for o in StormMapping.options
                    if o.name in ("topology", "timeout", "serializer")) + (
        Option("seed", 0, "seed of the harness's shuffle groupings", type=int),
    )

    def run(self, plan, options):
        options = {"submit": False, "nimbus": "", **options}
        self._seed = options["seed"]
        return super().run(plan, options)

    def check_local(self) -> str:
        return DEFAULT_STORM_VERSION

    def local_command(self, project: Project, settings: dict[str, Any]) -> list[str]:
        command = [sys.executable, "-m", "d4p_storm.harness", str(project.folder),
                   "-n", project.name, "--seed", str(getattr(self, "_seed", 0))]
        for key, value in settings.items():
            command += ["-o", f"{key}={value}"]
        return command


# -- command line ----------------------------------------------------------------------------


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m d4p_storm.harness",
        description="Run a streamparse project's Python components over Storm's multi-lang "
                    "protocol, without Storm (like `sparse run`).")
    parser.add_argument("project", help="folder of the streamparse project")
    parser.add_argument("-n", "--name", help="topology name (default: the only one)")
    parser.add_argument("-o", "--option", action="append", type=_option, default=[],
                        metavar="KEY=VALUE", help="Storm setting (repeatable)")
    parser.add_argument("-t", "--time", type=float, default=None,
                        help="seconds to run (default: until stopped)")
    parser.add_argument("--until-idle", action="store_true",
                        help="stop once no tuple is in flight and the spouts are idle")
    parser.add_argument("--seed", type=int, default=None, help="seed of the shuffle groupings")
    parser.add_argument("--storm-version", default="1", metavar="MAJOR",
                        help="the Storm whose ShellSpout/ShellBolt to play: 1 (1.2, default) or 2")
    args = parser.parse_args(argv)
    try:
        cluster = LocalCluster(args.project, args.name, dict(args.option), seed=args.seed,
                               storm_version=args.storm_version)
    except D4PError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: cluster.stop())
    try:
        summary = cluster.run(args.time, args.until_idle)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
