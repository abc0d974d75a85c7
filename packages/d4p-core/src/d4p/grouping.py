"""Groupings: how the data units written to an edge are spread over the
instances of the receiving PE.

* ``SHUFFLE`` (default): each unit goes to one instance, balanced round-robin.
* ``group_by(0, 2)`` or ``group_by(key=fn)`` (dispel4py: ``grouping=[0, 2]``):
  units with the same key go to the same instance, chosen by a stable hash.
* ``ALL`` (``'all'``): every instance receives every unit.
* ``GLOBAL`` (``'global'``): every unit goes to instance 0.

Routing uses :func:`stable_hash`, identical in every process, interpreter and
machine (Python's ``hash()`` of a string is salted per process and must never
be used to route).
"""

from __future__ import annotations

import math
import operator
import pickle
import struct
import zlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

SHUFFLE = "shuffle"
ALL = "all"
GLOBAL = "global"


@dataclass(frozen=True)
class GroupBy:
    """Route by a key: tuple indices into the data unit, or a key function."""

    indices: tuple[int, ...] = ()
    key: Callable[[Any], Hashable] | None = None

    def key_of(self, data: Any) -> Any:
        """The key of ``data``: ``data[i]`` for one index, a tuple for several."""
        return self.key_function()(data)

    def key_function(self) -> Callable[[Any], Any]:
        return self.key if self.key is not None else operator.itemgetter(*self.indices)

    def describe(self) -> str:
        if self.key is not None:
            return f"group_by(key={getattr(self.key, '__name__', 'fn')})"
        return "group_by(" + ", ".join(map(str, self.indices)) + ")"


def group_by(*indices: int, key: Callable[[Any], Hashable] | None = None) -> GroupBy:
    """Group by tuple ``indices`` of each data unit, or by ``key(data)``."""
    if (key is None) == (not indices):
        raise ValueError("group_by takes either tuple indices or key=, not both or neither")
    return GroupBy(tuple(indices), key)


Grouping = str | GroupBy


def normalise(spec: Any) -> Grouping:
    """Turn any accepted grouping spelling into ``SHUFFLE``, ``ALL``, ``GLOBAL``
    or a :class:`GroupBy`. Raises ``ValueError`` with the accepted forms."""
    if spec is None or spec == SHUFFLE:
        return SHUFFLE
    if isinstance(spec, GroupBy):
        return spec
    if isinstance(spec, str):
        if spec in (ALL, GLOBAL):
            return spec
        if spec in ("one_to_all", "onetoall"):
            return ALL
        if spec in ("all_to_one", "alltoone"):
            return GLOBAL
    elif isinstance(spec, Sequence) and spec and all(isinstance(i, int) for i in spec):
        return GroupBy(tuple(spec))
    elif callable(spec):
        return GroupBy(key=spec)
    raise ValueError(
        f"unknown grouping {spec!r}: use 'shuffle', 'all', 'global', a list of tuple "
        "indices such as [0], or d4p.group_by(key=function)"
    )


def describe(grouping: Grouping) -> str:
    return grouping.describe() if isinstance(grouping, GroupBy) else grouping


def stable_hash(key: Any) -> int:
    """A 32-bit hash of ``key`` that is the same in every process and run.

    Equal keys hash equally across str, int, float (``1 == 1.0``), bool, None,
    bytes, tuples/lists of those and NumPy scalars; other objects hash by their
    pickle.
    """
    if type(key) is str:
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    return zlib.crc32(_encode(key))


def _encode(key: Any) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8", "surrogatepass")
    if key is None:
        return b"\x00N"
    if isinstance(key, bool | int):
        return b"\x00i" + str(int(key)).encode()
    if isinstance(key, float):
        if math.isfinite(key) and key.is_integer():
            return b"\x00i" + str(int(key)).encode()
        return b"\x00f" + struct.pack("<d", key)
    if isinstance(key, bytes | bytearray | memoryview):
        return b"\x00b" + bytes(key)
    if isinstance(key, tuple | list):
        parts = [_encode(k) for k in key]
        return b"\x00t" + b"".join(struct.pack("<I", len(p)) + p for p in parts)
    item = getattr(key, "item", None)  # NumPy scalar
    if item is not None and getattr(key, "shape", None) == ():
        return _encode(item())
    return b"\x00p" + pickle.dumps(key, protocol=4)
