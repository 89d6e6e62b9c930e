"""Caps on what one request may send, over real HTTP as ``strangler serve`` serves it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Body, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strangler.rest.app import build_app
from strangler.rest.limits import MAX_URL_BYTES
from strangler.rest.problems import MEDIA_TYPE
from strangler.serve.protocols import ProblemH11Protocol, http_protocol
from strangler.spec.models import LimitsSpec
from tests.rest.conftest import serving

CAP = 1024 * 1024
CHUNK = 64 * 1024


class Delivered:
    """Outermost ASGI middleware: counts the body bytes the server hands to the app."""

    total = 0
    largest = 0

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            size = len(message.get("body", b""))
            Delivered.total += size
            Delivered.largest = max(Delivered.largest, size)
            return message

        await self.app(scope, counted, send)


def capped_app() -> FastAPI:
    app = build_app([], limits=LimitsSpec(max_body_bytes=CAP))

    @app.post("/echo")
    async def echo(body: Annotated[Any, Body()]) -> Any:
        return {"items": len(body)}

    app.add_middleware(Delivered)
    return app


@pytest.fixture(scope="module", params=["strangler serve", "h11"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The capped app served as ``strangler serve`` does, then with its h11 fallback."""
    http = ProblemH11Protocol if request.param == "h11" else None
    with serving(capped_app(), http=http) as base:
        yield base


@pytest.fixture
def h11(request: pytest.FixtureRequest, url: str) -> bool:
    """Whether ``url`` is served with the h11 fallback."""
    return bool(request.node.callspec.params["url"] == "h11")


def exchange(url: str, head: bytes, body: Iterator[bytes]) -> tuple[bytes, int]:
    """Send ``head`` then ``body`` while reading the answer; the answer and the bytes sent."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sent = 0

    def send() -> None:
        nonlocal sent
        try:
            sock.sendall(head)
            for piece in body:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:  # the server closed the connection: it stopped reading
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = b""
    with sock:
        sock.settimeout(60)
        try:
            while piece := sock.recv(65536):
                answer += piece
        except ConnectionResetError:
            pass
        sender.join(60)
    return answer, sent


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def hundred_mb_chunked() -> Iterator[bytes]:
    piece = b"[" + b"1," * (CHUNK // 2 - 1) + b"1]"
    frame = b"%x\r\n%s\r\n" % (len(piece), piece)
    for _ in range(100 * 1024 * 1024 // len(piece)):
        yield frame


def test_a_chunked_body_over_the_cap_is_413_and_not_read_past_it(url: str) -> None:
    Delivered.total = Delivered.largest = 0
    head = (
        b"POST /echo HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    answer, sent = exchange(url, head, hundred_mb_chunked())
    status, headers, body = parse(answer)
    assert status == 413
    assert headers["content-type"] == MEDIA_TYPE
    assert json.loads(body)["type"] == "urn:strangler:problem:too-large"
    # the app stopped at the first piece past the cap: it held at most the cap and that piece
    assert Delivered.total - Delivered.largest <= CAP
    assert sent < 50 * 1024 * 1024  # the server closed the connection rather than drain it


def test_a_declared_length_over_the_cap_is_413_before_the_body_is_read(url: str) -> None:
    Delivered.total = 0
    size = 100 * 1024 * 1024
    head = (
        b"POST /echo HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % size
    )
    chunks = (b" " * CHUNK for _ in range(size // CHUNK))
    answer, sent = exchange(url, head, chunks)
    status, headers, body = parse(answer)
    assert status == 413
    assert headers["content-type"] == MEDIA_TYPE
    assert json.loads(body)["title"] == "The request is too large"
    assert Delivered.total == 0
    assert sent < 50 * 1024 * 1024


def test_a_body_under_the_cap_is_served(url: str) -> None:
    items = [1] * 1000
    payload = json.dumps(items).encode()
    head = (
        b"POST /echo HTTP/1.1\r\nHost: test\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(payload)
    )
    status, _, body = parse(exchange(url, head, iter([payload]))[0])
    assert status == 200
    assert json.loads(body) == {"items": 1000}


@pytest.mark.parametrize("length", [MAX_URL_BYTES + 1, 70_000, 1_000_000])
def test_a_url_over_the_cap_is_414_problem_json(url: str, h11: bool, length: int) -> None:
    target = b"/healthz?q=" + b"a" * (length - len("/healthz?q="))
    head = b"GET %s HTTP/1.1\r\nHost: test\r\nconnection: close\r\n\r\n" % target
    status, headers, body = parse(exchange(url, head, iter([]))[0])
    # h11 buffers the whole head and refuses one past its buffer as too large a head
    assert status == 414 or (h11 and length > 64 * 1024 and status == 431)
    assert headers["content-type"] == MEDIA_TYPE
    assert json.loads(body)["type"] == "urn:strangler:problem:too-large"


def test_a_url_under_the_cap_is_served(url: str) -> None:
    target = b"/healthz?q=" + b"a" * (MAX_URL_BYTES - 100)
    head = b"GET %s HTTP/1.1\r\nHost: test\r\nconnection: close\r\n\r\n" % target
    assert parse(exchange(url, head, iter([]))[0])[0] == 200


@pytest.mark.parametrize("request_line", [b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"])
def test_a_request_the_parser_refuses_is_400_problem_json(url: str, request_line: bytes) -> None:
    status, headers, body = parse(exchange(url, request_line, iter([]))[0])
    assert status == 400
    assert headers["content-type"] == MEDIA_TYPE
    assert json.loads(body)["type"] == "urn:strangler:problem:bad-request"


def test_strangler_serve_uses_httptools() -> None:
    import httptools  # noqa: F401  # installed with the rest extra (uvicorn[standard])

    assert http_protocol().__name__ == "ProblemHttpToolsProtocol"


def test_more_query_parameters_than_the_cap_is_400_bad_query() -> None:
    from fastapi.testclient import TestClient

    app = build_app([], limits=LimitsSpec(max_query_params=5))
    with TestClient(app) as client:
        assert client.get("/healthz?" + "&".join(f"a{i}=1" for i in range(5))).status_code == 200
        refused = client.get("/healthz?" + "&".join(f"a{i}=1" for i in range(6)))
    assert refused.status_code == 400
    assert refused.headers["content-type"] == MEDIA_TYPE
    problem = refused.json()
    assert problem["type"] == "urn:strangler:problem:bad-query"
    assert "max_query_params" in problem["detail"]
