"""A real legacy JSON-RPC 2.0 service for tests: ``jsonrpcserver`` behind a threaded
stdlib HTTP server.

``jsonrpcserver`` does the protocol (batches, notifications, -32700, -32600,
-32601, -32602 from the method's signature, -32603 for exceptions); ``fail``
answers any error code asked for, to test how each is mapped. ``calls`` counts
calls per method and ``notes`` keeps what notifications said.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

with warnings.catch_warnings():  # jsonrpcserver 5 reads its schema with a deprecated call
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonrpcserver import Error, Success, dispatch

__all__ = ["LegacyJsonRpcServer", "start_jsonrpc_server"]


class LegacyJsonRpcServer(ThreadingHTTPServer):
    """A pricing service speaking JSON-RPC 2.0 over HTTP POST."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.calls: Counter[str] = Counter()
        self.notes: list[str] = []
        plain: dict[str, Callable[..., Any]] = {
            "pricing.quote": self.quote,
            "math.subtract": self.subtract,
            "echo": self.echo,
            "audit.log": self.log,
            "orders.cancel": self.cancel,
            "fail": self.fail,
            "crash": self.crash,
            "slow": self.slow,
            "slow.safe": self.slow,
        }
        self.methods = {name: self._counted(name, func) for name, func in plain.items()}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/rpc"

    def _counted(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)  # keeps the signature jsonrpcserver checks params against
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return func(*args, **kwargs)

        return counted

    def quote(self, sku: str, qty: int) -> Any:
        return Success({"sku": sku, "qty": qty, "total": round(9.99 * qty, 2)})

    def subtract(self, minuend: float, subtrahend: float) -> Any:
        return Success(minuend - subtrahend)

    def echo(self, *args: Any, **kwargs: Any) -> Any:
        return Success({"args": list(args), "kwargs": kwargs})

    def log(self, message: str) -> Any:
        self.notes.append(message)
        return Success(None)

    def cancel(self, order_id: int) -> Any:
        return Error(4, "order already shipped", {"order_id": order_id})

    def fail(self, code: int) -> Any:
        return Error(code, f"failure {code}", {"asked": code})

    def crash(self) -> Any:
        raise RuntimeError("the legacy code fell over")

    def slow(self, seconds: float) -> Any:
        time.sleep(seconds)
        return Success(True)


class _Handler(BaseHTTPRequestHandler):
    server: LegacyJsonRpcServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        answer = dispatch(body.decode("utf-8"), methods=self.server.methods)
        if not answer:  # notifications only: nothing to say
            self.send_response(204)
            self.end_headers()
            return
        data = answer.encode("utf-8")
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def start_jsonrpc_server(port: int = 0) -> Iterator[LegacyJsonRpcServer]:
    """Serve on loopback in a thread until the block ends."""
    server = LegacyJsonRpcServer(port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
