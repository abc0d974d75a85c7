"""The conformance kit: proves that a mapping enacts workflows like ``simple``.

Every mapping, built-in or third-party, must give the same multiset of outputs
as the ``simple`` mapping for the same workflow and inputs, process every data
unit exactly once per grouping, and fail a run whose PE raises with an error
that names the PE, the instance, the input port and the data unit (or, when
the PE raised a :class:`d4p.UsageError`, with a usage error giving the PE's
one line). The kit
holds workflows that exercise every part of the data plane
(:mod:`d4p.testing.workflows`: pipelines, split/merge, tee, fan-in, every
grouping with several instances, composites and chains, partitions,
postprocess writes, iterations, an empty stream, input lists, sources that
end themselves, windows, NumPy payloads, a PE that reuses the list it
writes, a failing PE, a PE reporting a
user's mistake, a source with several outputs) and runs them on any mapping by name.

A third-party mapping tests itself with one line, the way the core does. A
complete plugin package, ``my_mapping.py``::

    import d4p
    from d4p.executor import Executor

    class Sequential(d4p.Mapping):
        name = "sequential"
        description = "every instance in the calling process"
        max_processes = 1  # plans span one process: no transport needed

        def run(self, plan, options):
            executor = Executor(plan, 0)
            executor.preprocess()
            executor.run_sources()
            return d4p.Outcome(executor.results, executor.counts())

    @d4p.hookimpl
    def d4p_register_mappings():
        return [Sequential]

declared in its ``pyproject.toml``::

    [project.entry-points.d4p]
    sequential = "my_mapping"

and ``tests/test_sequential_conformance.py``::

    from d4p.testing import make_tests

    # one test per case and process count: ids like "pipeline-n2"
    test_conformance = make_tests("sequential", processes=(1, 2, 3))

Run it with ``pytest``: the tests are marked ``d4p_conformance`` (select them
with ``-m d4p_conformance``, one case with ``-k fan_in``). Options of the
mapping are passed on: ``make_tests("mpi", processes=(2, 4), batch_size=16)``.

To write your own tests, :func:`check_mapping` runs one case and asserts;
the pytest plugin (:mod:`d4p.testing.pytest_plugin`, loaded automatically once
d4p-core is installed) parametrises any test that takes a ``d4p_case``
argument over every case, and gives a ``d4p_conformance`` fixture::

    from d4p.testing import check_mapping

    def test_sequential_with_small_batches(d4p_case):
        check_mapping("sequential", d4p_case, processes=2)

    def test_outputs_by_stable_name(d4p_conformance):
        result = d4p_conformance.run("pipeline", "sequential", processes=2)
        assert d4p_conformance.normalise(result) == d4p_conformance.expected("pipeline").outputs
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import multiprocessing
import re
import time
from collections.abc import Callable, Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..enact import RunResult, run
from ..errors import UsageError, WorkflowFailed
from . import workflows

__all__ = [
    "CASES", "Case", "Expected", "ExpectedFailure", "check_mapping", "expected", "get_case",
    "make_tests", "normalise", "normalise_counts",
]


@dataclass(frozen=True)
class Case:
    """A workflow of the kit: ``build()`` returns a fresh ``(graph, inputs)``.

    ``fails`` is True for the cases whose PE raises: a mapping must then raise
    :class:`d4p.WorkflowFailed` with the same fields as ``simple``.
    """

    name: str
    builder: Callable[[], tuple[Any, Any]] = field(repr=False)
    description: str = ""
    fails: bool = False

    def build(self) -> tuple[Any, Any]:
        return self.builder()


def _case(builder: Callable, *, fails: bool = False, name: str | None = None) -> Case:
    doc = " ".join((builder.__doc__ or "").split())
    return Case(name or builder.__name__, builder, doc, fails)


CASES: list[Case] = [
    _case(workflows.pipeline),
    _case(workflows.parallel_chain),
    _case(workflows.split_merge),
    _case(workflows.tee),
    _case(workflows.fan_in),
    _case(workflows.grouping_shuffle),
    _case(workflows.grouping_group_by),
    _case(workflows.grouping_group_by_key),
    _case(workflows.grouping_custom),
    _case(workflows.grouping_all),
    _case(workflows.grouping_global),
    _case(workflows.composite),
    _case(workflows.iterative_chain),
    _case(workflows.partitions),
    _case(workflows.iterations),
    _case(workflows.empty_stream),
    _case(workflows.input_list_source),
    _case(workflows.input_list_feed),
    _case(workflows.multi_output_source),
    _case(workflows.decorators),
    _case(workflows.source_ends_itself),
    _case(workflows.windows),
    _case(workflows.numpy_arrays),
    _case(workflows.reused_buffer),
    _case(workflows.wordcount),
    _case(workflows.failure, fails=True),
    _case(workflows.user_mistake, fails=True),
]
"""Every case of the kit, in a stable order."""


def get_case(case: Case | str) -> Case:
    """The case called ``case`` (a :class:`Case` is returned as is)."""
    if isinstance(case, Case):
        return case
    for c in CASES:
        if c.name == case:
            return c
    raise ValueError(f"unknown conformance case {case!r}; the cases are: "
                     f"{', '.join(c.name for c in CASES)}")


# -- normalising outputs -------------------------------------------------------------------

_SUFFIX = re.compile(r"^(.*?)(\d*)$", re.S)


def _stable_names(ids: Iterable[str]) -> dict[str, str]:
    """PE id → a name that does not depend on the global id counter: the id
    without its numeric suffix, plus ``#k`` when several PEs share it."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for pe_id in ids:
        base, digits = _SUFFIX.match(pe_id).groups()
        groups.setdefault(base, []).append((int(digits) if digits else -1, pe_id))
    names = {}
    for base, members in groups.items():
        members.sort()
        for k, (_, pe_id) in enumerate(members):
            names[pe_id] = base if len(members) == 1 else f"{base}#{k}"
    return names


def stable_name(pe_id: str) -> str:
    """The PE id without the numeric suffix the graph adds (``Double12`` → ``Double``)."""
    return _SUFFIX.match(pe_id).group(1)


def _canon(value: Any) -> str:
    """A canonical text for a data unit: equal units give equal texts, NumPy
    arrays by value (dtype, shape and a digest of the data)."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        digest = hashlib.sha256(data.tobytes()).hexdigest()[:16]
        preview = np.array2string(data.ravel()[:3], precision=6, separator=", ")
        return f"ndarray({data.dtype.str}, {data.shape}, sha256={digest}, {preview}...)"
    if isinstance(value, np.generic):
        return _canon(value.item())
    if isinstance(value, tuple):
        inner = ", ".join(_canon(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_canon(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(f"{_canon(k)}: {_canon(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, set | frozenset):
        return f"{type(value).__name__}(" + ", ".join(sorted(_canon(v) for v in value)) + ")"
    if type(value).__repr__ is object.__repr__ and hasattr(value, "__dict__"):
        return f"{type(value).__qualname__}({_canon(vars(value))})"
    return repr(value)


def normalise(results: MappingABC[str, MappingABC[str, list]]) -> dict[str, dict[str, list[str]]]:
    """Make run results comparable across runs and mappings.

    ``results`` is what :func:`d4p.run` returns (``{pe_id: {port: [units]}}``).
    PE ids end with a global counter, so they are replaced by stable names
    (``Double``; ``Tag#0``, ``Tag#1`` for PEs sharing a name, in creation
    order). Each unit becomes a canonical text (NumPy arrays by value) and each
    list is sorted, so that two runs are equal exactly when they gave the same
    multiset of units on every port.
    """
    names = _stable_names(results)
    return {names[pe_id]: {port: sorted(_canon(u) for u in units)
                           for port, units in ports.items()}
            for pe_id, ports in results.items()}


def normalise_counts(units: MappingABC[str, int]) -> dict[str, int]:
    """Units processed per PE (``result.summary.units``) keyed by stable name."""
    names = _stable_names(units)
    return {names[pe_id]: n for pe_id, n in units.items()}


# -- what simple gives ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedFailure:
    """The fields of the :class:`d4p.WorkflowFailed` that ``simple`` raises."""

    pe: str
    """Stable name of the PE that raised (see :func:`stable_name`)."""
    instance: int | None
    port: str | None
    data: str | None
    error: str
    """Type and text of the original exception, e.g. ``ValueError: cannot handle three``."""
    usage: bool = False
    """Whether the PE raised a :class:`d4p.UsageError`: then the error is a
    usage error too, and its message is ``PE 'ID': `` and the PE's message."""


@dataclass(frozen=True)
class Expected:
    """What ``simple`` gives for a case: normalised ``outputs`` and ``counts``
    (units per PE), or the ``failure`` for a failing case."""

    outputs: dict[str, dict[str, list[str]]] | None = None
    counts: dict[str, int] | None = None
    failure: ExpectedFailure | None = None


def _failure_fields(exc: WorkflowFailed) -> ExpectedFailure:
    lines = (exc.traceback or "").strip().splitlines()
    return ExpectedFailure(stable_name(exc.pe or ""), exc.instance, exc.port, exc.data,
                           lines[-1] if lines else "", isinstance(exc, UsageError))


@functools.cache
def _expected(name: str) -> Expected:
    case = get_case(name)
    graph, inputs = case.build()
    try:
        result = run(graph, inputs, mapping="simple")
    except WorkflowFailed as exc:
        if not case.fails:
            raise
        return Expected(failure=_failure_fields(exc))
    if case.fails:
        raise AssertionError(f"case {name!r} should fail on simple but gave {result!r:.200}")
    return Expected(normalise(result), normalise_counts(result.summary.units))


def expected(case: Case | str) -> Expected:
    """What the ``simple`` mapping gives for ``case`` (computed once, cached)."""
    return _expected(get_case(case).name)


# -- checking a mapping --------------------------------------------------------------------


def check_mapping(mapping: str, case: Case | str, processes: int | None = None, *,
                  check_counts: bool = True, **options: Any) -> RunResult | WorkflowFailed:
    """Run ``case`` on ``mapping`` with ``processes`` and ``options`` and assert
    that it behaves like ``simple``.

    For an ordinary case: the same multiset of outputs on every port and (with
    ``check_counts``) the same number of units processed per PE, which proves
    exactly-once delivery even for PEs whose outputs are not results. For a
    failing case: :class:`d4p.WorkflowFailed` naming the same PE, instance,
    port and data unit, with the original traceback (a PE's usage error: a
    :class:`d4p.UsageError` too, whose message is the PE's). In both, no
    multiprocessing child may outlive the run. Returns the result (or the
    error) for further checks.
    """
    case = get_case(case)
    want = expected(case)
    where = f"mapping {mapping!r}, case {case.name!r}, processes={processes}"
    graph, inputs = case.build()
    try:
        result = run(graph, inputs, mapping=mapping, processes=processes, **options)
    except WorkflowFailed as exc:
        _check_no_children(where)
        if want.failure is None:
            raise AssertionError(f"{where}: the run failed but simple succeeds: {exc}") from exc
        _check_failure(where, exc, want.failure)
        return exc
    _check_no_children(where)
    if want.failure is not None:
        raise AssertionError(f"{where}: expected WorkflowFailed ({want.failure.error} in "
                             f"PE {want.failure.pe!r}) but the run succeeded")
    got = normalise(result)
    assert got == want.outputs, f"{where}: outputs differ from simple's"
    if check_counts:
        counts = normalise_counts(result.summary.units)
        assert counts == want.counts, f"{where}: units processed per PE differ from simple's"
    return result


def _check_failure(where: str, exc: WorkflowFailed, want: ExpectedFailure) -> None:
    got = _failure_fields(exc)
    assert got == want, f"{where}: the failure's fields differ from simple's"
    text = str(exc)
    if want.usage:  # the PE's own message, after the PE's id
        said = f"PE {exc.pe!r}: {want.error.split(': ', 1)[-1]}"
        assert text == said, f"{where}: the error message is not {said!r}:\n{text}"
    else:
        for part in (exc.pe, f"instance {want.instance}", repr(want.port), want.data,
                     want.error):
            assert part and part in text, \
                f"{where}: the error message does not name {part!r}:\n{text}"
    assert "Traceback (most recent call last)" in exc.traceback, \
        f"{where}: the error carries no original traceback:\n{exc.traceback!r}"


def _check_no_children(where: str, grace: float = 10.0) -> None:
    deadline = time.monotonic() + grace
    while True:
        left = multiprocessing.active_children()
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{where}: processes left running after the run: {left}")
        time.sleep(0.05)


def make_tests(mapping: str, processes: Iterable[int] = (1, 2), *,
               cases: Iterable[str] | None = None, check_counts: bool = True,
               xfail: MappingABC[str, str] | None = None, test_timeout: float | None = 300,
               **options: Any) -> Callable[..., None]:
    """A pytest test function running every case (or those named in ``cases``)
    on ``mapping`` for each number of ``processes``, with the mapping's
    ``options``. Assign it in a test module::

        test_conformance = make_tests("mpi", processes=(2, 3, 4))

    Test ids are ``<case>-n<processes>`` (``pipeline-n2``); the tests carry the
    ``d4p_conformance`` marker. ``xfail`` maps a test id or a case name to the
    reason it is known to fail: such a test is a strict ``xfail``, so it turns
    red once the bug is fixed and the entry can go. Where pytest-timeout is
    installed, each test fails after ``test_timeout`` seconds instead of
    hanging (``None``: no limit of its own). ``cases``, ``check_counts``,
    ``xfail`` and ``test_timeout`` are the kit's; every other keyword is an
    option of the mapping.
    """
    import pytest

    selected = list(CASES) if cases is None else [get_case(name) for name in cases]
    counts = list(processes)
    known = dict(xfail or {})
    ids = {f"{case.name}-n{n}" for case in selected for n in counts}
    stray = sorted(set(known) - ids - {case.name for case in selected})
    if stray:
        raise ValueError(f"make_tests: xfail names {', '.join(map(repr, stray))}, which is no "
                         "selected case or test id")
    params = []
    for case in selected:
        for n in counts:
            test_id = f"{case.name}-n{n}"
            reason = known.get(test_id, known.get(case.name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(case, n, id=test_id, marks=marks))

    @pytest.mark.d4p_conformance
    @pytest.mark.parametrize(("case", "processes"), params)
    def test_conformance(case: Case, processes: int) -> None:
        check_mapping(mapping, case, processes, check_counts=check_counts, **options)

    if test_timeout is not None and importlib.util.find_spec("pytest_timeout") is not None:
        test_conformance = pytest.mark.timeout(test_timeout)(test_conformance)

    test_conformance.__doc__ = f"The conformance kit on mapping {mapping!r}."
    return test_conformance
