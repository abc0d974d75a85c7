"""``mpiexec -n R python script.py`` / ``mpiexec -n R d4p run ...``: the mpi
mapping runs in place on every rank; rank 0 returns the results."""

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import d4p
import pytest
from d4p.examples import wordcount
from d4p.testing.workflows import ENDLESS_FILE
from d4p_mpi.environment import mpiexec_command

HERE = Path(__file__).parent


def _mpiexec(folder: Path, ranks: int, case: str, processes: int) -> tuple[int, list[dict], str]:
    run = subprocess.run([*mpiexec_command(), "-n", str(ranks), sys.executable,
                          str(HERE / "mpi_inplace_run.py"), case, str(processes), str(folder)],
                         capture_output=True, text=True, timeout=60)
    reports = [json.loads(path.read_text()) for path in folder.glob("rank-*.json")]
    return run.returncode, sorted(reports, key=lambda r: r["rank"]), run.stdout + run.stderr


def test_in_place_rank_zero_returns_results_and_a_spare_rank_idles(tmp_path):
    code, reports, said = _mpiexec(tmp_path, 4, "wordcount", 3)
    assert code == 0, said
    graph, inputs = wordcount(5000, counters=3)
    (simple_ports,) = d4p.run(graph, inputs).values()
    want = json.loads(json.dumps(simple_ports["output"]))  # one list: the top words
    assert [r["rank"] for r in reports] == [0, 1, 2, 3]
    assert [r["primary"] for r in reports] == [True, False, False, False]
    (collector, top), = reports[0]["outputs"].items()
    assert top == want
    assert reports[0]["units"]["count1.partial"] == 5000
    for r in reports[1:]:
        assert r["outputs"] == {collector: []}


def test_in_place_failure_ends_every_rank_with_the_same_error(tmp_path):
    code, reports, said = _mpiexec(tmp_path, 3, "failing", 3)
    assert code != 0
    assert len(reports) == 3, said
    for r in reports:
        assert r["fields"] == ["Fragile1", 0, "input", "500"]
        assert "PE 'Fragile1' (instance 0) failed on input 'input' with data 500" in r["failed"]
        assert "ValueError: cannot take 500" in r["failed"]


def test_cli_under_mpiexec_prints_the_results_on_rank_zero(tmp_path):
    d4p_command = str(Path(sys.executable).parent / "d4p")
    run = subprocess.run([*mpiexec_command(), "-n", "3", d4p_command, "run", "wordcount",
                          "--mapping", "mpi", "-p", "words=3000"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert run.returncode == 0, run.stderr
    assert "top2.output: 1 value" in run.stdout
    assert "[('w0557', 10), " in run.stdout


def test_cli_under_mpiexec_with_too_few_ranks_says_so_once(tmp_path):
    d4p_command = str(Path(sys.executable).parent / "d4p")
    run = subprocess.run([*mpiexec_command(), "-n", "2", d4p_command, "run", "pipeline",
                          "--mapping", "mpi", "-n", "3", "--no-fuse"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode != 0
    said = "d4p: error: the plan needs 3 MPI ranks but mpiexec started 2; run mpiexec -n 3, " \
           "or give -n 2 to d4p"
    assert (run.stdout + run.stderr).count(said) == 1, run.stderr


@pytest.mark.parametrize("args", [["--max-units", "500"], ["--stop-after", "1s"]])
def test_cli_under_mpiexec_stops_an_endless_source(tmp_path, args):
    """Before: under mpiexec the ranks ran with no stop at all, so an endless
    source ran on past max_units and stop_after (and a signal) until killed."""
    (tmp_path / "endless.py").write_text(ENDLESS_FILE)
    d4p_command = str(Path(sys.executable).parent / "d4p")
    proc = subprocess.Popen([*mpiexec_command(), "-n", "2", d4p_command, "run", "endless.py",
                             "--mapping", "mpi", "-n", "2", *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert lines[0] == "Count1.output: 1 value"
        if args[0] == "--max-units":
            assert int(lines[1]) == 500 and "(max_units=500)" in err
        else:
            assert int(lines[1]) > 0 and "(stop_after=1 s)" in err
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
