"""d4p in IPython and Jupyter: a failed run shows d4p's one-paragraph message
and the user's own lines, not d4p's internal frames (:mod:`d4p.failure`).

Installed when ``d4p`` is imported in an IPython shell (a Jupyter kernel);
``D4P_DEBUG=1`` shows IPython's full traceback instead.
"""

from __future__ import annotations

import sys

from .errors import D4PError


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (ipykernel), where ``d4p.run``
    should show :class:`d4p.progress.NotebookProgress`."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and "ipykernel" in sys.modules else None
    return shell is not None and hasattr(shell, "kernel")


def install() -> None:
    """Show :class:`d4p.D4PError` short in the running IPython shell, if any
    (and if no other custom exception display was set there)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and not shell.custom_exceptions:
        shell.set_custom_exc((D4PError,), _show)


def _show(shell, etype, value, tb, tb_offset=None):
    from .failure import HINT, debugging, user_frames  # here: every run asks in_kernel()

    if debugging():
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    message = value.args[0] if value.args else str(value)
    lines = [*user_frames(value, tb), f"{etype.__name__}: {message}", HINT]
    show = getattr(shell, "_showtraceback", None)  # ipykernel: an error output of the cell
    if show is not None:
        show(etype, value, lines)
    else:
        print("\n".join(lines), file=sys.stderr)
    return None
