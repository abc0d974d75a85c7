"""The exceptions d4p-astro raises: each names the file, row, column or service at fault."""

from __future__ import annotations

from d4p import D4PError, UsageError


class AstroError(D4PError):
    """Base class of every d4p-astro error."""


class CoordinatesError(AstroError, UsageError):
    """A coordinates file is missing or one of its lines is not `ra,dec` in degrees."""


class VOTableError(AstroError):
    """A VOTable could not be read, reports a service error, or lacks a needed column."""


class ServiceUnavailableError(AstroError):
    """A Virtual Observatory service did not answer in time or answered with an HTTP error."""


class TruncatedAnswerWarning(UserWarning):
    """A service cut its answer at its row limit (``QUERY_STATUS=OVERFLOW``): the
    galaxy nearest to the position may be among the rows left out."""
