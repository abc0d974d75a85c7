"""``dispel4py.core``: the PE base class and the port dictionary keys."""

from d4p.pe import GROUPING, NAME, TYPE, GenericPE

DESCRIPTION = "descr"
META = "meta"
WRITER = "writer"

__all__ = ["DESCRIPTION", "GROUPING", "META", "NAME", "TYPE", "WRITER", "GenericPE"]
