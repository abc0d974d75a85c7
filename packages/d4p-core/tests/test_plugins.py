"""The plugin manager: hook specs, built-ins registered as plugins, entry
points of the group ``d4p`` (working and broken ones), lookups by name."""

from __future__ import annotations

import inspect
import textwrap

import d4p
import pytest
from d4p import hookspecs
from d4p.examples import pipeline
from d4p.plugins import get_plugin_manager, get_workflow, registered_mappings

ECHO_PLUGIN = '''
import d4p
from d4p.executor import Executor


class EchoMapping(d4p.Mapping):
    """Runs every instance in this process, reporting how many times it ran."""

    name = "echo-test"
    description = "sequential, for the plugin tests"
    options = (d4p.Option("shout", False, "write results in capitals", bool),)
    runs = 0

    def run(self, plan, options):
        type(self).runs += 1
        executor = Executor(plan, 0)
        executor.preprocess()
        executor.run_sources()
        return d4p.Outcome(executor.results, executor.counts())


@d4p.hookimpl
def d4p_register_mappings():
    return [EchoMapping]


@d4p.hookimpl
def d4p_register_workflows():
    from d4p.examples import pipeline
    return [d4p.NamedWorkflow("echo-pipeline", pipeline, {"n": 5}, "pipeline of five")]
'''


def _distribution(root, name, entry_points):
    info = root / f"{name.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[d4p]\n{lines}\n")


@pytest.fixture
def installed_plugins(tmp_path, monkeypatch):
    """Two real distributions on sys.path: echo-plugin (a working mapping
    plugin) and broken-plugin (its entry point names a missing module); the
    plugin manager is rebuilt before and after the test."""
    (tmp_path / "d4p_echo_test_plugin.py").write_text(textwrap.dedent(ECHO_PLUGIN))
    _distribution(tmp_path, "echo-plugin", {"echo": "d4p_echo_test_plugin"})
    _distribution(tmp_path, "broken-plugin", {"broken": "d4p_no_such_module_anywhere"})
    monkeypatch.syspath_prepend(str(tmp_path))
    get_plugin_manager.cache_clear()
    yield
    get_plugin_manager.cache_clear()


def test_every_hookspec_is_documented_and_prefixed():
    specs = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(f, "d4p_spec")]
    names = {f.__name__ for f in specs}
    assert {"d4p_register_mappings", "d4p_register_workflows", "d4p_make_tracer",
            "d4p_cli"} <= names
    for f in specs:
        assert f.__name__.startswith("d4p_")
        assert f.__doc__ and len(f.__doc__.split()) > 10, f"{f.__name__} is not documented"


def test_builtins_are_registered_as_plugins():
    pm = get_plugin_manager()
    assert pm.get_plugin("d4p.mappings.simple") is not None
    assert pm.get_plugin("d4p.examples") is not None
    found = {cls.name: dist for cls, dist, _ in registered_mappings()}
    assert found["simple"] == "d4p-core"
    assert list(d4p.mappings())[0] == "simple"  # built-ins first


def test_mappings_stays_the_function_after_plugins_load():
    get_plugin_manager()
    __import__("d4p.mappings.simple")
    assert callable(d4p.mappings) and "simple" in d4p.mappings()


def test_every_registered_mapping_is_complete():
    for cls, dist, version in registered_mappings():
        assert issubclass(cls, d4p.Mapping), cls
        assert cls.name and cls.description, f"{cls} from {dist} lacks a name or description"
        assert "\n" not in cls.description
        assert version
        for option in cls.options:
            assert isinstance(option, d4p.Option) and option.help


def test_entry_point_plugin_is_found_and_runs(installed_plugins):
    with pytest.warns(UserWarning):
        mappings = d4p.mappings()
    cls = mappings["echo-test"]
    found = {c.name: (dist, version) for c, dist, version in registered_mappings()}
    assert found["echo-test"] == ("echo-plugin", "1.2.3")
    graph, inputs = pipeline(10)
    result = d4p.run(graph, inputs, mapping="echo-test", shout=True)
    assert list(result.values()) == [{"output": [90]}]
    assert cls.runs == 1
    graph, inputs = get_workflow("echo-pipeline").build(n=5)
    assert list(d4p.run(graph, inputs).values()) == [{"output": [20]}]


def test_broken_entry_point_warns_and_is_skipped(installed_plugins):
    with pytest.warns(UserWarning) as warned:
        pm = get_plugin_manager()
    (warning,) = [w for w in warned if "broken" in str(w.message)]
    assert str(warning.message) == (
        "d4p plugin 'broken' from broken-plugin failed to load and is skipped: "
        "ModuleNotFoundError: No module named 'd4p_no_such_module_anywhere'")
    assert pm.get_plugin("broken") is None
    assert "echo-test" in d4p.mappings()  # the others still load


class _FailingPlugin:
    @d4p.hookimpl
    def d4p_register_mappings(self):
        raise RuntimeError("cannot import its engine")


def test_plugin_failing_in_a_hook_is_named():
    pm = get_plugin_manager()
    pm.register(_FailingPlugin(), name="failing-test-plugin")
    try:
        with pytest.raises(d4p.PluginError) as info:
            d4p.mappings()
    finally:
        pm.unregister(name="failing-test-plugin")
    assert str(info.value) == ("plugin 'failing-test-plugin' (d4p-core) failed in "
                               "d4p_register_mappings: RuntimeError: cannot import its engine")
    assert "simple" in d4p.mappings()


def test_unknown_mapping_lists_installed_ones():
    with pytest.raises(d4p.PluginError) as info:
        d4p.get_mapping("spark-cluster-9")
    installed = ", ".join(d4p.mappings())
    assert str(info.value) == (f"unknown mapping 'spark-cluster-9'; installed mappings: "
                               f"{installed}. Other mappings come in their own packages, such "
                               "as d4p-mpi or d4p-spark.")


def test_unknown_workflow_lists_registered_ones():
    with pytest.raises(d4p.PluginError, match=r"unknown workflow 'wordcont'; registered "
                                              r"workflows: .*pipeline.*wordcount"):
        get_workflow("wordcont")
