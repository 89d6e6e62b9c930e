"""The XML-RPC plumbing: a threaded ``SimpleXMLRPCServer`` with real introspection.

On top of the standard library server: one daemon thread per connection,
HTTP/1.1 keep-alive, ``TCP_NODELAY``, no request log, request bodies capped
at :data:`MAX_REQUEST_BYTES` (also after gzip decoding), ``system.methodSignature``
answering with each method's ``_signature``, and faults with useful codes:
``-32601`` for an unknown method, ``400`` for the wrong number of arguments,
the :class:`~strangler.demo.pricing.prices.PricingError` code for refusals and
``500`` for anything unexpected.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import socket
import socketserver
from collections.abc import Iterable
from typing import Any, Final
from xmlrpc.client import Fault, gzip_decode
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

from strangler.demo.pricing.prices import PricingError
from strangler.demo.serving import ConnectionTrackingMixin

__all__ = ["MAX_REQUEST_BYTES", "METHOD_NOT_FOUND", "RPC_PATH", "PricingRpcServer"]

MAX_REQUEST_BYTES: Final = 1 << 20
"""Largest request body accepted (1 MiB); larger ones get HTTP 413."""

METHOD_NOT_FOUND: Final = -32601
"""Fault code for an unknown method (the XML-RPC interoperability convention)."""

RPC_PATH: Final = "/RPC2"
IDLE_TIMEOUT_SECONDS: Final = 30.0
_DISCARD_LIMIT_BYTES: Final = 16 * MAX_REQUEST_BYTES
_DISCARD_TIMEOUT_SECONDS: Final = 2.0

_SYSTEM_SIGNATURES: Final[dict[str, list[list[str]]]] = {
    "system.listMethods": [["array"]],
    "system.methodSignature": [["array", "string"]],
    "system.methodHelp": [["string", "string"]],
    "system.multicall": [["array", "array"]],
}

_log = logging.getLogger(__name__)


class _RequestHandler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", RPC_PATH)
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request logging."""

    def _refuse(self, status: int, reason: str) -> None:
        """Answer ``status`` without reading the body, and close the connection."""
        self.send_response(status, reason)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _discard(self, length: int) -> None:
        """Read and drop an unwanted body (up to a bound) so the client sees the answer.

        Closing with unread data would reset the connection under a client still
        sending, and it would never read the 413.
        """
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_DISCARD_TIMEOUT_SECONDS)
            remaining = min(length, _DISCARD_LIMIT_BYTES)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)

    def do_POST(self) -> None:
        """Check the declared body size, then let the standard handler dispatch."""
        if not self.is_rpc_path_valid():
            self.report_404()
            return
        declared = self.headers.get("Content-Length")
        if declared is None:
            self._refuse(411, "Length Required")
            return
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if length < 0:
            self._refuse(400, "Bad Content-Length")
        elif length > MAX_REQUEST_BYTES:
            self._refuse(413, "Request Entity Too Large")
            self._discard(length)
        else:
            super().do_POST()

    def decode_request_content(self, data: bytes) -> bytes | None:
        """Inflate a gzip body, but never past :data:`MAX_REQUEST_BYTES`."""
        encoding = self.headers.get("Content-Encoding", "identity").lower()
        if encoding != "gzip":
            return super().decode_request_content(data)
        try:
            return gzip_decode(data, max_decode=MAX_REQUEST_BYTES)
        except ValueError:
            self._refuse(413, "Request Entity Too Large Or Bad Gzip")
            return None


class PricingRpcServer(ConnectionTrackingMixin, socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    """The XML-RPC server; register functions, then ``serve_forever``."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily) -> None:
        self.address_family = family
        self._bound: dict[str, inspect.Signature] = {}
        super().__init__(address, _RequestHandler, logRequests=False, allow_none=True)
        self.register_introspection_functions()
        self.register_multicall_functions()

    def system_methodSignature(  # type: ignore[override]  # typeshed: str only
        self, method_name: str
    ) -> list[list[str]] | str:
        """The signatures of METHOD_NAME: a list of [return type, parameter types...].

        "undef" when the method declares none.
        """
        func = self.funcs.get(method_name)
        if func is None:
            raise Fault(METHOD_NOT_FOUND, f"method {method_name!r} is not supported")
        declared: list[list[str]] | None = getattr(func, "_signature", None)
        if declared is None:
            declared = _SYSTEM_SIGNATURES.get(method_name)
        return "undef" if declared is None else declared

    def _dispatch(self, method: str, params: Iterable[Any]) -> Any:
        params = tuple(params)
        func = self.funcs.get(method)
        if func is None:
            raise Fault(METHOD_NOT_FOUND, f"method {method!r} is not supported")
        try:
            self._signature_of(method, func).bind(*params)
        except TypeError as exc:
            raise Fault(400, f"bad arguments for {method}: {exc}") from None
        try:
            return func(*params)
        except Fault:
            raise
        except PricingError as exc:
            raise Fault(exc.code, str(exc)) from None
        except Exception:
            _log.exception("%s failed", method)
            raise Fault(500, f"internal error in {method}") from None

    def _signature_of(self, method: str, func: Any) -> inspect.Signature:
        found = self._bound.get(method)
        if found is None:
            found = self._bound[method] = inspect.signature(func)
        return found
