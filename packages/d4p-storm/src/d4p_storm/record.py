"""What the tasks of a local run leave in its results folder, and how the
mapping reads it back.

Storm has no end of a topology and no driver that receives results, so in a
local run (``d4p run --mapping storm``) every task writes, in the folder named
by the topology setting ``d4p.results_dir``:

* ``<component>.<task index>.started`` when its process starts (a second start
  means Storm restarted a dead process: the run is failed, since a restarted
  instance would process its data again);
* ``<component>.<task index>.done`` once its instance has finished (after
  postprocess and the end-of-stream markers): the results it wrote on
  unconnected ports and the units it processed;
* ``<component>.<task index>.failed`` when its PE raised: the
  :class:`d4p.WorkflowFailed` (or other :class:`d4p.D4PError`).

The mapping writes one file there itself: ``stop`` on a graceful stop
(the first Ctrl-C or SIGTERM, ``--stop-after``, ``d4p.run(stop=...)``), with
:meth:`d4p.mapping.RunFolder.request_stop`; the spouts watch for it
(:meth:`~d4p.mapping.RunFolder.watch`) and stop their sources, and the run drains as on the
other mappings (every bolt's postprocess runs at its end of stream).

Files are written whole (temporary name, then rename). Without
``d4p.results_dir`` (a cluster) nothing is written; results are on the
result streams and failures in the Storm logs and UI.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from typing import Any

STARTED, DONE, FAILED = "started", "done", "failed"


class TaskRecord:
    """The files of one task (a no-op without a folder)."""

    def __init__(self, folder: str | None, component: str, index: int) -> None:
        self.folder = folder or None
        self.stem = f"{component}.{index}"

    def _path(self, kind: str) -> str:
        return os.path.join(self.folder, f"{self.stem}.{kind}")

    def start(self) -> bool:
        """Mark the task started; False if it had started before (a restart)."""
        if self.folder is None:
            return True
        os.makedirs(self.folder, exist_ok=True)
        try:
            fd = os.open(self._path(STARTED), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def done(self, results: dict[str, dict[str, list]], counts: dict[str, int]) -> None:
        self._write(DONE, {"results": results, "counts": counts})

    def failed(self, error: BaseException) -> None:
        """Record ``error`` unless the task has recorded a failure already."""
        if self.folder is not None and not os.path.exists(self._path(FAILED)):
            self._write(FAILED, error)

    def _write(self, kind: str, value: Any) -> None:
        if self.folder is None:
            return
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{self.stem}.")
        try:
            with os.fdopen(fd, "wb") as out:
                pickle.dump(value, out, protocol=5)
            os.replace(tmp, self._path(kind))
        except BaseException:
            os.unlink(tmp)
            raise


@dataclass
class RunRecord:
    """What the tasks of a run have written so far."""

    done: int = 0
    results: dict[str, dict[str, list]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    failure: BaseException | None = None


def read(folder: str) -> RunRecord:
    """Collect the finished tasks' results and counts and the first failure
    (the earliest ``.failed`` file) in ``folder``."""
    from d4p.mapping import Gather  # the mapping's side only: tasks do not need it

    record = RunRecord()
    names = sorted(os.listdir(folder), key=_order)
    failed = [n for n in names if n.endswith("." + FAILED)]
    if failed:
        first = min(failed, key=lambda n: os.stat(os.path.join(folder, n)).st_mtime_ns)
        with open(os.path.join(folder, first), "rb") as f:
            record.failure = pickle.load(f)
    gather = Gather()
    for name in names:
        if not name.endswith("." + DONE):
            continue
        with open(os.path.join(folder, name), "rb") as f:
            task = pickle.load(f)
        record.done += 1
        gather.add(name, task["results"], task["counts"])
    record.results, record.counts = gather.results, gather.counts()
    return record


def _order(name: str) -> tuple:
    """Component, then task index (``Comp.10.done`` after ``Comp.9.done``)."""
    stem, _, index = name.rpartition(".")[0].rpartition(".")
    return (stem, int(index) if index.isdigit() else -1, name)


def count_done(folder: str) -> tuple[int, bool]:
    """(tasks done, whether a task failed) without reading the files."""
    done = failed = 0
    for name in os.listdir(folder):
        if name.endswith("." + DONE):
            done += 1
        elif name.endswith("." + FAILED):
            failed += 1
    return done, failed > 0
