"""The README's examples run and show what the package really produces."""

import re
from pathlib import Path

import d4p
from d4p_astro import build_int_ext
from d4p_astro.extinction import HUBBLE_T

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_the_python_example_runs_and_prints_what_the_readme_says(tmp_path, monkeypatch, capsys):
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["(4, 0.7008859967338689)", "(None, None)"]
    assert out[-3:] == ["1 Sb 0.49 3 0.6745", "2 Scd 0.23 6 0.4062", "3 Sbc 0.45 4 0.7009"]
    assert (tmp_path / "int_ext.csv").exists()


def test_the_csv_excerpt_is_real_output(tmp_path):
    excerpt = re.search(r"```\n(count,ra,dec.*?)\n\.\.\.\n```", README, re.S).group(1)
    graph, inputs = build_int_ext(source="fixture", output=str(tmp_path / "r.csv"))
    d4p.run(graph, inputs)
    real = (tmp_path / "r.csv").read_text().splitlines()
    assert set(excerpt.splitlines()) <= set(real)


def test_the_type_table_in_the_readme_is_the_code_table():
    header, _, values = re.search(r"\| MType \|(.*)\n.*\n\| T \|(.*)\n", README).group(1, 0, 2)
    names = [cell.strip().split(", ") for cell in header.strip(" |").split("|")]
    ts = [int(v.strip().replace("−", "-")) for v in values.strip(" |").split("|")]
    documented = {name: t for group, t in zip(names, ts, strict=True) for name in group}
    assert documented == dict(HUBBLE_T)
