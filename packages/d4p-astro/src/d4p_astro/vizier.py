"""The live source: an IVOA Simple Cone Search on VizieR's HyperLEDA catalogue (VII/237), via pyvo.

Each attempt waits at most `timeout` seconds to connect, at most `timeout` seconds
for each read, and is abandoned once its answer has not fully arrived `timeout`
seconds after the request (a server trickling bytes cannot hold it for ever);
failed attempts (no connection, time-out, an answer cut short, HTTP 429 or 5xx)
are retried `retries` times after a pause that doubles from `backoff` seconds.
So a service that cannot be reached, that never answers or that answers too
slowly fails after at most about
``(retries + 1) * 2 * timeout + backoff * (2**retries - 1)`` seconds, with a
`ServiceUnavailableError` that names the service and suggests ``-p source=fixture``.
"""

from __future__ import annotations

import re
import time

import requests
import urllib3
from pyvo.dal import DALQueryError, DALServiceError, SCSService

from d4p_astro.errors import ServiceUnavailableError
from d4p_astro.params import VIZIER_CONE_URL
from d4p_astro.votable import service_error

"""VizieR's Simple Cone Search endpoint for the HyperLEDA table VII/237/pgc."""

_USER_AGENT = "d4p-astro (pyvo)"


class _TimeoutSession(requests.Session):
    """A requests session that gives every request a (connect, read) time-out."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = _USER_AGENT

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", (self.timeout, self.timeout))
        return super().request(method, url, **kwargs)


def cone_search(
    ra: float,
    dec: float,
    radius: float,
    *,
    url: str = VIZIER_CONE_URL,
    timeout: float = 30.0,
    retries: int = 2,
    backoff: float = 1.0,
    service: str = "VizieR cone search (VII/237)",
) -> bytes:
    """The VOTable bytes a Simple Cone Search service answers for a cone.

    `ra`, `dec` and `radius` are in degrees. `service` names the service in errors.
    Raises `ServiceUnavailableError` when every attempt fails.
    """
    attempts = retries + 1
    reasons = []
    with _TimeoutSession(timeout) as session:
        scs = SCSService(url, session=session)
        for attempt in range(1, attempts + 1):
            try:
                return _attempt(scs, ra, dec, radius, timeout)
            except _Retryable as exc:
                reasons.append(str(exc))
            if attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
    raise ServiceUnavailableError(
        f"{service} at {url} failed {attempts} time(s) for ra={ra}, dec={dec} "
        f"(time-out {timeout} s per attempt): {reasons[-1].rstrip('.')}. Check the network, raise "
        "-p timeout=SECONDS, or run offline with -p source=fixture."
    )


class _Retryable(Exception):
    pass


def _attempt(scs: SCSService, ra: float, dec: float, radius: float, timeout: float) -> bytes:
    query = scs.create_query(pos=(ra, dec), radius=radius, verbosity=3)
    deadline = time.monotonic() + timeout
    try:
        stream = query.execute_stream()
        try:
            data = _read_until(stream, deadline, timeout)
        finally:
            stream.close()
    except requests.Timeout as exc:
        raise _Retryable(f"no answer within the time-out ({type(exc).__name__})") from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise _Retryable("the answer stopped arriving within the time-out") from exc
    except urllib3.exceptions.ProtocolError as exc:
        raise _Retryable(f"the answer was cut short ({_root_cause(exc)})") from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _Retryable(f"cannot connect ({_root_cause(exc)})") from exc
    try:
        query.raise_if_error()
    except DALQueryError:
        raise
    except DALServiceError as exc:
        reason = _short(exc)
        if data.lstrip().startswith(b"<"):
            reason = service_error(data) or reason  # e.g. VizieR's own words in a VOTable
        if exc.code is None or exc.code == 429 or exc.code >= 500:
            raise _Retryable(f"HTTP {exc.code}: {reason}") from exc
        raise ServiceUnavailableError(
            f"{scs.baseurl} refused the query for ra={ra}, dec={dec}: HTTP {exc.code} {reason}"
        ) from exc
    page = _html_title(data)
    if page is not None:
        raise _Retryable(f"an HTML page instead of a VOTable ({page!r})")
    if _MAY_REPORT_ERROR.search(data):
        reported = service_error(data)
        if reported is not None:  # with HTTP 200, e.g. VizieR's database out of reach
            raise _Retryable(f"the service reports an error: {reported}")
    return data


_MAY_REPORT_ERROR = re.compile(rb'name\s*=\s*"error"|value\s*=\s*"error"', re.I)


def _read_until(stream: urllib3.response.HTTPResponse, deadline: float, timeout: float) -> bytes:
    """The whole body of `stream`, read as it arrives (a read returns what has come),
    abandoned once `deadline` passes: a server that trickles its answer byte by byte
    would otherwise keep each read under the time-out for ever."""
    chunks = []
    while chunk := stream.read1(1 << 16, decode_content=True):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            received = sum(len(c) for c in chunks)
            raise _Retryable(
                f"the answer was still arriving after the time-out ({received} bytes in {timeout} s)"
            )
    return b"".join(chunks)


def _html_title(data: bytes) -> str | None:
    """The title of an HTML page (a service's "maintenance" page served with HTTP 200),
    or the start of its text; ``None`` when `data` is not HTML."""
    start = data[:1024].lstrip().lower()
    if not (start.startswith(b"<!doctype html") or start.startswith(b"<html")):
        return None
    text = data[:65536].decode("utf-8", "replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    words = re.sub(r"<[^>]*>|\s+", " ", title.group(1) if title else text).strip()
    return words[:120] or "no title"


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a connection error, e.g. "Connection refused"."""
    seen = {id(exc)}
    while True:
        inner = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
        if not isinstance(inner, BaseException) or id(inner) in seen:
            break
        seen.add(id(inner))
        exc = inner
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
