"""The conformance kit on the simple mapping, and the kit itself: it must
accept a correct mapping and catch broken ones."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import d4p
import numpy as np
import pytest
from d4p.executor import Executor
from d4p.plugins import get_plugin_manager
from d4p.testing import (
    CASES,
    check_mapping,
    expected,
    get_case,
    make_tests,
    normalise,
    normalise_counts,
)

test_conformance = make_tests("simple", processes=(1,))


# -- normalise -------------------------------------------------------------------------


def test_normalise_uses_stable_names_and_sorts_units():
    results = {"Double17": {"output": [3, 1, 2]}, "Tag9": {"output": [("b", 1)]},
               "Tag10": {"output": [("a", 2)]}, "PE_f2": {"output": []}}
    assert normalise(results) == {
        "Double": {"output": ["1", "2", "3"]},
        "Tag#0": {"output": ["('b', 1)"]},
        "Tag#1": {"output": ["('a', 2)"]},
        "PE_f": {"output": []},
    }


def test_normalise_compares_multisets():
    a = normalise({"X1": {"output": [1, 2, 2, (3,)]}})
    assert a == normalise({"X5": {"output": [(3,), 2, 1, 2]}})
    assert a != normalise({"X5": {"output": [(3,), 1, 1, 2]}})
    assert a != normalise({"X5": {"output": [[3], 2, 1, 2]}})  # a tuple is not a list


def test_normalise_compares_arrays_by_value():
    x = np.arange(100_000, dtype=np.float64) / 7
    same = normalise({"A1": {"output": [(0, x)]}})
    assert same == normalise({"A2": {"output": [(0, x.copy())]}})
    assert same != normalise({"A2": {"output": [(0, x.astype(np.float32))]}})
    y = x.copy()
    y[-1] += 1e-9
    assert same != normalise({"A2": {"output": [(0, y)]}})
    assert normalise({"A": {"o": [np.float64(2.5), {"b": 1, "a": {2, 1}}]}}) == \
        normalise({"A": {"o": [{"a": {1, 2}, "b": 1}, 2.5]}})


def test_normalise_counts():
    assert normalise_counts({"Numbers3": 1, "Tag4": 5, "Tag5": 7}) == {
        "Numbers": 1, "Tag#0": 5, "Tag#1": 7}


# -- the cases --------------------------------------------------------------------------


def test_cases_cover_the_data_plane():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    for needed in ("pipeline", "split_merge", "tee", "fan_in", "grouping_shuffle",
                   "grouping_group_by", "grouping_group_by_key", "grouping_all",
                   "grouping_global", "composite", "iterative_chain", "partitions",
                   "iterations", "empty_stream", "input_list_source", "input_list_feed",
                   "multi_output_source", "numpy_arrays", "failure", "user_mistake"):
        assert needed in names
    assert [c.name for c in CASES if c.fails] == ["failure", "user_mistake"]
    assert all(c.description for c in CASES)


def test_expected_outputs_of_some_cases():
    assert expected("pipeline").outputs == {"Total": {"output": ["(50, 2500)"]}}
    assert expected("grouping_all").outputs == {"Total": {"output": ["(30, 435)"] * 3}}
    assert expected("fan_in").counts == {"Pairs#0": 1, "Pairs#1": 1, "KeyCount": 80}
    assert expected("tee").counts == {"Numbers": 1, "Tag#0": 25, "Tag#1": 25, "Sink": 25}
    assert expected("empty_stream").outputs == {"Total": {"output": ["(0, 0)", "(0, 0)"]}}
    assert expected("input_list_feed").outputs == {"Total": {"output": ["(12, 357)"]}}
    assert expected("reused_buffer").outputs == {
        "BatchTotal": {"output": ["(3, 12)", "(3, 21)", "(3, 3)", "(3, 30)"]},
        "Buffered": {"last": ["{'unit': 11}", "{'unit': 2}", "{'unit': 5}", "{'unit': 8}"]}}
    numpy = expected("numpy_arrays").outputs
    assert len(numpy["ScaleArray"]["scaled"]) == 6
    assert all(a.startswith("ndarray(<f8, (100000,), sha256=") for a in numpy["ScaleArray"]["scaled"])
    failure = expected("failure").failure
    assert (failure.pe, failure.instance, failure.port, failure.data, failure.error) == (
        "Fragile", 1, "input", "(5, 'five')", "ValueError: cannot handle five")
    mistake = expected("user_mistake").failure
    assert (mistake.pe, mistake.instance, mistake.port, mistake.data, mistake.usage) == (
        "CheckRate", 1, "input", "(7, 'seven')", True)
    assert mistake.error == ("d4p.testing.workflows.RateMismatch: station 7 is sampled at "
                             "25 Hz, the others at 20 Hz: resample it to 20 Hz")
    assert not failure.usage
    assert expected("pipeline") is expected(get_case("pipeline"))  # cached


def test_unknown_case_lists_the_cases():
    with pytest.raises(ValueError, match=r"unknown conformance case 'pipe'; the cases are: "
                                         r"pipeline, parallel_chain, "):
        get_case("pipe")


# -- check_mapping catches broken mappings -----------------------------------------------


def _sequential(plan):
    executor = Executor(plan, 0)
    executor.preprocess()
    executor.run_sources()
    return executor


class Lossy(d4p.Mapping):
    name = "lossy-test"
    description = "drops the last unit of every result"

    def run(self, plan, options):
        ex = _sequential(plan)
        results = {pe: {port: units[:-1] for port, units in ports.items()}
                   for pe, ports in ex.results.items()}
        return d4p.Outcome(results, ex.counts())


class Miscounting(d4p.Mapping):
    name = "miscounting-test"
    description = "reports one unit too many per PE"

    def run(self, plan, options):
        ex = _sequential(plan)
        return d4p.Outcome(ex.results, {pe: n + 1 for pe, n in ex.counts().items()})


class Swallowing(d4p.Mapping):
    name = "swallowing-test"
    description = "hides failures"

    def run(self, plan, options):
        try:
            ex = _sequential(plan)
        except d4p.WorkflowFailed:
            return d4p.Outcome({}, {})
        return d4p.Outcome(ex.results, ex.counts())


class Vague(d4p.Mapping):
    name = "vague-test"
    description = "loses where a failure happened"

    def run(self, plan, options):
        try:
            ex = _sequential(plan)
        except d4p.WorkflowFailed as exc:
            raise self.rewrap(exc) from None
        return d4p.Outcome(ex.results, ex.counts())

    @staticmethod
    def rewrap(exc):
        return d4p.WorkflowFailed("a worker failed", pe=exc.pe)


class Rewrapping(Vague):
    name = "rewrapping-test"
    description = "turns a PE's usage error into a plain failure"

    @staticmethod
    def rewrap(exc):
        return d4p.WorkflowFailed(exc.args[0], pe=exc.pe, instance=exc.instance, port=exc.port,
                                  data=exc.data, traceback=exc.traceback)


class _BrokenMappings:
    @d4p.hookimpl
    def d4p_register_mappings(self):
        return [Lossy, Miscounting, Swallowing, Vague, Rewrapping]


@pytest.fixture(scope="module")
def broken_mappings():
    pm = get_plugin_manager()
    pm.register(_BrokenMappings(), name="broken-mappings-test")
    yield
    pm.unregister(name="broken-mappings-test")


@pytest.mark.parametrize(("mapping", "case", "message"), [
    ("lossy-test", "pipeline", "mapping 'lossy-test', case 'pipeline', processes=1: outputs "
                               "differ from simple's"),
    ("miscounting-test", "tee", "units processed per PE differ from simple's"),
    ("swallowing-test", "failure", "expected WorkflowFailed (ValueError: cannot handle five in "
                                   "PE 'Fragile') but the run succeeded"),
    ("vague-test", "failure", "the failure's fields differ from simple's"),
    ("rewrapping-test", "user_mistake", "the failure's fields differ from simple's"),
])
def test_check_mapping_catches_broken_mappings(broken_mappings, mapping, case, message):
    with pytest.raises(AssertionError) as info:
        check_mapping(mapping, case, processes=1)
    assert message in str(info.value)


def test_check_mapping_can_skip_counts(broken_mappings):
    result = check_mapping("miscounting-test", "tee", processes=1, check_counts=False)
    assert isinstance(result, d4p.RunResult)


def test_check_mapping_returns_a_pes_usage_error():
    exc = check_mapping("simple", "user_mistake")
    assert isinstance(exc, d4p.UsageError) and isinstance(exc, d4p.WorkflowFailed)
    assert str(exc) == (f"PE {exc.pe!r}: station 7 is sampled at 25 Hz, the others at 20 Hz: "
                        "resample it to 20 Hz")


def test_check_mapping_returns_the_failure():
    exc = check_mapping("simple", "failure")
    assert isinstance(exc, d4p.WorkflowFailed)
    assert exc.pe.startswith("Fragile") and exc.instance == 1


# -- make_tests and the pytest plugin -----------------------------------------------------


def test_make_tests_ids_and_marks():
    fn = make_tests("simple", processes=(1, 3), cases=["tee", "failure"],
                    xfail={"failure-n3": "known"})
    (param,) = [m for m in fn.pytestmark if m.name == "parametrize"]
    ids = [p.id for p in param.args[1]]
    assert ids == ["tee-n1", "tee-n3", "failure-n1", "failure-n3"]
    marks = {p.id: [m.name for m in p.marks] for p in param.args[1]}
    assert marks["failure-n3"] == ["xfail"] and marks["tee-n1"] == []
    assert "d4p_conformance" in [m.name for m in fn.pytestmark]


def test_make_tests_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown conformance case 'nope'"):
        make_tests("simple", cases=["nope"])
    with pytest.raises(ValueError, match=r"xfail names 'tee-n9', which is no selected case"):
        make_tests("simple", processes=(1,), xfail={"tee-n9": "x"})


PLUGIN_USER = '''
from d4p.testing import check_mapping, make_tests

test_kit = make_tests("simple", processes=(1, 2), cases=["pipeline", "failure"])


def test_each_case(d4p_case):
    check_mapping("simple", d4p_case, 1)


def test_fixture(d4p_conformance):
    result = d4p_conformance.run("tee")
    assert d4p_conformance.normalise(result) == d4p_conformance.expected("tee").outputs
    assert len(d4p_conformance.cases) > 10
'''


def test_pytest_plugin_as_a_plugin_author_uses_it(tmp_path):
    (tmp_path / "test_author.py").write_text(textwrap.dedent(PLUGIN_USER))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--strict-markers",
         "-m", "d4p_conformance or not d4p_conformance", "test_author.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{4 + len(CASES) + 1} passed" in done.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only",
         "-m", "d4p_conformance", "test_author.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "test_author.py::test_kit[pipeline-n2]" in listed.stdout
    assert "test_author.py::test_each_case[numpy_arrays]" not in listed.stdout
    assert "4 selected" in listed.stdout or "4/" in listed.stdout


def test_make_tests_sets_a_timeout_where_pytest_timeout_is_installed():
    pytest.importorskip("pytest_timeout")
    fn = make_tests("simple", processes=(1,), cases=["tee"], test_timeout=42)
    assert [m.args for m in fn.pytestmark if m.name == "timeout"] == [(42,)]
    fn = make_tests("simple", processes=(1,), cases=["tee"], test_timeout=None)
    assert [m for m in fn.pytestmark if m.name == "timeout"] == []


def test_the_kit_docstring_example_mapping_passes_the_kit():
    """The complete plugin in d4p.testing's docstring works as written."""
    import types

    import d4p.testing

    doc = d4p.testing.__doc__
    code = doc.split("``my_mapping.py``::", 1)[1].split("declared in its", 1)[0]
    module = types.ModuleType("my_mapping_from_docstring")
    exec(compile(textwrap.dedent(code), "my_mapping.py", "exec"), module.__dict__)
    pm = get_plugin_manager()
    pm.register(module, name="docstring-example")
    try:
        for case in ("fan_in", "numpy_arrays", "failure"):
            check_mapping("sequential", case, processes=2)
    finally:
        pm.unregister(name="docstring-example")


def test_the_mapping_docstring_example_passes_the_kit_on_two_processes():
    import types

    import d4p.mapping

    code = d4p.mapping.__doc__.split("plugin::", 1)[1].split("and in its", 1)[0]
    module = types.ModuleType("sequential_from_mapping_docstring")
    exec(compile(textwrap.dedent(code), "my_module.py", "exec"), module.__dict__)
    pm = get_plugin_manager()
    pm.register(module, name="mapping-docstring-example")
    try:
        check_mapping("sequential", "fan_in", processes=2)
    finally:
        pm.unregister(name="mapping-docstring-example")
