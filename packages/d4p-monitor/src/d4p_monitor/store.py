"""The store interface: where runs and their timing events are kept.

Two implementations share this interface and one contract test suite:
:class:`~d4p_monitor.sqlite_store.SQLiteStore` (a file, no set-up: the
default) and :class:`~d4p_monitor.mongo_store.MongoStore` (a MongoDB server,
for shared deployments). :func:`open_store` picks one from a URI:

- ``None`` or ``True``: the default SQLite file, ``$D4P_MONITOR_DB`` or else
  ``~/.local/share/d4p/monitor.sqlite``;
- ``sqlite:///path/to/file.sqlite`` or a plain path: that SQLite file;
- ``mongodb://host:port/database``: MongoDB (database ``d4p`` when the URI names none).

A run is a dict (see :func:`run_record`); events are the tracer's dicts, kept
with the run id so that concurrent runs never mix.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from d4p import UsageError

if TYPE_CHECKING:
    from pathlib import Path

KINDS = ("instance", "edge", "error")
"""The kinds of events a store keeps."""

FIELDS = {
    "instance": ("pe", "instance", "process", "t0", "t1", "calls", "process_s", "read_s",
                 "write_s"),
    "edge": ("src_pe", "dst_pe", "units", "bytes", "send_s", "t1"),
    "error": ("pe", "instance", "message", "t"),
}
"""The fields of each kind of event, in the order the stores keep them."""

RUN_FIELDS = ("id", "workflow", "mapping", "processes", "started", "finished", "seconds",
              "status", "error", "lost", "host", "pid", "seen", "assignment", "graph")
"""The fields of a run record; ``assignment`` and ``graph`` are lists of dicts;
``host`` and ``pid`` name the process that records the run, ``seen`` is when
it last said it was alive (see :mod:`d4p_monitor.unfinished`)."""

LIST_FIELDS = RUN_FIELDS[:-2]
"""The fields :meth:`Store.runs` gives (all but the assignment and the graph)."""


class StoreError(Exception):
    """The store cannot be reached or refused an operation."""


def default_location() -> Path:
    """The default SQLite file: ``$D4P_MONITOR_DB`` or ``~/.local/share/d4p/monitor.sqlite``."""
    from pathlib import Path  # here and below: d4p imports this module to list plugins

    env = os.environ.get("D4P_MONITOR_DB")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "d4p" / "monitor.sqlite"


def describe(uri: Any) -> str:
    """The URI as users see it: the default location spelled out, a password
    replaced by ``***`` (see :func:`redact`)."""
    if uri is None or uri is True:
        return str(default_location())
    return redact(os.fspath(uri) if isinstance(uri, os.PathLike) else str(uri))


def redact(uri: str) -> str:
    """``uri`` with the password of its user information replaced by ``***``
    (``mongodb://alice:***@host/db``); other text unchanged. Every place a
    store URI is shown (banners, pages, JSON, warnings, errors) shows this."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    authority, slash, tail = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return uri
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{hosts}{slash}{tail}"


def scrub(text: str, uri: str) -> str:
    """``text`` (an error message) with the full ``uri`` and its password
    replaced by their redacted forms, wherever a library quoted them."""
    shown = redact(uri)
    if shown == uri:
        return text
    text = text.replace(uri, shown)
    password = uri.partition("://")[2].partition("/")[0].rpartition("@")[0].partition(":")[2]
    from urllib.parse import unquote

    for secret in {password, unquote(password)}:
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def open_store(uri: Any = None, *, timeout: float = 5.0) -> Store:
    """The store for ``uri`` (see the module docstring); ``timeout`` bounds how
    long a network store may take to answer one operation."""
    from . import unfinished

    kind, target = parse_uri(uri)
    if kind == "mongodb":
        from .mongo_store import MongoStore
        store = MongoStore(target, timeout=timeout)
    else:
        from pathlib import Path

        from .sqlite_store import SQLiteStore
        store = SQLiteStore(Path(target).expanduser())
    unfinished.complete(store, uri)
    return store


def parse_uri(uri: Any) -> tuple[str, str]:
    """``("mongodb", uri)`` or ``("sqlite", path)``; a :class:`d4p.UsageError`
    for anything else, before any connection is tried."""
    if uri is None or uri is True:
        return "sqlite", str(default_location())
    if not isinstance(uri, str | os.PathLike) or not os.fspath(uri):
        raise UsageError(f"--monitor takes a store URI (mongodb://host:port/db or a SQLite "
                         f"file), not {uri!r}")
    text = os.fspath(uri)
    if text.startswith("mongodb://"):
        from pymongo.errors import PyMongoError
        from pymongo.uri_parser import parse_uri as parse_mongo_uri

        try:
            parse_mongo_uri(text)
        except (PyMongoError, ValueError) as exc:
            raise UsageError(f"invalid MongoDB store URI {redact(text)!r}: "
                             f"{scrub(str(exc), text)}") from None
        return "mongodb", text
    if text.startswith("mongodb+srv://"):
        return "mongodb", text
    if text.startswith("sqlite://"):
        text = text.removeprefix("sqlite://")
        if text.startswith("//"):
            text = text[1:]
        return "sqlite", text
    if "://" in text:
        raise UsageError(f"unknown monitoring store {redact(text)!r}: use "
                         "mongodb://host:port/db, sqlite:///path/file.sqlite or a file path")
    from pathlib import Path

    path = Path(text).expanduser().resolve()
    if not path.parent.is_dir():
        raise UsageError(f"cannot keep the monitoring store {text!r}: folder "
                         f"{str(path.parent)!r} does not exist; create it or name a file in an "
                         "existing folder")
    if path.is_dir():
        raise UsageError(f"the monitoring store {text!r} is a folder; name a SQLite file, such "
                         f"as {str(Path(text) / 'monitor.sqlite')!r}")
    if not _sqlite_or_new(path):
        raise UsageError(f"the monitoring store {text!r} is a file but not a SQLite database; "
                         "name a store d4p made, or a new file")
    return "sqlite", text


def _sqlite_or_new(path: Any) -> bool:
    """Whether ``path`` is not a file, an empty one, or one with SQLite's header."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:  # no such file, a folder, unreadable: the store says why when opened
        return True
    return not head or head == b"SQLite format 3\x00"


def run_record(run: Any, *, status: str = "running") -> dict[str, Any]:
    """The record of a run (a :class:`d4p.RunInfo`) as stores keep it: the
    assignment and the graph as lists of dicts (PE ids are never keys, so any
    PE name is safe in any store), and this process as the one recording it."""
    import socket
    plan = run.plan
    assignment = [{"pe": pe, "processes": list(procs)}
                  for pe, procs in plan.assignment().items()]
    hidden = getattr(plan, "hidden", frozenset())
    pes = [{"id": pe_id, "name": getattr(pe, "name", pe_id), "instances": len(plan.by_pe[pe_id]),
            "source": pe_id in plan.inputs}
           for pe_id, pe in plan.pes.items() if pe_id not in hidden]
    edges = [{"src_pe": r.src_pe, "src_port": r.src_port, "dst_pe": r.dst_pe,
              "dst_port": r.dst_port, "rule": _rule_name(r.rule)}
             for r in plan.routes if r.src_pe not in hidden and r.dst_pe not in hidden]
    return {"id": str(run.id), "workflow": str(run.workflow), "mapping": str(run.mapping),
            "processes": int(run.processes), "started": float(run.started), "finished": None,
            "seconds": None, "status": status, "error": None, "lost": None,
            "host": socket.gethostname(), "pid": os.getpid(), "seen": time.time(),
            "assignment": assignment, "graph": {"pes": pes, "edges": edges}}


def _rule_name(rule: Any) -> str:
    if isinstance(rule, str):
        return rule
    describe = getattr(rule, "describe", None)
    return describe() if callable(describe) else type(rule).__name__


def clean_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event with only its kind's fields, numbers as numbers; ``None``
    when its kind is unknown."""
    kind = event.get("kind")
    if kind not in FIELDS:
        return None
    out: dict[str, Any] = {"kind": kind}
    for name in FIELDS[kind]:
        value = event.get(name)
        if name in ("pe", "src_pe", "dst_pe", "message"):
            out[name] = "" if value is None else str(value)
        elif name in ("instance", "process", "calls", "units", "bytes"):
            out[name] = int(value or 0)
        else:
            out[name] = float(value if value is not None else time.time() if name in
                              ("t", "t1", "t0") else 0.0)
    return out


class Store:
    """What every store does. Methods raise :class:`StoreError` when the
    store cannot be reached; arguments are plain values, never query
    documents, so nothing a user types can become a query operator."""

    uri: str = ""

    def start_run(self, record: dict[str, Any]) -> None:
        """Add a run (see :func:`run_record`); a run id already present is replaced."""
        raise NotImplementedError

    def add_events(self, run_id: str, events: list[dict[str, Any]]) -> None:
        """Add cleaned events (see :func:`clean_event`) to run ``run_id``."""
        raise NotImplementedError

    def finish_run(self, run_id: str, *, finished: float, seconds: float | None, status: str,
                   error: str | None = None, lost: str | None = None) -> None:
        """Record how run ``run_id`` ended."""
        raise NotImplementedError

    def touch(self, run_id: str, seen: float) -> None:
        """Note that run ``run_id`` is alive at ``seen`` (its recording
        process's heartbeat); a run marked aborted meanwhile is running again."""
        raise NotImplementedError

    def runs(self, *, limit: int = 100, workflow: str | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
        """The latest runs first, without their graphs; ``workflow`` and
        ``status`` filter by equality."""
        raise NotImplementedError

    def run(self, run_id: str) -> dict[str, Any] | None:
        """The record of run ``run_id``, or ``None``."""
        raise NotImplementedError

    def ids(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Up to ``limit`` run ids that start with ``prefix``, in order."""
        raise NotImplementedError

    def events(self, run_id: str, kind: str) -> list[dict[str, Any]]:
        """The events of ``kind`` of run ``run_id``, by time."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_text(name: str, value: Any) -> str:
    """``value`` as a string for an equality match, refusing anything else."""
    if not isinstance(value, str):
        raise UsageError(f"{name} must be a string, not {type(value).__name__}")
    return value


def after_prefix(prefix: str) -> str:
    """The least string above every string that starts with ``prefix`` (not
    empty): ids starting with it are those ``>= prefix`` and ``<`` this."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UsageError(f"unknown event kind {kind!r}; kinds: {', '.join(KINDS)}")
    return kind
