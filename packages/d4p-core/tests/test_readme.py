"""The root README's examples, run as written: the first ``python`` block is
``wf.py``; every ``console`` block's commands run in a folder holding it and
must print what the block shows (``...`` in a line stands for anything, such
as a time); every command of a ``shell`` block must succeed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", README.read_text(), re.M | re.S)


def _sessions() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of every ``console`` block."""
    found = []
    for block in _blocks("console"):
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *output = part.rstrip("\n").split("\n")
            found.append((command, output))
    return found


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    args = shlex.split(command.split("  #")[0])
    program = {"python": [sys.executable], "d4p": [sys.executable, "-m", "d4p"]}[args[0]]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the order a terminal shows
    return subprocess.run([*program, *args[1:]], cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300, env=env)


def _matches(pattern: str, line: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("..."))), line) is not None


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("readme")
    (path / "wf.py").write_text(_blocks("python")[0])
    return path


@pytest.mark.parametrize(("command", "expected"), _sessions(), ids=[c for c, _ in _sessions()])
def test_console_examples_print_what_the_readme_shows(folder, command, expected):
    done = _run(command, folder)
    assert done.returncode == 0, done.stdout
    lines = done.stdout.rstrip("\n").split("\n")
    assert len(lines) == len(expected), done.stdout
    for want, got in zip(expected, lines, strict=True):
        assert _matches(want, got), f"README shows {want!r}, the command printed {got!r}"


SHELL = [line for block in _blocks("shell") for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize("command", SHELL)
def test_shell_examples_succeed(folder, command):
    done = _run(command, folder)
    assert done.returncode == 0, done.stdout


def test_the_first_example_runs_its_workflow_once_under_d4p_run(folder):
    assert 'if __name__ == "__main__":' in _blocks("python")[0]
    assert "{'square1'" not in _run("d4p run wf.py", folder).stdout
