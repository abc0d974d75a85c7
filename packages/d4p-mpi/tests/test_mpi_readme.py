"""The Python example of the README runs as written."""

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert "mpi mapping, 3 processes" in printed
    assert re.search(r"\[\('w\d{4}', \d+\), \('w\d{4}', \d+\), \('w\d{4}', \d+\)\]", printed)


def test_readme_lists_every_option():
    from d4p_mpi import MPIMapping

    text = README.read_text()
    for option in MPIMapping.options:
        assert f"| `{option.name}` |" in text
