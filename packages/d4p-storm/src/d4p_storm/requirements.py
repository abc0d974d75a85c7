"""What the Storm workers install: ``virtualenvs/NAME.txt`` of an exported project.

``sparse submit`` builds each worker's virtualenv with ``pip install -r``
that file. It pins the versions installed here of

* d4p-core, d4p-storm and streamparse (what every component imports), and
  msgpack for the msgpack serializer;
* the distributions of every PE's class (an installed domain package such
  as d4p-seismo brings its own requirements);
* the third-party modules that the workflow files and the modules beside
  them import (a NumPy imported by a workflow file, say).

A distribution installed from a local folder or file (d4p's own packages in
a checkout) is on no index: its wheel goes to ``wheels/`` in the project and
the file says to give pip ``--find-links wheels`` (copy the folder to the
workers, or publish the wheels to your index). An import no installed
distribution provides is listed as a comment, for the user to resolve.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import sys
from pathlib import Path

from d4p.plan import Plan

from .wheels import canonical, is_local, providers, wheel_of

ALWAYS = ("d4p-core", "d4p-storm", "streamparse")


def write_requirements(plan: Plan, root: Path, name: str, serializer: str = "json") -> Path:
    """Write ``virtualenvs/NAME.txt`` (and ``wheels/`` when needed) for the
    project in ``root`` whose ``src/`` holds the components and workflow files."""
    found = providers()
    src = root / "src"
    local = {p.stem for p in src.glob("*.py")} | {p.name for p in src.iterdir() if p.is_dir()}
    wanted: dict[str, str] = {n: "every component" for n in ALWAYS}
    if serializer == "msgpack":
        wanted["msgpack"] = "the msgpack serializer"
    for pe_id, pe in plan.pes.items():
        top = type(pe).__module__.partition(".")[0]
        for dist in found.get(top, ()):
            wanted.setdefault(dist, f"PE {pe_id}")
    unknown: dict[str, str] = {}
    for path in sorted(src.rglob("*.py")):
        if path.name.endswith("_d4p.py"):
            continue
        for top in _imports(path):
            if top in local or top in sys.stdlib_module_names or top == "__future__":
                continue
            dists = found.get(top)
            if dists:
                for dist in dists:
                    wanted.setdefault(dist, f"imported by {path.relative_to(src)}")
            else:
                unknown.setdefault(top, str(path.relative_to(src)))
    lines = ["# What `sparse submit` installs on every Storm worker (written by d4p storm "
             "export):", "# the versions installed where the project was exported."]
    pins, built = [], []
    for dist in sorted(wanted, key=canonical):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            unknown.setdefault(dist, wanted[dist])
            continue
        pins.append(f"{canonical(dist)}=={version}  # {wanted[dist]}")
        if is_local(dist):
            (root / "wheels").mkdir(exist_ok=True)
            built.append(wheel_of(dist, root / "wheels").name)
    if built:
        lines += ["# Not on any index (installed from local folders): their wheels are in "
                  "wheels/;", "# copy that folder to the workers (or publish the wheels to "
                  "your index). pip finds them with:", "--find-links wheels"]
    lines += pins
    for top, where in sorted(unknown.items()):
        lines.append(f"# {top} ({where}): no installed distribution provides it; add it "
                     "here if the workers lack it")
    path = root / "virtualenvs" / f"{name}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _imports(path: Path) -> set[str]:
    """The top-level names of the absolute imports of a Python file."""
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (SyntaxError, UnicodeDecodeError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.partition(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names
