import io
import multiprocessing
import os
import signal
import sys
import time

import d4p
import pytest
from d4p.driver import Control
from d4p.plugins import installed_mappings
from d4p.stopping import Interrupted, signals_stop


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stderr", "say", "said"), [
    (Terminal, True, True),  # a person who pressed Ctrl-C learns what happens, how to abort
    (io.StringIO, True, False),  # a log or a pipe gets nothing
    (Terminal, False, False),  # not the primary process (an MPI rank other than 0)
])
def test_the_first_signal_says_on_a_terminal_that_the_sources_stop(monkeypatch, stderr, say,
                                                                   said):
    monkeypatch.setattr("sys.stderr", stderr())
    control = Control()
    with signals_stop(control, graceful=True, say=say):
        os.kill(os.getpid(), signal.SIGINT)
    assert control.stopping and not control.aborted
    assert sys.stderr.getvalue() == ("d4p: SIGINT: stopping the sources; what they wrote is "
                                     "still processed (Ctrl-C again aborts)\n" if said else "")


def test_sighup_aborts_a_run_unless_the_program_ignores_or_handles_it():
    """SIGHUP would end the process at once: it aborts the run instead (the
    workers and the programs they started are ended); a program that ignores
    it (nohup) or handles it itself (to reload its settings) keeps it."""
    def reload(signum, frame):
        reloaded.append(signum)

    reloaded: list[int] = []
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        control = Control()
        with pytest.raises(Interrupted) as raised, signals_stop(control, graceful=True):
            os.kill(os.getpid(), signal.SIGHUP)
        assert (raised.value.signal, control.aborted) == (signal.SIGHUP, True)
        for kept in (signal.SIG_IGN, reload):
            signal.signal(signal.SIGHUP, kept)
            control = Control()
            with signals_stop(control, graceful=True):
                os.kill(os.getpid(), signal.SIGHUP)
            assert not control.stopping and signal.getsignal(signal.SIGHUP) is kept
        assert reloaded == [signal.SIGHUP]
    finally:
        signal.signal(signal.SIGHUP, previous)


def _sleep_when_started(started) -> None:
    started.set()
    time.sleep(600)


class EndsItsOwnProcess(d4p.IterativePE):
    """Starts a process of its own by fork and ends it with SIGTERM, as
    ``multiprocessing.Pool`` does at the end of ``with Pool() as pool:``
    (``Pool.terminate``); returns how the process ended."""

    def _process(self, data):
        context = multiprocessing.get_context("fork")
        started = context.Event()
        child = context.Process(target=_sleep_when_started, args=(started,))
        child.start()
        try:
            assert started.wait(60)
            child.terminate()
            child.join(60)
            return (data, child.exitcode)
        finally:
            if child.is_alive():
                child.kill()
                child.join()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mapping", [m for m in ("simple", "multi", "mpi")
                                     if m in installed_mappings()])
def test_a_process_a_pe_forks_ends_on_sigterm(mapping):
    """A process forked in a PE (a multiprocessing.Pool's workers) starts with
    Python's SIGINT and SIGTERM handlers, not the run's: before, it inherited
    d4p's, which only stop a run, so SIGTERM left it running (``with Pool()``
    then waited for ever at its end), and on MPI it stopped the whole run."""
    graph = d4p.WorkflowGraph()
    ends = EndsItsOwnProcess()
    graph.connect(d4p.producer(_two)(), "output", ends, "input")
    result = d4p.run(graph, mapping=mapping, processes=2)
    assert sorted(result[ends.id]["output"]) == [(1, -signal.SIGTERM), (2, -signal.SIGTERM)]


def _two():
    yield from (1, 2)
