"""Errors of d4p-seismo, in d4p's exception hierarchy.

Each names the station (SEED id) or file at fault and says what to do. They
derive from ``ValueError`` too, so code written against plain ObsPy habits
(``except ValueError``) still catches them.
"""

from __future__ import annotations

import warnings
from typing import Any

from d4p import UsageError


class SeismoDataError(UsageError, ValueError):
    """Input data that cannot give a correct result (base class)."""


class MissingDataError(SeismoDataError):
    """A waveform file is missing, unreadable, or holds no data in the requested window."""


class ResponseError(SeismoDataError):
    """The inventory has no instrument response (or coordinates) for a trace."""


class SamplingRateError(SeismoDataError):
    """Traces that must share a sampling rate (or length) do not."""


class SkippedStationWarning(UserWarning):
    """A station was left out of a workflow (``on_error="skip"``); the message says why."""


def fail_or_skip(pe: Any, on_error: str, error: SeismoDataError) -> None:
    """Raise ``error`` (``on_error="raise"``) or warn and log that the station is skipped."""
    if on_error == "raise":
        raise error
    message = f"skipping: {error}"
    warnings.warn(message, SkippedStationWarning, stacklevel=3)
    pe.log(message)
