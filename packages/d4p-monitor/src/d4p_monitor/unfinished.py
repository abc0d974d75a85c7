"""Runs whose record could not be completed: noted on this machine, marked
``incomplete`` in their store the next time it is reached.

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
import uuid
from pathlib import Path
from typing import Any

STATUS = "incomplete"
"""The status of a run whose tracer lost data it could not write later."""


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
