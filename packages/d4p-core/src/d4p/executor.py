"""The executor: runs the PE instances that one process hosts.

Every mapping uses it; a mapping supplies only the transport that carries
batches of data units and end-of-stream signals between processes.

Writes to an instance in the same process are direct calls (no queue, no
copy); writes to an instance elsewhere are appended (lists, dicts and sets
as copies: :data:`HELD`) to a per-destination batch
that is handed to the transport when full or when :meth:`Executor.flush` is
called. An instance finishes when every upstream instance has finished: then
its ``postprocess`` runs (it may write) and it signals its downstream
instances, those in other processes first (so that they do not wait for the
postprocesses that the signal starts here).
"""

from __future__ import annotations

import copy
import functools
import math
import reprlib
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .driver import Data, EndOfStream, Transport
from .errors import Aborted, PEUsageError, UsageError, WorkflowFailed
from .grouping import PAIR
from .pe import ConsumerPE, GenericPE, IterativePE, StopSource, UnitFailed
from .plan import Plan, Route

BETWEEN_WRITES = 0.001
"""Seconds between two calls of the driver's housekeeping during a source's writes."""

LOCAL_BATCH = 1024
"""Units written in this process that a PE taking batches on the port
(``pe.batch_inputs``, e.g. a partial aggregate) is handed at once."""

LONG_CALL = 0.001
"""Seconds of a PE call after which units waiting for other workers go out
before the next call of that PE (see ``Executor._others_first``)."""

BATCH_BYTES = 1 << 20
"""A batch for another worker holds about this many bytes at most: the
number of units per batch adapts to the sizes of the units sent so far."""

HELD = frozenset((list, dict, set, bytearray))
"""Units of these types are copied (shallowly) when written to an instance
that takes them later (in another process, or in a batch) or to the
results (an unconnected output): a PE that
writes its buffer and then clears it (``self.write("output", self.buf);
self.buf.clear()``) sends what it wrote, as the simple mapping's direct
call does. Other units (NumPy arrays included) are not copied: a PE must
not change them after writing them."""

_PASS = (WorkflowFailed, Aborted)  # raised through PE code as they are
_RAISED = (Exception, SystemExit)
"""What a PE raises that fails the run, naming it: ``sys.exit()`` too (in a
worker it would end the process with a status and no word of which PE)."""


class _SourceStopped(BaseException):
    """Ends a source's iteration on a graceful stop (a ``BaseException``, so
    that the PE's own ``except Exception`` does not swallow it)."""

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 5


def short_repr(data: Any) -> str:
    """A repr of a data unit short enough for an error message."""
    try:
        return _short.repr(data)
    except Exception:  # a broken __repr__ must not hide the real error
        return f"<{type(data).__name__}>"


class _Local:
    __slots__ = ("iid", "pe", "pe_id", "index", "calls", "due", "sample", "waiting",
                 "finished", "emit", "busy")

    def __init__(self, iid: int, pe: GenericPE, waiting: int) -> None:
        self.iid = iid
        self.pe = pe
        self.pe_id = pe.id
        self.index = pe.instance
        self.calls = 0
        self.due = 0  # the call to time, when tracing (never, when 0)
        self.sample: Any = None  # the tracing sampler (d4p.tracing._Sampler)
        self.waiting = waiting
        self.finished = False
        self.busy = False  # a call of this instance is on the stack
        self.emit: dict[str, Callable[[Any], None]] = {}


class Executor:
    """Runs the instances of ``plan`` placed on ``process``.

    A batch for another process is handed to the transport when it holds
    ``batch_size`` units or when its first unit has waited ``latency`` seconds
    (10 ms: a slow producer feeding a busy process must not starve it); a
    unit written after a pause longer than ``latency`` (a source that waits
    for data) goes out at once.

    ``transport`` is needed when the plan spans several processes. ``reuse``
    lets instance 0 of each PE be the plan's own PE object, for workers whose
    plan is a private copy; otherwise every instance is a copy.
    """

    def __init__(self, plan: Plan, process: int = 0, *, transport: Transport | None = None,
                 reuse: bool = False, batch_size: int = 256, latency: float = 0.01,
                 trace: bool = False) -> None:
        if plan.processes > 1 and transport is None:
            raise ValueError("this plan spans several processes: the executor needs a transport")
        self.plan = plan
        self.latency = latency
        self.trace = None
        if trace:
            from .tracing import Trace  # here: a run without monitoring does without it

            self.trace = Trace(process)
        self.process = process
        self.transport = transport
        self.batch_size = batch_size
        self.results: dict[str, dict[str, list]] = {}
        self._outbox: dict[int, dict[tuple[int, str], list]] = {}
        self._aside: list[float] = []  # per send on the stack: seconds spent absorbing
        # per worker: [since when its units wait, units per batch, time of the last send]
        self._pending: dict[int, list] = {}
        # per worker: for each of its boxes, what makes it look at a new batch at once
        self._looks: dict[int, list[Callable[[], None]]] = {}
        self._arrived: deque = deque()  # (iid, port or None, units or source, bytes)
        self._proc_of = [i.process for i in plan.instances]
        self.local: dict[int, _Local] = {}
        for inst in plan.on_process(process):
            pe = plan.new_pe(inst.iid, reuse=reuse)
            self.local[inst.iid] = _Local(inst.iid, pe, len(plan.upstream[inst.iid]))
        self._receivers: dict[tuple[int, str], Callable[[Any], None]] = {}
        self._held: dict[int, list[Callable[[], None]]] = {}  # iid → hand-overs of held units
        # (iid, port) → the call with a whole transport batch, for a PE's batch_inputs
        self._batches: dict[tuple[int, str], Callable[[list], None]] = {}
        self._unfinished = len(self.local)
        if self.trace is not None:
            for loc in self.local.values():
                loc.sample = self.trace.sampler(loc, self._window(loc),
                                                self._counted_edge(loc.pe_id))
            for iid in self.local:
                self.trace.reaches(iid, self._reach(iid))
        for iid in sorted(self.local, reverse=True):  # downstream first
            self._wire(self.local[iid])

    # -- wiring -------------------------------------------------------------------
    def _wire(self, loc: _Local) -> None:
        pe = loc.pe
        for port in pe.outputconnections:
            loc.emit[port] = self._emitter(loc, port)
        pe._d4p_emit = loc.emit
        sample = loc.sample.call if loc.sample is not None else None
        for port in pe.inputconnections:
            self._receivers[(loc.iid, port)] = self._receiver(loc, port, sample)
            if self.trace is None and port in pe.batch_inputs:
                self._batches[(loc.iid, port)] = functools.partial(self._run_batch, loc, port)

    def _reach(self, iid: int) -> list[int]:
        """The local instances that the writes of local instance ``iid`` reach."""
        seen: set[int] = set()
        todo = [iid]
        while todo:
            for target in self.plan.downstream[todo.pop()]:
                if target in self.local and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return sorted(seen)

    def _window(self, loc: _Local):
        return self.trace.window(loc.iid, loc.pe_id, loc.index)

    def _to(self, loc: _Local, route: Route, target: int) -> Callable[[Any], None]:
        deliver = self._deliver(target, route.dst_port)
        if self.trace is not None and self._counted_edge(route.dst_pe) is None:
            deliver = self.trace.counted(loc.pe_id, route.dst_pe, deliver)
        return deliver

    @functools.cache  # noqa: B019 (one executor per process and run)
    def _counted_edge(self, pe_id: str) -> tuple[str, str] | None:
        """(feeder, ``pe_id``) when ``pe_id`` has one input port fed by one PE: its
        calls are that edge's units, counted where it runs; otherwise (None) the
        senders count the units of each edge into ``pe_id``."""
        feeds = {(r.src_pe, r.dst_port) for r in self.plan.routes if r.dst_pe == pe_id}
        return (next(iter(feeds))[0], pe_id) if len(feeds) == 1 else None

    def _deliver(self, target: int, port: str) -> Callable[[Any], None]:
        if self._proc_of[target] == self.process:
            if (target, port) in self._batches:
                return self._batch_later(self.local[target], port)
            return self._receivers[(target, port)]
        proc = self._proc_of[target]
        boxes = self._outbox.setdefault(proc, {})
        units = boxes.setdefault((target, port), [])
        latency = self.latency
        clock = time.monotonic
        pending = self._pending.setdefault(proc, [0.0, min(16, self.batch_size), clock()])
        again = 1  # the length of ``units`` at which to look at the batch again
        append = units.append

        def look() -> None:
            """A batch goes out when full, when its first unit has waited
            ``latency``, or at once when that unit came after a pause. The
            clock is read at each of a batch's first 16 units, then when the
            rate so far says the batch will be full or ``latency`` old (at
            least every 64th unit)."""
            nonlocal again
            n = sum(map(len, boxes.values())) if len(boxes) > 1 else len(units)
            now = clock()
            if n == 1:
                pending[0] = now
                if pending[1] == 1 or now - pending[2] > latency:
                    return self._flush_to(proc)
            elif n >= pending[1] or now - pending[0] > latency:
                return self._flush_to(proc)
            step = 1.0
            if n >= 16:  # look again when the batch will be full or ``latency`` old
                waited = now - pending[0]
                step = min(64.0, (pending[1] - n) / len(boxes),
                           (latency - waited) * n / waited if waited > 0 else 64.0)
            again = len(units) + max(1, int(step))

        def anew() -> None:
            nonlocal again
            again = 1

        self._looks.setdefault(proc, []).append(anew)

        held = HELD

        def send_later(data):  # per unit: as few steps as can be
            if type(data) in held:
                data = data.copy()
            append(data)
            if len(units) >= again:
                look()

        return send_later

    def _batch_later(self, loc: _Local, port: str) -> Callable[[Any], None]:
        """The units written in this process to a port of ``pe.batch_inputs``
        (map-side combining: a partial aggregate behind its feeder) go to the
        PE :data:`LOCAL_BATCH` at a time (and all before its end of stream)."""
        units: list = []
        run = self._batches[(loc.iid, port)]

        def hand_over():
            if units:
                batch = units[:]
                units.clear()
                run(batch)

        append = _as_written(units.append)

        def batch_later(data):
            append(data)
            if len(units) >= LOCAL_BATCH:
                hand_over()

        self._held.setdefault(loc.iid, []).append(hand_over)
        return batch_later

    @staticmethod
    def _run_batch(loc: _Local, port: str, units: list) -> None:
        """``process_batch`` of ``loc``'s PE with ``units`` of ``port``."""
        loc.calls += len(units)
        loc.busy = True
        try:
            loc.pe.process_batch(port, units)
        except _PASS:
            raise
        except UnitFailed as exc:
            raise _failure(loc, port, exc.unit, exc.error) from None
        except _RAISED as exc:
            raise _failure(loc, port, None, exc) from None
        loc.busy = False

    def _emitter(self, loc: _Local, port: str) -> Callable[[Any], None]:
        routes = self.plan.routes_from.get((loc.pe_id, port), ())
        if not routes:
            sink = self.results.setdefault(loc.pe_id, {}).setdefault(port, [])
            return _as_written(sink.append)
        routers = [self._router(loc, r) for r in routes]
        if len(routers) == 1:
            return routers[0]
        if self.plan.copy_fanout:
            routers[:-1] = map(_copying, routers[:-1])

        def emit(data):
            for route in routers:
                route(data)

        return emit

    def _router(self, loc: _Local, route: Route) -> Callable[[Any], None]:
        """The function that hands a unit written on ``route`` to its instance(s)."""
        targets = route.targets
        if route.rule == PAIR:
            return self._to(loc, route, targets[loc.index])
        if len(targets) == 1:
            return self._to(loc, route, targets[0])
        delivers = [self._to(loc, route, t) for t in targets]
        local = [self._proc_of[t] == self.process for t in targets]
        if any(local) and not all(local):  # units for other workers must not wait for ours
            delivers = [self._others_first(d) if here else d
                        for d, here in zip(delivers, local, strict=True)]
        if self.plan.copy_fanout and not route.rule.to_one:
            delivers[:-1] = map(_copying, delivers[:-1])  # 'all': every instance gets one
        return route.rule.router(delivers, loc.index,
                                 f"PE {route.dst_pe!r} input {route.dst_port!r}")

    def _others_first(self, deliver: Callable[[Any], None]) -> Callable[[Any], None]:
        """``deliver`` (a call of a PE in this process, fed by the same router as
        instances in other processes) when its calls are long (over
        :data:`LONG_CALL`) hands the units waiting for other workers to the
        transport first: they would otherwise wait in their batch for the call,
        and the other workers for them."""
        clock = time.monotonic
        long = False

        def others_first(data):
            nonlocal long
            if long:
                self.flush()
            start = clock()
            deliver(data)
            long = clock() - start > LONG_CALL

        return others_first

    def _receiver(self, loc: _Local, port: str, sample) -> Callable[[Any], None]:
        """The function that runs ``loc``'s PE on a unit arriving at ``port``; the
        call that tracing picks (``loc.due``) it makes again through ``sample``."""
        pe = loc.pe
        kind = type(pe).process
        if kind is IterativePE.process or kind is ConsumerPE.process:
            fn = pe._process
            out = loc.emit.get(IterativePE.OUTPUT_NAME) if kind is IterativePE.process else None

            def receive(data):
                loc.calls += 1
                if loc.calls == loc.due:
                    return sample(receive, data)
                loc.busy = True
                try:
                    result = fn(data)
                    if result is not None and out is not None:
                        out(result)  # routing it may fail too: this PE wrote it
                except _PASS:
                    raise
                except _RAISED as exc:
                    raise _failure(loc, port, data, exc) from None
                loc.busy = False

            return receive
        process = pe.process
        write = pe.write

        def receive(data):
            loc.calls += 1
            if loc.calls == loc.due:
                return sample(receive, data)
            loc.busy = True
            try:
                result = process({port: data})
                if result:
                    for name, value in result.items():
                        write(name, value)
            except _PASS:
                raise
            except _RAISED as exc:
                raise _failure(loc, port, data, exc) from None
            loc.busy = False

        return receive

    # -- running ------------------------------------------------------------------
    def preprocess(self) -> None:
        """Call ``preprocess`` of every local instance."""
        for loc in self.local.values():
            try:
                loc.pe.preprocess()
            except _RAISED as exc:
                raise _failure(loc, None, None, exc, stage="preprocess") from None

    def run_sources(self, between: Callable[[], None] | None = None, stop=None,
                    max_units: int | None = None) -> None:
        """Run the local source instances over their inputs, then finish them.

        ``between`` is called after every source call (the driver takes
        incoming messages there). Once ``stop.is_set()`` (a
        :class:`~d4p.driver.Control` or a ``threading.Event``) the sources
        end, even in the middle of an iteration that writes forever, and so
        does a source that has written ``max_units`` units: a graceful stop,
        what they wrote is still processed and every ``postprocess`` runs."""
        sources = [loc for loc in self.local.values() if loc.pe_id in self.plan.inputs]
        calls = _SourceCalls(self, stop, self._sends_elsewhere()) if sources else None
        try:
            self._run_sources(sources, between, stop, max_units, calls)
        finally:
            if calls is not None:
                calls.end()
        for loc in list(self.local.values()):  # PEs that nothing feeds
            if loc.waiting == 0 and not loc.finished:
                self._finish(loc)

    def _sends_elsewhere(self) -> bool:
        """Whether instances of this process write to other processes, in
        batches that leave after ``latency`` (Spark's: when full, ``inf``)."""
        return 0 < self.latency < math.inf and any(
            self._proc_of[target] != self.process
            for iid in self.local for target in self.plan.downstream[iid])

    def _run_sources(self, sources: list[_Local], between, stop, max_units: int | None,
                     calls: _SourceCalls | None) -> None:
        for loc in sources:
            given = self.plan.inputs[loc.pe_id]
            items = ({} for _ in range(given)) if isinstance(given, int) else given
            iterate = _source_call(loc, calls)
            unwatch = self._watch_source(loc, stop, max_units, between) \
                if stop is not None else None
            for n, item in enumerate(items):
                if stop is not None and stop.is_set():
                    break
                loc.busy = True
                try:
                    iterate(item)
                except (_SourceStopped, StopSource):
                    loc.busy = False
                    break
                except _PASS:
                    raise
                except _RAISED as exc:
                    raise _failure(loc, None, item if item else None, exc,
                                   stage=f"iteration {n}") from None
                loc.busy = False
                if between is not None:
                    between()
            if calls is not None:
                calls._wait()  # a flush begun in its last call has put its emitters back
            if unwatch is not None:
                unwatch()
            self._finish(loc)

    def _watch_source(self, loc: _Local, stop, max_units: int | None,
                      between: Callable[[], None] | None = None) -> Callable[[], None]:
        """Make source ``loc`` stoppable: once ``stop`` is set its next write
        ends the iteration (its emitters are swapped for ones that raise, so
        that writing costs nothing extra until then). With ``max_units`` its
        writes are counted; where other local instances receive units from
        other processes, ``between`` runs during the source's writes too (at
        most every :data:`BETWEEN_WRITES` seconds, not at every write), so
        that a source whose one call never returns does not starve them.

        Returns the call that ends the watch once the source's iterations
        have ended: its ``postprocess`` then writes as any PE's does."""
        wired = dict(loc.emit)
        watching = [True]

        def unwatch() -> None:
            watching[0] = False
            loc.emit.update(wired)

        def stopped() -> None:  # from any thread, or a signal handler
            if watching[0]:
                loc.emit.update(dict.fromkeys(loc.emit, _raise_stopped))
                if not watching[0]:  # the watch ended meanwhile
                    loc.emit.update(wired)

        if hasattr(stop, "on_stop"):
            stop.on_stop(stopped)
        if between is not None and not any(
                self._proc_of[u] != self.process
                for iid in self.local for u in self.plan.upstream[iid]):
            between = None  # nothing arrives from elsewhere
        if max_units is None and between is None:
            return unwatch
        state = [0, 0.0]  # units written, when ``between`` runs next
        clock = time.monotonic

        def watched(emit):
            def write(data):
                emit(data)
                if between is not None and clock() >= state[1]:
                    between()
                    state[1] = clock() + BETWEEN_WRITES
                state[0] += 1
                if max_units is not None and state[0] >= max_units:
                    if hasattr(stop, "limit_reached"):
                        stop.limit_reached()
                    raise _SourceStopped

            return write

        for port, emit in list(loc.emit.items()):
            loc.emit[port] = watched(emit)
        return unwatch

    def deliver(self, got: list[tuple[Data | EndOfStream, int]], read_s: float = 0.0,
                release: Callable[[int], None] | None = None) -> None:
        """Process messages from the transport, each with its size in bytes;
        ``release(nbytes)`` is told the bytes of each part once processed.

        Parts for an instance whose call is on the stack (it wrote, and the
        transport is waiting to send) wait until that call returns: a PE is
        never re-entered. Everything else is processed now, so a worker
        blocked on a full outbound queue keeps consuming its input."""
        arrived = self._arrived
        if read_s and self.trace is not None:
            self._trace_read([m.batches for m, _ in got if type(m) is Data], read_s)
        for message, size in got:
            if type(message) is Data:
                batches = message.batches
                total = sum(len(units) for _, _, units in batches) or 1
                left = size
                for k, (iid, port, units) in enumerate(batches):
                    share = left if k == len(batches) - 1 else size * len(units) // total
                    left -= share
                    arrived.append((iid, port, units, share))
            else:
                arrived.append((message.target, None, message.source, size))
        self._drain(release)

    def _drain(self, release: Callable[[int], None] | None) -> None:
        arrived, local = self._arrived, self.local
        kept = []
        while arrived:
            part = arrived.popleft()
            iid, port, units, size = part
            if local[iid].busy:
                kept.append(part)
                continue
            if port is None:
                self.end_of_stream(units, iid)
            else:
                self._take(iid, port, units)
            if size and release is not None:
                release(size)
        if kept:
            arrived.extendleft(reversed(kept))

    def _trace_read(self, many: list[list], read_s: float) -> None:
        total = sum(len(units) for batches in many for _, _, units in batches) or 1
        for batches in many:
            for iid, _, units in batches:
                self.trace.read(self._window(self.local[iid]), read_s * len(units) / total)

    def receive(self, batches: list[tuple[int, str, list]], read_s: float = 0.0) -> None:
        """Process a data message from the transport; ``read_s`` is the time
        the transport took to get it (for tracing)."""
        if read_s and self.trace is not None:
            self._trace_read([batches], read_s)
        for iid, port, units in batches:
            self._take(iid, port, units)

    def _take(self, iid: int, port: str, units: list) -> None:
        """Hand ``units`` arrived for local ``iid``'s ``port`` to its PE: the
        whole list to a port of ``pe.batch_inputs``, else one unit a call."""
        batch = self._batches.get((iid, port))
        if batch is not None:
            batch(units)
            return
        receive = self._receivers[(iid, port)]
        for data in units:
            receive(data)

    def end_of_stream(self, source: int, target: int) -> None:
        """Upstream instance ``source`` has finished feeding local ``target``."""
        loc = self.local[target]
        loc.waiting -= 1
        if loc.waiting == 0:
            self._finish(loc)

    def _finish(self, loc: _Local) -> None:
        for hand_over in self._held.get(loc.iid, ()):
            hand_over()
        loc.busy = True
        try:
            if loc.sample is None:
                loc.pe.postprocess()
            else:
                loc.sample.once(_postprocess, loc.pe)
        except _PASS:
            raise
        except _RAISED as exc:
            raise _failure(loc, None, None, exc, stage="postprocess") from None
        loc.busy = False
        loc.finished = True
        self._unfinished -= 1
        here = []  # other workers first: ending the instances here may run long postprocesses
        for target in self.plan.downstream[loc.iid]:
            proc = self._proc_of[target]
            if proc == self.process:
                here.append(target)
            else:
                self._flush_to(proc)
                self.transport.send(proc, EndOfStream(loc.iid, target))
        for target in here:
            self.end_of_stream(loc.iid, target)

    def flush(self) -> None:
        """Hand every non-empty batch to the transport."""
        for proc, boxes in self._outbox.items():
            if any(boxes.values()):
                self._flush_to(proc)

    def _flush_to(self, proc: int) -> None:
        box = self._outbox.get(proc)
        if not box:
            return
        batches = [(iid, port, units[:]) for (iid, port), units in box.items() if units]
        for units in box.values():
            units.clear()
        for anew in self._looks[proc]:
            anew()
        if not batches:
            return
        count = sum(len(units) for _, _, units in batches)
        start = time.perf_counter() if self.trace is not None else 0.0
        self._aside.append(0.0)
        try:
            size = self.transport.send(proc, Data(batches))
        except Exception as exc:
            failure = self._unsendable(batches)
            if failure is None:
                raise
            raise failure from exc
        finally:
            aside = self._aside.pop()
        pending = self._pending[proc]
        pending[2] = time.monotonic()
        if size:  # units per batch: about BATCH_BYTES, within 1..batch_size
            pending[1] = max(1, min(self.batch_size, BATCH_BYTES * count // size))
        else:
            pending[1] = self.batch_size
        if self.trace is None:
            return
        seconds = time.perf_counter() - start - aside
        from .tracing import pickled_size  # loaded with Trace: a lookup

        for iid, port, units in batches:
            feeders = self._feeders(iid, port)
            self.trace.sent(feeders, [1] * len(feeders), pickled_size(units),
                            seconds / len(batches))

    def absorbing(self, absorb: Callable[..., bool]) -> Callable[..., bool]:
        """``absorb`` as the transport calls it while a send waits for room:
        the time it takes (reading, and the PEs it runs, which count their
        own) is not the send's, and not the sending PE's own time either."""
        def timed(*args: Any) -> bool:
            if self.trace is None or not self._aside:
                return absorb(*args)
            trace, start = self.trace, time.perf_counter()
            sent = trace.sent_s
            try:
                return absorb(*args)
            finally:
                took = time.perf_counter() - start
                self._aside[-1] += took
                trace.sent_s = sent + took  # away from the sending PE's call, counted once

        return timed

    def _unsendable(self, batches: list[tuple[int, str, list]]) -> PEUsageError | None:
        """After a transport failed to send ``batches``: the error naming the PE
        that wrote a unit pickle cannot copy, or ``None`` when every unit
        pickles (the transport failed otherwise)."""
        local = {loc.pe_id for loc in self.local.values()}
        for iid, port, units in batches:
            dst = self.plan.instances[iid].pe_id
            writers = [(r.src_pe, r.src_port) for r in self.plan.routes
                       if r.dst_pe == dst and r.dst_port == port and r.src_pe in local]
            failure = _unpicklable(writers, units, f"PE {dst!r} in another process")
            if failure is not None:
                return failure
        return None

    def unloadable(self, exc: Exception) -> PEUsageError:
        """The error for data from another process that did not load here
        (``exc``): it names the PEs of other processes that write to PEs of
        this one (the message does not say which wrote it)."""
        from .shipping import LOAD_FIX

        here = {loc.pe_id for loc in self.local.values()}
        away = {i.pe_id for i in self.plan.instances if i.process != self.process}
        writers = sorted({(r.src_pe, r.src_port) for r in self.plan.routes
                          if r.dst_pe in here and r.src_pe in away})
        return _data_error(writers, f"that cannot be loaded in another process ({exc})",
                           LOAD_FIX)

    def unsendable_results(self) -> PEUsageError | None:
        """For a mapping whose sending of :attr:`results` to another process
        failed: the error naming the PE and output whose result pickle cannot
        copy, or ``None`` when they all pickle."""
        for pe, ports in self.results.items():
            for port, values in ports.items():
                failure = _unpicklable([(pe, port)], values, "the process that started the run")
                if failure is not None:
                    return failure
        return None

    @functools.cache  # noqa: B019 (one executor per process and run)
    def _feeders(self, iid: int, port: str) -> list[tuple[str, str]]:
        """(source PE, destination PE) of local PEs that feed input ``port`` of ``iid``."""
        dst = self.plan.instances[iid].pe_id
        local = {loc.pe_id for loc in self.local.values()}
        return [(r.src_pe, dst) for r in self.plan.routes
                if r.dst_pe == dst and r.dst_port == port and r.src_pe in local] or [("?", dst)]

    def take_events(self, final: bool = False) -> list[dict]:
        """Timing events collected since the last call (tracing runs only)."""
        return self.trace.take(final) if self.trace is not None else []

    @property
    def waiting(self) -> int:
        """Parts of received messages not processed yet (their instance was busy)."""
        return len(self._arrived)

    @property
    def done(self) -> bool:
        """True when every local instance has finished."""
        return self._unfinished == 0

    def counts(self) -> dict[str, int]:
        """Data units (or source iterations) processed so far, per PE."""
        out: dict[str, int] = {}
        for loc in self.local.values():
            out[loc.pe_id] = out.get(loc.pe_id, 0) + loc.calls
        return out


def _as_written(append: Callable[[Any], None]) -> Callable[[Any], None]:
    """``append`` of a unit as it is when written (:data:`HELD`)."""
    def take(data):
        append(data.copy() if type(data) in HELD else data)

    return take


def _copying(deliver: Callable[[Any], None]) -> Callable[[Any], None]:
    """``deliver`` given a copy of each unit (:attr:`WorkflowGraph.copy_fanout`)."""
    def deliver_copy(data):
        deliver(copy.deepcopy(data))

    return deliver_copy


def _raise_stopped(data: Any) -> None:
    raise _SourceStopped


def _source_call(loc: _Local, calls: _SourceCalls | None = None) -> Callable[[Any], None]:
    process, write = loc.pe.process, loc.pe.write
    sample = loc.sample.call if loc.sample is not None else None
    if calls is not None:
        process = calls.around(loc, process)

    def iterate(item):
        loc.calls += 1
        if loc.calls == loc.due:
            return sample(iterate, item)
        result = process(item)
        if result:
            for name, value in result.items():
                write(name, value)

    return iterate


KICK = getattr(signal, "SIGRTMAX", None)
"""The signal that a graceful stop sends the executor's thread, to end a
source's call that waits for data (Linux: a real-time signal, which nothing
else uses); ``None`` (not Linux): such a source stops at its next write."""


KICK_AFTER = 0.25
"""Seconds a stopped source has to reach its next write (where it stops
cleanly, between two units) before it is kicked."""

KICK_AGAIN = 0.05
"""Seconds between two looks for the source's own code, to kick it."""


class _SourceCalls:
    """The sources' calls, seen from outside the executor's thread, for a
    source that waits for data inside one call (the next line of a pipe, a
    packet of a socket):

    * ``flush``: what it wrote leaves while it waits. Without that, the last
      units of a burst stay in their batch until it writes again, which may
      be hours later. A helper thread looks every ``latency`` seconds; when
      a batch has waited longer, it closes the gates (the source's writes,
      and the end of its call, wait for it), checks that the executor's
      thread runs the source's own code, not d4p's (no write between it and
      the call), and flushes. Writes cost nothing extra.
    * ``stop``: a graceful stop ends the call soon, not at its next write
      (never, on a quiet stream): if the source has not reached a write
      :data:`KICK_AFTER` seconds later, it sends the executor's thread
      :data:`KICK`, whose handler raises ``_SourceStopped`` there when it
      runs the source's own code (the stop makes a write raise it anyway),
      again every :data:`KICK_AGAIN` seconds until the sources have ended.
    """

    def __init__(self, executor: Executor, stop, flush: bool) -> None:
        self.executor = executor
        self.stop = stop
        self.thread = threading.get_ident()  # the one that runs the executor
        self.calling: list[_Local] = []  # the source whose call runs, if one does
        self.call_code = None
        self.lock = threading.Lock()  # held by the helper while the gates are closed
        self.closed = False
        self.error: BaseException | None = None
        self.ended = threading.Event()
        self.armed = False
        self.arming = threading.Lock()
        if flush:
            threading.Thread(target=self._flush_when_idle, daemon=True,
                             name="d4p-idle-flush").start()
        if KICK is not None and hasattr(stop, "on_stop") \
                and threading.current_thread() is threading.main_thread():
            global _running_sources
            _running_sources = self
            signal.signal(KICK, _on_kick)  # left in place: it does nothing between runs
            self.armed = True
            stop.on_stop(self._kick)

    def around(self, loc: _Local, process: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``process`` of source ``loc``, waiting at its end for a flush under way."""
        calling = self.calling

        def call(item):
            calling.append(loc)
            try:
                return process(item)
            finally:
                calling.pop()
                if self.closed:
                    self._wait()

        self.call_code = call.__code__
        return call

    def _own_code(self, frame) -> bool:
        """Whether ``frame`` (of the executor's thread) is a source's own
        code: the frames from it out to the source's call hold no write."""
        if not self.calling:
            return False
        while frame is not None:
            code = frame.f_code
            if code is self.call_code:
                return True
            if code is _WRITE or code.co_filename == __file__:
                return False
            frame = frame.f_back
        return False

    # -- the stop --------------------------------------------------------------------
    def _kick(self) -> None:
        """On a stop: kick the executor's thread until the sources have ended.
        From a thread: a kick sent from the stop's own signal handler would
        land in that handler, not in the source's code."""
        threading.Thread(target=self._kick_until_ended, daemon=True, name="d4p-stop-kick").start()

    def _kick_until_ended(self) -> None:
        """Kick only while the source's own code runs: other code (d4p's, the
        PEs a write reaches on simple) is not disturbed by interrupted calls;
        and only a source that did not reach a write within :data:`KICK_AFTER`
        (one that writes stops there, between two units)."""
        if self.ended.wait(KICK_AFTER):
            return
        while True:
            with self.arming:
                if not self.armed:
                    return
                if self._own_code(sys._current_frames().get(self.thread)):
                    signal.pthread_kill(self.thread, KICK)
            if self.ended.wait(KICK_AGAIN):
                return

    def _kicked(self, signum, frame) -> None:
        if self.armed and self._own_code(frame):
            raise _SourceStopped

    # -- the flush -------------------------------------------------------------------
    def _wait(self) -> None:
        with self.lock:
            if self.error is not None:
                raise self.error

    def _gate(self, emit: Callable[[Any], None]) -> Callable[[Any], None]:
        def gate(data):
            self._wait()
            emit(data)

        return gate

    def _flush_when_idle(self) -> None:
        executor, latency = self.executor, self.executor.latency
        while not self.ended.wait(latency):
            due = time.monotonic() - latency
            if not any(any(boxes.values()) and executor._pending[proc][0] < due
                       for proc, boxes in list(executor._outbox.items())):
                continue
            with self.lock:
                if not self.calling:
                    continue
                loc = self.calling[-1]
                emits = dict(loc.emit)
                gates = {port: self._gate(emit) for port, emit in emits.items()}
                self.closed = True
                loc.emit.update(gates)
                try:
                    if self._own_code(sys._current_frames().get(self.thread)):
                        executor.flush()
                except BaseException as exc:  # the gates stay closed: the main thread raises it
                    self.error = exc
                    return
                for port, gate in gates.items():
                    if loc.emit.get(port) is gate:
                        loc.emit[port] = emits[port]
                if self.stop is not None and self.stop.is_set():  # it was stopped meanwhile
                    loc.emit.update(dict.fromkeys(loc.emit, _raise_stopped))
                self.closed = False

    def end(self) -> None:
        """In the executor's thread, once the sources have ended."""
        with self.arming:
            self.armed = False
        self.ended.set()
        with self.lock:  # a flush under way is over
            pass
        global _running_sources
        if _running_sources is self:
            _running_sources = None


_WRITE = GenericPE.write.__code__

_running_sources: _SourceCalls | None = None
"""The sources that the main thread runs, which :data:`KICK` stops."""


def _on_kick(signum, frame) -> None:
    calls = _running_sources
    if calls is not None:
        calls._kicked(signum, frame)


def _postprocess(pe: GenericPE) -> None:
    pe.postprocess()


def _unpicklable(writers: list[tuple[str, str]], units: list, to: str) -> PEUsageError | None:
    """The error for the first of ``units`` that pickle cannot copy, or
    ``None``. ``writers``: the (PE, output) pairs whose units ``units`` holds
    (several when PEs of this process write to the same input: a batch does
    not say which wrote which unit, so the error names them all)."""
    import pickle

    from .shipping import DATA_FIX

    for unit in units:
        try:
            pickle.dumps(unit, protocol=5)
        except Exception as err:
            return _data_error(writers, f"that cannot be sent to {to} ({type(err).__name__}: "
                               f"{err}): {short_repr(unit)}", DATA_FIX, data=short_repr(unit))
    return None


def unloadable_results(plan: Plan, exc: Exception, processes=None) -> PEUsageError:
    """The error for results of processes ``processes`` (default all) that
    did not load in the process that started the run (``exc``): it names the
    PEs and outputs they come from."""
    from .shipping import LOAD_FIX

    there = {i.pe_id for i in plan.instances if processes is None or i.process in processes}
    writers = [(pe, port) for pe, ports in plan.unconnected.items() if pe in there
               for port in ports]
    return _data_error(writers, "that cannot be loaded in the process that started the run "
                       f"({exc})", LOAD_FIX)


def _data_error(writers: list[tuple[str, str]], what: str, fix: str,
                data: str | None = None) -> PEUsageError:
    """``PE 'A' or PE 'B' wrote data on output 'p' WHAT; FIX`` for the (PE,
    output) ``writers`` that may have written it, naming the PE and port in
    the error's fields when there is one."""
    pes = sorted({pe for pe, _ in writers})
    ports = sorted({port for _, port in writers})
    if not writers:
        who = "a PE wrote data"
    elif len(ports) == 1:
        who = f"{' or '.join(f'PE {pe!r}' for pe in pes)} wrote data on output {ports[0]!r}"
    else:
        who = " or ".join(f"PE {pe!r} (output {port!r})" for pe, port in sorted(writers)) \
            + " wrote data"
    return PEUsageError(f"{who} {what}; {fix}", pe=pes[0] if len(pes) == 1 else None,
                        port=ports[0] if len(ports) == 1 else None, data=data)


def _failure(loc: _Local, port: str | None, data: Any, exc: BaseException,
             stage: str | None = None) -> WorkflowFailed:
    """What the run raises when ``loc``'s PE raised ``exc``: a
    :class:`PEUsageError` for a :class:`UsageError` (the PE's message, naming
    the PE), else a :class:`WorkflowFailed` saying where, with which data."""
    import traceback  # here: only a failure pays for it

    shown = short_repr(data) if data is not None else None
    if isinstance(exc, UsageError):
        named = str(exc).startswith(f"PE {loc.pe_id!r} ")  # e.g. wrote to an unknown output
        return PEUsageError(str(exc) if named else f"PE {loc.pe_id!r}: {exc}", pe=loc.pe_id,
                            instance=loc.index, port=port, data=shown,
                            traceback="".join(traceback.format_exception(exc)))
    where = f"on input {port!r}" if port is not None else (f"in {stage}" if stage else "")
    text = f"PE {loc.pe_id!r} (instance {loc.index}) failed {where}".rstrip()
    if shown is not None:
        text += f" with data {shown}"
    if isinstance(exc, StopSource):
        text += (": it raised d4p.StopSource, but only a source (a PE without inputs) "
                 "can end itself; this PE ends when its upstream PEs have ended")
    else:
        text += f": {type(exc).__name__}: {exc}"
    if isinstance(exc, SystemExit):
        text += (" (it called sys.exit(); raise an exception to fail the run, or d4p.StopSource "
                 "in a source to end it)")
    return WorkflowFailed(text, pe=loc.pe_id, instance=loc.index, port=port, data=shown,
                          traceback="".join(traceback.format_exception(exc)))
