"""MPI on several hosts, for real: MPICH's hydra starts a proxy on every host
that is not an address of this machine (127.0.0.2, 127.0.0.3, ... : Linux
routes all of 127/8 to the loopback device) through its launcher, here a
fake ``ssh`` that runs the proxy in fresh mount and PID namespaces with a
private /tmp. So each "host" has its own process table and /tmp and shares
only the network and the rest of the file system, as the nodes of a cluster
share their home and project folders. The run happens in a folder of that
shared part (``shared``, bound back into each host's private /tmp)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import d4p
import mpi_workflows
import pytest
from d4p.examples import wordcount
from d4p.testing.workflows import ENDLESS_FILE
from d4p_mpi.environment import mpiexec_command, other_hosts
from mpi_processes import leftovers

HOSTS = "127.0.0.2,127.0.0.3,127.0.0.4"

FAKE_SSH = """\
#!/bin/sh
# hydra runs: fake-ssh [ssh options] HOST COMMAND...; HOST becomes namespaces of this machine
while [ $# -gt 0 ]; do case "$1" in -o|-p|-l|-i) shift 2;; -*) shift;; *) break;; esac; done
shift
# a private /tmp, with the folders of $D4P_TEST_KEEP (under /tmp: the shared folder, and the
# code when it lives there) bound back from the real one
exec unshare --mount --pid --fork --mount-proc sh -c '
  mount --bind /tmp /mnt && mount -t tmpfs tmpfs /tmp &&
  for keep in $(echo "$D4P_TEST_KEEP" | tr ":" " "); do
    mkdir -p "$keep" && mount --bind "/mnt/${keep#/tmp/}" "$keep" || exit 1
  done && umount -l /mnt && exec sh -c "$0"' "$*"
"""

WHERE = """
import os
import d4p
import numpy as np


class Arrays(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(90):
            self.write("output", (i % 7, np.full(20_000, float(i))))  # 160 kB: raw MPI buffers


class SumByKey(d4p.GenericPE):
    \"\"\"Sums the arrays of each key; notes where it ran in the shared folder.\"\"\"

    def __init__(self):
        super().__init__()
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.sums = {}

    def process(self, inputs):
        key, array = inputs["input"]
        self.sums[key] = self.sums.get(key, 0.0) + float(array.sum())

    def postprocess(self):
        for key, total in self.sums.items():
            self.write("output", [key, total])
        if os.environ.get("D4P_TEST_LAUNCHER_TMP"):
            with open(f"where-{os.getpid()}-{id(self)}", "w") as out:
                out.write(f"{os.stat('/proc/self/ns/pid').st_ino} "
                          f"{os.path.exists(os.environ['D4P_TEST_LAUNCHER_TMP'])} "
                          f"{' '.join(n for n in os.listdir('.') if n.startswith('.d4p-mpi-'))}")


graph = d4p.WorkflowGraph()
sums = SumByKey()
sums.numprocesses = 2
graph.connect(Arrays(), "output", sums, "input")
"""


@pytest.fixture
def hosts(tmp_path, monkeypatch):
    """The ``mpiexec`` option that starts ranks on three "hosts"; the
    current folder is the shared one."""
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("simulated hosts need unshare with mount and PID namespaces (root): "
                    + probe.stderr.decode(errors="replace").strip())
    fake = tmp_path / "fake-ssh"
    fake.write_text(FAKE_SSH)
    fake.chmod(0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    code = [Path(d4p.__file__).resolve().parents[4], Path(sys.prefix).resolve()]
    keep = [shared.resolve(), *(p for p in code if p.is_relative_to("/tmp"))]
    monkeypatch.setenv("D4P_TEST_KEEP", ":".join(map(str, keep)))
    # Only the network between hosts: UCX would otherwise try its shared-memory transports
    # between ranks of this one kernel, which reach a peer by its pid (wrong in another PID
    # namespace), and a rank on this host could not connect to the others.
    monkeypatch.setenv("UCX_TLS", "tcp,self")
    monkeypatch.chdir(shared)
    yield f"{mpiexec_command()[0]} -launcher ssh -launcher-exec {fake} -hosts {HOSTS}"
    _kill(_ours(tmp_path))


def _ours(tmp_path: Path) -> list[int]:
    """Live processes whose command line names ``tmp_path``: mpiexec (it names
    the fake ssh), the proxies and ranks on every host (their run folder)."""
    marker, found = str(tmp_path), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in words and state != "Z" and int(pid) != os.getpid():
            found.append(int(pid))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_until_gone(tmp_path: Path) -> None:
    while _ours(tmp_path):  # hang guard: the test's timeout
        time.sleep(0.05)


def _d4p(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "d4p", "run", *args], capture_output=True,
                          text=True, timeout=120, **kw)


def test_hosts_named_by_mpiexec_arguments_and_the_environment(tmp_path, monkeypatch):
    for var in ("HYDRA_HOST_FILE", "HYDRA_HOSTS", "SLURM_JOB_ID", "SLURM_JOBID", "PBS_JOBID",
                "LSB_JOBID", "PE_HOSTFILE", "COBALT_JOBID", "FLUX_JOB_ID"):
        monkeypatch.delenv(var, raising=False)
    hostfile = tmp_path / "hosts"
    hostfile.write_text("# login node first\nlocalhost:2\nnode07:4  # a comment\n\nnode08\n")
    assert other_hosts("") == []
    assert other_hosts("mpiexec -hosts 127.0.0.1,localhost -n 2") == []
    assert other_hosts(f"mpiexec -f {hostfile}") == ["node07", "node08"]
    assert other_hosts(f"mpiexec -machinefile {hostfile}") == ["node07", "node08"]
    assert other_hosts("mpiexec -hosts 127.0.0.2,127.0.0.1") == ["127.0.0.2"]
    assert other_hosts("mpiexec --host=a,b") == ["a", "b"]
    assert other_hosts(f"mpiexec -f {tmp_path / 'no'}") == [f"the hosts of {tmp_path / 'no'}"]
    monkeypatch.setenv("HYDRA_HOST_FILE", str(hostfile))
    assert other_hosts("") == ["node07", "node08"]
    monkeypatch.delenv("HYDRA_HOST_FILE")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert other_hosts("") == ["the nodes of job $SLURM_JOB_ID"]


@pytest.mark.timeout(180)
def test_group_by_with_numpy_on_three_hosts_equals_simple(hosts, tmp_path, monkeypatch):
    (tmp_path / "shared" / "wf.py").write_text(WHERE)
    want = _d4p("wf.py", "-q", "-o", "simple.json")
    assert want.returncode == 0, want.stderr
    monkeypatch.setenv("D4P_TEST_LAUNCHER_TMP", str(tmp_path / "fake-ssh"))  # in our /tmp
    got = _d4p("wf.py", "-q", "-m", "mpi", "-n", "3", "--mpiexec", hosts, "-o", "mpi.json")
    assert got.returncode == 0, got.stderr
    assert "mpi mapping, 3 processes" in got.stderr
    simple, mpi = (json.loads(Path(name).read_text())["results"]
                   for name in ("simple.json", "mpi.json"))
    (pe,) = simple
    assert sorted(mpi[pe]["output"]) == sorted(simple[pe]["output"])
    assert len(simple[pe]["output"]) == 7
    _assert_ran_on_other_hosts(tmp_path)


def _assert_ran_on_other_hosts(tmp_path: Path) -> None:
    """Both SumByKey instances of WHERE ran on a "host" of their own."""
    notes = [p.read_text().split() for p in Path().glob("where-*")]
    assert len(notes) == 2
    ours = str(os.stat("/proc/self/ns/pid").st_ino)
    assert len({n[0] for n in notes}) == 2 and ours not in {n[0] for n in notes}
    assert {n[1] for n in notes} == {"False"}  # the launcher's /tmp is not there
    assert all(n[2].startswith(".d4p-mpi-") for n in notes)  # the run folder is here
    assert not list(Path().glob(".d4p-mpi-*"))  # and removed afterwards
    assert not _ours(tmp_path)


@pytest.mark.timeout(180)
def test_the_readme_recipe_with_a_hostfile(hosts, tmp_path, monkeypatch):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    line = re.search(r"^d4p run wf\.py .*-f hosts\"$", readme, re.M).group(0)
    (tmp_path / "shared" / "wf.py").write_text(WHERE)
    Path("hosts").write_text("".join(f"{h}\n" for h in HOSTS.split(",")))
    monkeypatch.setenv("HYDRA_LAUNCHER", "ssh")  # hydra's ssh is the fake one
    monkeypatch.setenv("HYDRA_LAUNCHER_EXEC", str(tmp_path / "fake-ssh"))
    monkeypatch.setenv("PATH", os.path.dirname(mpiexec_command()[0]), prepend=os.pathsep)
    want = _d4p("wf.py", "-q", "-o", "simple.json")
    monkeypatch.setenv("D4P_TEST_LAUNCHER_TMP", str(tmp_path / "fake-ssh"))  # in our /tmp
    got = _d4p(*shlex.split(line)[2:], "-q", "-o", "mpi.json")
    assert got.returncode == 0, got.stderr
    simple, mpi = (json.loads(Path(name).read_text())["results"]
                   for name in ("simple.json", "mpi.json"))
    assert sorted(mpi["SumByKey1"]["output"]) == sorted(simple["SumByKey1"]["output"])
    assert want.returncode == 0 and len(simple["SumByKey1"]["output"]) == 7
    _assert_ran_on_other_hosts(tmp_path)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("first", ["127.0.0.2", "127.0.0.1"])  # 127.0.0.1: this host
def test_wordcount_on_three_hosts_from_python_equals_simple(hosts, tmp_path, first):
    want = d4p.run(*wordcount(20_000, counters=3, top=50))
    result = d4p.run(*wordcount(20_000, counters=3, top=50), mapping="mpi", processes=3,
                     timeout=120, mpiexec=hosts.replace("127.0.0.2", first))
    assert next(iter(result.values())) == next(iter(want.values()))
    assert not list(Path().glob(".d4p-mpi-*"))
    assert not _ours(tmp_path)


@pytest.mark.timeout(180)
def test_a_rank_that_dies_on_another_host_is_named_with_its_pes(hosts, tmp_path):
    record = tmp_path / "shared" / "died"
    graph, inputs = mpi_workflows.killing(fatal=300, record=str(record))
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, inputs, mapping="mpi", processes=3, timeout=120, mpiexec=hosts)
    rank, instance = record.read_text().split()
    assert re.fullmatch(rf"MPI rank {rank} \(running Suicidal\d+\[{instance}\]\) was killed by "
                        r"signal 9 \(SIGKILL\) before finishing; look for a PE that crashes the "
                        r"interpreter or runs out of memory", str(info.value)), str(info.value)
    _wait_until_gone(tmp_path)


@pytest.mark.timeout(180)
def test_a_run_folder_the_hosts_do_not_see_is_one_line_naming_the_option(hosts, tmp_path):
    private = tmp_path / "private"  # in this machine's /tmp only
    private.mkdir()
    with pytest.raises(d4p.UsageError) as info:
        d4p.run(*wordcount(1000), mapping="mpi", processes=3, timeout=120, mpiexec=hosts,
                run_folder=str(private))
    assert re.fullmatch(r"MPI rank \d on host \S+ cannot see the run folder "
                        rf"{private}/\.d4p-mpi-\w+; give the mpi mapping option run_folder a "
                        r"folder on a file system that every host of the run sees",
                        str(info.value)), str(info.value)
    assert not list(private.iterdir())
    _wait_until_gone(tmp_path)
    given = tmp_path / "shared" / "runs"
    given.mkdir()
    result = d4p.run(*wordcount(1000), mapping="mpi", processes=3, timeout=120, mpiexec=hosts,
                     run_folder=str(given))
    assert next(iter(result.values())) == next(iter(d4p.run(*wordcount(1000)).values()))


def test_a_host_mpiexec_cannot_reach_is_named_instead_of_reinstalling(tmp_path):
    """Before: "pip install d4p-mpi ... or pip install --force-reinstall mpi4py
    mpich", whatever the host's name."""
    done = _d4p("wordcount", "-m", "mpi", "-n", "2", "--mpiexec",
                f"{mpiexec_command()[0]} -hosts nohost.invalid", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("d4p: error: mpiexec could not start the MPI ranks (exit "
                                  "status 255); check that it reaches nohost.invalid (the host "
                                  "names, and ssh to them without a password).\n"), done.stderr


def test_a_missing_run_folder_is_a_usage_error(tmp_path):
    done = _d4p("wordcount", "-m", "mpi", "-n", "2", "--run-folder", str(tmp_path / "no"))
    assert done.returncode == 2
    assert done.stderr == (f"d4p: error: --run-folder: invalid value '{tmp_path / 'no'}' (no "
                           "such folder; name an existing folder that every host of the run "
                           "sees)\n")
    with pytest.raises(d4p.UsageError, match="option 'run_folder' of mapping 'mpi': invalid "
                                             "value .* \\(no such folder"):
        d4p.run(*wordcount(10), mapping="mpi", processes=2, run_folder=str(tmp_path / "no"))


def _endless(hosts: str) -> subprocess.Popen:
    Path("endless.py").write_text(textwrap.dedent(ENDLESS_FILE))
    proc = subprocess.Popen([sys.executable, "-m", "d4p", "run", "endless.py", "-m", "mpi",
                             "-n", "3", "-q", "--mpiexec", hosts], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    while len(leftovers(proc.pid)) < 3 and proc.poll() is None:  # every rank started
        time.sleep(0.05)
    time.sleep(1.0)  # and running
    return proc


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("how", "twice"), [("SIGINT", False), ("SIGTERM", False),
                                           ("SIGTERM", True)])
def test_a_signal_to_d4p_run_on_three_hosts(hosts, tmp_path, how, twice):
    proc = _endless(hosts)
    try:
        proc.send_signal(getattr(signal, how))
        if twice:
            time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        if twice:  # aborted (or, landing as d4p exits, the default action)
            assert proc.returncode in (0, 143, -signal.SIGTERM, 130), err
        else:  # a graceful stop: the sources stop, everything produced is counted
            assert proc.returncode == 0, err
            assert out.decode().splitlines()[0] == "Count1.output: 1 value"
            assert "stopped after" in err.decode() and f"({how})" in err.decode()
        _wait_until_gone(tmp_path)
        assert not list(Path().glob(".d4p-mpi-*"))
    finally:
        proc.kill()
        proc.wait(5)


@pytest.mark.timeout(180)
def test_a_killed_launcher_leaves_no_process_on_any_host(hosts, tmp_path):
    proc = _endless(hosts)
    try:
        assert len(_ours(tmp_path)) >= 7  # mpiexec, 3 proxies (and their shells), 3 ranks
        proc.kill()  # SIGKILL: the launcher cannot clean up; mpiexec hears it died
        proc.wait(5)
        _wait_until_gone(tmp_path)
    finally:
        proc.kill()
        proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()
    (stale,) = Path().glob(".d4p-mpi-*")  # left by the killed launcher, on this host:
    result = d4p.run(*wordcount(1000), mapping="mpi", processes=3, timeout=120, mpiexec=hosts)
    assert not stale.exists()  # the next run here removes it
    assert next(iter(result.values())) == next(iter(d4p.run(*wordcount(1000)).values()))
