"""A local run of the storm mapping (:mod:`d4p_storm.mapping`): Storm's
command as a :class:`d4p.mapping.Child` (a session of its own), waited for
through the records every task writes (:mod:`d4p_storm.record`), then the
whole group stopped. Imported when a run starts, so that listing mappings
imports none of this."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import d4p
from d4p import WorkflowFailed
from d4p.mapping import Child

from . import record
from .mapping import _environment

if TYPE_CHECKING:
    from d4p.plan import Plan

    from .project import Project


class LocalRun:
    """Runs the local command and waits for the tasks' records."""

    def __init__(self, plan: Plan, project: Project, results: str, command: list[str],
                 options: dict[str, Any]) -> None:
        self.plan = plan
        self.project = project
        self.results = results
        self.command = command
        self.timeout = float(options.get("timeout") or 0)
        self.progress = options.get("progress")
        self.log_path = os.path.join(os.path.dirname(results), "run.log")

    def wait(self) -> d4p.Outcome:
        tasks = sum(c.tasks for c in self.project.topology.components)  # partials ride along
        start = time.monotonic()
        with open(self.log_path, "wb") as log, \
                Child(self.command, env=_environment(), cwd=self.project.folder,
                      stdout=log, stderr=log) as storm:
            shown = 0
            while True:
                done, failed = record.count_done(self.results)
                if failed or done >= tasks:
                    break
                if storm.proc.poll() is not None:
                    raise WorkflowFailed(
                        f"the Storm run ended (exit status {storm.proc.returncode}) before the "
                        f"workflow finished ({done} of {tasks} tasks done); its output ends "
                        f"with:\n{self._tail()}")
                now = time.monotonic()
                if self.timeout and now - start > self.timeout:
                    raise WorkflowFailed(
                        f"the Storm run did not finish within {self.timeout:g} s (option "
                        f"'timeout'; {done} of {tasks} tasks done); its output ends with:\n"
                        f"{self._tail()}")
                if self.progress is not None and done != shown:
                    self.progress(record.read(self.results).counts)
                    shown = done
                time.sleep(0.02)
            storm.kill(grace=5.0)  # the topology never ends by itself: Storm and every task
        got = record.read(self.results)
        if got.failure is not None:
            raise got.failure
        if self.progress is not None:
            self.progress(got.counts)
        return d4p.Outcome(got.results, got.counts)

    def _tail(self, lines: int = 25) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

