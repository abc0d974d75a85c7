"""Groupings: how the data units written to an edge are spread over the
instances of the receiving PE.

* ``SHUFFLE`` (default): each unit goes to one instance, balanced round-robin.
* ``group_by(0, 2)`` or ``group_by(key=fn)`` (dispel4py: ``grouping=[0, 2]``):
  units with the same key go to the same instance, chosen by a stable hash.
* ``ALL`` (``'all'``): every instance receives every unit.
* ``GLOBAL`` (``'global'``): every unit goes to instance 0.
* A :class:`Grouping` subclass of your own.

Routing uses :func:`stable_hash`, identical in every process, interpreter and
machine (Python's ``hash()`` of a string is salted per process and must never
be used to route).
"""

from __future__ import annotations

import math
import operator
import struct
import zlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


class Grouping:
    """How the data units written to an edge spread over the instances of the
    receiving PE. Subclass it to define a grouping of your own::

        @dataclass(frozen=True)
        class ByParity(d4p.Grouping):
            name = "parity"

            def instances(self, unit, n, sender):
                return (unit % 2 % n,)

        pe._add_input("input", grouping=ByParity())

    :meth:`instances` is the rule; :meth:`router` (built from it unless a
    subclass makes a faster one) is what the executor calls for each unit.
    Mappings route through core's executor, so every mapping honours a new
    grouping; a mapping that maps groupings to its engine's own (Storm)
    refuses one it does not know, naming it.
    """

    name: ClassVar[str] = ""
    single_instance: ClassVar[bool] = False
    """The receiving PE runs one instance (``'global'``)."""
    fusable: ClassVar[bool] = False
    """An edge with this grouping between PEs of equal instance counts may be
    fused: instance *j* feeds instance *j* in the same process."""
    to_one: ClassVar[bool] = False
    """Each unit reaches one instance (else one unit may reach several, which
    then get copies when the graph asks: :attr:`d4p.WorkflowGraph.copy_fanout`)."""

    def instances(self, unit: Any, n: int, sender: int) -> Sequence[int]:
        """The receiving instances (0..n-1) of ``unit`` written by instance ``sender``."""
        raise NotImplementedError

    def router(self, delivers: list[Callable[[Any], None]], sender: int,
               where: str) -> Callable[[Any], None]:
        """A function that hands each unit to its instance(s) in ``delivers``;
        ``where`` names the edge for error messages."""
        instances, n = self.instances, len(delivers)

        def route(data):
            for i in instances(data, n, sender):
                delivers[i](data)

        return route

    def describe(self) -> str:
        return self.name or type(self).__name__


@dataclass(frozen=True)
class Shuffle(Grouping):
    """Each unit to one instance, round-robin from the sender's own index."""

    name = "shuffle"
    fusable = True
    to_one = True

    def instances(self, unit, n, sender):
        return (sender % n,)  # a router keeps the turn; see router()

    def router(self, delivers, sender, where):
        n = len(delivers)
        turn = [sender % n]

        def to_next(data):
            i = turn[0]
            turn[0] = (i + 1) % n
            delivers[i](data)

        return to_next


@dataclass(frozen=True)
class All(Grouping):
    """Every instance receives every unit."""

    name = "all"

    def instances(self, unit, n, sender):
        return range(n)

    def router(self, delivers, sender, where):
        def to_all(data):
            for deliver in delivers:
                deliver(data)

        return to_all


@dataclass(frozen=True)
class Global(Grouping):
    """Every unit to instance 0; the receiving PE runs one instance."""

    name = "global"
    single_instance = True
    to_one = True

    def instances(self, unit, n, sender):
        return (0,)

    def router(self, delivers, sender, where):
        return delivers[0]


@dataclass(frozen=True)
class Pair(Grouping):
    """Instance *j* feeds instance *j* (a chain the plan fused)."""

    name = "pair"
    to_one = True

    def instances(self, unit, n, sender):
        return (sender,)

    def router(self, delivers, sender, where):
        return delivers[sender]


@dataclass(frozen=True)
class GroupBy(Grouping):
    """Route by a key: tuple indices (or dict keys) into the data unit, or a key function."""

    indices: tuple[int | str, ...] = ()
    key: Callable[[Any], Hashable] | None = None
    name = "group_by"
    to_one = True

    def key_of(self, data: Any) -> Any:
        """The key of ``data``: ``data[i]`` for one index, a tuple for several."""
        return self.key_function()(data)

    def key_function(self) -> Callable[[Any], Any]:
        return self.key if self.key is not None else operator.itemgetter(*self.indices)

    def describe(self) -> str:
        if self.key is not None:
            return f"group_by(key={getattr(self.key, '__name__', 'fn')})"
        return "group_by(" + ", ".join(map(str, self.indices)) + ")"

    def instances(self, unit, n, sender):
        return (stable_hash(self.key_of(unit)) % n,)

    def router(self, delivers, sender, where):
        from .errors import GraphError
        from .executor import short_repr

        key_of, n = self.key_function(), len(delivers)
        where = f"{self.describe()} of {where}"
        seen: dict[str, Callable[[Any], None]] = {}  # string key → its instance

        def by_key(data):
            try:
                key = key_of(data)
            except Exception as exc:
                raise GraphError(f"{where} cannot take a key from {short_repr(data)}: "
                                 f"{type(exc).__name__}: {exc}") from None
            if type(key) is str:  # stable_hash's own fast path, remembered
                deliver = seen.get(key)
                if deliver is None:
                    deliver = delivers[zlib.crc32(key.encode("utf-8", "surrogatepass")) % n]
                    if len(seen) < 65536:
                        seen[key] = deliver
                deliver(data)
            else:
                delivers[stable_hash(key) % n](data)

        return by_key


SHUFFLE = Shuffle()
ALL = All()
GLOBAL = Global()
PAIR = Pair()


def group_by(*indices: int | str, key: Callable[[Any], Hashable] | None = None) -> GroupBy:
    """Group by tuple ``indices`` of each data unit (or dict keys, for units
    that are dicts), or by ``key(data)``."""
    from .errors import UsageError

    if (key is None) == (not indices):
        raise UsageError("group_by takes either tuple indices or key=, not both or neither")
    if key is not None and not callable(key):
        raise UsageError(f"group_by(key=...) takes a function of the unit, not {key!r}")
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int | str):
            raise UsageError(f"group_by takes tuple indices (int) or dict keys (str), "
                             f"not {index!r}")
    return GroupBy(tuple(indices), key)


def misfit(what: str, fields: Any, unit: Any, exc: BaseException) -> Exception:
    """The error for a unit that lacks the ``fields`` (tuple indices or dict
    keys) a PE was given as ``what`` (``by``, ``value``): the fields do not
    fit the data, a :class:`~d4p.UsageError`."""
    from .errors import UsageError
    from .executor import short_repr

    return UsageError(f"{what}={fields!r} does not fit the unit {short_repr(unit)} "
                      f"({type(exc).__name__}: {exc}): give the index of a field the units "
                      "have, or a function")


_NAMED = {"shuffle": SHUFFLE, "all": ALL, "one_to_all": ALL, "onetoall": ALL,
          "global": GLOBAL, "all_to_one": GLOBAL, "alltoone": GLOBAL}


def normalise(spec: Any) -> Grouping:
    """Turn any accepted grouping spelling into a :class:`Grouping`: one
    already, ``None`` (shuffle), a name (``'shuffle'``, ``'all'``,
    ``'global'``), a list of tuple indices or dict keys (dispel4py's
    ``grouping=['station']``), or a key function. Raises
    ``ValueError`` with the accepted forms."""
    if spec is None:
        return SHUFFLE
    if isinstance(spec, Grouping):
        return spec
    if isinstance(spec, str):
        if spec in _NAMED:
            return _NAMED[spec]
    elif isinstance(spec, Sequence) and spec and all(isinstance(i, int | str) for i in spec):
        return GroupBy(tuple(spec))
    elif callable(spec):
        return GroupBy(key=spec)
    raise ValueError(
        f"unknown grouping {spec!r}: use 'shuffle', 'all', 'global', a list of tuple "
        "indices or dict keys such as [0] or ['station'], d4p.group_by(key=function) "
        "or a d4p.Grouping"
    )


def describe(grouping: Grouping) -> str:
    return grouping.describe()


def one_key(key: Any) -> Any:
    """``key`` with a NaN (alone or in a tuple) made ``math.nan``: NaN equals
    nothing, not even itself, so each NaN object would be a dict key of its
    own, and how many there were would depend on how units travelled
    (pickle makes new objects). PEs that keep state per key (aggregates,
    windows) use it, so that all NaN keys are one key, as in Spark and SQL."""
    if type(key) is tuple:  # (a tuple equals itself: its items compare by identity first)
        return tuple(math.nan if k != k else k for k in key) if any(k != k for k in key) \
            else key
    return math.nan if key != key else key


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
    import pickle  # here: the last resort, which most keys never reach

    return b"\x00p" + pickle.dumps(key, protocol=4)
