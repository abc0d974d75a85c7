"""``d4p monitor`` sub-commands: ``serve``, ``runs``, ``show RUN``, ``advise RUN``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from d4p import UsageError

from .advise import advise, format_advice
from .columns import cells, clip, ljust
from .profile import (
    RunNotFound,
    communication,
    list_runs,
    load,
    not_found,
    processes_text,
    profile,
)
from .store import StoreError, describe, open_store, parse_uri


def add_parser(subparsers) -> None:
    """Add ``d4p monitor`` and its sub-commands to the ``d4p`` command."""
    monitor = subparsers.add_parser(
        "monitor", help="monitoring: web service, recorded runs, profiles, advice",
        description="Look at runs recorded with 'd4p run ... --monitor [URI]'. The store is "
                    "--store URI, else the default SQLite file ($D4P_MONITOR_DB or "
                    "~/.local/share/d4p/monitor.sqlite).")
    monitor.set_defaults(handler=lambda args: _help(monitor))
    sub = monitor.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, help: str, handler) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--store", default=None, metavar="URI",
                       help="mongodb://host:port/db or a SQLite file (default: the default store)")
        p.set_defaults(handler=handler)
        return p

    p = command("serve", "serve the monitoring web pages and JSON API", _serve)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests addressed to NAME (the Host header), e.g. the "
                        "machine's name when --host binds another address; repeatable")
    p = command("runs", "list recorded runs, latest first", _runs)
    p.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    p.add_argument("--workflow", default=None, help="only runs of this workflow")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = command("show", "show one run: its facts and profile", _show)
    p.add_argument("run", help="run id (see 'd4p monitor runs')")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = command("advise", "suggest processes per PE, partitions and the command line", _advise)
    p.add_argument("run", help="run id (see 'd4p monitor runs')")
    p.add_argument("-n", "--processes", type=int, default=None,
                   help="processes to plan for (default: what the run used, or its number of instances if more)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _store(args):
    try:
        return open_store(args.store)
    except StoreError as exc:
        raise UsageError(f"{exc}; give a reachable store with --store URI") from None


def _missing(args) -> bool:
    """Whether ``--store`` names a SQLite file that does not exist: looking at
    a store never creates one (a typo would leave an empty store behind)."""
    import os

    kind, target = parse_uri(args.store)
    return kind == "sqlite" and not os.path.exists(os.path.expanduser(target))


def _no_run(args, exc: RunNotFound) -> UsageError:
    return UsageError(not_found(exc, describe(args.store)) + "; list the runs with 'd4p "
                      "monitor runs" + (f" --store {args.store}" if args.store else "") + "'")


def _load(args):
    if _missing(args):
        raise _no_run(args, RunNotFound(args.run))
    store = _store(args)
    try:
        return store, *load(store, args.run)
    except RunNotFound as exc:
        store.close()
        raise _no_run(args, exc) from None
    except StoreError as exc:
        store.close()
        raise UsageError(f"{exc}; check --store") from None


def _serve(args) -> int:
    from .web import make_server

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 (any free port) and 65535, not {args.port}")
    store = _store(args)
    try:
        server = make_server(store, args.host, args.port, args.allow_host)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                         "choose another --port") from None
    host, port = server.server_address[:2]
    print(f"d4p monitor: serving {describe(args.store)} on http://{host}:{port}/ "
          "(Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
    return 0


def _when(epoch) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "-"


def _runs(args) -> int:
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, not {args.limit}")
    if _missing(args) and args.json:
        print("[]")
        return 0
    if _missing(args):
        print(f"no runs in {describe(args.store)}: no such file yet; record one with 'd4p run "
              f"WORKFLOW --monitor{' ' + args.store if args.store else ''}'")
        return 0
    store = _store(args)
    try:
        runs = list_runs(store, limit=args.limit + 1, workflow=args.workflow)
    except StoreError as exc:
        raise UsageError(f"{exc}; check --store") from None
    finally:
        store.close()
    more, runs = len(runs) > args.limit, runs[:args.limit]
    if args.json:
        print(json.dumps(runs, indent=1))
        return 0
    if not runs:
        print(f"no runs in {describe(args.store)}: record one with 'd4p run WORKFLOW --monitor'")
        return 0
    print(f"{'id':<14}{'workflow':<20}{'mapping':<10}{'procs':>5}  {'start':<19}  "
          f"{'seconds':>9}  status")
    for r in runs:
        secs = f"{r['seconds']:.3f}" if r["seconds"] is not None else "-"
        print(f"{r['id']:<14}{ljust(clip(r['workflow'], 19), 20)}{r['mapping']:<10}"
              f"{r['processes']:>5}  "
              f"{_when(r['started']):<19}  {secs:>9}  {r['status']}")
    if more:
        sys.stdout.flush()
        print(f"(the latest {args.limit} runs; more with --limit N)", file=sys.stderr)
    return 0


def _show(args) -> int:
    store, record, events = _load(args)
    store.close()
    prof = profile(record, events["instance"], events["edge"])
    comm = communication(record, events["edge"])
    if args.json:
        print(json.dumps({"run": record, "profile": prof, "communication": comm,
                          "errors": events["error"]}, indent=1))
        return 0
    secs = f"{record['seconds']:.3f} s" if record["seconds"] is not None else "-"
    print(f"run {record['id']}: {record['workflow']} on {record['mapping']}, "
          f"{record['processes']} process{'es' if record['processes'] != 1 else ''}, "
          f"{record['status']}, {secs}")
    print(f"started {_when(record['started'])}, ended {_when(record['finished'])}")
    if record.get("error"):
        print(f"error: {record['error']}")
    if record.get("lost"):
        print(f"monitoring data lost: {record['lost']}")
    width = max((cells(p["pe"]) for p in prof["pes"]), default=2)
    print(f"\n  {'PE':<{width}}  {'inst':>4}  {'procs':<8}{'calls':>10}  {'own s':>8}  "
          f"{'send s':>8}  {'read s':>8}  {'ms/call':>9}")
    where = {a["pe"]: processes_text(a["processes"]) for a in record["assignment"]}
    for p in prof["pes"]:
        mark = "  <- bottleneck" if p["pe"] == prof["bottleneck"] else ""
        print(f"  {ljust(p['pe'], width)}  {p['instances']:>4}  {where.get(p['pe'], ''):<8}"
              f"{p['calls']:>10,}  {p['process_s']:>8.3f}  {p['send_s']:>8.3f}  "
              f"{p['read_s']:>8.3f}  {p['mean_own_ms']:>9.4f}{mark}")
    print("  (own: time in the PE's own code; send: to other processes; read: waiting for "
          "input; ms/call: own + send per call)")
    if comm["edges"]:
        print("\n  communication:")
        for e in comm["edges"]:
            hot = comm["bottleneck"] == {"src_pe": e["src_pe"], "dst_pe": e["dst_pe"]}
            sent = ("within a process (nothing sent)" if e["within"]
                    else f"{e['bytes']:,} bytes, {e['send_s']:.4f} s")
            print(f"  {e['src_pe']} -> {e['dst_pe']}: {e['units']:,} units, {sent}"
                  f"{'  <- bottleneck' if hot else ''}")
    for e in events["error"]:
        print(f"\n  error in {e['pe']}[{e['instance']}]: {e['message']}")
    return 0


def _advise(args) -> int:
    if args.processes is not None and args.processes < 1:
        raise UsageError(f"--processes must be at least 1, not {args.processes}")
    store, record, events = _load(args)
    store.close()
    result = advise(record, events, args.processes)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(format_advice(result))
    sys.stdout.flush()
    return 0
