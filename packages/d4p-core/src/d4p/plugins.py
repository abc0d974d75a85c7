"""The plugin manager and lookups by name.

Built-in mappings and workflows are registered as plugins through the same
hooks third parties use; then come the entry points of the group ``d4p``.
Plugins are loaded lazily (hatchling's plugin manager works this way): a
lookup by name first loads the built-ins, then the plugin whose entry point
has that name (``d4p run -m spark`` loads the ``spark`` entry point only),
then every other plugin, so a command imports only the plugins it needs.
Listing (``d4p mappings``) loads them all.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from ._lazy import lazy_exports as lazy_exports  # public here, for plugin packages
from .errors import PluginError, did_you_mean

hookimpl = pluggy.HookimplMarker("d4p")

BUILTINS = {"simple": "d4p.mappings.simple", "multi": "d4p.mappings.multi",
            "examples": "d4p.examples"}
"""Built-in plugins (name → module), registered before any entry point."""


@dataclass(frozen=True)
class NamedWorkflow:
    """A workflow users run by name: ``d4p run NAME -p key=value``.

    ``build(**params)`` returns ``(graph, inputs)``; ``params`` holds every
    parameter's default (its type converts command-line strings). ``build``
    may be given as ``"module:function"``: the module is imported only when
    the workflow is first built, so that listing plugins stays fast and
    light (``build`` is callable either way).
    ``help`` may describe parameters (name → one line) for ``d4p workflows NAME``."""

    name: str
    build: Callable[..., tuple[Any, Any]] | str
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    help: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.build, str):
            object.__setattr__(self, "build", _Named(self.build))

    def builder(self) -> Callable[..., tuple[Any, Any]]:
        """The ``build`` function, imported if it was named as a string."""
        return self.build.function() if isinstance(self.build, _Named) else self.build


class _Named:
    """A function named ``"module:function"``, imported at its first call."""

    __slots__ = ("target",)

    def __init__(self, target: str) -> None:
        self.target = target

    def function(self) -> Callable[..., Any]:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function()(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Named) and other.target == self.target

    def __hash__(self) -> int:
        return hash(self.target)

    def __repr__(self) -> str:
        return repr(self.target)


@dataclass(frozen=True)
class _EntryPoint:
    name: str
    module: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.module.startswith("d4p.")

    @property
    def plugin_name(self) -> str:
        """Built-ins are registered under their module's name, so that no entry
        point's name can collide with them."""
        return self.module if self.builtin else self.name


class _Plugins:
    """The pluggy manager and the plugins not loaded yet, in load order:
    built-ins first, then entry points in ``sys.path`` order."""

    def __init__(self) -> None:
        from .__about__ import __version__

        self.pm = pluggy.PluginManager("d4p")
        self.pm.add_hookspecs(hookspecs)
        self.pending = [_EntryPoint(n, m, "d4p-core", __version__) for n, m in BUILTINS.items()]
        self.rank = {ep.plugin_name: k for k, ep in enumerate(self.pending)}  # the load order
        self.scanned = False  # entry points are read on first need
        self.origins: dict[str, tuple[str, str]] = {}  # top-level package → (dist, version)

    def load(self, name: str | None = None, builtins: bool = False) -> bool:
        """Load the plugins called ``name``, the built-ins (``builtins=True``)
        or every plugin (neither given); ``False`` when nothing was left to load."""
        if not builtins and not self.scanned and (
                name is None or all(ep.name != name for ep in self.pending)):
            self.scanned = True
            found = _entry_points()
            self.pending += found
            for ep in found:
                self.rank.setdefault(ep.plugin_name, len(self.rank))
        chosen = [ep for ep in self.pending if (ep.builtin if builtins else
                                                 name is None or ep.name == name)]
        for ep in chosen:
            self.pending.remove(ep)
            self._register(ep)
        return bool(chosen)

    def _register(self, ep: _EntryPoint) -> None:
        if self.pm.is_blocked(ep.plugin_name) or self.pm.get_plugin(ep.plugin_name) is not None:
            return
        try:
            module = importlib.import_module(ep.module)
        except Exception as exc:
            warnings.warn(f"d4p plugin {ep.name!r} from {ep.distribution} failed to load and "
                          f"is skipped: {type(exc).__name__}: {exc}", stacklevel=4)
            return
        self.origins.setdefault(ep.module.partition(".")[0], (ep.distribution, ep.version))
        if self.pm.is_registered(module):  # several entry points may name one module
            return
        self.pm.register(module, name=ep.plugin_name)

    def call(self, hook_name: str) -> list[Any]:
        """Everything the loaded plugins return from ``hook_name`` (a hook
        without arguments), in load order (built-ins first, then entry points
        in ``sys.path`` order), whichever lookups loaded them first."""
        impls = sorted(getattr(self.pm.hook, hook_name).get_hookimpls(),
                       key=lambda impl: self.rank.get(impl.plugin_name, len(self.rank)))
        items: list[Any] = []
        for impl in impls:
            try:
                items += impl.function() or ()
            except Exception as exc:
                raise PluginError(f"plugin {self._culprit(exc)} failed in {hook_name}: "
                                  f"{type(exc).__name__}: {exc}") from exc
        return items

    def _culprit(self, exc: BaseException) -> str:
        """The plugin whose code raised ``exc``, named with its distribution."""
        by_module = {}
        for plugin in self.pm.get_plugins():
            module = plugin.__name__ if hasattr(plugin, "__file__") else type(plugin).__module__
            by_module.setdefault(module, self.pm.get_name(plugin))
        tb = exc.__traceback__
        while tb is not None:
            module = tb.tb_frame.f_globals.get("__name__", "")
            if module in by_module:
                dist = self.origin(module)[0]
                return f"{by_module[module]!r}" + (f" ({dist})" if dist else "")
            tb = tb.tb_next
        return "(unknown)"

    def origin(self, module: str) -> tuple[str, str]:
        """(distribution, version) of the plugin package that ``module`` belongs to."""
        from .__about__ import __version__

        top = module.partition(".")[0]
        if top == "d4p":
            return "d4p-core", __version__
        return self.origins.get(top, ("", ""))  # a plugin registered by code, not installed


def _entry_points() -> list[_EntryPoint]:
    """The entry points of the group ``d4p`` of the installed distributions,
    read from their ``*.dist-info`` folders on ``sys.path`` (the first copy of
    a distribution wins, as for :mod:`importlib.metadata`, whose import alone
    costs a third of ``d4p``'s start-up)."""
    found, seen = [], set()
    for folder in sys.path:
        try:
            entries = sorted(os.scandir(folder or "."), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith((".dist-info", ".egg-info")):
                continue
            dist = entry.name.rpartition(".")[0].partition("-")[0].lower().replace("_", "-")
            if dist in seen:
                continue
            seen.add(dist)
            points = _section(os.path.join(entry.path, "entry_points.txt"), "d4p")
            if points:
                version = _version(entry.path)
                found += [_EntryPoint(n, m.partition(":")[0].strip(), dist, version)
                          for n, m in points]
    return found


def _section(path: str, name: str) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    if f"[{name}]" not in text:  # most distributions: no need to parse
        return []
    out, inside = [], False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == f"[{name}]"
        elif inside and "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            out.append((key.strip(), value.strip()))
    return out


def _version(info: str) -> str:
    for meta in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(info, meta), encoding="utf-8") as f:
                for line in f:
                    if line.startswith("Version:"):
                        return line.partition(":")[2].strip()
                    if not line.strip():
                        break
        except OSError:
            continue
    return ""


@functools.cache
def _plugins() -> _Plugins:
    return _Plugins()


def get_plugin_manager() -> pluggy.PluginManager:
    """The plugin manager with the specs, the built-ins and every installed
    plugin (all loaded: lookups by name load only what they need)."""
    plugins = _plugins()
    plugins.load()
    return plugins.pm


def _find(hook_name: str, name: str, key: Callable[[Any], str]) -> Any | None:
    """The item called ``name`` that a plugin registers through ``hook_name``:
    built-ins first, then the plugin with the entry point ``name``, then all."""
    plugins = _plugins()
    steps = (lambda: True, lambda: plugins.load(name), lambda: plugins.load(builtins=True),
             plugins.load)
    for step in steps:
        if step():
            for item in plugins.call(hook_name):
                if key(item) == name:
                    return item
    return None


def _all(hook_name: str) -> list[Any]:
    plugins = _plugins()
    plugins.load()
    return plugins.call(hook_name)


def _item_module(item: Any) -> str:
    if isinstance(item, NamedWorkflow):
        build = item.build
        return build.target.partition(":")[0] if isinstance(build, _Named) else build.__module__
    return item.__module__


def registered_mappings() -> list[tuple[type, str, str]]:
    """(mapping class, distribution, version) for every installed mapping."""
    plugins = _plugins()
    seen: set[str] = set()
    out = []
    for cls in _all("d4p_register_mappings"):
        if cls.name not in seen:
            seen.add(cls.name)
            out.append((cls, *plugins.origin(_item_module(cls))))
    return out


def installed_mappings() -> dict[str, type]:
    """Installed mappings by name, built-ins first (loads every plugin)."""
    return {cls.name: cls for cls, _, _ in registered_mappings()}


def get_mapping(name: str) -> type:
    """The mapping class called ``name``; the error lists the installed ones."""
    if not isinstance(name, str):
        raise PluginError(f"mapping must be the name of a mapping such as 'simple' or 'multi', "
                          f"not {name!r}; installed mappings: {', '.join(installed_mappings())}")
    found = _find("d4p_register_mappings", name, lambda cls: cls.name)
    if found is not None:
        return found
    names = installed_mappings()
    raise PluginError(
        f"unknown mapping {name!r}{did_you_mean(name, names)}"
        + f"; installed mappings: {', '.join(names)}. "
        "Other mappings come in their own packages, such as d4p-mpi or d4p-spark."
    )


def option_hint(mapping: type, name: str, spell: Callable[[str], str] = str) -> str:
    """Why ``name`` is no option of ``mapping``, for its error: `` (did you
    mean ...?)`` naming its closest option (each written by ``spell``), or
    `` (an option of mapping 'multi')`` when installed mappings have it; ``""``."""
    hint = did_you_mean(spell(name), [spell(o.name) for o in mapping.options])
    if hint:
        return hint
    others = [cls.name for cls, _, _ in registered_mappings()
              if name in {o.name for o in cls.options}]
    if not others:
        return ""
    return f" (an option of mapping{'s' if len(others) > 1 else ''} {', '.join(map(repr, others))})"


def workflows() -> dict[str, NamedWorkflow]:
    """Registered named workflows by name (loads every plugin)."""
    found: dict[str, NamedWorkflow] = {}
    for wf in _all("d4p_register_workflows"):
        found.setdefault(wf.name, wf)
    return found


def workflow_origin(wf: NamedWorkflow) -> tuple[str, str]:
    """(distribution, version) of the package that registers ``wf``."""
    return _plugins().origin(_item_module(wf))


def find_workflow(name: str) -> NamedWorkflow | None:
    """The named workflow ``name``, or ``None`` (loads only what the lookup needs)."""
    return _find("d4p_register_workflows", name, lambda wf: wf.name)


def get_workflow(name: str) -> NamedWorkflow:
    """The named workflow ``name``; the error lists the registered ones."""
    found = find_workflow(name)
    if found is not None:
        return found
    names = sorted(workflows())
    raise PluginError(f"unknown workflow {name!r}{did_you_mean(name, names)}"
                      + f"; registered workflows: {', '.join(names) or 'none'}")


def add_commands(subparsers: Any, command: str | None) -> None:
    """Let plugins add their sub-commands: the plugin whose entry point is
    called ``command`` alone when it adds that command, else every plugin."""
    plugins = _plugins()
    called: list[Any] = []
    if command is not None and plugins.load(command):
        plugins.pm.hook.d4p_cli(subparsers=subparsers)
        if command in subparsers.choices:
            return
        called = plugins.pm.get_plugins()
    plugins.load()
    plugins.pm.subset_hook_caller("d4p_cli", remove_plugins=called)(subparsers=subparsers)
