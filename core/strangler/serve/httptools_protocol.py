"""uvicorn's httptools protocol with problem+json refusals (see :mod:`.protocols`).

Apart from :mod:`.protocols` because it imports httptools, which is optional.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from strangler.rest.limits import MAX_URL_BYTES
from strangler.serve.protocols import refusal
from strangler.serve.tls_scope import TlsScope

__all__ = ["ProblemHttpToolsProtocol"]


class _UrlTooLong(Exception):
    """Raised from the parser's URL callback; the parser stops there."""


class ProblemHttpToolsProtocol(TlsScope, HttpToolsProtocol):
    """uvicorn's httptools protocol: unreadable requests and over-long URLs as problem+json,
    and the TLS extension (:mod:`.tls_scope`).

    The URL is counted as the parser delivers it, so a long one is refused
    (414) once it passes the cap, without being held whole.
    """

    _url_too_long = False

    def on_message_begin(self) -> None:
        self._url_too_long = False
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_URL_BYTES:
            self._url_too_long = True
            raise _UrlTooLong
        super().on_url(url)

    def send_400_response(self, msg: str) -> None:
        if self._url_too_long:
            answer = refusal(414, f"the request target is longer than {MAX_URL_BYTES} bytes")
        else:
            answer = refusal(400, msg)
        self.transport.write(answer)
        self.transport.close()
