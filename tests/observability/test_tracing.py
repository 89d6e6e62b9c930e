"""One REST request is one trace down to the legacy SOAP server: the edge's server span,
the legacy call's client span under it, and the ``traceparent`` the SOAP server received
naming that client span. Spans are taken by OpenTelemetry's in-memory exporter; the
legacy server is the demo's real InventoryService, behind a WSGI layer noting headers."""

from __future__ import annotations

import asyncio
import json
import logging
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from strangler.demo.inventory import WSDL_PATH
from strangler.demo.inventory.wsgi import InventoryWsgiApp
from strangler.observability.edge import Observed
from strangler.observability.logs import JsonFormatter, RequestContext
from tests.conftest import SpecRunner

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def provider() -> None:
    """The process's tracer provider, once: spans go to the in-memory exporter."""
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider()
        trace.set_tracer_provider(current)
    current.add_span_processor(SimpleSpanProcessor(EXPORTER))


class _Threading(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""


@pytest.fixture(scope="module")
def legacy() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The demo InventoryService noting each request's trace headers; its URL and notes."""
    seen: list[dict[str, str]] = []
    inventory = InventoryWsgiApp()

    def noting(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST":
            seen.append(
                {
                    "traceparent": environ.get("HTTP_TRACEPARENT", ""),
                    "path": environ["PATH_INFO"],
                }
            )
        return inventory(environ, start_response)

    server = make_server("127.0.0.1", 0, noting, server_class=_Threading, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def _spec(url: str) -> str:
    return (
        "systems:\n  inventory:\n    kind: soap\n"
        f"    wsdl: {WSDL_PATH}\n    address: {url}\n    timeout_s: 5\n"
    )


def test_a_rest_call_and_its_soap_call_are_one_trace(
    api: SpecRunner, legacy: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = legacy
    with api(_spec(url)) as base:
        EXPORTER.clear()
        seen.clear()
        answer = httpx.post(f"{base}/soap/inventory/GetStock", json={"sku": "SKU-1001"})
        assert answer.status_code == 200, answer.text
        request_id = answer.headers["x-request-id"]
    spans = EXPORTER.get_finished_spans()
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    (client,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert server.name == "POST /soap/inventory/GetStock"
    assert server.attributes is not None and client.attributes is not None
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["strangler.request_id"] == request_id
    assert client.attributes["rpc.method"] == "GetStock"
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id
    (received,) = seen
    version, trace_id, span_id, flags = received["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert int(trace_id, 16) == server.context.trace_id
    assert int(span_id, 16) == client.context.span_id


def test_the_callers_traceparent_is_continued(
    api: SpecRunner, legacy: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = legacy
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    with api(_spec(url)) as base:
        EXPORTER.clear()
        seen.clear()
        answer = httpx.post(
            f"{base}/soap/inventory/GetStock",
            json={"sku": "SKU-1001"},
            headers={
                "traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01",
                "x-request-id": "order-42",
            },
        )
        assert answer.status_code == 200
        assert answer.headers["x-request-id"] == "order-42"
    (server,) = [s for s in EXPORTER.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert format(server.context.trace_id, "032x") == caller_trace
    assert server.parent is not None and format(server.parent.span_id, "016x") == (
        "00f067aa0ba902b7"
    )
    assert seen[0]["traceparent"].split("-")[1] == caller_trace


def test_a_failed_legacy_call_marks_both_spans(api: SpecRunner, tmp_path: Path) -> None:
    """Nothing listens at the address: the client span and the server span are errors."""
    with api(_spec("http://127.0.0.1:9")) as base:
        EXPORTER.clear()
        answer = httpx.post(f"{base}/soap/inventory/GetStock", json={"sku": "SKU-1001"})
        assert answer.status_code in (502, 503, 504)
    spans = EXPORTER.get_finished_spans()
    clients = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert clients and all(not s.status.is_ok for s in clients)
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == answer.status_code


def test_log_lines_carry_the_request_id_and_trace_id() -> None:
    """A JSON log line written while the edge answers names the request and its trace;
    one written outside any request names neither."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        logging.getLogger("strangler.test").warning("answering", extra={"sku": "SKU-1"})
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    handler = Collect()
    handler.addFilter(RequestContext())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("strangler.test")
    logger.addHandler(handler)
    try:
        EXPORTER.clear()
        answer = asyncio.run(_get(Observed(app), "/things/1", {"x-request-id": "req-7"}))
        assert answer.status_code == 204 and answer.headers["x-request-id"] == "req-7"
        logger.warning("outside any request")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in lines)
    (server,) = [s for s in EXPORTER.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert inside["message"] == "answering" and inside["level"] == "warning"
    assert inside["request_id"] == "req-7" and inside["sku"] == "SKU-1"
    assert inside["trace_id"] == format(server.context.trace_id, "032x")
    assert inside["span_id"] == format(server.context.span_id, "016x")
    assert outside["message"] == "outside any request"
    assert "request_id" not in outside and "trace_id" not in outside


async def _get(app: Any, path: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        return await client.get(path, headers=headers)


def test_without_a_tracer_provider_the_callers_context_still_reaches_the_legacy_call(
    tmp_path: Path,
) -> None:
    """No provider set (a fresh process): no spans are made, and the caller's trace context
    is still sent on with the legacy call; with no caller's context nothing is sent."""
    script = (
        "from strangler.observability.tracing import client_span, server_span\n"
        "caller = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'\n"
        "with server_span('POST', {'traceparent': caller}, {}) as span:\n"
        "    assert span is None\n"
        "    sent = {}\n"
        "    with client_span('inventory GetStock', sent, {}) as inner:\n"
        "        assert inner is None\n"
        "    assert sent['traceparent'] == caller, sent\n"
        "with server_span('POST', {}, {}):\n"
        "    sent = {}\n"
        "    with client_span('inventory GetStock', sent, {}):\n"
        "        assert sent == {}, sent\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
