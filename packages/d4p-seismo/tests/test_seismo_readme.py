"""The README's runnable misfit example runs and prints what the README shows."""

import re
from pathlib import Path

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_the_time_frequency_example_prints_what_the_readme_says(tmp_path, monkeypatch, capsys):
    section = README[README.index("### Time–frequency misfit"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    log, shown = re.search(r"prints \(after d4p's log line `(.*?)`\)\n\n```\n(.*?)```", section,
                           re.S).group(1, 2)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    first, *printed = capsys.readouterr().out.splitlines()
    assert printed == shown.splitlines()
    assert first == log.replace("\n", " ").replace("...", str(tmp_path.resolve()))
    assert sorted(p.name for p in (tmp_path / "misfit-out").glob("*.tf.png")) == [
        "BW.RJOB.EHE.tf.png", "BW.RJOB.EHN.tf.png", "BW.RJOB.EHZ.tf.png"]
