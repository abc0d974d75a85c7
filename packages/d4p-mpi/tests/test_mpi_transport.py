"""The MPI transport on a real mpiexec: backpressure without deadlock, order,
NumPy arrays as raw buffers."""

import json
import subprocess
import sys
from pathlib import Path

from d4p_mpi.environment import mpiexec_command

HERE = Path(__file__).parent


def test_two_ranks_sending_to_each_other_with_full_windows_do_not_deadlock():
    run = subprocess.run([*mpiexec_command(), "-n", "2", sys.executable,
                          str(HERE / "mpi_transport_check.py"), "300"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    reports = sorted((json.loads(line) for line in run.stdout.splitlines()),
                     key=lambda r: r["rank"])
    assert [r["rank"] for r in reports] == [0, 1]
    for r in reports:
        assert r["in_order"] and r["arrays_intact"] and r["writeable"]
        assert r["ended"] == [[1 - r["rank"], r["rank"]]]
        assert r["slot_waits"] > 0  # the window was full: backpressure happened
        assert r["sent_buffers"] == 300  # every 160 kB array went as a raw buffer
