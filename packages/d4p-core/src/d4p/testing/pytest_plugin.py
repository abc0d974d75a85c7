"""pytest plugin of the conformance kit, loaded automatically wherever d4p-core
is installed (entry point ``pytest11``), so that a plugin package tests its
mapping the way the core tests its own.

It provides:

* the marker ``d4p_conformance`` (on every test :func:`d4p.testing.make_tests`
  makes; select them with ``-m d4p_conformance``);
* a ``d4p_case`` argument: a test that takes it runs once per case of the kit
  (ids are the case names);
* the ``d4p_conformance`` fixture: the kit's functions in one object
  (``cases``, ``case(name)``, ``run(case, mapping, processes, **options)``,
  ``check(mapping, case, processes, **options)``, ``expected(case)``,
  ``normalise(results)``).

It imports d4p only when a test asks for it, so other test suites pay nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

MARKER = "d4p_conformance"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: a test of the d4p conformance kit (d4p.testing.make_tests)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "d4p_case" not in metafunc.fixturenames:
        return
    if any("d4p_case" in m.args[0] for m in metafunc.definition.iter_markers("parametrize")):
        return
    from d4p.testing import CASES

    metafunc.parametrize("d4p_case", CASES, ids=[c.name for c in CASES])


class Conformance:
    """The kit's functions, as the ``d4p_conformance`` fixture gives them."""

    def __init__(self) -> None:
        import d4p.testing as kit

        self._kit = kit
        self.cases = list(kit.CASES)
        self.case = kit.get_case
        self.check = kit.check_mapping
        self.expected = kit.expected
        self.normalise = kit.normalise
        self.normalise_counts = kit.normalise_counts

    def run(self, case: Any, mapping: str = "simple", processes: int | None = None,
            **options: Any):
        """Build ``case`` afresh and run it on ``mapping``; returns the result."""
        import d4p

        graph, inputs = self._kit.get_case(case).build()
        return d4p.run(graph, inputs, mapping=mapping, processes=processes, **options)


@pytest.fixture
def d4p_conformance() -> Conformance:
    """The conformance kit: ``check``, ``run``, ``expected``, ``normalise``, ``cases``."""
    return Conformance()
