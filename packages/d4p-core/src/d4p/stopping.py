"""Stopping a run: signals, and processes that never outlive their parent.

* :func:`signals_stop` turns SIGINT and SIGTERM (what ``kill``, batch
  schedulers, systemd and container runtimes send) into
  :class:`Interrupted`: the run is aborted and every worker ended. With
  ``graceful=True`` the first signal only stops the run's sources (a
  graceful drain, said in one line on a terminal) and the second aborts.
  SIGHUP (the terminal closed, no one is left to wait for the results)
  always aborts, unless it is ignored (``nohup``) or handled by the program
  that runs the workflow.
* :func:`die_with_parent` makes a worker process end when the process that
  started it ends, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``, elsewhere a
  thread that watches the parent); :class:`ArgvDyingWithParent` does it in
  a spawned worker before it imports the main script.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .driver import Control

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PYTHON_DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL,
                    signal.SIGHUP: signal.SIG_DFL}


def set_stop_handler(handler: Callable[[int, Any], None],
                     signals: Iterable[int] = STOP_SIGNALS) -> dict:
    """Make ``handler`` this process's handler of ``signals`` (SIGINT and
    SIGTERM by default); returns the handlers it replaced. A process forked
    from this one (the workers of a PE's own ``multiprocessing.Pool``)
    starts with Python's handlers instead: d4p's stop a run, so there the SIGTERM of ``Pool.terminate``
    (at the end of ``with Pool() as pool:``) would leave the worker running
    and the pool waiting for ever, or stop the whole run."""
    handler.d4p_stops_a_run = True
    return {s: signal.signal(s, handler) for s in signals}


_forking = threading.local()


def _hold_stop_signals() -> None:
    """Before a fork: SIGINT, SIGTERM and SIGHUP wait (blocked) until the child has
    Python's handlers; one that reached it before would find the handler
    replaced and be lost ("Signal 15 ignored due to race condition")."""
    _forking.mask = signal.pthread_sigmask(signal.SIG_BLOCK, _PYTHON_DEFAULTS)


def _release_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, _forking.mask)


def _python_handlers_in_forked_child() -> None:
    for s, default in _PYTHON_DEFAULTS.items():
        if getattr(signal.getsignal(s), "d4p_stops_a_run", False):
            with contextlib.suppress(ValueError, OSError):
                signal.signal(s, default)
    _release_stop_signals()


if hasattr(os, "register_at_fork") and hasattr(signal, "pthread_sigmask"):
    os.register_at_fork(before=_hold_stop_signals, after_in_parent=_release_stop_signals,
                        after_in_child=_python_handlers_in_forked_child)


class Interrupted(KeyboardInterrupt):
    """A second SIGINT or SIGTERM, or a SIGHUP, during a run: the run was aborted.
    ``signal`` is the number of the signal (exit status 128 + signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signal = signum


@contextlib.contextmanager
def signals_stop(control: Control, graceful: bool = False, say: bool = True
                 ) -> Iterator[Control]:
    """While in this context (in the main thread), SIGINT, SIGTERM and
    SIGHUP (:func:`abort_signals`) abort the run (``control.abort()``) and
    raise :class:`Interrupted`; with ``graceful`` the first SIGINT or
    SIGTERM only calls ``control.stop()`` and, with ``say``, says so on
    stderr when that is a terminal (a drain may take long). Elsewhere it
    does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield control
        return

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if control.stopping or not graceful or signum == signal.SIGHUP:
            control.abort(name)
            raise Interrupted(signum)
        control.stop(name)
        with contextlib.suppress(OSError, ValueError, AttributeError):  # stderr closed
            if not (say and sys.stderr.isatty()):  # a person at a terminal, not a log
                return
            sys.stderr.write(f"d4p: {name}: stopping the sources; what they wrote is still "
                             f"processed ({'Ctrl-C' if signum == signal.SIGINT else name} "
                             "again aborts)\n")
            sys.stderr.flush()

    previous = set_stop_handler(handler, abort_signals())
    try:
        yield control
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def abort_signals() -> tuple[int, ...]:
    """The signals that end a run: :data:`STOP_SIGNALS`, and SIGHUP where it
    would end this process at once (its default action, or d4p's own
    handler): not where it is ignored (``nohup``: the run outlives the
    terminal) or handled by the program that runs the workflow (one that
    reloads its settings on SIGHUP)."""
    hangup = signal.getsignal(signal.SIGHUP)
    if hangup == signal.SIG_DFL or _is_d4p(getattr(hangup, "__module__", None)):
        return (*STOP_SIGNALS, signal.SIGHUP)
    return STOP_SIGNALS


def _is_d4p(module: str | None) -> bool:
    return (module or "").partition(".")[0] == "d4p"


def aborted_by_signal(control: Control) -> Interrupted | None:
    """The :class:`Interrupted` of a run that a second signal aborted, if it was."""
    if not control.aborted:
        return None
    try:
        return Interrupted(signal.Signals[control.abort_reason])
    except KeyError:  # aborted for another reason
        return None


def die_with_parent(parent: int) -> None:
    """End this process (SIGKILL) when process ``parent`` ends. ``parent``
    may be further up than this process's own parent (multiprocessing's
    fork server starts the workers of ``start_method="forkserver"``): then a
    thread watches it too."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
            raise OSError(ctypes.get_errno(), "prctl failed")
    except (OSError, AttributeError):
        _watch_in_thread(os.getppid())
    if os.getppid() != parent:
        if not alive(parent):  # it ended before we could ask
            os._exit(3)
        _watch_in_thread(parent)


class ArgvDyingWithParent(list):
    """``sys.argv`` of a process while it starts workers with spawn or
    forkserver: multiprocessing hands it to each new worker in the first
    thing the worker unpickles, before it imports the main script again
    (which may take seconds, or block); unpickled, it makes that worker
    die with this process (:func:`die_with_parent`) from then on, and is a
    plain list again."""

    def __reduce__(self):
        return _argv_dying_with, (os.getpid(), list(self))


def _argv_dying_with(parent: int, argv: list) -> list:
    die_with_parent(parent)
    return argv


def _watch_in_thread(pid: int) -> None:
    threading.Thread(target=_watch, args=(pid,), daemon=True, name="d4p-parent-watch").start()


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def descendants(pids: Iterable[int]) -> list[int]:
    """The processes that processes ``pids`` started, those that these
    started, and so on (from ``/proc``: Linux; elsewhere none)."""
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []
    children: dict[int, list[int]] = {}
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat") as src:
                ppid = int(src.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(pids)
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def _watch(pid: int) -> None:
    mine = os.getppid() == pid  # then a new parent says it ended, even if its number is reused
    while os.getppid() == pid if mine else alive(pid):
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)
