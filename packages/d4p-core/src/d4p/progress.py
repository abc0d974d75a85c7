"""The live progress panel of ``d4p run`` on a terminal.

A panel on standard error (drawn with ``rich``) shows one row per PE (units,
rate, instances), the mapping, the processes and the elapsed time. Whatever
the run prints, from this process or any worker process, is captured at file
descriptors 1 and 2 (:mod:`d4p.output`) and printed whole *above* the panel,
so output never runs through it.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


class Progress:
    """Use as ``with Progress(mapping) as progress:`` and pass ``progress``
    as ``d4p.run(progress=...)``; call :meth:`finish` with the run's summary
    figures when it has ended."""

    def __init__(self, mapping: str) -> None:
        self.mapping = mapping
        self.processes: int | None = None
        self.instances: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.rates: dict[str, float] = {}
        self.start = time.monotonic()
        self._last: tuple[float, dict[str, int]] = (self.start, {})
        self._lock = threading.Lock()
        self._done: float | None = None

    # -- what mappings call -------------------------------------------------------
    def __call__(self, counts: dict[str, int]) -> None:
        now = time.monotonic()
        with self._lock:
            then, before = self._last
            if now - then >= 0.2:
                self.rates = {pe: (n - before.get(pe, 0)) / (now - then)
                              for pe, n in counts.items()}
                self._last = (now, dict(counts))
            self.counts = dict(counts)

    def finish(self, counts: dict[str, int], processes: int,
               instances: dict[str, int]) -> None:
        """The final state: every unit counted, the rate over the whole run."""
        with self._lock:
            self.processes, self.instances = processes, instances
            self._done = time.monotonic() - self.start
            self.counts = dict(counts)
            self.rates = {pe: n / self._done if self._done else 0.0 for pe, n in counts.items()}
        if self._live is not None:
            self._live.refresh()

    # -- the terminal -------------------------------------------------------------
    def __enter__(self) -> Progress:
        from rich.console import Console
        from rich.live import Live

        from .output import forwarded

        self._terminal = os.fdopen(os.dup(2), "w", buffering=1, closefd=True)
        self._console = Console(file=self._terminal, force_terminal=True,
                                width=self._width(), highlight=False)
        fds = (1, 2) if os.isatty(1) else (2,)  # a redirected stdout does not disturb the panel
        self._output = forwarded(dict.fromkeys(fds, self._print))
        self._output.__enter__()
        self._live = Live(get_renderable=self._render, console=self._console,
                          refresh_per_second=4, transient=False, redirect_stdout=False,
                          redirect_stderr=False)
        self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._output.__exit__(*exc)
        self._live.stop()
        self._terminal.close()

    _live = None

    def _width(self) -> int:
        try:
            return os.get_terminal_size(self._terminal.fileno()).columns
        except OSError:
            return 80

    def _print(self, text: str) -> None:
        """Lines the run wrote, printed above the panel."""
        from rich.text import Text

        if self._live is not None and self._live.is_started:
            self._live.console.print(Text(text.removesuffix("\n")), soft_wrap=True)
        else:
            self._terminal.write(text)

    def _render(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        self._console.width = self._width()
        with self._lock:
            counts, rates, done = dict(self.counts), dict(self.rates), self._done
        elapsed = done if done is not None else time.monotonic() - self.start
        procs = f", {self.processes} process{'es' if self.processes != 1 else ''}" \
            if self.processes else ""
        state = "done" if done is not None else "running"
        title = Text(f"{self.mapping}{procs} · {state} · {elapsed:.1f} s", style="italic")
        table = Table(box=None, pad_edge=False, expand=False)
        table.add_column("PE", overflow="fold")
        table.add_column("units", justify="right")
        table.add_column("units/s", justify="right")
        table.add_column("inst.", justify="right")
        for pe, n in counts.items():
            table.add_row(pe, f"{n:,}", f"{rates.get(pe, 0):,.0f}",
                          str(self.instances.get(pe, "")))
        return Group(title, table)
