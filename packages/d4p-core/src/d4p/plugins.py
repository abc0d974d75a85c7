"""The plugin manager and lookups by name.

Built-in mappings and workflows are registered as plugins through the same
hooks third parties use; then the entry points of the group ``d4p`` are loaded.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .mapping import Mapping

hookimpl = pluggy.HookimplMarker("d4p")


@dataclass(frozen=True)
class NamedWorkflow:
    """A workflow users run by name: ``d4p run NAME -p key=value``.

    ``build(**params)`` returns ``(graph, inputs)``; ``params`` holds every
    parameter's default (its type converts command-line strings). ``build``
    may be given as ``"module:function"``: the module is imported only when
    the workflow is built, so that listing plugins stays fast and light."""

    name: str
    build: Callable[..., tuple[Any, Any]] | str
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def builder(self) -> Callable[..., tuple[Any, Any]]:
        """The ``build`` function, imported if it was named as a string."""
        if callable(self.build):
            return self.build
        module, _, attr = self.build.partition(":")
        return getattr(importlib.import_module(module), attr)


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The plugin manager with the specs, the built-ins and every installed plugin."""
    from . import examples
    from .mappings import simple

    pm = pluggy.PluginManager("d4p")
    pm.add_hookspecs(hookspecs)
    pm.register(simple, "d4p.mappings.simple")
    try:
        from .mappings import multi
    except ImportError:  # pragma: no cover - multi is part of core once it lands
        multi = None
    if multi is not None:
        pm.register(multi, "d4p.mappings.multi")
    pm.register(examples, "d4p.examples")
    _load_entry_points(pm)
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Like pluggy's ``load_setuptools_entrypoints``, but a plugin that fails
    to import is skipped with a warning instead of breaking every command."""
    from importlib import metadata  # here: worker processes import d4p and never need it

    for dist in list(metadata.distributions()):
        for ep in dist.entry_points:
            if ep.group != "d4p" or pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                warnings.warn(f"d4p plugin {ep.name!r} from {dist.metadata['name']} failed to "
                              f"load and is skipped: {type(exc).__name__}: {exc}", stacklevel=2)
                continue
            pm.register(plugin, name=ep.name)
            _DISTRIBUTIONS[ep.name] = (dist.metadata["name"], dist.version)


_DISTRIBUTIONS: dict[str, tuple[str, str]] = {}
"""Plugin name → (distribution, version) of plugins loaded from entry points."""


def _registered(hook_name: str) -> list[tuple[Any, str, str]]:
    """(item, distribution, version) for everything plugins register through
    ``hook_name``; built-ins first, then plugins in load order."""
    from .__about__ import __version__

    pm = get_plugin_manager()
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    impls.sort(key=lambda impl: impl.plugin_name in _DISTRIBUTIONS)
    found = []
    for impl in impls:
        dist, version = _DISTRIBUTIONS.get(impl.plugin_name, ("d4p-core", __version__))
        try:
            items = impl.function() or ()
        except Exception as exc:
            raise PluginError(f"plugin {impl.plugin_name!r} ({dist}) failed in {hook_name}: "
                              f"{type(exc).__name__}: {exc}") from exc
        found += [(item, dist, version) for item in items]
    return found


def registered_mappings() -> list[tuple[type[Mapping], str, str]]:
    """(mapping class, distribution, version) for every installed mapping."""
    seen: set[str] = set()
    out = []
    for cls, dist, version in _registered("d4p_register_mappings"):
        if cls.name not in seen:
            seen.add(cls.name)
            out.append((cls, dist, version))
    return out


def mappings() -> dict[str, type[Mapping]]:
    """Installed mappings by name, built-ins first."""
    return {cls.name: cls for cls, _, _ in registered_mappings()}


def get_mapping(name: str) -> type[Mapping]:
    """The mapping class called ``name``; the error lists the installed ones."""
    found = mappings()
    if name in found:
        return found[name]
    hint = difflib.get_close_matches(name, found, n=1)
    raise PluginError(
        f"unknown mapping {name!r}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
        + f"; installed mappings: {', '.join(found)}. "
        "Other mappings come in their own packages, such as d4p-mpi or d4p-spark."
    )


def workflows() -> dict[str, NamedWorkflow]:
    """Registered named workflows by name."""
    found: dict[str, NamedWorkflow] = {}
    for wf, _, _ in _registered("d4p_register_workflows"):
        found.setdefault(wf.name, wf)
    return found


def get_workflow(name: str) -> NamedWorkflow:
    """The named workflow ``name``; the error lists the registered ones."""
    found = workflows()
    if name in found:
        return found[name]
    raise PluginError(f"unknown workflow {name!r}; registered workflows: "
                      f"{', '.join(sorted(found)) or 'none'}")
