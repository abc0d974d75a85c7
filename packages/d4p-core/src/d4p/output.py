"""Output written to file descriptors 1 and 2, by this process or by any
process started while it is captured (forked or spawned workers, mpiexec),
handed to Python whole, a line or more at a time: the terminal progress
panel (:mod:`d4p.progress`) prints it above itself; in a Jupyter kernel
:func:`to_python_streams` puts it in the running cell before the run returns
(ipykernel forwards descriptor 1 only later, from a thread of its own, so
the last lines of a short run reach the next cell or nothing).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def forwarded(write: dict[int, Callable[[str], None]]) -> Iterator[None]:
    """While in this context, what is written to each descriptor of ``write``
    (``{1: ..., 2: ...}``) goes through a pipe to ``write[fd]``, in whole lines
    (a last line without its newline comes at the end). Afterwards every line
    has been handed over and the descriptors are restored."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved, readers = {}, []
    try:
        for fd, sink in write.items():
            read, end = os.pipe()
            saved[fd] = os.dup(fd)
            os.dup2(end, fd)
            os.close(end)
            reader = threading.Thread(target=_forward, args=(read, sink), daemon=True,
                                      name=f"d4p-output-fd{fd}")
            reader.start()
            readers.append(reader)
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, old in saved.items():
            os.dup2(old, fd)  # closes this process's end of the pipe: the reader sees EOF
            os.close(old)
        for reader in readers:
            reader.join(timeout=5)  # a worker that outlived the run must not hold us


def to_python_streams() -> contextlib.AbstractContextManager[None]:
    """Descriptors 1 and 2 forwarded to ``sys.stdout`` and ``sys.stderr`` (in
    a notebook: the running cell) for as long as the context lasts."""
    out, err = sys.stdout, sys.stderr
    return forwarded({1: out.write, 2: err.write})


def _forward(fd: int, sink: Callable[[str], None]) -> None:
    pending = b""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            if lines:
                sink(b"\n".join(lines).decode(errors="replace") + "\n")
    if pending:
        sink(pending.decode(errors="replace"))
