"""Registers the ``spark`` mapping with d4p (entry point ``d4p: spark``)."""

import d4p

from .mapping import SparkMapping


@d4p.hookimpl
def d4p_register_mappings():
    return [SparkMapping]
