import os
import shutil
import subprocess
import sys
from pathlib import Path

import d4p
import pytest
from d4p_astro import FIXTURE_PATH, SHIPPED_COORDINATES
from d4p_astro.workflow import build

D4P = shutil.which("d4p") or str(Path(sys.executable).with_name("d4p"))


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


USERS_TSV = (
    "\ufeffname\tRA\tDec\tnote\r\n"
    "M31\t00:42:44.3\t+41:16:09\tAndromeda\r\n"
    "\r\n"
    "field\t05 35 17.3\t-00 30 00\tempty, south of the equator by half a degree\r\n"
    "M51\t13h29m52.7s\t+47d11m43s\t\r\n"
    "M51 again\t202.4696\t47.1952\tduplicate in degrees\r\n"
)


@pytest.mark.parametrize(
    "mapping",
    [["-m", "simple"], ["-m", "multi", "-n", "4"],
     ["-m", "multi", "-n", "4", "--start-method", "spawn"], ["-m", "mpi", "-n", "4"]],
    ids=["simple", "multi-fork", "multi-spawn", "mpi-4"],
)  # fmt: skip
def test_a_users_tsv_in_sexagesimal_gives_the_same_csv_on_every_mapping(
    tmp_path, cone_server, mapping
):
    if mapping[1] == "mpi":
        pytest.importorskip("d4p_mpi")
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    server = cone_server()
    coordinates = tmp_path / "mine.tsv"
    coordinates.write_bytes(USERS_TSV.encode("utf-8"))
    output = tmp_path / "out.csv"
    done = subprocess.run(
        [D4P, "run", "int_ext", "-q", "-p", f"coordinates={coordinates}", "-p", f"url={server.url}",
         "-p", "timeout=10", "-p", "retries=0", "-p", f"output={output}", *mapping],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    m31 = SkyCoord("00:42:44.3 +41:16:09", unit=(u.hourangle, u.deg))
    field = SkyCoord("05 35 17.3 -00 30 00", unit=(u.hourangle, u.deg))
    m51 = SkyCoord("13h29m52.7s +47d11m43s", unit=(u.hourangle, u.deg))
    assert output.read_text().splitlines() == [
        "count,ra,dec,MType,logR25,T,A_i",
        f"1,{float(m31.ra.degree)!r},{float(m31.dec.degree)!r},Sb,0.49,3,0.6745",
        f"2,{float(field.ra.degree)!r},-0.5,,,,",
        f"3,{float(m51.ra.degree)!r},{float(m51.dec.degree)!r},Sbc,0.45,4,0.7009",
        "4,202.4696,47.1952,Sbc,0.45,4,0.7009",
    ]
    assert sorted(float(q["DEC"]) for _, q in server.requests) == pytest.approx(
        sorted([-0.5, m31.dec.degree, m51.dec.degree, 47.1952]), abs=1e-12
    )
    assert sorted(os.listdir(tmp_path)) == ["mine.tsv", "out.csv"]  # no temporary file left


def test_every_parameter_has_its_help_line():
    from d4p_astro.params import DEFAULTS, HELP

    assert list(HELP) == list(DEFAULTS)
    assert "rc3" in HELP["types"] and "dispel4py" in HELP["types"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["-p", "coordinates={tmp}/nowhere.txt"], "cannot read coordinates file {tmp}/nowhere.txt"),
        (["-p", "coordinates={tmp}/bad.txt"], "{tmp}/bad.txt, line 2: ra and dec must be decimal"),
        (["-p", "output={tmp}"], "int_ext: -p output={tmp} is a directory; give a file name"),
        (["-p", "fixture={tmp}/bad.txt"], "int_ext: -p fixture: {tmp}/bad.txt: the answer is not"),
        (["-p", "radius=-1"], "int_ext: -p radius must be a positive number up to 180, not -1.0"),
        (["-p", "url=vizier.cds.unistra.fr", "-p", "source=vizier"], "-p url must be an http://"),
    ],
)
def test_bad_options_on_the_command_line_are_one_line_errors_and_write_nothing(
    tmp_path, params, message
):
    (tmp_path / "bad.txt").write_text("10,20\n10h,north\n")
    params = [p.replace("{tmp}", str(tmp_path)) for p in params]
    done = subprocess.run(
        [D4P, "run", "int_ext", "-q", "-p", "source=fixture", "-p", "output=out.csv", *params],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    (line,) = done.stderr.splitlines()  # one line, no traceback
    assert line.startswith("d4p: error: ") and message.replace("{tmp}", str(tmp_path)) in line
    assert sorted(os.listdir(tmp_path)) == ["bad.txt"]
