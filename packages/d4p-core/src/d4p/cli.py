"""The ``d4p`` command.

Exit status: 0 success, 1 the workflow failed, 2 a usage error (bad target,
option, input...), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .__about__ import __version__
from .enact import RunResult, run
from .errors import D4PError, UsageError
from .graph import WorkflowGraph
from .loader import convert, load_target, parse_inputs, parse_params
from .plan import make_plan
from .plugins import get_mapping, get_plugin_manager, registered_mappings, workflows


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``d4p`` command; returns the exit status."""
    warnings.simplefilter("default")
    warnings.formatwarning = lambda msg, cat, *a, **k: f"d4p: warning: {msg}\n"
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    try:
        if getattr(args, "handler", None) is None:
            parser.print_help()
            return 2
        if args.handler is _run:
            return _run(args, extra, parser)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return int(args.handler(args) or 0)
    except D4PError as exc:
        sys.stdout.flush()
        if getattr(exc, "primary", True):  # another process reports it otherwise
            print(f"d4p: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signal", 2)  # d4p.stopping.Interrupted: SIGINT or SIGTERM
        print(f"d4p: interrupted ({'SIGTERM' if signum == 15 else 'Ctrl-C'}); every worker "
              "was ended", file=sys.stderr)
        return 128 + signum


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="d4p", description="Run stream-based workflows on any mapping.")
    parser.add_argument("--version", action="version", version=f"d4p {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("run", help="run a workflow", description=(
        "Run TARGET: a .py file, an importable module, or a registered workflow "
        "(see 'd4p workflows'). Mapping options (see 'd4p mappings') follow as --NAME VALUE."))
    _target_args(p)
    p.add_argument("-m", "--mapping", default="simple", help="mapping (default: simple)")
    p.add_argument("-n", "--processes", type=_positive, default=None,
                   help="number of processes (default: the mapping's choice)")
    p.add_argument("-i", "--iterations", type=_non_negative, default=None,
                   help="iterations of every source PE (default: 1)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("-d", "--data", help="inputs as JSON: {\"PE\": iterations or [items]}")
    source.add_argument("-f", "--file", help="file with the inputs as JSON")
    p.add_argument("-o", "--output", help="also write the results to this JSON file")
    p.add_argument("--monitor", nargs="?", const=True, default=None, metavar="URI",
                   help="record a profile (default store, or a store URI such as mongodb://...)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.add_argument("--stop-after", type=_duration, default=None, metavar="DURATION",
                   help="stop the sources after this long (90, 30s, 10m, 2h) and finish "
                        "what they produced (a graceful stop, like the first Ctrl-C)")
    p.add_argument("--max-units", type=_positive, default=None, metavar="N",
                   help="stop each source after it has written N data units")
    p.set_defaults(handler=_run)

    p = sub.add_parser("mappings", help="list installed mappings")
    p.set_defaults(handler=_mappings)
    p = sub.add_parser("workflows", help="list registered workflows")
    p.set_defaults(handler=_workflows)
    p = sub.add_parser("draw", help="draw a workflow graph (.dot, .mmd, .svg, .png)")
    _target_args(p)
    p.add_argument("-o", "--output", help="output file; its extension picks the format "
                   "(default: dot on standard output)")
    p.set_defaults(handler=_draw)
    get_plugin_manager().hook.d4p_cli(subparsers=sub)
    return parser


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help=".py file, module or registered workflow name")
    p.add_argument("-a", "--attr", help="name of the graph in the file or module")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of a registered workflow (repeatable)")


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _duration(text: str) -> float:
    """Seconds from ``90``, ``1.5``, ``30s``, ``10m`` or ``2h``."""
    scale = {"s": 1, "m": 60, "h": 3600}.get(text[-1:].lower(), None)
    number = text[:-1] if scale else text
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90, 30s, 10m or 2h, "
                                         f"not {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return seconds


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _mapping_options(mapping: str, extra: list[str]) -> dict[str, Any]:
    cls = get_mapping(mapping)
    parser = argparse.ArgumentParser(prog=f"d4p run --mapping {mapping}", add_help=False)
    for opt in cls.options:
        flag = "--" + opt.name.replace("_", "-")
        if opt.multiple:
            parser.add_argument(flag, dest=opt.name, action="append", help=opt.help)
        elif isinstance(opt.default, bool):
            parser.add_argument(flag, dest=opt.name, action="store_const", const=True,
                                help=opt.help)
        else:
            parser.add_argument(flag, dest=opt.name, help=opt.help)
    known, unknown = parser.parse_known_args(extra)
    if unknown:
        names = ", ".join("--" + o.name.replace("_", "-") for o in cls.options) or "none"
        raise UsageError(f"unknown option {unknown[0]!r} for mapping {mapping!r}; "
                         f"its options: {names}")
    values = {}
    for opt in cls.options:
        given = getattr(known, opt.name)
        if given is None:
            continue
        if opt.multiple:
            values[opt.name] = [convert(v, opt.type(""), f"--{opt.name}") if opt.type is not str
                                else v for v in given]
        else:
            values[opt.name] = _option_value(opt, given)
    return values


def _option_value(opt, text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return opt.type(text)
    except (TypeError, ValueError):
        raise UsageError(f"--{opt.name.replace('_', '-')}: invalid value {text!r}") from None


def _run(args, extra: list[str], parser) -> int:
    options = _mapping_options(args.mapping, extra)
    target = load_target(args.target, args.attr, parse_params(args.param))
    inputs = parse_inputs(args.data, args.file)
    if inputs is None:
        inputs = target.inputs
        if args.iterations is not None:
            inputs = _with_iterations(target.graph, inputs, args.iterations)
    progress = None
    if not args.quiet and sys.stderr.isatty():
        progress = _Progress()
    if args.output:
        _check_writable(args.output)
    try:
        result = run(target.graph, inputs, mapping=args.mapping, processes=args.processes,
                     monitor=args.monitor, progress=progress, name=target.name,
                     stop_after=args.stop_after, max_units=args.max_units, **options)
    finally:
        if progress is not None:
            progress.clear()
    if not get_mapping(args.mapping).primary:
        return 0  # another process of this job reports the results
    _print_results(result)
    if args.monitor:
        print(f"monitoring: recorded as run {result.summary.run_id} "
              f"(d4p monitor show {result.summary.run_id})", file=sys.stderr)
    if args.output:
        _write_json(args.output, result)
        print(f"results written to {args.output}", file=sys.stderr)
    return 0


def _with_iterations(graph: WorkflowGraph, inputs: dict | None, iterations: int) -> dict:
    plan = make_plan(graph, 1, None)
    sources = {p: iterations for p, given in plan.inputs.items() if isinstance(given, int)
               and p not in plan.hidden}
    merged = dict(inputs or {})
    for key in list(merged):
        if isinstance(merged[key], int):
            merged[key] = iterations
    if not merged:
        merged = sources
    return merged


class _Progress:
    """One status line on the terminal: data units processed per PE."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, counts: dict[str, int]) -> None:
        text = "  ".join(f"{pe} {n:,}" for pe, n in counts.items())
        width = os.get_terminal_size(sys.stderr.fileno()).columns - 1
        sys.stderr.write("\r" + text[:width].ljust(width))
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            width = os.get_terminal_size(sys.stderr.fileno()).columns - 1
            sys.stderr.write("\r" + " " * width + "\r")
            sys.stderr.flush()


def _print_results(result: RunResult, limit: int = 10) -> None:
    if not result:
        print("(no unconnected outputs)")
    for pe, ports in result.items():
        for port, values in ports.items():
            print(f"{pe}.{port}: {len(values):,} value{'s' if len(values) != 1 else ''}")
            for value in values[:limit]:
                print(f"  {_short(value)}")
            if len(values) > limit:
                print(f"  ... {len(values) - limit:,} more (-o FILE writes them all)")
    print(str(result.summary), file=sys.stderr)


def _short(value: Any, width: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _check_writable(path: str) -> None:
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise UsageError(f"cannot write results to {path!r}: folder {str(folder)!r} does not exist")


def _write_json(path: str, result: RunResult) -> None:
    """Write atomically: a failure leaves no half-written file."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.resolve().parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump({"results": result, "summary": vars(result.summary)}, out,
                      default=_jsonable, indent=1)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def _mappings(args) -> int:
    rows = [(cls.name, dist, version, cls.description) for cls, dist, version
            in registered_mappings()]
    _table(("MAPPING", "PACKAGE", "VERSION", "DESCRIPTION"), rows)
    return 0


def _workflows(args) -> int:
    rows = []
    for name, wf in sorted(workflows().items()):
        params = " ".join(f"{k}={v}" for k, v in wf.params.items())
        rows.append((name, wf.description, params))
    if not rows:
        print("no registered workflows")
        return 0
    _table(("WORKFLOW", "DESCRIPTION", "PARAMETERS (-p KEY=VALUE)"), rows)
    return 0


def _table(header: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, str(row[-1])]).rstrip())


def _draw(args) -> int:
    target = load_target(args.target, args.attr, parse_params(args.param))
    graph = target.graph
    if not args.output:
        sys.stdout.write(graph.to_dot())
        return 0
    suffix = Path(args.output).suffix.lower()
    if suffix in (".dot", ".gv"):
        data: str | bytes = graph.to_dot()
    elif suffix in (".mmd", ".mermaid"):
        data = graph.to_mermaid()
    elif suffix == ".svg":
        data = graph.to_svg()
    elif suffix == ".png":
        import shutil
        import subprocess

        dot = shutil.which("dot")
        if dot is None:
            raise UsageError("drawing PNG needs Graphviz: install it (apt-get install graphviz) "
                             "or draw .dot / .mmd")
        data = subprocess.run([dot, "-Tpng"], input=graph.to_dot().encode(),
                              capture_output=True, check=True).stdout
    else:
        raise UsageError(f"cannot draw {args.output!r}: use a .dot, .mmd, .svg or .png file name")
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(args.output, mode) as out:
        out.write(data)
    print(f"drew {target.name} to {args.output}", file=sys.stderr)
    return 0
