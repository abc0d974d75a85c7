"""Finding processes a run may have left behind, from /proc (Linux)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def _cmdline(pid: str) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def leftovers(parent: int | None = None) -> list[str]:
    """Command lines of live ranks launched by ``parent`` (default: this
    process) and of any mpiexec or hydra proxy that is our child."""
    parent = os.getpid() if parent is None else parent
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        words = [w for w in _cmdline(pid) if w]
        if not words:
            continue
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if state[0] == "Z":
            continue
        ppid = int(state[1])
        if "d4p_mpi.worker" in words and words[-1] == str(parent):
            found.append(" ".join(words))
        elif ppid == parent and any("mpiexec" in w or "hydra" in w for w in words[:1]):
            found.append(" ".join(words))
    return found


def assert_no_leftovers(grace: float = 5.0, parent: int | None = None) -> None:
    deadline = time.monotonic() + grace
    while (left := leftovers(parent)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left running after the run: {left}"


def shared_memory() -> set[str]:
    """MPICH's shared-memory files in /dev/shm (each rank of a host maps them;
    MPI_Finalize removes them)."""
    return {name for name in os.listdir("/dev/shm") if name.startswith(("mpich_shm_", "ucx_shm_"))}


def assert_no_shared_memory_left(before: set[str], grace: float = 5.0) -> None:
    """No MPI shared-memory file beyond those of ``before`` (one that a rank
    ending at that moment still removes has ``grace`` seconds to go)."""
    deadline = time.monotonic() + grace
    while (left := shared_memory() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"MPI shared-memory files left in /dev/shm: {sorted(left)}"
