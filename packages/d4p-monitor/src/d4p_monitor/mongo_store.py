"""The MongoDB store, for monitoring shared by several users or machines.

Collections ``runs`` (one document per run) and ``events`` (one per event,
with its ``run`` id and ``kind``). Indexes serve the pages' queries: runs by
id (unique) and by start time (optionally per workflow); events by run, kind
and time. Filters are built here from plain strings, so a request value such
as ``{"$ne": null}`` is only ever compared as text.
"""

from __future__ import annotations

import re
from typing import Any

import pymongo
from pymongo.errors import PyMongoError

from .store import (
    FIELDS,
    LIST_FIELDS,
    Store,
    StoreError,
    after_prefix,
    check_kind,
    check_text,
    redact,
    scrub,
)

_ORDER = {"instance": "t1", "edge": "t1", "error": "t"}


class MongoStore(Store):
    """Runs and events in the database named by ``uri`` (``d4p`` by default).
    ``timeout`` (seconds) bounds server selection and every socket operation."""

    def __init__(self, uri: str, *, timeout: float = 5.0) -> None:
        self.uri = redact(uri)  # what is shown; the password stays in the client only
        self._secret_uri = uri
        ms = max(1, int(timeout * 1000))
        try:
            self._client = pymongo.MongoClient(
                uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms,
                appname="d4p-monitor")
            self._db = self._client.get_default_database(default="d4p")
        except (PyMongoError, ValueError) as exc:
            raise StoreError(f"cannot use the monitoring store {self.uri}: "
                             f"{scrub(_reason(exc), uri)}") from None
        self._indexed = False

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            if not self._indexed:
                self._ensure_indexes()
            return fn(*args, **kwargs)
        except PyMongoError as exc:
            raise StoreError(f"cannot {what} the monitoring store {self.uri}: "
                             f"{scrub(_reason(exc), self._secret_uri)}") from None

    def _ensure_indexes(self) -> None:
        self._db.runs.create_index([("id", 1)], unique=True)
        self._db.runs.create_index([("started", -1)])
        self._db.runs.create_index([("workflow", 1), ("started", -1)])
        self._db.events.create_index([("run", 1), ("kind", 1), ("t1", 1)])
        self._db.events.create_index([("run", 1), ("kind", 1), ("t", 1)])
        self._indexed = True

    def indexes(self) -> dict[str, list[list[tuple[str, int]]]]:
        """The keys of every index, per collection (to check the queries are served)."""
        out = {}
        for name in ("runs", "events"):
            found = self._call("read", lambda n=name: list(self._db[n].list_indexes()))
            out[name] = [list(ix["key"].items()) for ix in found]
        return out

    def start_run(self, record: dict[str, Any]) -> None:
        doc = {k: v for k, v in record.items()}
        self._call("write to", self._db.runs.replace_one, {"id": check_text("run id", doc["id"])},
                   doc, upsert=True)

    def add_events(self, run_id: str, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        run_id = check_text("run id", run_id)
        docs = [{"run": run_id, **e} for e in events]
        self._call("write to", self._db.events.insert_many, docs, ordered=False)

    def finish_run(self, run_id: str, *, finished: float, seconds: float | None, status: str,
                   error: str | None = None, lost: str | None = None) -> None:
        self._call("write to", self._db.runs.update_one, {"id": check_text("run id", run_id)},
                   {"$set": {"finished": finished, "seconds": seconds, "status": status,
                             "error": error, "lost": lost}})

    def touch(self, run_id: str, seen: float) -> None:
        self._call("write to", self._db.runs.update_one,
                   {"id": check_text("run id", run_id), "status": {"$in": ["running", "aborted"]}},
                   {"$set": {"seen": seen, "status": "running", "error": None}})

    def runs(self, *, limit: int = 100, workflow: str | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if workflow is not None:
            query["workflow"] = {"$eq": check_text("workflow", workflow)}
        if status is not None:
            query["status"] = {"$eq": check_text("status", status)}
        projection = {"_id": 0, **{k: 1 for k in LIST_FIELDS}}

        def find():
            cur = self._db.runs.find(query, projection).sort("started", -1).limit(int(limit))
            return [{k: doc.get(k) for k in LIST_FIELDS} for doc in cur]

        return self._call("read", find)

    def run(self, run_id: str) -> dict[str, Any] | None:
        query = {"id": {"$eq": check_text("run id", run_id)}}
        doc = self._call("read", self._db.runs.find_one, query, {"_id": 0})
        return doc

    def ids(self, prefix: str, *, limit: int = 10) -> list[str]:
        prefix = check_text("run id", prefix)
        if not prefix:
            return []
        query = {"id": {"$gte": prefix, "$lt": after_prefix(prefix)}}

        def find():
            cur = self._db.runs.find(query, {"_id": 0, "id": 1}).sort("id", 1).limit(int(limit))
            return [doc["id"] for doc in cur]

        return self._call("read", find)

    def events(self, run_id: str, kind: str) -> list[dict[str, Any]]:
        check_kind(kind)
        query = {"run": {"$eq": check_text("run id", run_id)}, "kind": kind}
        projection = {"_id": 0, "run": 0}

        def find():
            cur = self._db.events.find(query, projection).sort([(_ORDER[kind], 1), ("_id", 1)])
            return [{"kind": kind, **{k: doc.get(k) for k in FIELDS[kind]}} for doc in cur]

        return self._call("read", find)

    def drop(self) -> None:
        """Delete the database (for tests)."""
        self._call("write to", self._client.drop_database, self._db.name)

    def close(self) -> None:
        self._client.close()


_DETAILS = re.compile(r" \(configured timeouts: [^)]*\)|, Timeout: .*|, full error: .*", re.S)


def _reason(exc: Exception) -> str:
    """pymongo's message without the timeouts and topology dump it appends
    (``… Connection refused``, not a paragraph per server)."""
    return _DETAILS.sub("", str(exc)).strip() or type(exc).__name__
