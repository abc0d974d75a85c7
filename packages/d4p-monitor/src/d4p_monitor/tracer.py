"""The tracer: receives a run's events and writes them to a store in the background.

The run never waits for the store: :meth:`Tracer.record` only appends to a
bounded buffer, and one writer thread opens the store, writes the run record,
the events in large batches and the run's end. When the store cannot be
reached the writer retries; when the buffer is full new events are dropped
and counted. At the end of the run the writer gets ``finish_timeout`` seconds
to empty the buffer; whatever could not be written is reported in a
:class:`MonitorWarning` that names the run, the store, the reason and the
data lost. Monitoring never changes a run's results.

Used by ``d4p.run(..., monitor=URI)`` through the ``d4p_make_tracer`` hook,
or directly::

    tracer = Tracer(run_info, "runs.sqlite")
    tracer.run_started(run_info)
    tracer.record([{"kind": "instance", "pe": "square1", ...}])
    tracer.run_finished(run_info, seconds=1.5, error=None)
"""

from __future__ import annotations

import collections
import threading
import time
import warnings
from typing import Any

from . import unfinished
from .store import Store, clean_event, describe, open_store, parse_uri, run_record, scrub


class MonitorWarning(UserWarning):
    """Some monitoring data of a run could not be stored."""


class Tracer:
    """Records one run into ``store`` (a :class:`~d4p_monitor.store.Store` or a
    URI as ``d4p run --monitor`` takes; ``None``/``True``: the default store).

    ``max_buffered`` bounds the events held in memory while the store is slow
    or away; ``timeout`` bounds one store operation; ``finish_timeout`` bounds
    how long :meth:`run_finished` waits for the buffer to empty.
    """

    def __init__(self, run: Any = None, store: Store | str | None = None, *,
                 max_buffered: int = 50_000, batch: int = 5_000, timeout: float = 2.0,
                 finish_timeout: float = 10.0) -> None:
        if store is None and run is not None:
            store = getattr(run, "monitor", None)
        if not isinstance(store, Store):
            parse_uri(store)  # a bad URI is the user's mistake: say so before the run
        self._target = store
        self.store_uri = store.uri if isinstance(store, Store) else describe(store)
        self.max_buffered = max_buffered
        self.batch = batch
        self.timeout = timeout
        self.finish_timeout = finish_timeout
        self.run_id: str | None = str(run.id) if run is not None else None
        self._workflow = getattr(run, "workflow", "")
        self._cond = threading.Condition()
        self._ops: collections.deque[tuple[str, Any]] = collections.deque()
        self._buffered = 0
        self._stopping = False
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()  # the run's end is written, or given up
        self._placed: Any = None  # the plan the run record was written with
        self._failure: str | None = None
        self._dropped: collections.Counter[str] = collections.Counter()
        self._dropped_pes: set[str] = set()
        self.lost: dict[str, Any] = {}
        """What could not be stored, once the run has finished: counts of
        events per kind, ``pes``, ``run record`` / ``run end`` flags, ``reason``."""
        self.written = collections.Counter()
        """Events written per kind (and ``runs`` for run records)."""

    # -- the tracer interface --------------------------------------------------------
    def run_started(self, run: Any) -> None:
        self.run_id = str(run.id)
        self._workflow = run.workflow
        self._push("start", run_record(run))
        self._placed = run.plan
        self._thread = threading.Thread(target=self._work, name=f"d4p-monitor-{run.id}",
                                        daemon=True)
        self._thread.start()

    def record(self, events: list[dict[str, Any]]) -> None:
        cleaned = [e for e in map(clean_event, events) if e is not None]
        if not cleaned:
            return
        with self._cond:
            room = self.max_buffered - self._buffered
            if self._stopping:
                room = 0
            if room < len(cleaned):
                for e in cleaned[max(room, 0):]:
                    self._dropped[e["kind"]] += 1
                    self._dropped_pes.add(e.get("pe") or e.get("src_pe") or "")
                cleaned = cleaned[:max(room, 0)]
            if cleaned:
                self._ops.append(("events", cleaned))
                self._buffered += len(cleaned)
                self._cond.notify()

    def run_finished(self, run: Any, seconds: float, error: BaseException | None) -> None:
        if error is None and getattr(run, "stopped", None):
            status, text = "stopped", f"stopped: {run.stopped}"  # a graceful stop
        elif error is None:
            status, text = "ok", None
        elif isinstance(error, KeyboardInterrupt):
            status, text = "interrupted", "interrupted"
        else:
            status = "failed"
            first = str(error.args[0]) if error.args else ""
            text = f"{type(error).__name__}: {first}".rstrip(": ")
        finish = {"finished": time.time(), "seconds": float(seconds), "status": status,
                  "error": text}
        with self._cond:
            if self._placed is not None and run.plan is not self._placed:
                self._ops.append(("start", run_record(run)))  # as the mapping placed it
            if self._dropped:
                finish["lost"] = self._describe(self._dropped, self._dropped_pes,
                                                "the buffer was full")
                if status == "ok":
                    finish["status"] = unfinished.STATUS
            self._ops.append(("finish", finish))
            self._stopping = True
            self._deadline = time.monotonic() + self.finish_timeout
            self._cond.notify()
        if self._thread is not None:
            # wait until the run's end is written or the writer gave up, not
            # for the store to close (a SQLite checkpoint takes tens of ms)
            self._ended.wait(self.finish_timeout + self.timeout + 1)
        self._report()

    # -- the writer thread ----------------------------------------------------------
    def _push(self, op: str, value: Any) -> None:
        with self._cond:
            self._ops.append((op, value))
            self._cond.notify()

    def _work(self) -> None:
        store: Store | None = self._target if isinstance(self._target, Store) else None
        backoff, failures = 0.05, 0
        beat = time.monotonic()
        while True:
            with self._cond:
                while not self._ops and not self._stopping:
                    if not self._cond.wait(max(beat + unfinished.HEARTBEAT_S - time.monotonic(),
                                               0.0)):
                        break
                if not self._stopping and time.monotonic() >= beat + unfinished.HEARTBEAT_S:
                    beat = time.monotonic()
                    if all(op != "touch" for op, _ in self._ops):
                        self._ops.append(("touch", time.time()))  # alive (see unfinished)
                if not self._ops:
                    break
                op, value = self._ops[0]
                taken = 1
                if op == "events":
                    value = list(value)
                    while (taken < len(self._ops) and self._ops[taken][0] == "events"
                           and len(value) < self.batch):
                        value += self._ops[taken][1]
                        taken += 1
            try:
                if store is None:
                    store = open_store(self._target, timeout=self.timeout)
                self._apply(store, op, value)
            except Exception as exc:  # any store failure: keep the data, retry, report
                self._failure = f"{type(exc).__name__}: {exc}"
                if isinstance(self._target, str):
                    self._failure = scrub(self._failure, self._target)
                failures += 1
                with self._cond:
                    # the run has ended: one more try after the store failed, no waiting
                    # out the timeout for a store known to be gone
                    if self._stopping and (time.monotonic() >= self._deadline or failures > 1):
                        self._give_up()
                        break
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff, failures = 0.05, 0
            with self._cond:
                for _ in range(taken):
                    done_op, done = self._ops.popleft()
                    if done_op == "events":
                        self._buffered -= len(done)
                    elif done_op == "finish":
                        self._ended.set()
                if self._stopping and time.monotonic() >= self._deadline and self._ops:
                    self._failure = self._failure or (
                        f"the store was too slow: {self.finish_timeout:g} s after the run "
                        "ended data was still waiting")
                    self._give_up()
                    break
        if store is not None and store is not self._target:
            try:
                store.close()
            except Exception:  # pragma: no cover - closing a dead connection
                pass

    def _apply(self, store: Store, op: str, value: Any) -> None:
        if op == "start":
            store.start_run(value)
            self.written["runs"] += 1
        elif op == "events":
            store.add_events(self.run_id, value)
            for e in value:
                self.written[e["kind"]] += 1
        elif op == "finish":
            store.finish_run(self.run_id, **value)
            self.written["finished"] += 1
        elif op == "touch":
            store.touch(self.run_id, value)

    def _give_up(self) -> None:
        """Count everything still buffered as lost (called with the lock held)."""
        lost: collections.Counter[str] = collections.Counter(self._dropped)
        pes = set(self._dropped_pes)
        start = finish = None
        for op, value in self._ops:
            if op == "events":
                for e in value:
                    lost[e["kind"]] += 1
                    pes.add(e.get("pe") or e.get("src_pe") or "")
            elif op != "touch":
                lost[f"run {op}"] += 1
                if op == "start":
                    start = value
                elif op == "finish":
                    finish = value
        self._ops.clear()
        self._buffered = 0
        # a start written again as the mapping placed the run, lost: the record is there
        self.lost = {"events": {k: v for k, v in lost.items() if not k.startswith("run ")},
                     "run start": bool(lost["run start"]) and not self.written["runs"],
                     "run end": bool(lost["run finish"]),
                     "pes": sorted(p for p in pes if p), "reason": self._failure}
        if finish is not None and not isinstance(self._target, Store):
            events = self.lost["events"]
            text = self._describe(events, pes, f"the store was lost ({self._failure})") \
                if events else f"the run's end was not recorded: {self._failure}"
            unfinished.note(self._target, self.run_id, start, {**finish, "lost": text})
        self._ended.set()

    def _report(self) -> None:
        with self._cond:
            if not self.lost and self._ops:  # the writer thread did not finish in time
                self._failure = self._failure or "the store did not answer in time"
                self._give_up()
            if not self.lost and self._dropped:
                self.lost = {"events": dict(self._dropped), "run start": False,
                             "run end": False, "pes": sorted(p for p in self._dropped_pes if p),
                             "reason": f"more than {self.max_buffered} events were waiting"}
        if self.lost:
            warnings.warn(self.warning_text(), MonitorWarning, stacklevel=3)

    @property
    def incomplete(self) -> str | None:
        """One line on what was not recorded (``None`` when nothing was lost):
        what ``d4p run --monitor`` ends with instead of "recorded as run …"."""
        if not self.lost:
            return None
        total = sum(self.lost.get("events", {}).values())
        events = f"{total} event{'s' if total != 1 else ''}"
        if self.lost.get("run start"):
            return f"monitoring lost run {self.run_id} and {events}: nothing was recorded"
        return f"monitoring lost {events}; the run record is incomplete"

    def warning_text(self) -> str:
        """What the warning says about the data lost: first what it means for
        the run record, then what exactly was lost and why."""
        lost = self.lost
        counts = lost.get("events", {})
        total = sum(counts.values())
        events = f"{total} event{'s' if total != 1 else ''}"
        if lost.get("run start"):
            head = (f"monitoring lost run {self.run_id} ({self._workflow}): its record and "
                    f"{events} were not stored")
        else:
            head = (f"monitoring lost {events} of run {self.run_id} ({self._workflow}); the run "
                    "record is incomplete")
        if lost.get("run end") and not isinstance(self._target, Store):
            head += f" (it is marked {unfinished.STATUS!r} when the store is next reached)"
        parts = []
        if lost.get("run start"):
            parts.append("the run record")
        for kind in ("instance", "edge", "error"):
            if counts.get(kind):
                parts.append(f"{counts[kind]} {kind} event{'s' if counts[kind] != 1 else ''}")
        if lost.get("pes"):
            parts[-1 if parts else 0:] = [
                (parts[-1] + " " if parts else "") + f"(PEs {', '.join(lost['pes'])})"]
        if lost.get("run end"):
            parts.append("the run's end (status and duration)")
        what = "; ".join(parts) or "nothing"
        return (f"{head}. Lost: {what}. Store {self.store_uri}: {lost.get('reason')}. "
                "The workflow's results are not affected; check that the store is reachable "
                "(d4p monitor runs --store URI).")

    @staticmethod
    def _describe(counts, pes, reason: str) -> str:
        text = ", ".join(f"{n} {kind} events" for kind, n in sorted(counts.items()))
        if pes:
            text += f" of PEs {', '.join(sorted(p for p in pes if p))}"
        return f"{text} not recorded: {reason}"
