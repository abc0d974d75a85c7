"""The exceptions d4p-astro raises: each names the file, row, column or service at fault."""

from __future__ import annotations

try:
    from d4p import D4PError as _Base
except ImportError:  # d4p-core without its error hierarchy yet
    _Base = Exception


class AstroError(_Base):
    """Base class of every d4p-astro error."""


class CoordinatesError(AstroError):
    """A coordinates file is missing or one of its lines is not `ra,dec` in degrees."""


class VOTableError(AstroError):
    """A VOTable could not be read, reports a service error, or lacks a needed column."""


class ServiceUnavailableError(AstroError):
    """A Virtual Observatory service did not answer in time or answered with an HTTP error."""
