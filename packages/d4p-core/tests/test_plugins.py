"""The plugin manager: hook specs, built-ins registered as plugins, entry
points of the group ``d4p`` (working and broken ones), lookups by name."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

import d4p
import pytest
from d4p import hookspecs, plugins
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
    _distribution(tmp_path, "echo-plugin", {"echo-test": "d4p_echo_test_plugin",
                                            "echo-pipeline": "d4p_echo_test_plugin"})
    _distribution(tmp_path, "broken-plugin", {"broken": "d4p_no_such_module_anywhere"})
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins._plugins.cache_clear()
    yield
    plugins._plugins.cache_clear()


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
    assert list(d4p.installed_mappings())[0] == "simple"  # built-ins first


def test_d4p_mappings_is_the_package_of_builtin_mappings():
    get_plugin_manager()
    import d4p.mappings.simple

    assert d4p.mappings.simple.SimpleMapping is d4p.installed_mappings()["simple"]
    assert not callable(d4p.mappings)


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
        mappings = d4p.installed_mappings()
    cls = mappings["echo-test"]
    found = {c.name: (dist, version) for c, dist, version in registered_mappings()}
    assert found["echo-test"] == ("echo-plugin", "1.2.3")
    assert get_plugin_manager().get_plugin("echo-pipeline") is None  # one module, registered once
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
    assert "echo-test" in d4p.installed_mappings()  # the others still load


class _FailingPlugin:
    @d4p.hookimpl
    def d4p_register_mappings(self):
        raise RuntimeError("cannot import its engine")


def test_plugin_failing_in_a_hook_is_named():
    pm = get_plugin_manager()
    pm.register(_FailingPlugin(), name="failing-test-plugin")
    try:
        with pytest.raises(d4p.PluginError) as info:
            d4p.installed_mappings()
    finally:
        pm.unregister(name="failing-test-plugin")
    assert str(info.value) == ("plugin 'failing-test-plugin' failed in "
                               "d4p_register_mappings: RuntimeError: cannot import its engine")
    assert "simple" in d4p.installed_mappings()


def test_unknown_mapping_lists_installed_ones():
    with pytest.raises(d4p.PluginError) as info:
        d4p.get_mapping("spark-cluster-9")
    installed = ", ".join(d4p.installed_mappings())
    assert str(info.value) == (f"unknown mapping 'spark-cluster-9'; installed mappings: "
                               f"{installed}. Other mappings come in their own packages, such "
                               "as d4p-mpi or d4p-spark.")


def test_unknown_workflow_lists_registered_ones():
    with pytest.raises(d4p.PluginError, match=r"unknown workflow 'wordcont' \(did you mean "
                                              r"'wordcount'\?\); registered "
                                              r"workflows: .*pipeline.*wordcount"):
        get_workflow("wordcont")


def test_a_lookup_by_name_loads_only_the_plugin_of_that_name(installed_plugins, monkeypatch):
    monkeypatch.setattr(plugins, "BUILTINS", {"simple": "d4p.mappings.simple"})
    plugins._plugins.cache_clear()
    pm = plugins._plugins().pm
    assert d4p.get_mapping("simple").name == "simple"
    assert [pm.get_name(p) for p in pm.get_plugins()] == ["d4p.mappings.simple"]
    assert not plugins._plugins().scanned  # no entry point read
    assert d4p.get_mapping("echo-test").name == "echo-test"
    assert sorted(pm.get_name(p) for p in pm.get_plugins()) == ["d4p.mappings.simple",
                                                                 "echo-test"]
    assert plugins.find_workflow("echo-pipeline").params == {"n": 5}
    assert pm.get_plugin("broken") is None  # never loaded, so never warned about


def test_entry_points_are_read_from_metadata_without_importing(installed_plugins, monkeypatch):
    monkeypatch.delitem(sys.modules, "d4p_echo_test_plugin", raising=False)
    found = {ep.name: ep for ep in plugins._entry_points()}
    assert found["echo-test"] == plugins._EntryPoint("echo-test", "d4p_echo_test_plugin",
                                                     "echo-plugin", "1.2.3")
    assert found["broken"].module == "d4p_no_such_module_anywhere"
    assert "d4p_echo_test_plugin" not in sys.modules


def _modules_after(*args: str) -> set[str]:
    code = ("import json, sys\nfrom d4p.cli import main\nstatus = main(sys.argv[1:])\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\nsys.exit(status)")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.splitlines()[-1]))


HEAVY = {"pyspark", "streamparse", "d4p_monitor.web", "http.server", "obspy", "d4p_spark",
         "d4p_storm", "d4p_monitor", "d4p_seismo", "d4p_astro", "multiprocessing"}


def test_running_a_small_workflow_imports_no_plugin(tmp_path):
    wf = tmp_path / "wf.py"
    wf.write_text("from d4p.examples import pipeline\ngraph, _ = pipeline(10)\n")
    assert _modules_after("run", str(wf)) & HEAVY == set()


def test_running_a_small_workflow_imports_only_what_the_run_needs(tmp_path):
    wf = tmp_path / "wf.py"
    wf.write_text(textwrap.dedent("""\
        import d4p

        @d4p.producer
        def numbers(n=3):
            yield from range(n)

        @d4p.iterative
        def square(x):
            return x * x

        graph = d4p.WorkflowGraph()
        graph.connect(numbers(), "output", square(), "input")
        """))
    loaded = _modules_after("run", str(wf))
    assert {"d4p.enact", "d4p.plan", "d4p.executor", "d4p.mappings.simple"} <= loaded
    assert loaded & {"d4p.tracing", "d4p.aggregate", "d4p.window", "d4p.failure",
                     "d4p.examples", "d4p.mappings.multi", "uuid", "pathlib",
                     "multiprocessing"} == set()


def test_listing_mappings_imports_no_engine_and_no_web_server():
    loaded = _modules_after("mappings")
    assert loaded & {"pyspark", "streamparse", "d4p_monitor.web", "http.server",
                     "d4p_spark.session", "d4p_storm.project", "d4p_storm.topology"} == set()


def test_listing_mappings_imports_no_run_machinery():
    """Registering a mapping or a workflow costs its class and its options,
    not what a run needs: ``d4p mappings`` imports no executor, plan,
    multiprocessing, subprocess or example workflow."""
    loaded = _modules_after("mappings")
    assert loaded & {"d4p.enact", "d4p.plan", "d4p.executor", "d4p.graph", "d4p.loader",
                     "d4p.examples.workflows", "d4p.mappings.multi_workers", "multiprocessing",
                     "subprocess", "importlib.resources", "pathlib", "d4p_storm.local",
                     "d4p_monitor.cli", "d4p_storm.cli"} == set()
    assert {"d4p.mappings.multi", "d4p.examples"} <= loaded  # the built-ins are registered


def test_import_d4p_imports_a_name_where_it_lives_on_first_use():
    code = ("import sys, d4p\n"
            "first = sorted(m for m in sys.modules if m.startswith('d4p'))\n"
            "graph = d4p.WorkflowGraph()\n"
            "print(first, 'd4p.graph' in sys.modules, 'd4p.executor' in sys.modules,\n"
            "      'WorkflowGraph' in vars(d4p), d4p.plan.make_plan.__module__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['d4p',", "'d4p.__about__',", "'d4p._lazy']", "True",
                                   "False", "True", "d4p.plan"]


def test_every_public_name_of_d4p_resolves_and_is_listed():
    import pkgutil

    assert set(d4p.__all__) == {*d4p._WHERE, "aggregate", "window", "__version__"}
    assert set(dir(d4p)) >= set(d4p.__all__)
    for name in d4p.__all__:
        assert getattr(d4p, name) is not None, name
    assert d4p.WorkflowGraph is d4p.graph.WorkflowGraph
    assert d4p.run.__module__ == "d4p.enact"
    modules = {m.name for m in pkgutil.iter_modules(d4p.__path__) if not m.name.startswith("_")}
    assert set(d4p._SUBMODULES) == modules
    with pytest.raises(AttributeError, match="module 'd4p' has no attribute 'Workflowgraph'"):
        d4p.Workflowgraph  # noqa: B018


def test_a_mapping_by_name_imports_its_plugin_only():
    if "spark" not in (ep.name for ep in plugins._entry_points()):
        pytest.skip("d4p-spark is not installed")
    loaded = _modules_after("mappings", "spark")
    assert "d4p_spark" in loaded
    assert loaded & (HEAVY - {"d4p_spark", "multiprocessing"}) == set()


LAZY_NAMES = ("from d4p.plugins import lazy_exports\n"
              "__getattr__ = lazy_exports(__name__, {'Engine': 'engine'})\n")


@pytest.fixture
def lazy_package(tmp_path, monkeypatch):
    """A package ``d4p_lazy_test_pkg`` on sys.path whose ``__init__`` and
    module ``api`` name ``Engine`` of its module ``engine`` lazily; unloaded
    afterwards."""
    package = tmp_path / "d4p_lazy_test_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(LAZY_NAMES)
    (package / "api.py").write_text(LAZY_NAMES)
    (package / "engine.py").write_text("class Engine:\n    wheels = 4\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [m for m in sys.modules if m.startswith("d4p_lazy_test_pkg")]:
        del sys.modules[name]


def test_lazy_exports_import_a_name_where_it_lives_on_first_use(lazy_package):
    import d4p_lazy_test_pkg

    assert "d4p_lazy_test_pkg.engine" not in sys.modules
    assert d4p_lazy_test_pkg.Engine.wheels == 4
    assert "d4p_lazy_test_pkg.engine" in sys.modules
    assert vars(d4p_lazy_test_pkg)["Engine"] is d4p_lazy_test_pkg.engine.Engine  # kept
    with pytest.raises(AttributeError, match="module 'd4p_lazy_test_pkg' has no attribute "
                                             "'Motor'"):
        d4p_lazy_test_pkg.Motor  # noqa: B018


def test_lazy_exports_of_a_module_import_from_its_package(lazy_package):
    """In a module (not a package) the names are found beside it, as
    ``from .engine import Engine`` would find them (``d4p.mapping`` does this)."""
    from d4p_lazy_test_pkg.api import Engine

    assert Engine.wheels == 4
    assert Engine.__module__ == "d4p_lazy_test_pkg.engine"


def test_mappings_are_listed_built_ins_first_whichever_was_looked_up_first():
    """Before: a fresh lookup of 'multi', then of 'mpi', listed the mappings
    'multi, mpi, simple, ...' (the order lookups had loaded them in), so an
    error's list of installed mappings changed with what ran before."""
    plugins._plugins.cache_clear()
    try:
        d4p.get_mapping("multi")
        if "mpi" in (ep.name for ep in plugins._entry_points()):
            d4p.get_mapping("mpi")
        assert list(d4p.installed_mappings())[:2] == ["simple", "multi"]
    finally:
        plugins._plugins.cache_clear()
