"""The d4p plugin: the tracer behind ``--monitor`` and the ``d4p monitor`` command."""

from __future__ import annotations

import d4p

from .cli import add_parser
from .tracer import Tracer


@d4p.hookimpl
def d4p_make_tracer(run):
    return Tracer(run, run.monitor)


@d4p.hookimpl
def d4p_cli(subparsers):
    add_parser(subparsers)
