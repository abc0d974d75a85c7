"""The ``storm`` mapping: a workflow as a Storm topology, run locally with
streamparse's ``sparse run`` or submitted to a cluster with ``sparse submit``.

A local run exports the project into a temporary folder, starts ``sparse run``
(Storm's local cluster, one JVM) in a process group of its own with the
setting ``d4p.results_dir`` naming a folder where every task records its
results, its counts or its failure (:mod:`d4p_storm.record`), and waits until
every task is done or one has failed, ``sparse run`` has ended, or the
``timeout`` has passed. Then it stops the whole process group (Storm and
every component) and returns the results, or raises the recorded
:class:`d4p.WorkflowFailed`.

Stopping a local run: a graceful stop (the first Ctrl-C or SIGTERM,
``stop_after``, ``max_units``, ``stop``) leaves a ``stop`` file in the
results folder; the spouts stop their sources at it (``max_units`` they
count themselves, setting ``d4p.max_units``), the end of stream flows
through the topology, every postprocess runs and the results come back as
on the other mappings. A second signal ends the process group at once (no
JVM or component left). A submitted topology runs until ``sparse kill`` /
``storm kill -w SECONDS NAME``: Storm then deactivates the spouts (their
sources pause: no ``next`` comes, and what they write waits in a bounded
queue), waits, and kills every worker; Storm has no end of a topology, so
no postprocess runs there.

``submit`` exports and runs ``sparse submit`` against ``nimbus``; the
topology then runs on the cluster until killed (``sparse kill``), so the
run returns no results.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from typing import TYPE_CHECKING, Any

import d4p
from d4p import D4PError, UsageError

from .__about__ import DEFAULT_STORM_VERSION

if TYPE_CHECKING:
    from d4p.plan import Plan

    from .project import Project

NOT_FOUND = (
    "{what} was not found (not on PATH: {missing}). The storm mapping runs workflows "
    "with streamparse's `sparse run`, which needs Apache Storm 1.2 (`storm`; Storm 2 dropped "
    "the local mode streamparse drives), Leiningen (`lein`, to build the topology jar) and "
    "Java: download apache-storm-{version} from storm.apache.org and put its bin/ on PATH, "
    "and install Leiningen from leiningen.org. Without them, `d4p storm export TARGET DIR` "
    "writes the streamparse project, to run or submit where Storm is installed."
)


def _not_found(missing: list[str]) -> UsageError:
    what = "Apache Storm" if "storm" in missing else "Leiningen"
    return UsageError(NOT_FOUND.format(what=what, missing=", ".join(missing),
                                       version=DEFAULT_STORM_VERSION))


def _flag(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    low = str(text).strip().lower()
    if low in ("", "1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


class StormMapping(d4p.Mapping):
    """Runs the plan as a Storm topology; see the module docstring."""

    name = "storm"
    description = "Apache Storm topology via streamparse (local sparse run, or --submit --nimbus HOST)"
    options = (
        d4p.Option("submit", False, "submit the topology to the cluster at --nimbus instead of "
                   "running it locally (a flag)", type=_flag),
        d4p.Option("nimbus", "", "Nimbus host (host or host:port) for --submit"),
        d4p.Option("topology", "d4p_workflow", "name of the Storm topology"),
        d4p.Option("timeout", 0.0, "seconds a local run may take (0: no limit)", type=float),
        d4p.Option("serializer", "json", "multi-lang serializer: json (Storm's default; units "
                   "as base64 text) or msgpack (units as bytes; Storm needs a msgpack "
                   "topology.multilang.serializer class)", choices=("json", "msgpack")),
    )
    default_processes = 1

    def run(self, plan: Plan, options: dict[str, Any]) -> d4p.Outcome:
        if options["submit"]:
            return self._submit(plan, options)
        version = self.check_local()
        import tempfile

        from d4p.mapping import RunFolder

        from .local import LocalRun  # the run and the project writer, only when a run needs them
        from .project import export

        with tempfile.TemporaryDirectory(prefix="d4p-storm-") as work:
            project = export(plan, os.path.join(work, "project"), options["topology"],
                             storm_version=version,
                             serializer=options.get("serializer", "json"))
            results = os.path.join(work, "results")
            os.mkdir(results)
            settings = {"d4p.results_dir": results, "topology.workers": plan.processes}
            control = options.get("control")
            if control is not None:
                if control.max_units is not None:
                    settings["d4p.max_units"] = control.max_units
                control.on_stop(RunFolder(results).request_stop)
            command = self.local_command(project, settings)
            outcome = LocalRun(plan, project, results, command, options).wait()
            RunFolder(results).tell(control)  # a source reached max_units: the summary says so
            return outcome

    # -- what a subclass may change (the harness mapping does) ----------------------------------

    def check_local(self) -> str:
        """Check that a local run can work; return the Storm version for
        ``project.clj``. Raises :class:`d4p.UsageError` saying what is missing."""
        missing = [tool for tool in ("storm", "lein") if shutil.which(tool) is None]
        if missing:
            raise _not_found(missing)
        import subprocess

        done = subprocess.run(["storm", "version"], capture_output=True, text=True, timeout=120)
        found = re.search(r"Storm ([0-9][0-9.]*)", done.stdout + done.stderr)
        if found is None:
            return DEFAULT_STORM_VERSION
        version = found.group(1).rstrip(".")
        if not version.startswith("1."):
            raise UsageError(f"`storm version` says Storm {version}, but streamparse's `sparse "
                             "run` needs Storm 1.x (Storm 2 has no `storm jar --local`); put "
                             f"Storm {DEFAULT_STORM_VERSION}'s bin/ first on PATH, or submit "
                             "to a cluster with --submit --nimbus HOST")
        return version

    def local_command(self, project: Project, settings: dict[str, Any]) -> list[str]:
        """The command that runs ``project`` locally with Storm ``settings``."""
        command = [_script("sparse"), "run", "-n", project.name, "-t", "0"]
        for key, value in settings.items():
            command += ["-o", f"{key}={value}"]
        return command

    # -- submitting ----------------------------------------------------------------------------

    def _submit(self, plan: Plan, options: dict[str, Any]) -> d4p.Outcome:
        nimbus = options["nimbus"]
        if not nimbus:
            raise UsageError("option 'submit' of mapping 'storm' needs the Nimbus host: "
                             "--nimbus HOST (or host:port)")
        if shutil.which("lein") is None:
            raise _not_found(["lein"])
        import subprocess
        import tempfile

        from .project import export

        folder = tempfile.mkdtemp(prefix="d4p-storm-submit-")
        project = export(plan, os.path.join(folder, "project"), options["topology"],
                         nimbus=nimbus, serializer=options.get("serializer", "json"))
        command = [_script("sparse"), "submit", "-n", project.name, "-e", "prod",
                   "-o", f"topology.workers={plan.processes}", "--force"]
        done = subprocess.run(command, cwd=project.folder, env=_environment(),
                              capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise D4PError(f"`sparse submit` of topology {project.name!r} to {nimbus} failed "
                           f"(exit status {done.returncode}); the project is in "
                           f"{project.folder}. Its output ends with:\n{tail}")
        print(f"d4p: topology {project.name!r} submitted to Nimbus {nimbus}; it runs until "
              f"`sparse kill -n {project.name}` (project: {project.folder})", file=sys.stderr)
        return d4p.Outcome({}, {})


def _script(name: str) -> str:
    """A console script of this Python's environment (found even when its
    ``bin/`` is not on PATH)."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else (shutil.which(name) or name)


def _environment() -> dict[str, str]:
    """The environment of Storm and its components: this Python's ``bin/``
    first on PATH, so that Storm starts ``streamparse_run`` of this Python;
    as root, ``LEIN_ROOT=1`` unless set (streamparse refuses to run Leiningen
    as root without it, and d4p's containers often run as root)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    if os.geteuid() == 0:
        env.setdefault("LEIN_ROOT", "1")
    return env
