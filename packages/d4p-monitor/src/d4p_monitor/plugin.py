"""The d4p plugin: the tracer behind ``--monitor`` and the ``d4p monitor`` command."""

from __future__ import annotations

import d4p


@d4p.hookimpl(trylast=True)
def d4p_make_tracer(run):
    """The tracer for ``--monitor``: the SQLite or MongoDB store the URI
    names. Called last (the hook is firstresult), so that a plugin for
    another kind of store gets its URIs first; any URI left over that is not
    ours is a :class:`d4p.UsageError` naming it."""
    from .tracer import Tracer

    return Tracer(run, run.monitor)


@d4p.hookimpl
def d4p_cli(subparsers):
    from .cli import add_parser  # here: commands other than 'd4p monitor' do without it

    add_parser(subparsers)
