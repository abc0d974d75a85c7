# PYTHON_ARGCOMPLETE_OK  (shell completion: see _complete)
"""The ``d4p`` command.

Exit status: 0 success, 1 the workflow failed, 2 a usage error (bad target,
option, input...), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up
(SIGHUP: the run is aborted; ``nohup`` keeps it going).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import sys
import textwrap
import warnings
from typing import TYPE_CHECKING, Any

from .__about__ import __version__
from .errors import D4PError, UsageError, WorkflowFailed, did_you_mean
from .plugins import (
    NamedWorkflow,
    add_commands,
    get_mapping,
    get_plugin_manager,
    get_workflow,
    installed_mappings,
    option_hint,
    registered_mappings,
    workflow_origin,
    workflows,
)

if TYPE_CHECKING:  # the rest is imported by the command that needs it: 'd4p mappings' stays light
    from .enact import RunResult

_as_command = False
"""True when :func:`main` runs as the ``d4p`` command (not called from Python)."""

_running = False
"""True once the workflow has started (its workers may have to be ended)."""

_aborted = False
"""True once a signal has aborted the command's run."""

COMMANDS = ("run", "mappings", "workflows", "draw")
"""The built-in sub-commands; any other is looked up among the plugins."""

PLUGIN_COMMANDS = {"monitor": "d4p-monitor", "storm": "d4p-storm"}
"""Sub-commands of d4p's own plugin packages, named when they are not installed."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``d4p`` command; returns the exit status."""
    global _as_command
    command = _as_command = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    if command:
        _open_closed_streams()
    if "_ARGCOMPLETE" in os.environ:
        _complete()
    warnings.simplefilter("default")
    warnings.simplefilter("ignore", ResourceWarning)  # a library's leak is no news to a user
    warnings.formatwarning = lambda msg, cat, *a, **k: f"d4p: warning: {msg}\n"
    try:
        return _main(argv)
    except BrokenPipeError:  # d4p ... | head: the reader has gone, which is no error
        return _reader_gone()
    finally:
        for signum in _TERMINATING if command else ():
            if signal.getsignal(signum) is _terminated:
                signal.signal(signum, _exit_terminated)  # the interpreter's exit


def _main(argv: list[str]) -> int:
    global _running
    _running = False
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = _parser(command)
        if command is not None and command not in parser.d4p_commands:
            raise UsageError(_unknown_command(command, list(parser.d4p_commands)))
        args, extra = parser.parse_known_args(argv)
        if getattr(args, "handler", None) is None:
            if extra:
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            parser.print_help()
            return 2
        if args.handler is _run:
            return _run(args, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return int(args.handler(args) or 0)
    except D4PError as exc:
        if "BrokenPipeError" in str(getattr(exc, "traceback", "")) and _stdout_closed():
            return _reader_gone()  # a PE printed after the reader had gone
        sys.stdout.flush()
        if getattr(exc, "primary", True):  # another process reports it otherwise
            print(_failure(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signal", 2)  # d4p.stopping.Interrupted: SIGINT, SIGTERM, SIGHUP
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        global _aborted
        _aborted = _running and _as_command  # their programs end at the exit: _end_descendants
        print(f"d4p: interrupted ({name})"
              + ("; every worker was ended" if _running else ""), file=sys.stderr)
        return 128 + signum


def _end_descendants() -> None:
    """At the exit of a command whose run was aborted: end the programs that
    the run's PEs started and that still run (a tool a PE of the simple
    mapping waits for), which would live on, orphaned (the multi and mpi
    mappings end those of their workers themselves). Registered with
    :mod:`atexit` before the run starts, so that it comes after what the
    mapping registers there (Spark stops its JVM, which killed would make
    py4j print its tracebacks)."""
    from .stopping import descendants

    if not _aborted:
        return
    for pid in descendants([os.getpid()]):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _open_closed_streams() -> None:
    """A standard stream closed when d4p started (``d4p run ... <&- 2>&-``)
    becomes the null device: reading it gives an end of file, what is written
    there goes nowhere, for d4p, its PEs and its workers, instead of failing
    (or landing in the first file or pipe to take the free descriptor)."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        if getattr(sys, name) is None:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))  # noqa: SIM115


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has closed it."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _reader_gone() -> int:
    """End quietly, as ``d4p ... | head`` wants: later writes go nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


_TERMINATING = (signal.SIGTERM, signal.SIGHUP)
"""Signals that end the ``d4p`` command (as SIGINT does), before or after its run too."""


def _terminated(signum, frame) -> None:
    from .stopping import Interrupted

    raise Interrupted(signum)


def _exit_terminated(signum, frame) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(128 + signum)


def _failure(exc: D4PError) -> str:
    """The error as the user reads it: for a failed PE the message and the
    user's own lines of the traceback (all of it with ``D4P_DEBUG=1``); a
    usage error, even one a PE raised, is one line (its traceback only with
    ``D4P_DEBUG=1``)."""
    from . import failure

    if not isinstance(exc, WorkflowFailed) or not exc.traceback:
        return f"d4p: error: {exc}"
    if failure.debugging():
        return f"d4p: error: {WorkflowFailed.__str__(exc)}"  # with the original traceback
    if isinstance(exc, UsageError):
        return f"d4p: error: {exc}"
    return "\n".join([f"d4p: error: {exc.args[0]}", *failure.user_frames(exc), failure.HINT])


class _Parser(argparse.ArgumentParser):
    """The parser of ``d4p`` and of its sub-commands (plugins' too): a
    mistake is one line that names the command's ``--help``, not the
    usage's lines before it."""

    def error(self, message: str):
        self.exit(2, f"d4p: error: {message}; see '{self.prog} --help'\n")


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``d4p``; plugins add their sub-commands only when
    ``command`` is not a built-in one (so ``d4p run`` imports no plugin)."""
    parser = _Parser(
        prog="d4p", description="Run stream-based workflows on any mapping.")
    parser.add_argument("--version", action="version", version=f"d4p {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("run", help="run a workflow", add_help=False, description=(
        "Run TARGET: a .py file, an importable module, or a registered workflow "
        "(see 'd4p workflows'). Mapping options follow as --NAME VALUE "
        "('d4p run -m MAPPING --help' lists them)."))
    p.add_argument("-h", "--help", action="store_true",
                   help="show this help and the options of the mapping (-m) and exit")
    p.add_argument("target", nargs="?", help=".py file, module or registered workflow name"
                   ).completer = _complete_target
    _target_options(p)
    p.add_argument("-m", "--mapping", default="simple", help="mapping (default: simple)"
                   ).completer = _complete_mapping
    p.add_argument("-n", "--processes", type=_positive, default=None,
                   help="number of processes (default: the mapping's choice)")
    p.add_argument("-i", "--iterations", type=_non_negative, default=None,
                   help="iterations of every PE that no PE feeds (default: 1)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("-d", "--data", help="inputs as JSON: {\"PE\": iterations or [items]}")
    source.add_argument("-f", "--file", help="file with the inputs as JSON")
    p.add_argument("-o", "--output", help="also write the results to this JSON file")
    p.add_argument("--monitor", nargs="?", const=True, default=None, metavar="URI",
                   help="record a profile (default store, or a store URI such as mongodb://...)")
    p.add_argument("--stop-after", type=_duration, default=None, metavar="DURATION",
                   help="stop the sources after this long (90, 30s, 10m, 2h) and finish "
                        "what they produced (a graceful stop, like the first Ctrl-C)")
    p.add_argument("--max-units", type=_positive, default=None, metavar="N",
                   help="stop each source after it has written N data units")
    p.add_argument("--no-fuse", dest="fuse", action="store_false",
                   help="one process per PE instance where processes allow: no chains fused "
                   "into one process")
    p.add_argument("--no-progress", "-q", "--quiet", dest="progress", action="store_false",
                   help="no live progress panel (it is shown only on a terminal)")
    p.set_defaults(handler=_run, parser=p)

    p = sub.add_parser("mappings", help="list installed mappings; with NAME, its options")
    p.add_argument("name", nargs="?", help="a mapping: show its options"
                   ).completer = _complete_mapping
    p.set_defaults(handler=_mappings)
    p = sub.add_parser("workflows", help="list registered workflows; with NAME, its parameters")
    p.add_argument("name", nargs="?", help="a registered workflow: show its parameters")
    p.set_defaults(handler=_workflows)
    p = sub.add_parser("draw", help="draw a workflow graph (.dot, .mmd; .svg, .png need Graphviz)")
    p.add_argument("target", help=".py file, module or registered workflow name"
                   ).completer = _complete_target
    _target_options(p)
    p.add_argument("-o", "--output", help="output file; its extension picks the format: "
                   ".dot, .mmd, or .svg/.png drawn by Graphviz's 'dot' "
                   "(default: dot on standard output)")
    p.set_defaults(handler=_draw)
    if command not in COMMANDS:
        add_commands(sub, command)
    parser.d4p_commands = sub.choices
    return parser


def _complete() -> None:
    """Answer the shell's completion request (bash/zsh, through argcomplete:
    ``eval "$(register-python-argcomplete d4p)"``) and exit."""
    import argcomplete

    argcomplete.autocomplete(_parser(None))
    sys.exit(0)


def _complete_target(prefix: str, **_: Any) -> list[str]:
    """Registered workflows and .py files (and folders) for TARGET."""
    import glob

    paths = [p + os.sep if os.path.isdir(p) else p for p in glob.glob(prefix + "*")]
    return ([name for name in workflows() if name.startswith(prefix)]
            + [p for p in paths if p.endswith((os.sep, ".py"))])


def _complete_mapping(prefix: str, **_: Any) -> list[str]:
    return [name for name in installed_mappings() if name.startswith(prefix)]


def _unknown_command(command: str, known: list[str]) -> str:
    if command in PLUGIN_COMMANDS:
        dist = PLUGIN_COMMANDS[command]
        return f"'d4p {command}' comes with {dist}, which is not installed: pip install {dist}"
    return (f"unknown command {command!r}{did_you_mean(command, known)}"
            f"; commands: {', '.join(known)}")


def _target_options(p: argparse.ArgumentParser) -> None:
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
    from .loader import convert

    cls = get_mapping(mapping)
    parser = _Parser(prog=f"d4p run -m {mapping}", add_help=False)
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
    if unknown and not unknown[0].startswith("-"):
        raise UsageError(f"unexpected argument {unknown[0]!r}: d4p run takes one TARGET (quote "
                         "a path that has spaces)")
    if unknown:
        names = ", ".join("--" + o.name.replace("_", "-") for o in cls.options) or "none"
        flag = unknown[0].split("=", 1)[0]
        hint = option_hint(cls, flag.lstrip("-").replace("-", "_"),
                           lambda name: "--" + name.replace("_", "-"))
        raise UsageError(f"unknown option {flag!r} for mapping {mapping!r}{hint}; "
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
    return opt.parse(text, f"--{opt.name.replace('_', '-')}") if isinstance(text, str) else text


def _run(args, extra: list[str]) -> int:
    global _running
    if args.help:
        args.parser.print_help()
        print()
        print(_options_text(get_mapping(args.mapping)))
        return 0
    if args.target is None:
        raise UsageError("d4p run needs a TARGET: a .py file, a module or a registered "
                         "workflow (see d4p workflows)")
    from .enact import run
    from .loader import key_values, load_target, parse_inputs

    options = _mapping_options(args.mapping, extra)
    if args.monitor and not get_plugin_manager().hook.d4p_make_tracer.get_hookimpls():
        raise UsageError("--monitor needs a monitoring plugin, and none is installed: "
                         "pip install d4p-monitor")
    if _as_command:  # from loading the workflow to the exit, a SIGTERM ends d4p with status
        for signum in _TERMINATING:  # 143, as a Ctrl-C does with 130 (a line, no traceback)
            if signal.getsignal(signum) != signal.SIG_IGN:  # nohup: SIGHUP stays ignored
                signal.signal(signum, _terminated)
    target = load_target(args.target, args.attr, key_values(args.param))
    inputs = parse_inputs(args.data, args.file)
    if inputs is not None and args.iterations is not None:
        raise UsageError(f"-i and {'-d' if args.data is not None else '-f'} both give inputs: "
                         "give the iterations in the JSON, such as {\"PE\": "
                         f"{args.iterations}}}, or leave the JSON out")
    if inputs is None:
        inputs = target.inputs
        if args.iterations is not None or inputs is None:  # -i 1 by default, as in dispel4py
            inputs = _with_iterations(inputs, 1 if args.iterations is None else args.iterations)
    if args.output:
        _check_writable(args.output)
        for given, what in ((target.source, "the workflow file"), (args.file, "the input file")):
            if given and os.path.exists(args.output) and os.path.exists(given) \
                    and os.path.samefile(given, args.output):
                raise UsageError(f"-o {args.output!r} is {what}: writing the results there would "
                                 "replace it; give another file name, such as results.json")
    live = args.progress and bool(sys.stderr and sys.stderr.isatty()) \
        and get_mapping(args.mapping).primary
    _running = True
    if _as_command:
        atexit.register(_end_descendants)
    with _progress(live, args.mapping) as progress:
        result = run(target.graph, inputs, mapping=args.mapping, processes=args.processes,
                     monitor=args.monitor, progress=progress, name=target.name,
                     fuse=args.fuse, stop_after=args.stop_after, max_units=args.max_units,
                     **options)
        if progress is not None:
            summary = result.summary
            progress.finish(summary.units, summary.processes, summary.instances)
    if not get_mapping(args.mapping).primary:
        return 0  # another process of this job reports the results
    if args.output:
        _write_json(args.output, result)
    _print_results(result)
    placement = _placement(result.summary, args.processes, args.fuse)
    if placement:
        print(placement, file=sys.stderr)
    if args.monitor:
        summary = result.summary
        print(f"{summary.monitoring_lost} (d4p monitor show {summary.run_id})"
              if summary.monitoring_lost else
              f"monitoring: recorded as run {summary.run_id} "
              f"(d4p monitor show {summary.run_id})", file=sys.stderr)
    if args.output:
        print(f"results written to {args.output}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _progress(live: bool, mapping: str):
    if not live:
        yield None
        return
    from .progress import TerminalProgress

    with TerminalProgress(mapping) as progress:
        yield progress


def _placement(summary, asked: int | None, fuse: bool) -> str:
    """Why fewer processes ran than were asked for, in one line (empty when as asked)."""
    if asked is None or summary.processes >= asked:
        return ""
    instances = sum(summary.instances.values())
    used = f"{asked} processes asked, {summary.processes} used: "
    if fuse and instances > summary.processes:
        return used + "chains of PEs are fused into one process each; see --no-fuse"
    if instances <= summary.processes:
        return (used + f"the workflow has {instances} PE instance"
                f"{'s' if instances != 1 else ''} (give a PE more with pe.numprocesses = k)")
    return used + f"the {summary.mapping} mapping uses at most {summary.processes}"


def _with_iterations(inputs: dict | None, iterations: int) -> dict | int:
    """The workflow's own inputs with ``-i`` for every number of iterations in
    them, or ``-i`` for every PE that no PE feeds when it has none."""
    if not inputs:
        return iterations
    return {key: iterations if isinstance(given, int) else given
            for key, given in inputs.items()}


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


def _check_writable(path: str, what: str = "results", example: str = "results.json") -> None:
    """Refuse, before any work, an output file that cannot be written: a
    folder, a file in a folder that does not exist or that cannot be written."""
    import tempfile
    from pathlib import Path

    where = f"cannot write {what} to {path!r}"
    if Path(path).is_dir():
        raise UsageError(f"{where}: it is a folder; give a file name such as "
                         f"{str(Path(path) / example)!r}")
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        missing = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"{where}: {str(folder)!r} {missing}")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{Path(path).name}.")
    except OSError as exc:
        raise UsageError(f"{where}: folder {str(folder)!r} cannot be written "
                         f"({exc.strerror}); choose another folder") from None
    os.close(fd)
    os.unlink(tmp)


@contextlib.contextmanager
def _written(path: str, mode: str = "w"):
    """A file to write ``path`` through: it becomes ``path`` (with the
    permissions a new file gets) only once written whole, so a failure leaves
    no half-written file; an error of the system is one line naming ``path``."""
    import tempfile
    from pathlib import Path

    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.resolve().parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise D4PError(f"cannot write {path!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, mode) as out:
            yield out
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from others
        os.replace(tmp, target)
    except BaseException as exc:
        os.unlink(tmp)
        if isinstance(exc, OSError):
            raise D4PError(f"cannot write {path!r}: {exc.strerror or exc}") from None
        raise


def _write_json(path: str, result: RunResult) -> None:
    import json

    with _written(path) as out:
        json.dump({"results": result, "summary": vars(result.summary)}, out,
                  default=_jsonable, indent=1)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def _mappings(args) -> int:
    if args.name:
        cls = get_mapping(args.name)
        print(f"{cls.name}: {cls.description}")
        print(_options_text(cls))
        return 0
    rows = [(cls.name, f"{dist} {version}", cls.description) for cls, dist, version
            in registered_mappings()]
    _table(("MAPPING", "PACKAGE", "DESCRIPTION"), rows)
    print("\n'd4p mappings NAME' shows a mapping's options.")
    return 0


def _options_text(cls) -> str:
    """The options of mapping ``cls``: flag, type, default and help, wrapped to the terminal."""
    if not cls.options:
        return f"mapping {cls.name!r} has no options"
    width = _width()
    lines = textwrap.wrap(f"options of mapping {cls.name!r} (d4p run -m {cls.name} --NAME VALUE, "
                          f"or d4p.run(..., mapping={cls.name!r}, name=value)):", width)
    for opt in cls.options:
        flag = "--" + opt.name.replace("_", "-")
        if isinstance(opt.default, bool) and not opt.multiple:
            kind = "flag"
        else:
            kind = getattr(opt.type, "__name__", "value").lstrip("_")
            flag += " " + ("TEXT" if kind == "str" else kind.upper())
        facts = [f"default: {opt.default!r}"] if opt.default not in ("", None, ()) else []
        if opt.choices:
            facts.append("one of " + ", ".join(map(str, opt.choices)))
        if opt.min is not None:
            facts.append(f"at least {opt.min:g}")
        if opt.multiple:
            facts.append("repeatable")
        lines.append(f"  {flag}" + (f"  ({'; '.join(facts)})" if facts else ""))
        lines += textwrap.wrap(opt.help, width, initial_indent=" " * 6,
                               subsequent_indent=" " * 6)
    return "\n".join(lines)


def _workflows(args) -> int:
    if args.name:
        return _workflow(get_workflow(args.name))
    found = workflows()
    if not found:
        print("no registered workflows")
        return 0
    rows = [(name, "{} {}".format(*workflow_origin(wf)), wf.description)
            for name, wf in sorted(found.items())]
    _table(("WORKFLOW", "PACKAGE", "DESCRIPTION"), rows)
    print("\n'd4p workflows NAME' shows a workflow's parameters; "
          "'d4p run NAME -p KEY=VALUE' runs it.")
    return 0


def _workflow(wf: NamedWorkflow) -> int:
    width = _width()
    dist, version = workflow_origin(wf)
    print(f"{wf.name} ({dist} {version})")
    for line in textwrap.wrap(wf.description, width - 2):
        print(f"  {line}")
    if not wf.params:
        print("\nno parameters")
        return 0
    print(f"\nparameters (d4p run {wf.name} -p KEY=VALUE):")
    for key, default in wf.params.items():
        print(f"  {key}={default!s}  ({type(default).__name__})"[: max(width, 20)])
        if wf.help.get(key):
            print(textwrap.fill(wf.help[key], width, initial_indent=" " * 6,
                                subsequent_indent=" " * 6))
    return 0


def _width() -> int:
    """Columns to fill: the terminal's, at most 100."""
    return min(shutil.get_terminal_size((100, 24)).columns, 100)


def _table(header: tuple, rows: list[tuple]) -> None:
    """Rows under ``header``; the last column wraps so that lines fit :func:`_width`."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    indent = sum(widths) + 2 * len(widths)
    room = max(_width() - indent, 20)
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        last = textwrap.wrap(str(row[-1]), room) or [""]
        print("  ".join([*cells, last[0]]).rstrip())
        for more in last[1:]:
            print(" " * indent + more)


def _draw(args) -> int:
    from pathlib import Path

    from .loader import key_values, load_target

    target = load_target(args.target, args.attr, key_values(args.param))
    graph = target.graph
    if not args.output:
        sys.stdout.write(graph.to_dot())
        return 0
    _check_writable(args.output, "the drawing", "graph.dot")
    suffix = Path(args.output).suffix.lower()
    if suffix in (".dot", ".gv"):
        data: str | bytes = graph.to_dot()
    elif suffix in (".mmd", ".mermaid"):
        data = graph.to_mermaid()
    elif suffix == ".svg":
        data = graph.to_svg()
    elif suffix == ".png":
        data = graph.to_png()
    else:
        raise UsageError(f"cannot draw {args.output!r}: use a .dot, .mmd, .svg or .png file name")
    with _written(args.output, "wb" if isinstance(data, bytes) else "w") as out:
        out.write(data)
    print(f"drew {target.name} to {args.output}", file=sys.stderr)
    return 0
