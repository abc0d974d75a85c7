"""Real-time data: a SeedLink stream cut into windows on its own timestamps.

The real-time counterpart of :class:`~d4p_seismo.pes.StationFiles` →
:class:`~d4p_seismo.pes.ReadTrace`, built on ObsPy's own SeedLink client
(:class:`obspy.clients.seedlink.easyseedlink.EasySeedLinkClient`):

* :class:`SeedLinkSource` (a producer that runs until the server ends the
  stream) connects to a SeedLink server, selects the stations and channels,
  and writes every miniSEED record it receives as an ``obspy.Trace``; a
  graceful stop (Ctrl-C, ``--stop-after``) ends it too;
* :class:`StationWindows` (an event-time window of :mod:`d4p.window`, per
  channel) cuts the records at window boundaries and writes each channel's
  window once the stream's time has passed its end by ``lateness`` s;
* :class:`WindowTraces` turns one channel's window into the trace
  :class:`~d4p_seismo.pes.ReadTrace` makes of a file's window (merged, gaps
  remembered, the same coverage rule and gap policy, on the sample grid,
  coordinates attached), so every PE downstream works unchanged.
"""

from __future__ import annotations

import logging
import math
import queue
import socket
import threading
from pathlib import Path
from typing import Any

import numpy as np
from d4p import ProducerPE, StopSource
from d4p.window import TimeWindow
from obspy import Inventory, Stream, Trace, UTCDateTime

from d4p_seismo.errors import SeismoDataError
from d4p_seismo.pes import ReadTrace

IDLE = 0.5
"""Seconds a call of the source waits for a record before it returns, so
that a stop reaches it even while the server sends nothing."""

BATCH = 1000
"""Records written by one call of the source at most."""

ENDLESS = 2**62
"""The iterations of a :class:`SeedLinkSource` (one call per batch of
records): ``{source: ENDLESS}`` as its input makes it run until stopped."""

RECONNECT = 5.0
"""Seconds between two attempts to reconnect after the connection is lost."""


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (port 18000 if left out) of a SeedLink server."""
    host, _, port = str(address).strip().rpartition(":")
    if not host:
        host, port = port, "18000"
    if not host or not port.isdigit():
        raise SeismoDataError(
            f"-p seedlink={address!r}: give the server as HOST:PORT, e.g. geofon.gfz.de:18000"
        )
    return host, int(port)


def _codes(value: str) -> list[str]:
    return [v.strip() for v in str(value).split(",") if v.strip()] or ["*"]


class SeedLinkSource(ProducerPE):
    """Writes every record of the selected streams of a SeedLink server as an
    ``obspy.Trace`` on ``'output'``, forever (until the run is stopped, or the
    server ends the stream).

    ``network`` and ``station`` are codes or comma lists (``?``/``*``
    wildcards where the server supports them); each pair becomes a SeedLink
    ``STATION`` request. ``channel`` (e.g. ``BHZ``, ``BH?``) and ``location``
    make the selector (``LLCCC``; ``*`` or empty location: any); empty
    ``channel``: every channel. The connection is made in a thread that
    hands records over. A lost connection is made again, resuming after the
    last record received.
    A server that cannot be reached, or that accepts none of the stations,
    fails the run naming it. Give it :data:`ENDLESS` iterations
    (``{source: ENDLESS}``): each call writes the records that have arrived
    (waiting up to :data:`IDLE` s), so the run takes what reached the other
    PEs of its process between calls and notices a stop even while the server
    is quiet. ``dialup=True`` asks for what the server holds now (SeedLink
    ``FETCH``); after the server's ``END`` the source ends itself
    (:class:`d4p.StopSource`), and the run ends once the rest has been
    processed.
    """

    def __init__(self, address: str, network: str = "*", station: str = "*",
                 location: str = "*", channel: str = "", timeout: float = 10.0,
                 dialup: bool = False) -> None:
        super().__init__()
        self.address = str(address)
        parse_address(self.address)
        self.network, self.station = str(network), str(station)
        self.location, self.channel = str(location), str(channel)
        self.timeout = timeout
        self.dialup = dialup

    def selector(self) -> str | None:
        if not self.channel:
            return None
        if self.location in ("*", ""):
            return self.channel
        return self.location + self.channel  # "--BHZ": the empty location

    def _connect(self, streams: list[tuple[str, str, str | None, int]] | None = None):
        from obspy.clients.seedlink.easyseedlink import EasySeedLinkClient

        records = self._records

        class Client(EasySeedLinkClient):
            def on_data(self, trace: Trace) -> None:
                records.put(trace)

            def on_terminate(self) -> None:
                records.put(StopIteration())

        try:  # a server that is not there: our own socket, closed (ObsPy's would leak)
            socket.create_connection(parse_address(self.address), self.timeout).close()
            client = Client(self.address, autoconnect=False)
            client.conn.timeout = self.timeout  # ObsPy needs a number to connect ...
            client.connect()
            client.conn.timeout = None  # ... and ends its loop after it: no limit once connected
            client.conn.dialup = self.dialup
            if streams is None:
                streams = [(net, sta, self.selector(), -1)
                           for net in _codes(self.network) for sta in _codes(self.station)]
                if not client.has_capability("multistation"):
                    raise SeismoDataError(
                        f"SeedLink server {self.address} does not offer multi-station mode"
                    )
            for net, sta, selector, seq in streams:
                client.conn.add_stream(net, sta, selector, seq, None)
        except SeismoDataError:
            raise
        except Exception as exc:
            raise SeismoDataError(
                f"SeedLink server {self.address}: cannot connect ({_reason(exc)}); check "
                "-p seedlink=HOST:PORT and that the server runs"
            ) from exc
        return client

    def _receive(self, client) -> None:
        """In a thread: run the client; reconnect, resuming, when the connection is lost."""
        while not self._closing.is_set():
            try:
                client.run()
                return
            except Exception as exc:
                if self._closing.is_set():
                    return
                if not self._started:
                    self._records.put(SeismoDataError(
                        f"SeedLink server {self.address} accepted none of the streams "
                        f"{self.network}.{self.station}.{self.location}.{self.channel} "
                        f"({_reason(exc)}); check the codes"))
                    return
                streams = [(s.net, s.station, " ".join(s.get_selectors()) or None, s.seqnum)
                           for s in client.conn.streams]
                self._records.put(f"connection lost ({_reason(exc)}); reconnecting")
            while not self._closing.wait(RECONNECT):
                try:
                    client = self._client = self._connect(streams)
                    break
                except SeismoDataError as error:
                    self._records.put(str(error))

    def preprocess(self) -> None:
        self._records: queue.Queue = queue.Queue()
        self._closing = threading.Event()
        self._started = False
        self._client = None

    def _process(self, inputs: Any) -> None:
        """One call: the records that have arrived (waiting up to :data:`IDLE`
        s for the first), so that the run notices a stop between calls."""
        if self._client is None:
            self._client = self._connect()
            threading.Thread(target=self._receive, args=(self._client,), daemon=True,
                             name="d4p-seedlink").start()
        try:
            item = self._records.get(timeout=IDLE)
        except queue.Empty:
            return
        for _ in range(BATCH):
            if isinstance(item, Trace):
                self._started = True
                self.write("output", item)
            elif isinstance(item, StopIteration):
                self.log(f"the SeedLink server {self.address} ended the stream")
                raise StopSource
            elif isinstance(item, Exception):
                raise item
            else:
                self.log(f"SeedLink server {self.address}: {item}")
            try:
                item = self._records.get_nowait()
            except queue.Empty:
                return

    def postprocess(self) -> None:
        self._close()

    def _close(self) -> None:
        self._closing.set()
        client = self._client
        if client is None:
            return
        # ObsPy logs the end of its loop and the closed socket as warnings; the
        # stop is ours, so they would only alarm
        logging.getLogger("obspy.clients.seedlink").setLevel(logging.ERROR)
        client.conn.terminate()
        sock = client.conn.socket
        if sock is not None:
            try:
                sock.shutdown(2)  # SHUT_RDWR: the thread's recv returns at once
                sock.close()
            except OSError:
                pass


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "value", "") or exc).strip().strip("\"'")
    return text.splitlines()[0] if text else type(exc).__name__


def channel_of(trace: Trace) -> str:
    """The group-by key of a record: its channel id ``NET.STA.LOC.CHA``."""
    return trace.id


def start_of(trace: Trace) -> float:
    """The event time of a record piece: its first sample (POSIX seconds)."""
    return trace.stats.starttime.timestamp


class StationWindows(TimeWindow):
    """Per channel, windows of ``length`` s starting every ``slide`` s (whole
    multiples of ``slide`` since 1970, e.g. on the hour for 3600): writes
    ``(channel, start, end, [record pieces])`` once the stream's time (the
    latest record seen, less ``lateness`` s) has passed ``end``.

    Records are first cut at every window start and end, so a piece lies in
    whole in each window it belongs to. A piece arriving after its window
    was written (a channel lagging more than ``lateness`` behind the others)
    is counted and logged at the end. When the stream ends or is stopped,
    a channel's window that its own data had reached the end of is written;
    windows the stream stopped inside are left out (logged), never
    correlated half full.
    """

    def __init__(self, length: float, slide: float | None = None, lateness: float = 60.0) -> None:
        super().__init__(length, time=start_of, slide=slide, by=channel_of, lateness=lateness)
        self.reached: dict[str, float] = {}  # channel -> end of its latest sample

    def process(self, inputs: dict) -> None:
        trace = inputs["input"]
        s = trace.stats
        self.reached[trace.id] = max(self.reached.get(trace.id, -math.inf),
                                     s.endtime.timestamp + s.delta)
        for piece in self.pieces(trace):
            super().process({"input": piece})

    def pieces(self, trace: Trace) -> list[Trace]:
        """``trace`` cut at every window start and end inside it."""
        s = trace.stats
        first, delta = s.starttime.timestamp, s.delta
        last = first + s.npts * delta
        edges = set()
        for origin in (0.0, self.length):
            k = math.floor((first - origin) / self.slide) + 1
            while origin + k * self.slide < last:
                edges.add(origin + k * self.slide)
                k += 1
        cuts = sorted({min(s.npts, max(0, math.ceil((e - first) / delta - 1e-3))) for e in edges})
        bounds = [0, *[c for c in cuts if 0 < c < s.npts], s.npts]
        if len(bounds) == 2:
            return [trace]
        out = []
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            header = s.copy()
            header.npts, header.starttime = hi - lo, s.starttime + lo * delta
            out.append(Trace(np.asarray(trace.data[lo:hi]), header))
        return out

    def postprocess(self) -> None:
        for channel, windows in self.open.items():
            reached = self.reached.get(channel, -math.inf)
            for start in sorted(windows):
                if start + self.length > reached + 1e-6:
                    del windows[start]
                    self.log(f"{channel}: the stream ended inside the window "
                             f"{UTCDateTime(start)} - {UTCDateTime(start + self.length)}; "
                             "left out")
        super().postprocess()  # says how many pieces came too late


class WindowTraces(ReadTrace):
    """One channel's window ``(channel, start, end, [record pieces])`` from
    :class:`StationWindows` → its trace, made exactly as
    :class:`~d4p_seismo.pes.ReadTrace` makes a file's window (which see for
    ``inventory``, ``min_coverage``, ``gaps`` and ``on_error``): the pieces
    merged with their gaps remembered, on the grid of the window start, cut
    to ``[start, end)``, coordinates attached; a window covered too little
    fails the run or (``gaps="reject"``) is written to ``'rejected'``."""

    def __init__(self, inventory: str | Path | Inventory | None, source: str = "SeedLink",
                 min_coverage: float = 0.5, on_error: str = "raise", gaps: str = "zero") -> None:
        super().__init__(inventory, min_coverage=min_coverage, on_error=on_error, gaps=gaps)
        self.source = source

    def read(self, window: tuple) -> list[Trace]:
        _, start, end, pieces = window
        self.starttime, self.endtime = UTCDateTime(start), UTCDateTime(end)
        return self.prepare(Stream(list(pieces)), self.source)
