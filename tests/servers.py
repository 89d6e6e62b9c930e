"""Real servers for tests: uvicorn in a thread, and misbehaving TCP peers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn
from fastapi import FastAPI

__all__ = [
    "Answer",
    "ClosingServer",
    "body_service",
    "canned_server",
    "free_port",
    "run_app",
    "run_config",
    "serve_http",
    "silent_server",
    "unused_address",
]


Answer = tuple[int, bytes, bytes]
"""What a :func:`body_service` handler answers: status, content type and body."""


def body_service(handle: Callable[[bytes], Awaitable[Answer]]) -> Any:
    """A tiny ASGI service: it answers the lifespan protocol, reads each request's
    whole body and sends what ``await handle(body)`` returns."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, content_type, out = await handle(body)
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def run_app(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yield its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on"
    )
    with run_config(config) as url:
        yield url


@contextlib.contextmanager
def run_config(config: uvicorn.Config) -> Iterator[str]:
    """Run a uvicorn server of ``config`` (a loopback host and port) in a thread."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers (a hung legacy system)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = listener.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


_RESERVED: list[socket.socket] = []


def unused_address() -> str:
    """An address where nothing listens (connection refused), for the whole session.

    The port stays bound, never listening, so no server started later by the suite
    can be given it (a port merely found free could be, and would then answer)."""
    if not _RESERVED:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        _RESERVED.append(sock)
    return f"http://127.0.0.1:{_RESERVED[0].getsockname()[1]}"


@contextlib.contextmanager
def serve_http(server: ThreadingHTTPServer) -> Iterator[str]:
    """Run a stdlib HTTP server in a thread; yield its base URL; shut it down after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def canned_server(status: int, body: bytes, content_type: str = "text/xml") -> Iterator[str]:
    """An HTTP server that answers every POST with the same status and body."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url


class ClosingServer:
    """A TCP server that counts connections and closes each at once (a flaky system)."""

    def __init__(self) -> None:
        self.connections = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = self._listener.accept()
                self.connections += 1
                conn.close()

    def __enter__(self) -> ClosingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres"


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database of its own on the machine's PostgreSQL (its SQLAlchemy URL),
    dropped afterwards, connections and all."""
    import uuid

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
