"""The SQLite store: one file, no set-up; the default.

WAL journaling and a busy timeout let several runs (several processes) write
the same file at once while the web service reads it. Every query uses
parameters, never text built from request values. One connection per thread.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .store import (
    FIELDS,
    LIST_FIELDS,
    RUN_FIELDS,
    Store,
    StoreError,
    after_prefix,
    check_kind,
    check_text,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, workflow TEXT, mapping TEXT, processes INTEGER,
    started REAL, finished REAL, seconds REAL, status TEXT, error TEXT, lost TEXT,
    host TEXT, pid INTEGER, seen REAL, assignment TEXT, graph TEXT);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started DESC);
CREATE INDEX IF NOT EXISTS runs_workflow ON runs (workflow, started DESC);
CREATE TABLE IF NOT EXISTS instance_events (
    run_id TEXT NOT NULL, pe TEXT, instance INTEGER, process INTEGER, t0 REAL, t1 REAL,
    calls INTEGER, process_s REAL, read_s REAL, write_s REAL);
CREATE INDEX IF NOT EXISTS instance_events_run ON instance_events (run_id, t1);
CREATE TABLE IF NOT EXISTS edge_events (
    run_id TEXT NOT NULL, src_pe TEXT, dst_pe TEXT, units INTEGER, bytes INTEGER,
    send_s REAL, t1 REAL);
CREATE INDEX IF NOT EXISTS edge_events_run ON edge_events (run_id, t1);
CREATE TABLE IF NOT EXISTS error_events (
    run_id TEXT NOT NULL, pe TEXT, instance INTEGER, message TEXT, t REAL);
CREATE INDEX IF NOT EXISTS error_events_run ON error_events (run_id, t);
"""

_TABLES = {"instance": "instance_events", "edge": "edge_events", "error": "error_events"}
_ORDER = {"instance": "t1", "edge": "t1", "error": "t"}
_ADDED = {"host": "TEXT", "pid": "INTEGER", "seen": "REAL"}
"""Columns of ``runs`` newer than the first stores: added to files that lack them."""


_BUSY_S = 30.0
"""How long a statement waits for another connection's lock before failing."""


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting for other connections doing the same.

    SQLite answers "database is locked" at once, without its busy timeout, to
    a connection that changes the journal mode while another one opens the new
    file (two runs, or a run and the web service, starting together): retry.
    """
    deadline = time.monotonic() + _BUSY_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SQLiteStore(Store):
    """Runs and events in the SQLite file ``path`` (created with its folder)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.uri = str(self.path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=_BUSY_S, check_same_thread=False)
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            _add_columns(conn)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the monitoring store {self.path}: {exc}") from exc
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def _write(self, sql: str, rows: list[tuple] | tuple) -> None:
        conn = self._connect()
        try:
            with conn:
                if isinstance(rows, list):
                    conn.executemany(sql, rows)
                else:
                    conn.execute(sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the monitoring store {self.path}: {exc}") from exc

    def _read(self, sql: str, params: tuple) -> list[sqlite3.Row]:
        conn = self._connect()
        try:
            cur = conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the monitoring store {self.path}: {exc}") from exc

    def start_run(self, record: dict[str, Any]) -> None:
        values = dict(record)
        values["assignment"] = json.dumps(values.get("assignment") or [])
        values["graph"] = json.dumps(values.get("graph") or {})
        self._write(f"INSERT OR REPLACE INTO runs ({', '.join(RUN_FIELDS)}) "
                    f"VALUES ({', '.join('?' * len(RUN_FIELDS))})",
                    tuple(values.get(n) for n in RUN_FIELDS))

    def add_events(self, run_id: str, events: list[dict[str, Any]]) -> None:
        by_kind: dict[str, list[tuple]] = {}
        for e in events:
            by_kind.setdefault(e["kind"], []).append(
                (run_id, *(e[name] for name in FIELDS[e["kind"]])))
        for kind, rows in by_kind.items():
            names = ("run_id", *FIELDS[kind])
            self._write(f"INSERT INTO {_TABLES[kind]} ({', '.join(names)}) "
                        f"VALUES ({', '.join('?' * len(names))})", rows)

    def finish_run(self, run_id: str, *, finished: float, seconds: float | None, status: str,
                   error: str | None = None, lost: str | None = None) -> None:
        self._write("UPDATE runs SET finished=?, seconds=?, status=?, error=?, lost=? "
                    "WHERE id=?", (finished, seconds, status, error, lost, run_id))

    def touch(self, run_id: str, seen: float) -> None:
        self._write("UPDATE runs SET seen=?, status='running', error=NULL "
                    "WHERE id=? AND status IN ('running', 'aborted')", (seen, run_id))

    def runs(self, *, limit: int = 100, workflow: str | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
        where, params = [], []
        if workflow is not None:
            where.append("workflow = ?")
            params.append(check_text("workflow", workflow))
        if status is not None:
            where.append("status = ?")
            params.append(check_text("status", status))
        sql = f"SELECT {', '.join(LIST_FIELDS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started DESC LIMIT ?"
        return self._read(sql, (*params, int(limit)))

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM runs WHERE id = ?", (check_text("run id", run_id),))
        if not rows:
            return None
        record = rows[0]
        record["assignment"] = json.loads(record["assignment"] or "[]")
        record["graph"] = json.loads(record["graph"] or "{}")
        return record

    def ids(self, prefix: str, *, limit: int = 10) -> list[str]:
        prefix = check_text("run id", prefix)
        if not prefix:
            return []
        rows = self._read("SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                          (prefix, after_prefix(prefix), int(limit)))
        return [r["id"] for r in rows]

    def events(self, run_id: str, kind: str) -> list[dict[str, Any]]:
        check_kind(kind)
        rows = self._read(f"SELECT {', '.join(FIELDS[kind])} FROM {_TABLES[kind]} "
                          f"WHERE run_id = ? ORDER BY {_ORDER[kind]}, rowid",
                          (check_text("run id", run_id),))
        for row in rows:
            row["kind"] = kind
        return rows

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


def _add_columns(conn: sqlite3.Connection) -> None:
    """Add the columns of :data:`_ADDED` that a store made by an older d4p lacks."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, kind in _ADDED.items():
        if name not in have:
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it
                conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
