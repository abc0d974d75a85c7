"""Conformance of :mod:`d4p.aggregate` on any mapping: every aggregate, global,
keyed by index and keyed by function, gives ``simple``'s result (exactly for
ints, floats within 1e-12 relative).

A mapping's tests use it in one line::

    from d4p.testing.aggregates import check_aggregates

    def test_aggregates():
        check_aggregates("mpi", processes=3, timeout=60)

Each *form* is one workflow: a seeded source of ``(key, int, float)``
records → a pass-through PE with 2 instances → every aggregate of
:func:`aggregates` (the keyed ones with 2 instances), so that partial states
come from several instances and meet after the exchange.
"""

from __future__ import annotations

import math
import operator
import random
from typing import Any

from .. import aggregate
from ..enact import run
from ..graph import WorkflowGraph
from ..pe import IterativePE, ProducerPE

FORMS = ("global", "index", "function")
"""Global aggregates, keyed by tuple index 0, keyed by a key function."""

REL_TOL = 1e-12


class Records(ProducerPE):
    """Writes ``n`` seeded records ``(key 0..6, int in [-1000, 1000], float)``."""

    def __init__(self, n: int = 2000, seed: int = 7) -> None:
        super().__init__()
        self.n, self.seed = n, seed

    def _process(self, inputs):
        for record in records(self.n, self.seed):
            self.write("output", record)


def records(n: int = 2000, seed: int = 7) -> list[tuple[int, int, float]]:
    rng = random.Random(seed)
    return [(rng.randrange(7), rng.randint(-1000, 1000), rng.uniform(-1e3, 1e3))
            for _ in range(n)]


class Cycle(ProducerPE):
    """Writes ``(0,), (1,), … (keys - 1,)``, ``rounds`` times: a partial with
    ``partial_size`` < ``keys`` must flush every ``partial_size`` units."""

    def __init__(self, keys: int = 10, rounds: int = 100) -> None:
        super().__init__()
        self.keys, self.rounds = keys, rounds

    def _process(self, inputs):
        for _ in range(self.rounds):
            for k in range(self.keys):
                self.write("output", (k,))


class DistinctKeys(ProducerPE):
    """Writes ``(0,), (1,), … (n - 1,)``: ``n`` distinct keys. Then it writes
    on output ``'memory'`` how many bytes the peak resident memory of its
    process grew while it wrote them (``/proc/self``, so Linux only; ``None``
    elsewhere): with a partial aggregate fused behind it, that is the
    partial's states plus what waits to be sent."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self._add_output("memory")

    def _process(self, inputs):
        start = _peak_reset()
        for i in range(self.n):
            self.write("output", (i,))
        self.write("memory", None if start is None else _status("VmHWM") - start)


def _peak_reset() -> int | None:
    """Reset this process's peak resident memory to its resident memory, and
    return that (bytes); None where /proc/self cannot do it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status("VmRSS")
    except OSError:
        return None


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field}")


def distinct_keys(n: int, **options: Any) -> tuple[WorkflowGraph, dict, dict[str, Any]]:
    """``(graph, inputs, pes)``: :class:`DistinctKeys` (``pes['source']``) →
    ``count(by=0, **options)`` (``pes['counts']``) → a global ``count()``
    (``pes['keys']``) and ``sum(value=1)`` (``pes['total']``). Every key is
    counted once when both write ``n``: ``n`` keys with counts of at least 1
    that add up to ``n``. The source runs in a partition of its own, so its
    process holds the source, the partial behind it and nothing else."""
    graph = WorkflowGraph()
    source = DistinctKeys(n)
    counts = aggregate.count(by=0, **options)
    keys, total = aggregate.count(), aggregate.sum(value=1)
    graph.connect(source, "output", counts, "input")
    graph.connect(counts, "output", keys, "input")
    graph.connect(counts, "output", total, "input")
    graph.partitions = [[source], [counts, keys, total]]
    return graph, {source: 1}, {"source": source, "counts": counts, "keys": keys,
                                "total": total}


class Pass(IterativePE):
    """Passes records on (the parallel stage the partial aggregates join)."""

    def _process(self, data):
        return data


def parity(record: tuple) -> str:
    """The key function of the 'function' form: a string key."""
    return "even" if record[1] % 2 == 0 else "odd"


def _rank(record: tuple) -> tuple:
    return record[1], record[0], record[2]


def aggregates(by: Any = None, **options: Any) -> dict[str, aggregate.AggregatePE]:
    """One aggregate of each kind, named by what it computes."""
    return {
        "count": aggregate.count(by, **options),
        "sum_int": aggregate.sum(by, value=1, **options),
        "sum_float": aggregate.sum(by, value=2, **options),
        "min_int": aggregate.min(by, value=1, **options),
        "max_float": aggregate.max(by, value=2, **options),
        "mean_int": aggregate.mean(by, value=1, **options),
        "mean_float": aggregate.mean(by, value=2, **options),
        "variance_int": aggregate.variance(by, value=1, ddof=1, **options),
        "std_float": aggregate.std(by, value=2, **options),
        "top3": aggregate.top(3, by, rank=_rank, **options),
        "distinct_int": aggregate.distinct(by, value=1, **options),
        "xor_hex": aggregate.custom(int, operator.xor, operator.xor, hex, by=by, value=1,
                                    name="xor", **options),
    }


def workflow(form: str, n: int = 2000, **options: Any) -> tuple[WorkflowGraph, dict,
                                                                 dict[str, aggregate.AggregatePE]]:
    """``(graph, inputs, {name: aggregate PE})`` for ``form`` (see :data:`FORMS`)."""
    by = {"global": None, "index": 0, "function": parity}[form]
    graph = WorkflowGraph()
    source, middle = Records(n), Pass()
    middle.numprocesses = 2
    graph.connect(source, "output", middle, "input")
    pes = aggregates(by, **options)
    for pe in pes.values():
        if by is not None:
            pe.numprocesses = 2
        graph.connect(middle, "output", pe, "input")
    return graph, {source: 1}, pes


def results(result: dict, pes: dict[str, aggregate.AggregatePE]) -> dict[str, Any]:
    """{aggregate name: its result} from a run: the value (global; none: missing)
    or ``{key: value}`` (keyed)."""
    out: dict[str, Any] = {}
    for name, pe in pes.items():
        units = result[pe.id]["output"]
        if pe.keyed:
            out[name] = dict(units)
        elif units:
            (out[name],) = units
    return out


def same(got: Any, want: Any) -> bool:
    """Equal, floats within :data:`REL_TOL` relative (inside dicts, lists, tuples too)."""
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=REL_TOL, abs_tol=0.0) or got == want
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    if isinstance(want, list | tuple) and type(got) is type(want):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    return type(got) is type(want) and got == want


def check_aggregates(mapping: str, processes: int | None = None, *, n: int = 2000,
                     forms: tuple[str, ...] = FORMS, **options: Any) -> dict[str, dict]:
    """Run every form on ``mapping`` and on ``simple`` and assert equal results;
    return ``{form: {aggregate name: result}}`` of ``mapping``."""
    found = {}
    for form in forms:
        graph, inputs, pes = workflow(form, n)
        want = results(run(graph, inputs), pes)
        graph, inputs, pes = workflow(form, n)
        got = results(run(graph, inputs, mapping=mapping, processes=processes, **options), pes)
        where = f"mapping {mapping!r}, processes={processes}, form {form!r}"
        assert got.keys() == want.keys(), f"{where}: aggregates with results differ"
        for name in want:
            assert same(got[name], want[name]), \
                f"{where}: {name} gave {got[name]!r:.300} but simple gives {want[name]!r:.300}"
        found[form] = got
    return found


__all__ = ["FORMS", "Cycle", "DistinctKeys", "REL_TOL", "aggregates", "check_aggregates",
           "distinct_keys", "parity", "records", "results", "same", "workflow"]
