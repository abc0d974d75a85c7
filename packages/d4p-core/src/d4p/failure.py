"""How a failure is shown to a person: d4p's message and the user's own
lines (the call that failed, the PE line that raised), without d4p's internal
frames. ``D4P_DEBUG=1`` shows everything; the command line and notebooks
(:mod:`d4p.notebook`) both show failures this way.
"""

from __future__ import annotations

import os
import re
import sysconfig
import traceback
from pathlib import Path

from .errors import D4PError, UsageError, WorkflowFailed

_HERE = str(Path(__file__).resolve().parent)
_STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve())
_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line \d+, in .*$')
HINT = "(D4P_DEBUG=1 shows d4p's own frames too)"


def debugging() -> bool:
    """Whether the user asked for whole tracebacks (``D4P_DEBUG=1``)."""
    return os.environ.get("D4P_DEBUG") == "1"


def user_frames(exc: D4PError, tb=None) -> list[str]:
    """The user's frames of the call that raised ``exc`` (traceback ``tb``)
    and of the PE that failed (unless it raised a usage error), each with
    its source line."""
    lines = []
    for frame in traceback.extract_tb(tb):
        if is_users(frame.filename):
            lines += traceback.format_list([frame])
    lines = [line for chunk in lines for line in chunk.rstrip("\n").split("\n")]
    if isinstance(exc, WorkflowFailed) and not isinstance(exc, UsageError) and exc.traceback:
        lines += _frames_in(exc.traceback)  # a PE's usage error: its message says it all
    return lines


def _frames_in(text: str) -> list[str]:
    out, keep = [], False
    for line in text.splitlines():
        match = _FRAME.match(line)
        if match:
            keep = is_users(match["file"])
            if keep:
                out.append(line)
        elif keep and line.startswith("    "):
            out.append(line)
        else:
            keep = False
    return out


def is_users(filename: str) -> bool:
    """Whether ``filename`` is the user's code: not d4p's, the standard library's
    or an installed package's."""
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return True
    return not (path.startswith(_HERE) or path.startswith(_STDLIB) or "site-packages" in path)
