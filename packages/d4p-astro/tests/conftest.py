"""Shared fixtures of the d4p-astro tests: a local cone-search server (real HTTP, no internet)."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from d4p_astro.fixture import FixtureCatalogue


class ConeServer:
    """Serves cone searches from the fixture; `statuses` are answered first, one per request.

    A status is an HTTP code (answered with a short HTML body) or a function
    ``answer(handler, votable_bytes)`` that writes the whole response itself.
    """

    def __init__(self, statuses=()):
        self.requests = []
        self.statuses = list(statuses)
        catalogue = FixtureCatalogue()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                server.requests.append((urlparse(self.path).path, query))
                body = catalogue.cone(float(query["RA"]), float(query["DEC"]), float(query["SR"]))
                if server.statuses and callable(server.statuses[0]):
                    server.statuses.pop(0)(self, body)
                    return
                if server.statuses:
                    self.send_response(server.statuses.pop(0))
                    self.end_headers()
                    self.wfile.write(b"<html>busy</html>")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/viz-bin/conesearch/VII/237/pgc"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cone_server():
    servers = []

    def start(statuses=()):
        servers.append(ConeServer(statuses))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def silent_url():
    """The URL of a server that accepts connections and never answers."""
    silent = socket.create_server(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{silent.getsockname()[1]}/cone"
    silent.close()
