"""A small real FDSN web service on 127.0.0.1 for the tests (no internet needed).

It serves a directory of miniSEED files and its ``stations.xml`` (e.g. a
synthetic data set from :func:`d4p_seismo.synthetic.make_dataset`) through the
two services ObsPy's :class:`~obspy.clients.fdsn.Client` uses:

* ``/fdsnws/station/1/query`` — StationXML of the channels matching
  ``network``/``station``/``location``/``channel`` (wildcards, comma lists) that
  operate in ``starttime``–``endtime``, at ``level`` network, station,
  channel or response; HTTP 204 when nothing matches;
* ``/fdsnws/dataselect/1/query`` — miniSEED of the matching channels' samples
  in ``[starttime, endtime]``; HTTP 204 when there are none;

plus ``application.wadl`` and ``version`` of each (ObsPy's service discovery
reads the WADL). Files are read at every request, so a test may delete one to
make a channel without data. Run it by hand with
``python seismo_fdsn_server.py DIRECTORY [PORT]``.
"""

from __future__ import annotations

import copy
import fnmatch
import io
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import obspy
from obspy import Inventory, Stream, UTCDateTime
from obspy.clients.fdsn.header import DEFAULT_PARAMETERS, DEFAULT_TYPES

SERVICES = ("station", "dataselect")
VERSION = "1.1.0"
_XS_TYPES = {UTCDateTime: "xs:dateTime", str: "xs:string", float: "xs:double",
             int: "xs:int", bool: "xs:boolean"}


def matches(code: str, pattern: str | None) -> bool:
    """FDSN code matching: ``*``/``?`` wildcards, comma-separated lists, ``--`` = empty."""
    if pattern is None:
        return True
    for item in pattern.split(","):
        item = "" if item.strip() == "--" else item.strip()
        if fnmatch.fnmatchcase(code, item):
            return True
    return False


def wadl(service: str, base_url: str) -> bytes:
    """A WADL describing the standard query parameters of ``service``."""
    params = "\n".join(
        f'          <param name="{name}" style="query" '
        f'type="{_XS_TYPES[DEFAULT_TYPES.get(name, str)]}"/>'
        for name in DEFAULT_PARAMETERS[service]
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<application xmlns="http://wadl.dev.java.net/2009/02">
  <resources base="{base_url}/fdsnws/{service}/1/">
    <resource path="query">
      <method name="GET" id="query">
        <request>
{params}
        </request>
      </method>
    </resource>
  </resources>
</application>
""".encode()


def select_inventory(inventory: Inventory, query: dict[str, str]) -> Inventory | None:
    """The part of ``inventory`` a station query asks for, or None when nothing matches."""
    start = UTCDateTime(query["starttime"]) if "starttime" in query else None
    end = UTCDateTime(query["endtime"]) if "endtime" in query else None
    level = query.get("level", "station")
    networks = []
    for net in copy.deepcopy(inventory):
        if not matches(net.code, query.get("network")):
            continue
        stations = []
        for sta in net:
            if not matches(sta.code, query.get("station")):
                continue
            channels = [
                cha for cha in sta
                if matches(cha.location_code, query.get("location"))
                and matches(cha.code, query.get("channel"))
                and (end is None or cha.start_date is None or cha.start_date <= end)
                and (start is None or cha.end_date is None or cha.end_date >= start)
            ]
            if not channels:
                continue
            if level == "channel":
                for cha in channels:
                    cha.response = None
            sta.channels = channels if level in ("channel", "response") else []
            stations.append(sta)
        if stations:
            net.stations = stations if level != "network" else []
            networks.append(net)
    if not networks:
        return None
    return Inventory(networks=networks, source="d4p-seismo test FDSN server")


def select_waveforms(directory: Path, query: dict[str, str]) -> Stream:
    """The samples of the matching channels in ``[starttime, endtime]``."""
    start, end = UTCDateTime(query["starttime"]), UTCDateTime(query["endtime"])
    selected = Stream()
    for path in sorted(directory.glob("*.mseed")):
        for trace in obspy.read(str(path)):
            s = trace.stats
            if (matches(s.network, query.get("network")) and matches(s.station, query.get("station"))
                    and matches(s.location, query.get("location"))
                    and matches(s.channel, query.get("channel"))):
                trace.trim(start, end, nearest_sample=False)
                if trace.stats.npts:
                    selected.append(trace)
    return selected


class FDSNServer:
    """The service on ``127.0.0.1:port`` (0: any free port) in a daemon thread.

    ``url`` is the base URL to give ObsPy's ``Client``; ``requests`` records
    ``(path, query)`` of every request. Use as a context manager or call
    :meth:`start` / :meth:`stop`.
    """

    def __init__(self, directory: str | Path, port: int = 0) -> None:
        self.directory = Path(directory)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> FDSNServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FDSNServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        """(HTTP status, content type, body) for a GET of ``path`` with ``query``."""
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "fdsnws" or parts[1] not in SERVICES or parts[2] != "1":
            return 404, "text/plain", b"not found"
        service, resource = parts[1], parts[3]
        if resource == "version":
            return 200, "text/plain", VERSION.encode()
        if resource == "application.wadl":
            return 200, "application/xml", wadl(service, self.url)
        if resource != "query":
            return 404, "text/plain", b"not found"
        if service == "station":
            inventory = select_inventory(
                obspy.read_inventory(str(self.directory / "stations.xml")), query
            )
            if inventory is None:
                return 204, "text/plain", b""
            body = io.BytesIO()
            inventory.write(body, format="STATIONXML")
            return 200, "application/xml", body.getvalue()
        if "starttime" not in query or "endtime" not in query:
            return 400, "text/plain", b"starttime and endtime are required"
        stream = select_waveforms(self.directory, query)
        if not stream:
            return 204, "text/plain", b""
        body = io.BytesIO()
        stream.write(body, format="MSEED")
        return 200, "application/vnd.fdsn.mseed", body.getvalue()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                server.requests.append((url.path, query))
                try:
                    status, kind, body = server.answer(url.path, query)
                except Exception as exc:  # a bad query: tell the client, as real services do
                    status, kind, body = 400, "text/plain", f"bad request: {exc}".encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 204:
                    self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Handler


if __name__ == "__main__":
    with FDSNServer(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0) as served:
        print(f"serving {served.directory} at {served.url} (Ctrl-C stops)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
