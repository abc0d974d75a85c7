__version__ = "0.1.0"

DEFAULT_STORM_VERSION = "1.2.4"
"""Storm release for ``project.clj`` when no ``storm`` command says otherwise:
``sparse run`` drives ``storm jar … --local``, which Storm 2 no longer has."""
