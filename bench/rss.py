"""Peak resident memory of a process and all its descendants, read from /proc.

The measured command is started in a new session; every process of that
session (the command, its workers, their helpers) and every descendant of
one (MPI ranks under an mpiexec in a session of its own) is summed at each
sample.
Shared pages are counted once per process, so the sum is an upper bound.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

_PAGE = os.sysconf("SC_PAGE_SIZE")


def session_rss(sid: int) -> int:
    """Bytes resident right now in all processes of session ``sid`` and in
    their descendants (an MPI launch starts mpiexec in a session of its own)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    mine: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()  # state ppid pgrp session ...
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss[pid] = int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):  # the process ended meanwhile
            continue
        parent[pid] = int(fields[1])
        if int(fields[3]) == sid:
            mine.add(pid)
    total = 0
    for pid, size in rss.items():
        p, seen = pid, 0
        while p and p not in mine and seen < 64:
            p, seen = parent.get(p, 0), seen + 1
        if p in mine:
            total += size
    return total


class PeakRSS:
    """Samples ``session_rss`` of a running Popen (started with
    ``start_new_session=True``) every ``interval`` seconds in a thread."""

    def __init__(self, proc: subprocess.Popen, interval: float = 0.05) -> None:
        self.proc = proc
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while self.proc.poll() is None:
            self.peak = max(self.peak, session_rss(self.proc.pid))
            self.samples += 1
            time.sleep(self.interval)

    def stop(self) -> int:
        self._thread.join()
        return self.peak
