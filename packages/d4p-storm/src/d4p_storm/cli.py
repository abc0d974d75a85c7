"""``d4p storm export TARGET DIR``: write the streamparse project of a workflow."""

from __future__ import annotations

import argparse
import sys

from d4p.loader import key_values, load_target, parse_inputs
from d4p.plan import make_plan

from .__about__ import DEFAULT_STORM_VERSION


def add_commands(subparsers) -> None:
    """Add ``d4p storm`` and its sub-commands to the ``d4p`` command."""
    storm = subparsers.add_parser(
        "storm", help="Apache Storm: export a workflow as a streamparse project",
        description="Apache Storm tools of d4p-storm.")
    sub = storm.add_subparsers(title="commands", metavar="COMMAND")
    storm.set_defaults(handler=lambda args: _usage(storm))
    p = sub.add_parser(
        "export", help="write the streamparse project of a workflow (no Storm needed)",
        description="Write a complete streamparse project for TARGET (a .py file, a module or "
                    "a registered workflow) into DIR: config.json, project.clj, "
                    "topologies/NAME.py, src/ with the components, the plan and the workflow "
                    "file. Run it with `sparse run`, submit it with `sparse submit`.")
    p.add_argument("target", help=".py file, module or registered workflow name")
    p.add_argument("dir", help="folder to create (must not exist or be empty)")
    p.add_argument("-a", "--attr", help="name of the graph in the file or module")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of a registered workflow (repeatable)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("-d", "--data", help="inputs as JSON: {\"PE\": iterations or [items]}")
    source.add_argument("-f", "--file", help="file with the inputs as JSON")
    p.add_argument("--name", help="topology name (default: the workflow's name)")
    p.add_argument("--nimbus", default="", help="Nimbus host for config.json's env \"prod\"")
    p.add_argument("--storm-version", default=DEFAULT_STORM_VERSION,
                   help=f"Storm version for project.clj (default: {DEFAULT_STORM_VERSION})")
    p.add_argument("--serializer", default="json", choices=("json", "msgpack"),
                   help="multi-lang serializer (default json; msgpack carries units as bytes "
                        "and needs a msgpack topology.multilang.serializer class in Storm)")
    p.add_argument("--force", action="store_true", help="replace DIR if it is not empty")
    p.set_defaults(handler=_export)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _export(args) -> int:
    from .project import export, topology_name  # the project writer, only when it is used

    target = load_target(args.target, args.attr, key_values(args.param))
    inputs = parse_inputs(args.data, args.file)
    plan = make_plan(target.graph, 1, target.inputs if inputs is None else inputs)
    project = export(plan, args.dir, args.name or topology_name(target.name),
                     nimbus=args.nimbus, storm_version=args.storm_version, force=args.force,
                     serializer=args.serializer)
    spouts, bolts = len(project.topology.spouts), len(project.topology.bolts)
    tasks = sum(c.tasks for c in project.topology.components)
    print(f"wrote streamparse project {project.folder} (topology {project.name!r}: "
          f"{spouts} spout{'s' if spouts != 1 else ''}, {bolts} bolt"
          f"{'s' if bolts != 1 else ''}, {tasks} tasks)", file=sys.stderr)
    print(f"run it with:    cd {project.folder} && sparse run -n {project.name}", file=sys.stderr)
    print(f"submit it with: cd {project.folder} && sparse submit -n {project.name} -e prod "
          "(set the nimbus of env \"prod\" in config.json)", file=sys.stderr)
    return 0
