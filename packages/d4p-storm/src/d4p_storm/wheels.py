"""Wheels of installed distributions, for workers that cannot build or find them.

d4p's own packages in a development checkout (editable installs) are on no
package index, so a Storm worker's ``pip install -r virtualenvs/NAME.txt``
could not get them; :func:`wheel_of` writes the wheel of any installed
distribution instead:

* a regular install: the files its ``RECORD`` lists (binary or not), with
  the tags of its ``WHEEL`` file;
* an editable install: the packages of the folders its ``.pth`` file names,
  taken from where Python imports them now.

Console scripts are left out: the installer makes them from
``entry_points.txt``. :func:`closure` lists a distribution and everything it
requires (markers evaluated for this Python, extras ignored), as installed.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as metadata
import importlib.util
import io
import json
import os
import re
import zipfile
from pathlib import Path

_SKIPPED_META = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def canonical(name: str) -> str:
    """A distribution name as indexes compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_local(name: str) -> bool:
    """Whether distribution ``name`` was installed from a folder or file (an
    editable or local build, which no index has), not from an index."""
    text = metadata.distribution(name).read_text("direct_url.json")
    return bool(text) and str(json.loads(text).get("url", "")).startswith("file:")


def providers() -> dict[str, list[str]]:
    """Top-level module → the distributions that install it, editable
    installs included (``importlib.metadata.packages_distributions`` sees
    only the ``.pth`` file of those)."""
    found = {k: list(v) for k, v in metadata.packages_distributions().items()}
    for dist in metadata.distributions():
        for folder in _pth_folders(dist):
            for entry in os.listdir(folder):
                name = entry[:-3] if entry.endswith(".py") else entry
                if name.isidentifier() and dist.metadata["Name"] not in found.get(name, []):
                    found.setdefault(name, []).append(dist.metadata["Name"])
    return found


def _pth_folders(dist) -> list[str]:
    """The folders that an editable install's ``.pth`` files put on ``sys.path``."""
    folders = []
    for f in dist.files or ():
        if str(f).endswith(".pth") and "/" not in str(f):
            try:
                lines = Path(dist.locate_file(f)).read_text().splitlines()
            except OSError:
                continue
            folders += [line.strip() for line in lines if line.strip()
                        and not line.startswith(("#", "import ")) and os.path.isdir(line.strip())]
    return folders


def closure(names: list[str]) -> list[str]:
    """``names`` and the installed distributions they require, recursively
    (canonical names, sorted)."""
    from packaging.requirements import Requirement

    seen: dict[str, None] = {}
    todo = [canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = None
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(canonical(req.name))
    return sorted(seen)


def wheel_of(name: str, folder: str | os.PathLike) -> Path:
    """Write the wheel of installed distribution ``name`` into ``folder``."""
    dist = metadata.distribution(name)
    files = [f for f in dist.files or () if not str(f).startswith("..")]
    info = next(str(f).split("/")[0] for f in files if ".dist-info/" in str(f))
    wheel_text = dist.read_text("WHEEL") or "Tag: py3-none-any\n"
    tags = [line.split(":", 1)[1].strip() for line in wheel_text.splitlines()
            if line.startswith("Tag:")] or ["py3-none-any"]
    stem = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    target = Path(folder) / f"{stem}-{dist.version}-{_compressed(tags)}.whl"
    contents: list[tuple[str, bytes]] = []
    folders = _pth_folders(dist) if is_local(name) else []
    if folders:  # an editable install: the packages its .pth points at
        for folder_ in folders:
            contents += _packages_in(folder_)
    else:
        for f in files:
            text = str(f)
            if text.startswith(info + "/") or text.endswith(".pyc"):
                continue
            contents.append((text, Path(dist.locate_file(f)).read_bytes()))
    for f in files:
        text = str(f)
        if text.startswith(info + "/") and text.split("/", 1)[1] not in _SKIPPED_META:
            contents.append((text, Path(dist.locate_file(f)).read_bytes()))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in contents:
            archive.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            writer.writerow([arcname, f"sha256={digest.decode()}", len(data)])
        writer.writerow([f"{info}/RECORD", "", ""])
        archive.writestr(f"{info}/RECORD", record.getvalue())
    tmp.replace(target)
    return target


def _packages_in(folder: str) -> list[tuple[str, bytes]]:
    """The packages and modules of ``folder``, read from where they are imported now."""
    out = []
    for entry in sorted(os.listdir(folder)):
        name = entry[:-3] if entry.endswith(".py") else entry
        if not name.isidentifier():
            continue
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            root = Path(list(spec.submodule_search_locations)[0])
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    out.append((f"{name}/{path.relative_to(root).as_posix()}",
                                path.read_bytes()))
        elif spec.origin and spec.origin.endswith(".py"):
            out.append((f"{name}.py", Path(spec.origin).read_bytes()))
    return out


def _compressed(tags: list[str]) -> str:
    """Wheel tags as one compressed tag set (``py2.py3-none-any``)."""
    parts: list[dict[str, None]] = [{}, {}, {}]
    for tag in tags:
        for i, part in enumerate(tag.split("-", 2)):
            parts[i][part] = None
    return "-".join(".".join(p) for p in parts)
