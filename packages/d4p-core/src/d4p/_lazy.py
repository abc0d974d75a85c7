"""Public names imported on first use (a module ``__getattr__``, PEP 562), so
that importing a package costs only what its user touches."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from typing import Any


def lazy_exports(module: str, where: dict[str, str],
                 submodules: Iterable[str] = ()) -> Callable[[str], Any]:
    """A ``__getattr__`` for ``module`` that imports each public name from
    where it lives (``where``: name → module, relative to ``module``'s package
    as in ``from .engine import Engine``) on first use and keeps it in
    ``module``, so later uses cost a plain attribute lookup; ``submodules``
    are names that are the package's submodules themselves. A plugin package
    (its entry point imports it) stays light to load with::

        from d4p.plugins import lazy_exports

        __getattr__ = lazy_exports(__name__, {"SparkMapping": "mapping"})
    """
    modules = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in modules:
            return importlib.import_module(f"{module}.{name}")
        if name not in where:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home = sys.modules[module]
        value = getattr(importlib.import_module(f".{where[name]}", home.__package__), name)
        setattr(home, name, value)
        return value

    return __getattr__
