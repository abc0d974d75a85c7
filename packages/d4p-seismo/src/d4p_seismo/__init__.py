"""Seismology for d4p: ambient-noise cross-correlation and misfit workflows."""

from d4p_seismo.__about__ import __version__

__all__ = ["__version__"]
