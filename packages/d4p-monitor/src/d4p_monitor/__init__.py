"""d4p-monitor: record where the time goes in d4p runs, and show it.

``d4p run WORKFLOW --monitor [URI]`` records a run (the default store is a
SQLite file, ``$D4P_MONITOR_DB`` or ``~/.local/share/d4p/monitor.sqlite``;
``mongodb://host:port/db`` for a shared one); ``d4p monitor serve`` shows
runs, profiles, charts, timelines and communication as web pages;
``d4p monitor advise RUN`` suggests process counts per PE.
"""

import importlib

from .__about__ import __version__
from .advise import advise, format_advice  # eager: a name that is also a module's
from .profile import RunNotFound, communication, iterations, load, profile, timeline
from .store import Store, StoreError, default_location, open_store, run_record

_WHERE = {
    "MonitorWarning": "tracer",
    "Tracer": "tracer",
    "make_server": "web",
    "serve_in_thread": "web",
}
"""Public name → its module, imported on first use: the plugin's entry point
imports this package, and loading a plugin must not import the web server."""


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MonitorWarning", "RunNotFound", "Store", "StoreError", "Tracer", "__version__", "advise",
    "communication", "default_location", "format_advice", "iterations", "load",
    "make_server", "open_store", "profile", "run_record", "serve_in_thread", "timeline",
]
