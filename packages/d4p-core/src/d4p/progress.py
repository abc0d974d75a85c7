"""Progress of a run as it goes: one row per PE (units, rate, instances),
the mapping, the processes and the elapsed time.

:class:`TerminalProgress` is the live panel of ``d4p run`` on a terminal: on
standard error (drawn with ``rich``), with whatever the run prints, from this
process or any worker process, captured at file descriptors 1 and 2
(:mod:`d4p.output`) and printed whole *above* the panel, so output never runs
through it. :class:`NotebookProgress` is the same table in a notebook cell.
Both are ``d4p.run(progress=...)`` callbacks; :meth:`Progress.finish` shows
the final figures.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


class Progress:
    """Units per PE as a run reports them (``d4p.run(progress=...)``) and
    their rates; :meth:`finish` with the run's summary figures ends it.
    Subclasses show it (:meth:`show`)."""

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
        self.show()

    def finish(self, counts: dict[str, int], processes: int,
               instances: dict[str, int]) -> None:
        """The final state: every unit counted, the rate over the whole run."""
        with self._lock:
            self.processes, self.instances = processes, instances
            self._done = time.monotonic() - self.start
            self.counts = dict(counts)
            self.rates = {pe: n / self._done if self._done else 0.0 for pe, n in counts.items()}
        self.show(final=True)

    def show(self, final: bool = False) -> None:
        """Show the figures now (the last time when ``final``)."""

    def title(self) -> str:
        with self._lock:
            done = self._done
        elapsed = done if done is not None else time.monotonic() - self.start
        procs = (f", {self.processes} process{'es' if self.processes != 1 else ''}"
                 if self.processes else "")
        return f"{self.mapping}{procs} · {'done' if done is not None else 'running'} · " \
            f"{elapsed:.1f} s"

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(PE, units, units/s, instances) per PE, as text."""
        with self._lock:
            counts, rates = dict(self.counts), dict(self.rates)
        return [(pe, f"{n:,}", f"{rates.get(pe, 0):,.0f}", str(self.instances.get(pe, "")))
                for pe, n in counts.items()]


HEADER = ("PE", "units", "units/s", "inst.")


class TerminalProgress(Progress):
    """The live panel: use as ``with TerminalProgress(mapping) as progress:``."""

    _live = None

    def show(self, final: bool = False) -> None:
        if final and self._live is not None:
            self._live.refresh()  # otherwise the panel refreshes itself, 4 times a second

    def __enter__(self) -> TerminalProgress:
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
        table = Table(box=None, pad_edge=False, expand=False)
        for i, name in enumerate(HEADER):
            table.add_column(name, justify="left" if i == 0 else "right",
                             overflow="fold" if i == 0 else "ellipsis")
        for row in self.rows():
            table.add_row(*row)
        return Group(Text(self.title(), style="italic"), table)


class NotebookProgress(Progress):
    """The figures as an HTML table in the running notebook cell, updated at
    most twice a second and once more at :meth:`finish`."""

    def __init__(self, mapping: str) -> None:
        super().__init__(mapping)
        self._handle = None
        self._shown = 0.0

    def show(self, final: bool = False) -> None:
        from IPython.display import HTML, display

        now = time.monotonic()
        if not final and now - self._shown < 0.5:
            return
        self._shown = now
        page = HTML(self.html())
        if self._handle is None:
            self._handle = display(page, display_id=True)
        else:
            self._handle.update(page)

    def html(self) -> str:
        import html

        cells = "".join(f"<th>{h}</th>" for h in HEADER)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.rows())
        return (f"<div class=\"d4p-progress\"><p><i>{html.escape(self.title())}</i></p>"
                f"<table><tr>{cells}</tr>{rows}</table></div>")
