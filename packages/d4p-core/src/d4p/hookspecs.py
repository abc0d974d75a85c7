"""The hook specifications of d4p: every way a plugin extends it.

A plugin is a module with functions decorated ``@d4p.hookimpl`` and named like
the specs below, declared in its package's ``pyproject.toml``::

    [project.entry-points.d4p]
    my_plugin = "my_package.plugin"

Plugins are loaded lazily: a command imports a plugin module only when it
needs one of its names. Name the entry point after what the plugin provides
(the mapping, workflow or sub-command), and give the module several entry
points when it provides several (``xcorr = "my_package.plugin"`` and
``misfit = "my_package.plugin"``): then ``d4p run xcorr`` imports that module
alone. A name no entry point carries makes d4p import every plugin, so keep
plugin modules light: import engines and heavy libraries where the work
happens, not at the top.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("d4p")


@hookspec
def d4p_register_mappings():
    """Return a list of :class:`d4p.Mapping` subclasses.

    Each class has a unique ``name`` (what ``--mapping`` and ``d4p.run(mapping=)``
    take), a one-line ``description``, its ``options`` and a ``run(plan, options)``
    method returning a :class:`d4p.Outcome`.
    """


@hookspec
def d4p_register_workflows():
    """Return a list of :class:`d4p.NamedWorkflow`.

    A named workflow is a ``name`` (what ``d4p run NAME`` takes), a ``build``
    function called with keyword parameters that returns ``(graph, inputs)``
    (or its ``"module:function"`` name, imported when the workflow is built:
    keep plugin modules light, listing commands import them), the
    parameters' defaults ``params`` (``-p key=value`` values are converted to
    the type of the default), a one-line ``description`` and, optionally,
    ``help``: a line per parameter for ``d4p workflows NAME``.
    """


@hookspec(firstresult=True)
def d4p_make_tracer(run):
    """Return a tracer for ``run`` (a :class:`d4p.RunInfo`), or ``None``; the
    first plugin that returns one wins.

    Called once per run in the process that started it, only when monitoring
    was asked for (``d4p run --monitor [URI]`` or ``d4p.run(..., monitor=URI)``;
    ``run.monitor`` holds the URI or ``True``). The tracer receives
    ``run_started(run)``, ``record(events)`` with lists of timing events from
    every process, and ``run_finished(run, seconds, error)`` (``error`` is the
    exception that ended the run, or ``None``). After ``run_finished`` a
    tracer that could not record everything says so in its ``incomplete``
    attribute (one line, or ``None``), which becomes the run summary's
    ``monitoring_lost``. When no plugin returns a tracer, nothing is recorded.
    """


@hookspec
def d4p_cli(subparsers):
    """Add sub-commands to the ``d4p`` command.

    ``subparsers`` is the :mod:`argparse` sub-parsers object of ``d4p``; add a
    parser with ``subparsers.add_parser(...)`` and give it a ``handler``
    default: a function taking the parsed arguments and returning an exit code.
    """
