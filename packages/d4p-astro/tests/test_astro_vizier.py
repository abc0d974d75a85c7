"""The live path against local HTTP servers: real sockets, requests and pyvo, no internet."""

import gzip
import socket
import time
import zlib

import pytest
from d4p_astro.errors import ServiceUnavailableError
from d4p_astro.vizier import cone_search
from d4p_astro.votable import nearest_galaxy


def test_cone_search_sends_an_scs_query_and_returns_the_votable(cone_server):
    server = cone_server()
    data = cone_search(202.4696, 47.1952, 0.01, url=server.url, timeout=5)
    assert nearest_galaxy(data, 202.4696, 47.1952, server.url).mtype == "Sbc"
    ((path, query),) = server.requests
    assert path == "/viz-bin/conesearch/VII/237/pgc"
    assert float(query["RA"]) == 202.4696 and float(query["DEC"]) == 47.1952
    assert float(query["SR"]) == 0.01 and query["VERB"] == "3"


def test_server_errors_are_retried(cone_server):
    server = cone_server(statuses=[503, 502])
    data = cone_search(10.6847, 41.269, 0.01, url=server.url, timeout=5, retries=2, backoff=0.01)
    assert nearest_galaxy(data, 10.6847, 41.269, "s").mtype == "Sb"
    assert len(server.requests) == 3


def test_a_service_still_failing_after_its_retries_names_service_and_fixture(cone_server):
    server = cone_server(statuses=[503] * 5)
    with pytest.raises(ServiceUnavailableError) as excinfo:
        cone_search(10.0, 20.0, 0.01, url=server.url, timeout=5, retries=1, backoff=0.01)
    message = str(excinfo.value)
    assert f"VizieR cone search (VII/237) at {server.url} failed 2 time(s)" in message
    assert "HTTP 503" in message and "-p source=fixture" in message
    assert len(server.requests) == 2


def test_a_client_error_is_not_retried(cone_server):
    server = cone_server(statuses=[400])
    with pytest.raises(ServiceUnavailableError, match="refused the query .* HTTP 400"):
        cone_search(10.0, 20.0, 0.01, url=server.url, timeout=5, retries=3, backoff=0.01)
    assert len(server.requests) == 1


@pytest.mark.timeout(20)
def test_a_service_that_never_answers_fails_within_its_timeout(silent_url):
    url = silent_url
    with pytest.raises(ServiceUnavailableError) as excinfo:
        cone_search(10.0, 20.0, 0.01, url=url, timeout=0.5, retries=1, backoff=0.1)
    message = str(excinfo.value)
    assert f"at {url} failed 2 time(s)" in message
    assert "no answer within the time-out" in message and "-p source=fixture" in message


@pytest.mark.timeout(20)
def test_an_unreachable_host_fails_fast_with_a_clear_error():
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on this port any more: connection refused
    with pytest.raises(ServiceUnavailableError, match=r"failed 3 time\(s\).*cannot connect"):
        cone_search(10.0, 20.0, 0.01, url=f"http://127.0.0.1:{port}/cone", timeout=5, backoff=0.01)


def trickle(handler, body):
    """Answer 200 and then one byte of the VOTable every 0.2 s: each read stays under
    the time-out, the whole answer takes minutes."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    try:
        for i in range(len(body)):
            handler.wfile.write(body[i : i + 1])
            handler.wfile.flush()
            time.sleep(0.2)
    except OSError:
        pass  # the client gave up, as it should


@pytest.mark.timeout(30)
def test_a_server_trickling_its_answer_fails_within_the_timeout(cone_server):
    server = cone_server(statuses=[trickle, trickle])
    with pytest.raises(ServiceUnavailableError) as excinfo:  # the trickle alone lasts minutes
        cone_search(10.6847, 41.269, 0.01, url=server.url, timeout=1.0, retries=1, backoff=0.01)
    message = str(excinfo.value)
    assert f"at {server.url} failed 2 time(s)" in message
    assert "the answer was still arriving after the time-out (" in message
    assert "bytes in 1.0 s)" in message and "-p source=fixture" in message


def respond(handler, status, payload, **headers):
    """Write a whole response: `status`, `headers` (Content_Type -> Content-Type), `payload`."""
    handler.send_response(status)
    for name, value in {"Content_Length": str(len(payload)), **headers}.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(payload)


def truncated(handler, body):
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body) + 100))
    handler.end_headers()
    handler.wfile.write(body)


def test_an_answer_cut_short_is_retried_and_named(cone_server):
    server = cone_server(statuses=[truncated])
    data = cone_search(10.6847, 41.269, 0.01, url=server.url, timeout=5, backoff=0.01)
    assert nearest_galaxy(data, 10.6847, 41.269, "s").mtype == "Sb"
    server = cone_server(statuses=[truncated, truncated])
    with pytest.raises(
        ServiceUnavailableError, match=r"failed 2 time\(s\).*the answer was cut short"
    ):
        cone_search(10.6847, 41.269, 0.01, url=server.url, timeout=5, retries=1, backoff=0.01)


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
def test_a_compressed_answer_is_decoded(cone_server, encoding, compress):
    def compressed(handler, body):
        respond(handler, 200, compress(body), Content_Encoding=encoding)

    server = cone_server(statuses=[compressed])
    data = cone_search(202.4696, 47.1952, 0.01, url=server.url, timeout=5)
    assert data.startswith(b"<?xml")
    assert nearest_galaxy(data, 202.4696, 47.1952, "s").mtype == "Sbc"


def html_page(handler, body):
    page = b"<!DOCTYPE html><html><head><title>VizieR: service in maintenance</title></head></html>"
    respond(handler, 200, page, Content_Type="text/html")


def test_an_html_page_with_http_200_is_retried_then_named(cone_server):
    server = cone_server(statuses=[html_page])
    data = cone_search(10.6847, 41.269, 0.01, url=server.url, timeout=5, backoff=0.01)
    assert nearest_galaxy(data, 10.6847, 41.269, "s").mtype == "Sb"
    server = cone_server(statuses=[html_page] * 3)
    with pytest.raises(ServiceUnavailableError) as excinfo:
        cone_search(10.6847, 41.269, 0.01, url=server.url, timeout=5, backoff=0.01)
    assert (
        f"at {server.url} failed 3 time(s) for ra=10.6847, dec=41.269 (time-out 5 s per attempt): "
        "an HTML page instead of a VOTable ('VizieR: service in maintenance')"
    ) in str(excinfo.value)


VOTABLE_ERROR = (
    b'<?xml version="1.0"?><VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
    b'<RESOURCE type="results"><INFO name="QUERY_STATUS" value="ERROR">'
    b"SR must be below 10 degrees</INFO></RESOURCE></VOTABLE>"
)


def votable_error(status):
    def answer(handler, body):
        respond(handler, status, VOTABLE_ERROR, Content_Type="text/xml")

    return answer


def test_the_services_own_message_in_an_http_error_votable_is_given(cone_server):
    server = cone_server(statuses=[votable_error(400)])
    with pytest.raises(ServiceUnavailableError) as excinfo:
        cone_search(10.0, 20.0, 20.0, url=server.url, timeout=5, backoff=0.01)
    assert str(excinfo.value) == (
        f"{server.url} refused the query for ra=10.0, dec=20.0: HTTP 400 SR must be below 10 degrees"
    )
    server = cone_server(statuses=[votable_error(500)] * 2)
    with pytest.raises(
        ServiceUnavailableError, match=r"\): HTTP 500: SR must be below 10 degrees\."
    ):
        cone_search(10.0, 20.0, 20.0, url=server.url, timeout=5, retries=1, backoff=0.01)


VIZIER_DOWN = b"""<?xml version="1.0" encoding="UTF-8"?>
<ns0:VOTABLE xmlns:ns0="http://www.ivoa.net/xml/VOTable/v1.3" version="1.4">
  <ns0:DESCRIPTION>VizieR Astronomical Server (a test's imitation of its error answer)</ns0:DESCRIPTION>
  <ns0:INFO ID="Error" name="Error" value="The database is not currently reachable." />
  <ns0:INFO name="Error" value=" -- no connection" />
  <ns0:INFO name="QUERY_STATUS" value="ERROR">
The database is not currently reachable.
 -- no connection
  </ns0:INFO>
</ns0:VOTABLE>
"""


def test_a_vizier_error_votable_with_http_200_is_retried_then_named(cone_server):
    def down(handler, body):
        respond(handler, 200, VIZIER_DOWN, Content_Type="text/xml")

    server = cone_server(statuses=[down])
    data = cone_search(10.6847, 41.269, 0.01, url=server.url, timeout=5, backoff=0.01)
    assert nearest_galaxy(data, 10.6847, 41.269, "s").mtype == "Sb"
    server = cone_server(statuses=[down] * 2)
    with pytest.raises(ServiceUnavailableError) as excinfo:
        cone_search(10.6847, 41.269, 0.01, url=server.url, timeout=5, retries=1, backoff=0.01)
    assert (
        f"at {server.url} failed 2 time(s) for ra=10.6847, dec=41.269 (time-out 5 s per attempt): "
        "the service reports an error: The database is not currently reachable. Check the network,"
    ) in str(excinfo.value)


def test_a_multi_line_service_error_is_reported_on_one_line():
    from d4p_astro.votable import service_error

    assert service_error(VIZIER_DOWN.replace(b'name="Error"', b'name="Note"')) == (
        "The database is not currently reachable. -- no connection"
    )
