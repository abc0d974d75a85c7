"""The multi-lang components: a generic spout and bolt that run one PE
instance each through d4p's executor.

``d4p storm export`` writes a module ``src/<topology>_d4p.py`` with one
subclass per PE, naming the PE (``pe``), the pickled plan beside it
(``plan_file``) and the streams (``outputs``). Storm starts every task as
``streamparse_run -s json <topology>_d4p.<Class>``; after the handshake the
task finds its instance: task *k* (in task-id order) of a component runs
instance *k* of its PE.

The executor gets a plan in which this instance (with the instances of the
partial aggregates its component hosts, see :mod:`d4p_storm.topology`) is
alone in its process and has no routes out of the task, so everything the
task's PEs write for other components lands in ``executor.results``; the
component then emits each unit on the streams of its port, anchored to the
input tuple (bolts) or with a message id (spouts), and Storm's groupings
choose the receiving tasks.

End of stream and ``postprocess``, in a topology that never ends:

1. A spout runs its source in a helper thread whose writes wait in a
   bounded queue (a :class:`d4p.driver.Handoff`); each ``next`` emits at
   most one batch of them, waiting a fraction of a second at most, so no
   ``next`` is slow however long an iteration takes (Storm kills a spout silent in ``next`` past
   ``topology.subprocess.timeout.secs``), and memory stays bounded. After the
   last iteration (and postprocess) it emits one tuple on ``d4p.eos``, which
   the ``ALL`` grouping copies to every task of every downstream component.
   The source also ends, as on every mapping, when it raises
   :class:`d4p.StopSource`, after ``d4p.max_units`` units, or once the
   local run asks (:meth:`d4p.mapping.RunFolder.request_stop` on its results folder).
2. A bolt counts the ``d4p.eos`` tuples of its upstream instances. When the
   last one arrives, the executor runs ``postprocess``; the bolt emits what it
   wrote (anchored to that tuple) and then its own ``d4p.eos`` tuple.
3. Storm delivers tuples between two tasks in order, so a task has every data
   tuple of an upstream instance before that instance's ``d4p.eos`` tuple.

A PE that raises fails the input tuple, logs the error (PE, instance, port,
short data and the original traceback) to Storm's log and UI, and records the
:class:`d4p.WorkflowFailed` for the local run; the task then goes on with the
next tuples, as a Storm component must.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import traceback
from typing import Any, ClassVar

from d4p import D4PError, UsageError, WorkflowFailed
from d4p.executor import Executor, short_repr
from d4p.grouping import SHUFFLE
from d4p.mapping import Control, Handoff, RunFolder, Transport
from d4p.plan import PAIR, Plan
from streamparse import Bolt, Spout

from .record import TaskRecord
from .shipping import decode, encode, load_plan
from .topology import EOS_STREAM, Component, hosted_instances, translate

_plans: dict[str, Plan] = {}


def task_plan(plan: Plan, iids: int | tuple[int, ...]) -> Plan:
    """``plan`` with the instances ``iids`` alone on process 0 and no routes out
    of them but those between them: the executor of one Storm task (its PE's
    instance, then those of the partials it hosts, fed instance by instance).
    Fused pairs between tasks become the shuffle edges they are in Storm, so
    every upstream instance counts for the end of stream."""
    iids = (iids,) if isinstance(iids, int) else tuple(iids)
    pes = {plan.instances[i].pe_id for i in iids}
    routes = []
    for r in plan.routes:
        if r.src_pe not in pes:
            routes.append(dataclasses.replace(r, rule=SHUFFLE) if r.rule == PAIR else r)
        elif r.dst_pe in pes:
            routes.append(dataclasses.replace(r, rule=PAIR))
    return plan.with_processes(lambda i: 0 if i.iid in iids else 1).replace(routes=routes)


class _Task:
    """What the spout and the bolt share: finding the instance, emitting what
    the PE wrote, reporting failures."""

    pe: ClassVar[str] = ""
    """The id of the PE this component runs (set by the generated subclass)."""
    plan_file: ClassVar[str] = ""
    """The pickled plan, relative to the generated module's folder."""

    component: Component
    executor: Executor
    binary: bool = False
    """Whether units travel as bytes (the msgpack serializer) rather than text."""
    record: TaskRecord
    iid: int
    index: int
    halted: bool = False

    def _setup(self, storm_conf: dict, context: dict) -> bool:
        """Find this task's instance and start its executor; False (and the
        task halted) when that fails."""
        name = self.component_name
        self.binary = type(self.serializer).__name__ == "MsgpackSerializer"
        tasks = sorted(int(t) for t, c in context.get("task->component", {}).items() if c == name)
        self.index = tasks.index(int(self.task_id)) if int(self.task_id) in tasks else 0
        self.record = TaskRecord(storm_conf.get("d4p.results_dir"), name, self.index)
        self.results: dict[str, list] = {}
        self.where = f"component {name!r} task {self.index}"
        try:
            if not self.record.start():
                raise WorkflowFailed(
                    f"{self.where} (PE {self.pe!r}) was restarted: its first process died (the "
                    "Storm worker log says why); d4p stops the run, since a restarted instance "
                    "would process its data again", pe=self.pe, instance=self.index)
            plan = _load(self._plan_path())
            self.component = translate(plan).of_pe(self.pe)
            if self.component.name != name:
                raise UsageError(f"{self.where} runs PE {self.pe!r}, whose component is called "
                                 f"{self.component.name!r}: keep the names the topology declares")
            if len(tasks) != self.component.tasks:
                raise UsageError(
                    f"component {name!r} has {len(tasks)} tasks but PE {self.pe!r} has "
                    f"{self.component.tasks} instances: keep the parallelism the topology "
                    "declares and do not set topology.tasks for it")
            self.iid = self.component.iids[self.index]
            self.pes = (self.pe, *self.component.hosted)
            hosted = tuple(plan.by_pe[p][self.index] for p in self.component.hosted)
            self.executor = Executor(task_plan(plan, (self.iid, *hosted)), 0,  # sends nothing:
                                     transport=Transport(), reuse=True)  # the task emits
            self.executor.preprocess()
        except D4PError as exc:
            self._halt(exc)
            return False
        except Exception as exc:
            self._halt(D4PError(f"{self.where} cannot start PE {self.pe!r}: "
                                f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
            return False
        self.logger.info("%s runs PE %s instance %d", self.where, self.pe, self.index)
        return True

    def _plan_path(self) -> str:
        folder = os.path.dirname(os.path.abspath(sys.modules[type(self).__module__].__file__))
        return os.path.join(folder, self.plan_file)

    def _halt(self, error: BaseException) -> None:
        self.halted = True
        self._report(error)

    def _report(self, error: BaseException) -> None:
        """Log ``error`` to Storm (log and UI) and record it for the local run."""
        text = str(error)
        self.logger.error("%s", text)
        self.send_message({"command": "error", "msg": text})
        self.record.failed(error)

    def _taken(self) -> list[tuple[str, str, list]]:
        """(PE, port, units) the task's PEs have written since the last call."""
        out = []
        for pe in self.pes:
            for port, units in self.executor.results.get(pe, {}).items():
                if units:
                    out.append((pe, port, units[:]))
                    units.clear()
        return out

    def _tuples(self, pe: str, port: str, unit: Any,
                cause: tuple[str | None, Any]) -> list[tuple[str, list]]:
        """(stream, values) to emit for ``unit`` written on ``port`` of ``pe``;
        ``cause`` is (input port, data unit) or (None, stage) for the error message."""
        try:
            text = encode(unit, self.binary)
            tuples = [(s.id, [text, *(k.value(unit) for k in s.keys)])
                      for s in self.component.streams_of(port, pe)]
        except Exception as exc:
            in_port, data = cause
            shown = short_repr(data) if in_port is not None else None
            where = f"on input {in_port!r}" if in_port is not None else f"in {data}"
            text = (f"PE {pe!r} (instance {self.index}) failed {where}"
                    + (f" with data {shown}" if shown is not None else "")
                    + f": the unit it wrote on output {port!r} ({short_repr(unit)}) cannot be "
                    f"sent through Storm: {type(exc).__name__}: {exc}")
            raise WorkflowFailed(text, pe=pe, instance=self.index, port=in_port, data=shown,
                                 traceback="".join(traceback.format_exception(exc))) from None
        if pe == self.pe and port in self.component.results and self.record.folder is not None:
            self.results.setdefault(port, []).append(unit)
        return tuples

    def _finished(self) -> None:
        self.record.done({self.pe: self.results} if self.results else {}, self.executor.counts())
        self.logger.info("%s finished PE %s instance %d: %d units", self.where, self.pe,
                         self.index, self.executor.counts().get(self.pe, 0))


class WorkflowSpout(_Task, Spout):
    """Runs a source PE instance in a thread of its own; each ``next`` emits
    what it has written since (at most ``emit_batch`` tuples, with message
    ids, waiting at most ``next_wait`` seconds for the first), then the
    ``d4p.eos`` tuple once the source and its postprocess are done."""

    outputs: ClassVar[list] = []
    emit_batch: ClassVar[int] = 100
    """Tuples emitted per ``next`` at most."""
    next_wait: ClassVar[float] = 0.2
    """Seconds a ``next`` waits for the source's first unit (Storm's calls must
    come back quickly: the spout is asked again at once when it emitted)."""
    buffered: ClassVar[int] = 1000
    """Units the source may write ahead of the emits (then its thread waits),
    so memory stays bounded however long an iteration is."""

    def initialize(self, storm_conf, context):
        self.sent = 0
        self.closed = False
        if self._setup(storm_conf, context):
            control = Control(max_units=storm_conf.get("d4p.max_units"))
            self.source = _Source(self.executor, self.component, self.buffered, control)
            if storm_conf.get("d4p.results_dir"):  # a local run's (a cluster's has none)
                RunFolder(storm_conf["d4p.results_dir"]).watch(control)

    def next_tuple(self):
        if self.halted or self.closed:
            return
        try:
            for pe, port, unit in self.source.output.take(self.emit_batch, self.next_wait):
                for stream, values in self._tuples(pe, port, unit, (None, "a source iteration")):
                    self._send(stream, values)
        except Exception as exc:  # the source's error, or a unit Storm cannot send
            self._halt(exc)
            return
        if self.source.output.ended:
            self._close()

    def _send(self, stream: str, values: list) -> None:
        self.sent += 1
        self.emit(values, tup_id=f"{self.iid}:{self.sent}", stream=stream)

    def _close(self) -> None:
        self._send(EOS_STREAM, [self.iid])
        self.closed = True
        self._finished()

    def fail(self, tup_id):
        self.logger.warning("%s: tuple %s failed downstream (see the failing bolt's error); "
                            "d4p spouts do not replay it", self.where, tup_id)


class WorkflowBolt(_Task, Bolt):
    """Runs a PE instance with inputs: one data unit per tuple; postprocess
    once every upstream instance has sent its ``d4p.eos`` tuple."""

    outputs: ClassVar[list] = []
    auto_ack = False
    auto_fail = False

    def initialize(self, storm_conf, context):
        self.ports: dict[tuple[str, str], str] = {}
        self.upstream: set[int] = set()
        self.ended: set[int] = set()
        self.finishing = self.closed = False
        if self._setup(storm_conf, context):
            self.ports = {(s.component, s.stream): s.port for s in self.component.inputs
                          if s.port is not None}
            # a hosted partial's instances end with the task that runs them
            self.ends: dict[int, list[int]] = {}
            task_of = hosted_instances(_load(self._plan_path()))
            for up in self.executor.plan.upstream[self.iid]:
                self.ends.setdefault(task_of.get(up, up), []).append(up)
            self.upstream = set(self.ends)

    def process(self, tup):
        if self.halted:
            self.ack(tup)
            return
        eos = tup.stream == EOS_STREAM
        try:
            if eos:
                self._end_of_stream(tup)
            else:
                self._receive(tup)
        except Exception as exc:
            if not isinstance(exc, WorkflowFailed):
                exc = WorkflowFailed(
                    f"{self.where} (PE {self.pe!r}, instance {self.index}) failed on tuple "
                    f"{tup.id} of stream {tup.stream!r} from {tup.component!r}: "
                    f"{type(exc).__name__}: {exc}", pe=self.pe, instance=self.index,
                    traceback="".join(traceback.format_exception(exc)))
            self._report(exc)
            if eos and self.finishing and not self.closed:  # let downstream finish
                self.emit([self.iid], stream=EOS_STREAM, anchors=[tup])
                self.closed = True
            self.fail(tup)
            return
        self.ack(tup)

    def _receive(self, tup) -> None:
        port = self.ports.get((tup.component, tup.stream))
        if port is None:
            self.logger.warning("%s ignores tuple %s: PE %s does not read stream %r of %r",
                                self.where, tup.id, self.pe, tup.stream, tup.component)
            return
        unit = decode(tup.values[0])
        self.executor.receive([(self.iid, port, [unit])])
        self._emit_taken(tup, (port, unit))

    def _end_of_stream(self, tup) -> None:
        source = int(tup.values[0])
        if source not in self.upstream or source in self.ended:
            self.logger.warning("%s ignores end of stream from instance %s (%s)", self.where,
                                source, "already ended" if source in self.ended else "not upstream")
            return
        self.ended.add(source)
        self.finishing = self.ended >= self.upstream
        for ended in self.ends[source]:
            self.executor.end_of_stream(ended, self.iid)
        if self.executor.done:
            self._emit_taken(tup, (None, "postprocess"))
            self.emit([self.iid], stream=EOS_STREAM, anchors=[tup])
            self.closed = True
            self._finished()

    def _emit_taken(self, anchor, cause: tuple[str | None, Any]) -> None:
        for pe, port, units in self._taken():
            for unit in units:
                for stream, values in self._tuples(pe, port, unit, cause):
                    self.emit(values, stream=stream, anchors=[anchor])


class _Source:
    """Runs ``executor.run_sources`` (every iteration, then postprocess) behind
    a :class:`~d4p.driver.Handoff` of at most ``bound`` units: what the source
    instance (and the partials it hosts) writes for other components streams
    out while a long iteration runs, and a full queue makes the source wait,
    so memory stays bounded."""

    def __init__(self, executor: Executor, component: Component, bound: int,
                 control: Control) -> None:
        self._executor = executor
        self._component = component
        self._control = control
        self.output = Handoff(self._run, bound, name="d4p-source")

    def _run(self, put) -> None:
        for loc in self._executor.local.values():
            emit = loc.emit  # the PE's writes, port by port
            for port in list(emit):
                if self._component.streams_of(port, loc.pe_id):  # not only for a hosted partial
                    emit[port] = functools.partial(self._put, put, loc.pe_id, port)
        self._executor.run_sources(stop=self._control, max_units=self._control.max_units)

    @staticmethod
    def _put(put, pe: str, port: str, unit: Any) -> None:
        put((pe, port, unit))


def _load(path: str) -> Plan:
    if path not in _plans:
        try:
            _plans[path] = load_plan(path)
        except FileNotFoundError:
            raise UsageError(f"the workflow plan {path!r} is missing: export the project again "
                             "with d4p storm export") from None
        except Exception as exc:
            raise UsageError(
                f"cannot load the workflow plan {path!r}: {type(exc).__name__}: {exc}. The "
                "workers need the packages the workflow imports (list them in the project's "
                "virtualenvs/ file)") from None
    return _plans[path]
