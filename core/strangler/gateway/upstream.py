"""POSTs to a route's HTTP service over pooled keep-alive connections.

The gateway's hot path: one :class:`Upstream` per ``{url: ...}`` side, made
once, holding idle HTTP/1.1 connections (asyncio transports) for reuse. A
call writes the request in one piece and feeds the answer to httptools'
parser (the one uvicorn uses): no client object, no task and no header
dictionary per call. An idle connection the service has closed is dropped
before use; for a ``safe`` service (no side effects), a reused connection that
dies before any byte of its answer is tried once more on a fresh connection
(for another, the request may have been done: the failure is the answer).
Each call ends after ``timeout_s`` (:class:`~strangler.errors.UpstreamTimeout`);
a refused or broken connection is :class:`~strangler.errors.UpstreamError`.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import cast
from urllib.parse import urlsplit

import httptools

from strangler.errors import UpstreamError, UpstreamTimeout

__all__ = ["Upstream"]

Reply = tuple[int, bytes, bytes]
"""Status, content type, body."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Reply] | None = None
        self.closed = False
        self.started = False
        self._header = b""
        self._type = b""
        self._chunks: list[bytes] = []

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"unreadable answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionError("the service closed the connection"))

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self._type = b""
        self._chunks = []

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self._type = value

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.closed = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            status = self.parser.get_status_code()
            waiter.set_result((status, self._type, b"".join(self._chunks)))

    # -- use
    def send(self, data: bytes, waiter: asyncio.Future[Reply]) -> None:
        assert self.transport is not None
        self.started = False
        self.waiter = waiter
        self.transport.write(data)

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Upstream:
    """A route's HTTP service: ``post`` a body, get status, content type and body back."""

    def __init__(
        self, url: str, *, route: str, timeout_s: float, safe: bool = False, max_idle: int = 256
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        self.url = url
        self.route = route
        self.timeout_s = timeout_s
        self.safe = safe
        self.max_idle = max_idle
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        self._head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode("latin-1")
        self._idle: list[_Connection] = []

    async def post(self, body: bytes, content_type: bytes) -> Reply:
        """One call; a safe one is retried once on a fresh connection when a reused one died
        unanswered."""
        request = b"".join(
            (
                self._head,
                b"Content-Type: ",
                content_type,
                b"\r\nContent-Length: ",
                str(len(body)).encode("ascii"),
                b"\r\n\r\n",
                body,
            )
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        conn = self._take()
        retry = conn is not None and self.safe
        while True:
            if conn is None:
                conn = await self._connect(deadline)
            try:
                reply = await self._exchange(loop, conn, request, deadline)
            except (UpstreamTimeout, asyncio.CancelledError):
                conn.close()
                raise
            except (ConnectionError, OSError) as exc:
                conn.close()
                if retry and not conn.started:
                    retry, conn = False, None
                    continue
                raise UpstreamError(
                    f"{self.url} failed: {exc}", route=self.route, url=self.url
                ) from exc
            if conn.closed:
                conn.close()
            elif len(self._idle) < self.max_idle:
                self._idle.append(conn)
            else:
                conn.close()
            return reply

    def _take(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _connect(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(
                    _Connection, self.host, self.port, ssl=self.ssl
                )
        except TimeoutError:
            raise UpstreamTimeout(
                f"{self.url}: no connection within {self.timeout_s} s",
                route=self.route,
                url=self.url,
            ) from None
        except OSError as exc:
            raise UpstreamError(
                f"{self.url} cannot be reached: {exc}", route=self.route, url=self.url
            ) from exc
        return conn

    async def _exchange(
        self, loop: asyncio.AbstractEventLoop, conn: _Connection, request: bytes, deadline: float
    ) -> Reply:
        waiter: asyncio.Future[Reply] = loop.create_future()
        conn.send(request, waiter)
        timer = loop.call_at(deadline, _expire, waiter)
        try:
            return await waiter
        except _Expired:
            raise UpstreamTimeout(
                f"{self.url} did not answer within {self.timeout_s} s",
                route=self.route,
                url=self.url,
            ) from None
        finally:
            timer.cancel()

    async def close(self) -> None:
        """Close the idle connections (those in use close when their call ends)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Expired(Exception):
    """The call's deadline passed."""


def _expire(waiter: asyncio.Future[Reply]) -> None:
    if not waiter.done():
        waiter.set_exception(_Expired())
