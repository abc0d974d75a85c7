"""d4p in IPython and Jupyter: a failed run shows d4p's one-paragraph message
and the user's own lines, not d4p's internal frames.

Installed when ``d4p`` is imported in an IPython shell (a Jupyter kernel);
``D4P_DEBUG=1`` shows IPython's full traceback instead.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
import traceback
from pathlib import Path

from .errors import D4PError, WorkflowFailed

_HERE = str(Path(__file__).resolve().parent)
_STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve())
_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line \d+, in .*$')


def install() -> None:
    """Show :class:`d4p.D4PError` short in the running IPython shell, if any
    (and if no other custom exception display was set there)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and not shell.custom_exceptions:
        shell.set_custom_exc((D4PError,), _show)


def short_error(exc: D4PError, tb=None) -> list[str]:
    """The lines shown for ``exc``: the user's frames of the call that failed
    and of the PE that raised (d4p's own frames left out), then the message."""
    lines = []
    for frame in traceback.extract_tb(tb):
        if _is_users(frame.filename):
            lines += traceback.format_list([frame])
    if isinstance(exc, WorkflowFailed) and exc.traceback:
        lines += _users_frames(exc.traceback)
    message = exc.args[0] if exc.args else str(exc)
    return [*(line.rstrip("\n") for line in lines), f"{type(exc).__name__}: {message}",
            "(D4P_DEBUG=1 shows d4p's own frames too)"]


def _users_frames(text: str) -> list[str]:
    """The frames of a formatted traceback that are the user's code, each
    with its source line."""
    out, keep = [], False
    for line in text.splitlines():
        match = _FRAME.match(line)
        if match:
            keep = _is_users(match["file"])
            if keep:
                out.append(line)
        elif keep and line.startswith("    "):
            out.append(line)
        else:
            keep = False
    return out


def _is_users(filename: str) -> bool:
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return True
    return not (path.startswith(_HERE) or path.startswith(_STDLIB)
                or "site-packages" in path)


def _show(shell, etype, value, tb, tb_offset=None):
    if os.environ.get("D4P_DEBUG") == "1":
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    lines = short_error(value, tb)
    show = getattr(shell, "_showtraceback", None)  # ipykernel: an error output of the cell
    if show is not None:
        show(etype, value, lines)
    else:
        print("\n".join(lines), file=sys.stderr)
    return None
