"""``dispel4py.utils``: loading a graph from a module or file, and hashing."""

from __future__ import annotations

from typing import Any

from d4p.errors import UsageError
from d4p.grouping import stable_hash
from d4p.loader import load_target


def load_graph(graph_source: str, attr: str | None = None):
    """The workflow graph in module or file ``graph_source`` (``attr`` names
    it); graphs with input or output mappings (composites) are skipped.

    As in dispel4py, a failure prints why and returns ``None``. Unlike
    dispel4py, a module with several workflow graphs is refused (dispel4py
    took the last one in alphabetical order): name one with ``attr``."""
    try:
        return load_target(graph_source, attr).graph
    except UsageError as exc:
        print(f'Failed to load graph from "{graph_source}": {exc}')
        return None


def loadGraph(module_name: str, attr: str | None = None):  # noqa: N802 (dispel4py API)
    return load_graph(module_name, attr)


def make_hash(o: Any) -> int:
    """A hash of ``o`` (dicts, lists, tuples and sets to any level) that is
    the same in every process (dispel4py's used Python's salted ``hash``)."""
    return stable_hash(_hashable(o))


def _hashable(o: Any) -> Any:
    if isinstance(o, dict):
        return tuple(sorted(((repr(k), _hashable(v)) for k, v in o.items()), key=repr))
    if isinstance(o, set | frozenset):
        return tuple(sorted((_hashable(v) for v in o), key=repr))
    if isinstance(o, list | tuple):
        return tuple(_hashable(v) for v in o)
    return o


__all__ = ["loadGraph", "load_graph", "make_hash"]
