"""Output written to file descriptors 1 and 2, by this process or by any
process started while it is captured (forked or spawned workers, mpiexec),
handed to Python whole, a line or more at a time: the terminal progress
panel (:mod:`d4p.progress`) prints it above itself.
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


def _forward(fd: int, sink: Callable[[str], None]) -> None:
    pending = b""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            if lines:
                sink(b"\n".join(lines).decode(errors="replace") + "\n")
    if pending:
        sink(pending.decode(errors="replace"))
