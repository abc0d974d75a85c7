"""Registers the ``storm`` mapping and the ``d4p storm`` command (entry point ``d4p: storm``)."""

import d4p

from .mapping import StormMapping


@d4p.hookimpl
def d4p_register_mappings():
    return [StormMapping]


@d4p.hookimpl
def d4p_cli(subparsers):
    from .cli import add_commands  # here: commands other than 'd4p storm' do without it

    add_commands(subparsers)
