"""A small real SeedLink 3 server on 127.0.0.1 for the tests (no internet needed).

It serves a directory of miniSEED files (e.g. a synthetic data set from
:func:`d4p_seismo.synthetic.make_dataset`) as a real-time stream, to ObsPy's
own SeedLink client (:mod:`obspy.clients.seedlink`), speaking the protocol:

* ``HELLO`` — the server line (``SeedLink v3.1 ...``) and an organisation line;
* ``INFO ID`` / ``INFO CAPABILITIES`` — XML in ``SLINFO`` packets (miniSEED
  log records), as ObsPy's ``EasySeedLinkClient`` asks before selecting;
* ``STATION sta net`` (``?``/``*`` wildcards), ``SELECT [LL]CCC``, then
  ``DATA [seq]`` (real time) or ``FETCH [seq]`` (what is there, then ``END``),
  each answered ``OK`` or ``ERROR``; ``END`` starts the stream; ``BYE``.

The files are cut into 512-byte Steim-2 records with ObsPy, sorted by the
time of their last sample and numbered; each goes out as ``SL`` + 6-hex-digit
sequence number + the record when the stream's clock reaches its end:
``speed`` times faster than real time from the moment the client says
``END`` (``speed=0``: all at once). With ``DATA`` the connection then stays
open (a real-time server has nothing newer yet); ``sent`` records the wall
time each record went out, for latency measurements. Run it by hand with
``python seismo_seedlink_server.py DIRECTORY [PORT] [SPEED]``.
"""

from __future__ import annotations

import fnmatch
import io
import socket
import socketserver
import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import obspy
from obspy import Stream, Trace, UTCDateTime

RECLEN = 512
VERSION_LINE = b"SeedLink v3.1 (2026.339 d4p test server) :: SLPROTO:3.1 CAP EXTREPLY NSWILDCARD\r\n"
ORGANISATION = b"d4p-seismo tests\r\n"
CAPABILITIES = ('<?xml version="1.0"?><seedlink software="SeedLink v3.1 d4p test server">'
                '<capability name="dialup"/><capability name="multistation"/>'
                '<capability name="window-extraction"/><capability name="info:id"/>'
                '<capability name="info:capabilities"/></seedlink>')


@dataclass
class Record:
    seq: int
    network: str
    station: str
    location: str
    channel: str
    end: float  # POSIX time just after the last sample
    data: bytes


def records_of(directory: Path) -> list[Record]:
    """Every file of ``directory`` as 512-byte records, in order of their end time."""
    pieces = []
    for path in sorted(directory.glob("*.mseed")):
        for trace in obspy.read(str(path)):
            buffer = io.BytesIO()
            trace.data = np.asarray(trace.data, dtype=np.int32)
            Stream([trace]).write(buffer, format="MSEED", reclen=RECLEN, encoding="STEIM2",
                                  byteorder=">")
            raw = buffer.getvalue()
            s = trace.stats
            for k in range(0, len(raw), RECLEN):
                record = raw[k:k + RECLEN]
                year, day, hour, minute, sec, _, tenth_ms, nsamp = struct.unpack(
                    ">HHBBBBHH", record[20:32])
                start = UTCDateTime(year=year, julday=day, hour=hour, minute=minute,
                                    second=sec) + tenth_ms / 10_000
                end = start.timestamp + nsamp / s.sampling_rate
                pieces.append((end, s.network, s.station, s.location, s.channel, record))
    pieces.sort(key=lambda p: (p[0], p[1], p[2], p[3], p[4]))
    return [Record(n + 1, *p[1:5], p[0], p[5]) for n, p in enumerate(pieces)]


def info_packets(xml: str) -> list[bytes]:
    """An INFO answer: SLINFO packets of miniSEED log records ('*' = more follow)."""
    text = np.frombuffer(xml.encode(), dtype="|S1")
    trace = Trace(text, {"network": "XX", "station": "INFO", "channel": "LOG"})
    buffer = io.BytesIO()
    Stream([trace]).write(buffer, format="MSEED", reclen=RECLEN, encoding="ASCII")
    raw = buffer.getvalue()
    chunks = [raw[k:k + RECLEN] for k in range(0, len(raw), RECLEN)]
    return [(b"SLINFO *" if k < len(chunks) - 1 else b"SLINFO  ") + chunk
            for k, chunk in enumerate(chunks)]


def _matches(record: Record, network: str, station: str, selectors: list[str]) -> bool:
    if not (fnmatch.fnmatchcase(record.network, network)
            and fnmatch.fnmatchcase(record.station, station)):
        return False
    if not selectors:
        return True
    for selector in selectors:
        selector = selector.split(".")[0]
        location, channel = (selector[:-3], selector[-3:]) if len(selector) > 3 else (None, selector)
        location = "" if location == "--" else location
        if (fnmatch.fnmatchcase(record.channel, channel)
                and (location is None or fnmatch.fnmatchcase(record.location, location))):
            return True
    return False


class SeedLinkServer:
    """The server on ``127.0.0.1:port`` (0: any free port) in daemon threads.

    ``address`` is ``"127.0.0.1:PORT"`` for ``-p seedlink=``; ``commands``
    records every command line received, ``sent`` ``(wall time, record)`` of
    every record sent. Use as a context manager or call :meth:`start` /
    :meth:`stop` (which also closes every client connection).
    """

    def __init__(self, directory: str | Path, port: int = 0, speed: float = 1.0) -> None:
        self.directory = Path(directory)
        self.speed = float(speed)
        self.records = records_of(self.directory)
        self.first = min(r.end for r in self.records) if self.records else 0.0
        self.start_time = min(
            (obspy.read(str(p), headonly=True)[0].stats.starttime.timestamp
             for p in self.directory.glob("*.mseed")), default=0.0)
        self.commands: list[str] = []
        self.sent: list[tuple[float, Record]] = []
        self._stopping = threading.Event()
        self._clients: list[socket.socket] = []
        self._tcp = socketserver.ThreadingTCPServer(("127.0.0.1", port), self._handler(),
                                                    bind_and_activate=False)
        self._tcp.daemon_threads = True
        self._tcp.allow_reuse_address = True
        self._tcp.server_bind()
        self._tcp.server_activate()
        self.port = self._tcp.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._tcp.serve_forever, daemon=True)

    def start(self) -> SeedLinkServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._tcp.shutdown()
        self._tcp.server_close()
        for sock in list(self._clients):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> SeedLinkServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve(self, sock: socket.socket) -> None:
        """One client's session: commands, then the stream."""
        self._clients.append(sock)
        stations: list[tuple[str, str, list[str], int]] = []  # net, sta, selectors, from seq
        fetch = False
        reader = sock.makefile("rb")
        while not self._stopping.is_set():
            line = _read_command(reader)
            if line is None:
                return
            self.commands.append(line)
            words = line.split()
            verb = words[0].upper() if words else ""
            if verb == "HELLO":
                sock.sendall(VERSION_LINE + ORGANISATION)
            elif verb == "INFO":
                level = words[1].upper() if len(words) > 1 else ""
                if level == "CAPABILITIES":
                    xml = CAPABILITIES
                else:
                    xml = ('<?xml version="1.0"?><seedlink software="SeedLink v3.1" '
                           'organization="d4p-seismo tests"/>')
                sock.sendall(b"".join(info_packets(xml)))
            elif verb == "STATION" and len(words) >= 3:
                sta, net = words[1], words[2]
                known = any(_matches(r, net, sta, []) for r in self.records)
                if known:
                    stations.append((net, sta, [], 0))
                sock.sendall(b"OK\r\n" if known else b"ERROR\r\n")
            elif verb == "SELECT" and stations:
                stations[-1][2].extend(words[1:])
                sock.sendall(b"OK\r\n")
            elif verb in ("DATA", "FETCH") and stations:
                fetch = verb == "FETCH"
                seq = int(words[1], 16) if len(words) > 1 else 0
                net, sta, selectors, _ = stations[-1]
                stations[-1] = (net, sta, selectors, seq)
                sock.sendall(b"OK\r\n")
            elif verb == "END" and stations:
                self._stream(sock, stations, fetch)
                return
            elif verb == "BYE":
                return
            else:
                sock.sendall(b"ERROR\r\n")

    def _stream(self, sock: socket.socket, stations, fetch: bool) -> None:
        wall0 = time.time()
        for record in self.records:
            if not any(_matches(record, net, sta, sel) and record.seq >= seq
                       for net, sta, sel, seq in stations):
                continue
            if self.speed > 0:
                due = wall0 + (record.end - self.start_time) / self.speed
                if self._stopping.wait(max(0.0, due - time.time())):
                    return
            try:
                sock.sendall(b"SL%06X" % record.seq + record.data)
            except OSError:
                return
            self.sent.append((time.time(), record))
        if fetch:
            sock.sendall(b"END")
            return
        sock.settimeout(0.5)  # real time: nothing newer; wait for the client to leave
        while not self._stopping.is_set():
            try:
                if not sock.recv(4096):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _handler(self) -> type[socketserver.BaseRequestHandler]:
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    server.serve(self.request)
                except OSError:
                    pass
                finally:
                    if self.request in server._clients:
                        server._clients.remove(self.request)

        return Handler


def _read_command(reader) -> str | None:
    """One command line (ends with CR, LF or both), or None when the client left."""
    line = bytearray()
    while True:
        byte = reader.read(1)
        if not byte:
            return None
        if byte in (b"\r", b"\n"):
            if line:
                return line.decode("ascii", "replace").strip()
            continue
        line += byte


if __name__ == "__main__":
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 18000
    speed = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    with SeedLinkServer(sys.argv[1], port, speed) as served:
        print(f"serving {served.directory} as SeedLink at {served.address}, "
              f"{served.speed:g}x real time (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
