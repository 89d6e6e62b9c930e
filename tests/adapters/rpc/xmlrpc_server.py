"""A real legacy XML-RPC service for tests: the standard library's server, threaded.

The stdlib's ``system.methodSignature`` always says "signatures not
supported"; this server answers the signatures each method declares, as a
fully introspectable legacy server would. ``calls`` counts calls per method.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

__all__ = ["LegacyXmlRpcServer", "start_xmlrpc_server"]


class _QuietHandler(SimpleXMLRPCRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LegacyXmlRpcServer(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    """A pricing/catalog service with typed signatures and a fault."""

    daemon_threads = True

    def __init__(self, port: int = 0, *, introspection: bool = True, multicall: bool = True):
        super().__init__(
            ("127.0.0.1", port),
            requestHandler=_QuietHandler,
            allow_none=True,
            use_builtin_types=True,
            logRequests=False,
        )
        self.calls: Counter[str] = Counter()
        self.signatures: dict[str, list[list[str]]] = {}
        self._register_methods()
        if introspection:
            self.register_introspection_functions()
            if multicall:
                self.register_multicall_functions()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/RPC2"

    def system_methodSignature(self, method_name: str) -> Any:
        return self.signatures.get(method_name, "signatures not supported")

    def _add(self, name: str, func: Callable[..., Any], *signature: list[str]) -> None:
        def counted(*args: Any) -> Any:
            self.calls[name] += 1
            return func(*args)

        counted.__doc__ = func.__doc__
        self.register_function(counted, name)
        if signature:
            self.signatures[name] = list(signature)

    def _register_methods(self) -> None:
        self._add("pricing.quote", quote, ["double", "string", "int"])
        self._add("math.add", add, ["int", "int", "int"], ["double", "double", "double"])
        self._add("echo.nextDay", next_day, ["dateTime.iso8601", "dateTime.iso8601"])
        self._add("echo.reverse", reverse, ["base64", "base64"])
        self._add("catalog.item", item, ["struct", "int"])
        self._add("catalog.skus", skus, ["array"])
        self._add("orders.cancel", cancel, ["boolean", "int"])
        self._add("slow.wait", wait, ["boolean", "double"])
        self._add("maybe.nothing", nothing, ["nil"])
        self._add("debug.crash", crash)
        self._add("untyped.echo", echo)


def quote(sku: str, qty: int) -> float:
    return round(9.99 * qty, 2) if sku.startswith("SKU-") else 0.0


def add(a: Any, b: Any) -> Any:
    return a + b


def next_day(when: dt.datetime) -> dt.datetime:
    return when + dt.timedelta(days=1)


def reverse(data: bytes) -> bytes:
    return data[::-1]


def item(item_id: int) -> dict[str, Any]:
    return {
        "id": item_id,
        "name": f"Item {item_id}",
        "price": 12.5,
        "active": True,
        "tags": ["a", "b"],
        "created": dt.datetime(2020, 1, 2, 3, 4, 5),
        "blob": b"\x00\x01",
    }


def skus() -> list[str]:
    return ["SKU-1", "SKU-2", "SKU-3"]


def cancel(order_id: int) -> bool:
    raise Fault(4, f"order {order_id} is already shipped")


def wait(seconds: float) -> bool:
    time.sleep(seconds)
    return True


def nothing() -> None:
    return None


def crash() -> None:
    raise ValueError("the legacy code fell over")


def echo(*args: Any) -> list[Any]:
    """Answer the parameters as they came."""
    return list(args)


@contextlib.contextmanager
def start_xmlrpc_server(
    port: int = 0, *, introspection: bool = True, multicall: bool = True
) -> Iterator[LegacyXmlRpcServer]:
    """Serve on loopback in a thread until the block ends."""
    server = LegacyXmlRpcServer(port, introspection=introspection, multicall=multicall)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
