"""Caps on request bodies and URLs, enforced before they are read whole.

Bodies: a ``Content-Length`` over the cap is refused at once; a body sent
without one (chunked) is counted as it arrives and refused as soon as it
passes the cap. Either way the answer is 413 problem+json and at most
``max_bytes`` plus one chunk is ever held.

URLs: a request target (path and query) over :data:`MAX_URL_BYTES` is 414
problem+json. The HTTP server refuses the same ones itself, with the same
answer, when its parser is the first to see them (see :mod:`strangler.serve`).

Headers: more than :data:`MAX_HEADER_BYTES` of them (names and values) is 431
problem+json (h11 refuses a head over 16 KiB itself; httptools sets no bound).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strangler.errors import BadQuery
from strangler.rest.problems import http_problem_body, problem_body, problem_json

__all__ = ["MAX_HEADER_BYTES", "MAX_URL_BYTES", "BodyLimit", "UrlLimit"]

MAX_URL_BYTES = 32 * 1024
"""The longest request target (path and query string, as sent) that is served."""

MAX_HEADER_BYTES = 32 * 1024
"""The most header bytes (every name and value) a served request may carry."""


class BodyLimit:
    """ASGI middleware refusing request bodies larger than ``max_bytes`` (413)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    receive = _refusing(limit)
                break
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> HTTPException:
    # Closing the connection stops the server reading (and dropping) the rest of the body.
    detail = f"the request body is larger than {limit} bytes"
    return HTTPException(413, detail, headers={"Connection": "close"})


def _refusing(limit: int) -> Receive:
    async def receive() -> Message:
        raise _too_large(limit)

    return receive


class UrlLimit:
    """ASGI middleware refusing request targets longer than ``max_bytes`` (414), query
    strings of more than ``max_params`` parameters (400 ``bad-query``) and headers of
    more than :data:`MAX_HEADER_BYTES` (431)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_URL_BYTES, max_params: int = 100) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_params = max_params

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope.get("headers", ()))
            if size > MAX_HEADER_BYTES:
                detail = f"the request headers are larger than {MAX_HEADER_BYTES} bytes"
                await problem_json(http_problem_body(431, detail))(scope, receive, send)
                return
            path = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"")
            target = len(path) + (len(query) + 1 if query else 0)  # 1 for the "?"
            if target > self.max_bytes:
                detail = f"the request target is longer than {self.max_bytes} bytes"
                response = problem_json(http_problem_body(414, detail))
                await response(scope, receive, send)
                return
            # Counted on the raw text: "&" only separates parameters (a literal one is %26).
            params = query.count(b"&") + 1 if query else 0
            if params > self.max_params:
                problem = problem_body(
                    BadQuery(
                        f"{params} query parameters; at most {self.max_params} are taken "
                        "(limits.max_query_params)"
                    )
                )
                await problem_json(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)
