"""Runs whose record could not be completed: noted on this machine, marked
``incomplete`` in their store the next time it is reached; and runs whose
process died without recording its end, marked ``aborted`` when read.

When a tracer loses its store and gives up, the run's end (and, if the store
was never reached, its record) is written to a small JSON note in
``unfinished/`` beside the default SQLite store. :func:`open_store` hands
every store it opens to :func:`complete`, which writes the noted runs with
status ``incomplete`` and what was lost, and deletes their notes. A note
names its store by a hash of the URI: no password is written to disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

STATUS = "incomplete"
"""The status of a run whose tracer lost data it could not write later."""

ABORTED = "aborted"
"""The status of a run whose process ended without recording the run's end
(killed with SIGKILL, out of memory, the machine lost)."""

HEARTBEAT_S = 10.0
"""How often a running run's tracer notes in its store that it is alive."""

SILENT_S = 60.0
"""A running run not heard of for this long is taken for aborted."""


def folder() -> Path:
    from .store import default_location

    return default_location().parent / "unfinished"


def store_key(uri: Any) -> str:
    """The key of the store ``uri`` in notes (a hash: passwords never reach disk)."""
    from .store import parse_uri

    kind, target = parse_uri(uri)
    if kind == "sqlite":
        target = str(Path(target).expanduser().resolve())
    return hashlib.sha256(target.encode()).hexdigest()[:32]


def note(uri: Any, run_id: str, start: dict[str, Any] | None, finish: dict[str, Any]) -> None:
    """Note run ``run_id`` of store ``uri`` as unfinished: ``start`` is its
    record when that was never written, ``finish`` its end (status is set to
    ``incomplete``). Best effort: a note that cannot be written is skipped."""
    record = {"store": store_key(uri), "run": run_id, "start": start,
              "finish": {**finish, "status": STATUS}}
    where = folder()
    tmp = where / f".{uuid.uuid4().hex}.tmp"
    try:
        where.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record))
        tmp.replace(where / f"{record['store']}-{run_id}.json")
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def complete(store: Any, uri: Any) -> int:
    """Write the runs noted for the store ``uri`` into ``store`` as
    ``incomplete``; returns how many. A store that fails keeps the notes."""
    where = folder()
    if not where.is_dir():
        return 0
    from .store import StoreError

    done = 0
    for path in sorted(where.glob(f"{store_key(uri)}-*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        try:
            if record.get("start"):
                store.start_run({**record["start"], "status": STATUS})
            store.finish_run(record["run"], **record["finish"])
        except StoreError:
            return done
        with contextlib.suppress(OSError):
            path.unlink()
        done += 1
    return done


def abandoned(record: dict[str, Any], now: float | None = None) -> str | None:
    """Why the run of ``record`` cannot be running any more although its
    status says so (its process on this machine is gone, or it has not been
    heard of for :data:`SILENT_S`); ``None`` when it may be running."""
    if record.get("status") != "running":
        return None
    host, pid = record.get("host"), record.get("pid")
    if pid and host == socket.gethostname() and not _alive(int(pid)):
        return f"its process {pid} on {host} ended without recording the run's end (killed?)"
    seen = record.get("seen") or record.get("started") or 0.0
    now = time.time() if now is None else now
    if now - seen > SILENT_S:
        where = f" (process {pid} on {host})" if pid else ""
        return (f"not heard of since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(seen))}"
                f"{where}: it ended without recording the run's end")
    return None


def settle(store: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` (read from ``store``) with the runs that are :func:`abandoned`
    marked ``aborted`` in the store and in the list (their end unknown:
    ``seconds`` is ``None``). A store that cannot be written now is written
    another time."""
    from .store import StoreError

    for record in records:
        why = abandoned(record)
        if why:
            end = {"finished": record.get("seen") or record["started"], "seconds": None,
                   "status": ABORTED, "error": why}
            record.update(end)
            with contextlib.suppress(StoreError):
                store.finish_run(record["id"], **end)
    return records


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True
