"""The core README's examples of streaming, windows and groupings run as
written and print what the README says they print."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _expected(block: str) -> list[str]:
    """What each print() should show: its trailing comment, or the comment
    line after it (without a note in parentheses after wide spacing)."""
    lines = block.splitlines()
    want = []
    for k, line in enumerate(lines):
        if not line.startswith("print("):
            continue
        comment = line.partition("#")[2] if "#" in line else lines[k + 1].lstrip("# ")
        want.append(re.split(r"\s{3,}", comment.strip())[0])
    return want


@pytest.mark.parametrize("marker", ["class Ticks", "class Lines", "class ByParity",
                                    "d4p.window.time(10"])
def test_readme_example_prints_what_it_says(marker, tmp_path):
    (block,) = [b for b in BLOCKS if marker in b]
    script = tmp_path / "example.py"
    script.write_text(block)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == _expected(block)
