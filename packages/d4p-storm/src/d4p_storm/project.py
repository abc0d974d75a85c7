"""``d4p storm export``: a workflow's plan as a complete streamparse project.

::

    DIR/
      config.json               streamparse settings; env "prod" (set its nimbus, workers, user)
      project.clj               Leiningen project: Storm and Flux versions for the topology jar
      topologies/NAME.py        the streamparse Topology: components, groupings, parallelism
      src/NAME_d4p.py           one WorkflowSpout / WorkflowBolt subclass per PE
      src/NAME_plan.pickle      the workflow's plan (PEs, inputs, routes), read by every task
      src/d4p_workflow_*.py     the workflow file the plan's classes come from (and the
                                local modules beside it)
      virtualenvs/NAME.txt      what `sparse submit` installs on the workers
      README.md                 how to run and submit it

``sparse run`` / ``sparse submit`` package ``src/`` into the jar as
``resources/``; Storm starts each task as ``streamparse_run -s json
NAME_d4p.<Class>`` with that folder on the import path.
"""

from __future__ import annotations

import importlib.util
import json
import keyword
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from d4p import UsageError
from d4p.plan import Plan
from d4p.shipping import warn_file_writers

from .__about__ import DEFAULT_STORM_VERSION
from .requirements import write_requirements
from .shipping import SERIALIZERS, ship
from .topology import FIELDS_GROUPING, StormTopology, translate

MAX_SPOUT_PENDING = 1000
"""Tuple trees a spout task may have in flight (``topology.max.spout.pending``)."""


@dataclass(frozen=True)
class Project:
    """An exported streamparse project."""

    folder: Path
    name: str
    topology: StormTopology

    @property
    def topology_file(self) -> Path:
        return self.folder / "topologies" / f"{self.name}.py"

    @property
    def module(self) -> str:
        """The module of the generated component classes."""
        return f"{self.name}_d4p"


def topology_name(text: str) -> str:
    """``text`` as a topology name that is also a Python module name."""
    name = re.sub(r"\W", "_", text.strip()) or "workflow"
    if name[0].isdigit():
        name = f"wf_{name}"
    return name


def export(plan: Plan, folder: str | os.PathLike, name: str = "workflow", *,
           nimbus: str = "", storm_version: str = DEFAULT_STORM_VERSION,
           force: bool = False, serializer: str = "json") -> Project:
    """Write the streamparse project of ``plan`` into ``folder`` (created; an
    existing non-empty folder only with ``force``, and replaced whole).
    ``serializer`` is the multi-lang serializer (see :data:`SERIALIZERS`)."""
    if serializer not in SERIALIZERS:
        raise UsageError(f"unknown multi-lang serializer {serializer!r}: use "
                         f"{' or '.join(SERIALIZERS)}")
    target = Path(folder).resolve()
    name = topology_name(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not force:
        raise UsageError(f"{str(folder)!r} exists and is not an empty folder: choose a new "
                         "folder, or pass --force to replace it")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write the project to {str(folder)!r}: folder "
                         f"{str(target.parent)!r} does not exist")
    topology = translate(plan)
    warn_file_writers(plan, "on a Storm cluster")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise UsageError(f"cannot write the project to {str(folder)!r}: folder "
                         f"{str(target.parent)!r} cannot be written ({exc.strerror}); choose "
                         "another folder") from None
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        _write(tmp, plan, topology, name, nimbus, storm_version, serializer)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Project(target, name, topology)


def _write(root: Path, plan: Plan, topology: StormTopology, name: str, nimbus: str,
           storm_version: str, serializer: str) -> None:
    for sub in ("src", "topologies", "virtualenvs"):
        (root / sub).mkdir()
    classes = _identifiers([c.name for c in topology.components],
                           reserved={"Stream", "WorkflowBolt", "WorkflowSpout", "PLAN"})
    attrs = _identifiers([c.name.lower() for c in topology.components],
                         reserved={"config", "specs", "write", "read", "to_flux_dict",
                                   "thrift_topology", "thrift_bolts", "thrift_spouts"})
    plan_file = f"{name}_plan.pickle"
    workflow_files = ship(plan, str(root / "src"), plan_file)
    (root / "src" / f"{name}_d4p.py").write_text(
        _components_module(name, topology, classes, plan_file))
    (root / "topologies" / f"{name}.py").write_text(
        _topology_module(name, topology, classes, attrs))
    (root / "config.json").write_text(json.dumps(_config(nimbus, serializer), indent=4) + "\n")
    (root / "project.clj").write_text(_project_clj(name, storm_version))
    write_requirements(plan, root, name, serializer)
    (root / ".gitignore").write_text("_build/\n_resources/\nlogs/\n__pycache__/\n")
    (root / "README.md").write_text(_readme(name, topology, workflow_files, storm_version))


def _identifiers(names: list[str], reserved: set[str]) -> list[str]:
    out: list[str] = []
    for text in names:
        ident = re.sub(r"\W", "_", text)
        if ident[0].isdigit():
            ident = f"_{ident}"
        while ident in reserved or ident in out or keyword.iskeyword(ident):
            ident += "_"
        out.append(ident)
    return out


def _components_module(name: str, topology: StormTopology, classes: list[str],
                       plan_file: str) -> str:
    lines = [
        f'"""The d4p components of topology {name!r} (written by ``d4p storm export``).',
        "",
        "Each class runs one PE of the workflow; its tasks are the PE's instances.",
        f"Storm starts a task as ``streamparse_run -s json {name}_d4p.<Class>``.",
        '"""',
        "",
        "from streamparse import Stream",
        "",
        "from d4p_storm.components import WorkflowBolt, WorkflowSpout",
        "",
        f"PLAN = {plan_file!r}",
    ]
    for comp, cls in zip(topology.components, classes, strict=True):
        base = "WorkflowSpout" if comp.is_spout else "WorkflowBolt"
        plural = "s" if comp.tasks != 1 else ""
        lines += ["", "", f"class {cls}({base}):",
                  f'    """PE {comp.pe} ({comp.tasks} instance{plural}'
                  + "".join(f", with {p}" for p in comp.hosted) + ')."""', "",
                  f"    pe = {comp.pe!r}", "    plan_file = PLAN", "    outputs = ["]
        lines += [f"        Stream({list(s.fields)!r}, {s.id!r})," for s in comp.streams]
        lines += ["    ]"]
    return "\n".join(lines) + "\n"


def _topology_module(name: str, topology: StormTopology, classes: list[str],
                     attrs: list[str]) -> str:
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("_")) or "Workflow"
    if camel in classes or camel in ("Grouping", "Topology"):
        camel += "Topology"
    attr_of = {c.name: a for c, a in zip(topology.components, attrs, strict=True)}
    lines = [
        f'"""Storm topology {name!r} of a d4p workflow (written by ``d4p storm export``).',
        "",
        "Run it locally with ``sparse run``, submit it with ``sparse submit``.",
        '"""',
        "",
        "from streamparse import Grouping, Topology",
        "",
        f"from {name}_d4p import {', '.join(sorted(classes))}",
        "",
        "",
        f"class {camel}(Topology):",
        f"    config = {{{'topology.max.spout.pending'!r}: {MAX_SPOUT_PENDING}}}",
    ]
    for comp, cls, attr in zip(topology.components, classes, attrs, strict=True):
        if comp.is_spout:
            lines += ["", f"    {attr} = {cls}.spec(name={comp.name!r}, par={comp.tasks})"]
            continue
        lines += ["", f"    {attr} = {cls}.spec(", f"        name={comp.name!r},",
                  f"        par={comp.tasks},", "        inputs={"]
        for sub in comp.inputs:
            if sub.grouping == FIELDS_GROUPING:
                grouping = f"Grouping.fields({sub.fields[0]!r})"
            else:
                grouping = f"Grouping.{sub.grouping}"
            lines.append(f"            {attr_of[sub.component]}[{sub.stream!r}]: {grouping},")
        lines += ["        },", "    )"]
    return "\n".join(lines) + "\n"


def _config(nimbus: str, serializer: str) -> dict:
    return {
        "serializer": serializer,
        "topology_specs": "topologies/",
        "virtualenv_specs": "virtualenvs/",
        "envs": {
            "prod": {
                "user": "",
                "ssh_password": "",
                "nimbus": nimbus,
                "workers": [],
                "log": {"path": "", "max_bytes": 1000000, "backup_count": 10, "level": "info"},
                "virtualenv_root": "/data/virtualenvs",
                "use_virtualenv": True,
            }
        },
    }


def _project_clj(name: str, version: str) -> str:
    exclusions = ('[#"log4j\\.properties" #"org\\.apache\\.storm\\.(?!flux)" #"trident" '
                  '#"META-INF" #"meta-inf" #"\\.yaml"]')
    return (f'(defproject {name} "0.0.1-SNAPSHOT"\n'
            '  :resource-paths ["_resources"]\n'
            '  :target-path "_build"\n'
            '  :min-lein-version "2.0.0"\n'
            '  :jvm-opts ["-client"]\n'
            f'  :dependencies  [[org.apache.storm/storm-core "{version}"]\n'
            f'                  [org.apache.storm/flux-core "{version}"]]\n'
            f"  :jar-exclusions     {exclusions}\n"
            f"  :uberjar-exclusions {exclusions}\n"
            "  )\n")


def _readme(name: str, topology: StormTopology, workflow_files: list[str], version: str) -> str:
    rows = "\n".join(f"| {c.name} | {c.kind} | {c.pe} | {c.tasks} |" for c in topology.components)
    files = ", ".join(f"`src/{f}`" for f in workflow_files) or "none (the PEs are installed)"
    return f"""# Storm topology `{name}`

Written by `d4p storm export` from a d4p workflow. Workflow files: {files}.

| component | kind | PE | tasks |
| --- | --- | --- | --- |
{rows}

Needs Apache Storm {version} (`storm` on PATH), Leiningen (`lein`) and a
Python with d4p-storm installed (`streamparse_run` on PATH).

    sparse run -n {name}                            # local: runs until Ctrl-C
    sparse run -n {name} -o d4p.results_dir=/tmp/r  # also write results and failures there
    sparse submit -n {name} -e prod                 # to the cluster of config.json's env "prod"

Results are the tuples on the streams of unconnected output ports (field
`unit`: base64 of the pickled data unit); a PE that raises fails its tuple and
reports PE, instance, port and data in the Storm log and UI.
"""


def load_topology(folder: str | os.PathLike, name: str | None = None):
    """The streamparse ``Topology`` class of the project in ``folder`` (its
    only topology, or ``name``), imported the way ``sparse`` does it, with
    the project's modules removed from ``sys.modules`` afterwards."""
    from streamparse import Topology

    root = Path(folder).resolve()
    files = sorted((root / "topologies").glob("*.py"))
    if name is not None:
        files = [f for f in files if f.stem == name]
    if len(files) != 1:
        raise UsageError(f"{str(root)!r} has {len(files)} topologies matching "
                         f"{name or '*'}; name one")
    path = files[0]
    added = [str(root / "src"), str(path.parent)]
    sys.path[:0] = added
    before = set(sys.modules)
    try:
        spec = importlib.util.spec_from_file_location(f"_d4p_topology_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for entry in added:
            sys.path.remove(entry)
        for mod in set(sys.modules) - before:
            if str(getattr(sys.modules[mod], "__file__", "") or "").startswith(str(root)):
                del sys.modules[mod]
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, Topology) and value is not Topology:
            return value
    raise UsageError(f"{str(path)!r} defines no streamparse Topology")
