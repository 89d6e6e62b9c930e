"""uvicorn's HTTP protocols, answering what their parser refuses with problem+json.

uvicorn answers a request its HTTP parser cannot read (a malformed request
line or header, a URL past the parser's reach) itself, before the app sees
it, with a ``text/plain`` 400. The subclasses here send that answer as an
RFC 9457 problem, like every other error of the API. A request target longer
than :data:`~strangler.rest.limits.MAX_URL_BYTES` is 414 wherever it is
caught: here when the parser is httptools (which cannot parse URLs over
64 KiB at all), in the app's :class:`~strangler.rest.limits.UrlLimit` otherwise.
Both carry the client certificate of an HTTPS connection in the scope
(:mod:`.tls_scope`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from http import HTTPStatus

import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from strangler.rest.problems import MEDIA_TYPE, http_problem_body
from strangler.serve.tls_scope import TlsScope

__all__ = ["ProblemH11Protocol", "http_protocol", "refusal"]


def refusal(status: int, detail: str) -> bytes:
    """A whole HTTP/1.1 problem+json answer that closes the connection."""
    body = orjson.dumps(http_problem_body(status, detail))
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"content-type: {MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ProblemH11Protocol(TlsScope, H11Protocol):
    """uvicorn's h11 protocol, refusing unreadable requests with problem+json, and
    carrying the TLS extension (:mod:`.tls_scope`).

    uvicorn calls :meth:`send_400_response` while handling h11's error, whose
    status hint says when the request head was too large (431).
    """

    def send_400_response(self, msg: str) -> None:
        error = sys.exc_info()[1]
        status = getattr(error, "error_status_hint", 400)
        self.transport.write(refusal(status if status in (400, 431) else 400, msg))
        self.transport.close()


def http_protocol() -> type[asyncio.Protocol]:
    """The httptools protocol when httptools is installed (as uvicorn's "auto"), else h11's."""
    if importlib.util.find_spec("httptools") is None:
        return ProblemH11Protocol
    from strangler.serve.httptools_protocol import ProblemHttpToolsProtocol

    return ProblemHttpToolsProtocol
