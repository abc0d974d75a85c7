"""d4p-monitor: record where the time goes in d4p runs, and show it.

``d4p run WORKFLOW --monitor [URI]`` records a run (the default store is a
SQLite file, ``$D4P_MONITOR_DB`` or ``~/.local/share/d4p/monitor.sqlite``;
``mongodb://host:port/db`` for a shared one); ``d4p monitor serve`` shows
runs, profiles, charts, timelines and communication as web pages;
``d4p monitor advise RUN`` suggests process counts per PE.
"""

from d4p.plugins import lazy_exports

from .__about__ import __version__
from .advise import advise, format_advice  # eager: a name that is also a module's
from .profile import RunNotFound, communication, iterations, load, profile, timeline
from .store import Store, StoreError, default_location, open_store, run_record

__getattr__ = lazy_exports(__name__, {
    "MonitorWarning": "tracer",
    "Tracer": "tracer",
    "make_server": "web",
    "serve_in_thread": "web",
})  # imported on first use: loading the plugin stays light


__all__ = [
    "MonitorWarning", "RunNotFound", "Store", "StoreError", "Tracer", "__version__", "advise",
    "communication", "default_location", "format_advice", "iterations", "load",
    "make_server", "open_store", "profile", "run_record", "serve_in_thread", "timeline",
]
