"""Keyed aggregates (:mod:`d4p.aggregate`) merged by Spark itself: the
stage of a keyed aggregate reads the ``(key, state)`` pairs that partial
aggregates send to its ``partial`` input through ``reduceByKey(merge)``,
partitioned by the plan's stable hash, so Spark merges them map-side and
after its shuffle and instance *j* gets one state per key of its own.
Summary records of upstream stages travel through the same shuffle under
keys of their own (:class:`_Summary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from d4p import stable_hash
from d4p.aggregate import PARTIAL, AggregatePE
from d4p.plan import Plan

from .stages import Stage
from .task import META


def fed_partials(plan: Plan, stage: Stage) -> AggregatePE | None:
    """The aggregate at the root of ``stage`` when everything that other stages
    send it is partial states, else None. Spark merges those of a keyed one
    (:func:`merge_states`); a global one gets a few per upstream partition,
    which the driver can take as Spark's ``reduce`` and ``takeOrdered`` do."""
    pe = plan.pes[stage.pes[0]]
    into = [r for r in plan.routes if r.dst_pe == stage.pes[0]]
    fed = isinstance(pe, AggregatePE) and into and all(r.dst_port == PARTIAL for r in into)
    return pe if fed else None


def merge_states(rdd, pe: AggregatePE, stage: Stage, iids: tuple[int, ...], batch_size: int):
    """``rdd`` of ``(partition, record)`` for ``stage`` → the same, with one
    merged state per key, partitioned as the plan routes the keys."""
    merged = rdd.flatMap(_pairs).reduceByKey(pe.merge, stage.width, _partition)
    return merged.mapPartitionsWithIndex(_Records(iids, batch_size))


class _Summary:
    """The key of an upstream stage's summary record: equal only to itself,
    so Spark never merges it with anything."""

    __slots__ = ()


def _pairs(item: tuple[int, tuple]) -> Iterator[tuple[Any, Any]]:
    record = item[1]
    if record[0] == META:
        yield _Summary(), record
    else:
        yield from record[2]


def _partition(key: Any) -> int:
    return 0 if type(key) is _Summary else stable_hash(key)


class _Records:
    """Partition *j* of the merged pairs → records for instance *j*'s ``partial`` input."""

    def __init__(self, iids: tuple[int, ...], batch_size: int) -> None:
        self.iids, self.batch_size = iids, batch_size

    def __call__(self, index: int, pairs: Iterable) -> Iterator[tuple[int, tuple]]:
        iid, size = self.iids[index], self.batch_size
        batch: list = []
        for key, value in pairs:
            if type(key) is _Summary:
                yield index, value
                continue
            batch.append((key, value))
            if len(batch) >= size:
                yield index, (iid, PARTIAL, batch)
                batch = []
        if batch:
            yield index, (iid, PARTIAL, batch)
