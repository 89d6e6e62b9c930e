"""The REST edge's observation of each request: its id, its span, its metrics.

:class:`Observed` wraps the whole app (outside the fast lane and the limits), so
every answer is counted, the refusals included. It takes the caller's
``X-Request-Id`` (when it is a short token) or makes one, answers it back,
and keeps it in :data:`~strangler.observability.logs.REQUEST_ID` for the log
lines written while the request is answered. The route label is the matched
route's template, so a path with keys in it is one series, not one per key.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import time
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strangler.observability.logs import REQUEST_ID
from strangler.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from strangler.observability.tracing import server_span

__all__ = ["Observed", "fastapi_options"]

_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_READ = frozenset({b"x-request-id", b"traceparent", b"tracestate", b"baggage"})
"""The request headers the edge reads: its id and the W3C trace context."""
_QUIET = frozenset({"/metrics", "/healthz", "/readyz"})
"""Probed every few seconds: counted, but no span of their own."""


def fastapi_options() -> dict[str, Any]:
    """``FastAPI(...)`` options that leave tracing to :class:`Observed`: FastAPI releases
    with telemetry of their own would otherwise open a second server span per request
    (and spans around every dependency and endpoint, on the hot path)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    off = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    return {"telemetry": off}


class Observed:
    """ASGI middleware: request id, server span and per-route metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _READ
        }
        given = headers.get("x-request-id", "")
        request_id = given if _TOKEN.match(given) else os.urandom(16).hex()
        token = REQUEST_ID.set(request_id)
        scope["strangler.request_id"] = request_id  # for the last-resort 500 handler
        method = scope["method"]
        status = 500
        start = time.perf_counter()

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            if scope["path"] in _QUIET:
                await self.app(scope, receive, answer)
            else:
                attributes = {"http.request.method": method, "url.path": scope["path"]}
                with server_span(method, headers, attributes) as span:
                    try:
                        await self.app(scope, receive, answer)
                    finally:
                        if span is not None:
                            route = _route(scope)
                            span.update_name(f"{method} {route}")
                            span.set_attribute("http.route", route)
                            span.set_attribute("http.response.status_code", status)
                            span.set_attribute("strangler.request_id", request_id)
        finally:
            requests, latency = _children(_route(scope), method, status)
            requests.inc()
            latency.observe(time.perf_counter() - start)
            REQUEST_ID.reset(token)


@functools.lru_cache(maxsize=4096)
def _children(route: str, method: str, status: int) -> tuple[Any, Any]:
    """The metrics' children of one route, method and status, looked up once."""
    return HTTP_REQUESTS.labels(route, method, str(status)), HTTP_LATENCY.labels(route, method)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return scope["path"] if scope["path"] in _QUIET else "unmatched"
