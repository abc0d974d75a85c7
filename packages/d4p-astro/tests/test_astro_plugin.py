import shutil
import subprocess
import sys

import d4p
from d4p_astro import FIXTURE_PATH, SHIPPED_COORDINATES
from d4p_astro.workflow import build


def test_int_ext_is_registered_through_the_d4p_entry_point():
    workflow = d4p.workflows()["int_ext"]
    assert workflow.builder() is build
    assert workflow.params == {
        "coordinates": str(SHIPPED_COORDINATES),
        "source": "vizier",
        "radius": 0.01,
        "output": "int_ext.csv",
        "timeout": 30.0,
        "retries": 2,
        "url": "https://vizier.cds.unistra.fr/viz-bin/conesearch/VII/237/pgc",
        "fixture": str(FIXTURE_PATH),
        "instances": 2,
        "types": "rc3",
    }
    assert "VII/237" in workflow.description


def test_the_registered_build_runs_with_string_parameters_like_the_cli_gives(tmp_path):
    workflow = d4p.workflows()["int_ext"]
    params = dict(workflow.params, source="fixture", output=str(tmp_path / "r.csv"))
    params = {k: type(workflow.params[k])(v) for k, v in params.items()}
    graph, inputs = workflow.builder()(**params)
    d4p.run(graph, inputs)
    assert (tmp_path / "r.csv").read_text().splitlines()[
        3
    ] == "3,202.4696,47.1952,Sbc,0.45,4,0.7009"


def test_d4p_run_int_ext_on_multi_from_the_command_line(tmp_path):
    d4p_cli = shutil.which("d4p") or str(
        __import__("pathlib").Path(sys.executable).with_name("d4p")
    )
    output = tmp_path / "cli.csv"
    done = subprocess.run(
        [d4p_cli, "run", "int_ext", "-p", "source=fixture", "-p", f"output={output}",
         "-p", f"coordinates={SHIPPED_COORDINATES}", "--mapping", "multi", "-n", "2"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "multi mapping, 2 processes" in done.stdout + done.stderr
    assert output.read_text().splitlines()[8] == "8,187.7059,12.3911,E,0.05,-5,0.0000"


def test_finding_the_plugin_imports_neither_astropy_nor_pyvo():
    code = ("import sys, d4p; d4p.workflows(); "
            "print(sorted(m for m in ('astropy', 'pyvo') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
