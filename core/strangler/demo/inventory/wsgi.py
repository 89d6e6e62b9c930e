"""The WSGI front of the inventory server: routing, WSDL serving and auth.

=========================  ==========================================================
``POST /soap11``           SOAP 1.1 (``text/xml``)
``POST /soap12``           SOAP 1.2 (``application/soap+xml``); a SOAP 1.1 request
                           (``text/xml``) is answered as SOAP 1.1, which SOAP 1.2
                           Appendix A allows (suds-community only speaks SOAP 1.1)
``POST /wsse/soap11``      SOAP 1.1 behind a WS-Security ``UsernameToken``
``POST /basic/soap11``     SOAP 1.1 behind HTTP Basic auth (401 otherwise)
``GET /inventory.wsdl``    the shipped WSDL, port addresses pointing at this server;
``GET <endpoint>?wsdl``    the same, with the SOAP 1.1 port pointing at ``<endpoint>``
``GET /health``            ``ok``
=========================  ==========================================================

Auth applies only when the server was given credentials. Request bodies
are read whole (at most :data:`MAX_BODY_BYTES`) and responses are buffered,
so every response carries ``Content-Length`` and connections can be kept alive.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, Final

from spyne import Application
from spyne import const as spyne_const
from spyne.server.wsgi import WsgiApplication

from strangler.demo.inventory.data import StockLedger
from strangler.demo.inventory.models import TNS
from strangler.demo.inventory.protocols import InventorySoap11, InventorySoap12
from strangler.demo.inventory.security import Credentials, install_wsse_check
from strangler.demo.inventory.service import InventoryService
from strangler.demo.inventory.wsdl import render_wsdl

__all__ = [
    "BASIC_SOAP11_PATH",
    "MAX_BODY_BYTES",
    "SOAP11_PATH",
    "SOAP12_PATH",
    "WSDL_ROUTE",
    "WSSE_SOAP11_PATH",
    "InventoryWsgiApp",
]

SOAP11_PATH: Final = "/soap11"
SOAP12_PATH: Final = "/soap12"
WSSE_SOAP11_PATH: Final = "/wsse/soap11"
BASIC_SOAP11_PATH: Final = "/basic/soap11"
WSDL_ROUTE: Final = "/inventory.wsdl"
MAX_BODY_BYTES: Final = 1 << 20

# spyne logs every fault with a traceback; keep that off stderr unless the host app
# configures logging (the records still propagate to its handlers).
logging.getLogger("spyne").addHandler(logging.NullHandler())
_log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
_Response = tuple[str, list[tuple[str, str]], bytes]
_CLOSE: Final = ("Connection", "close")
_HOST_RE: Final = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def _plain(status: str, text: str, *extra: tuple[str, str]) -> _Response:
    return status, [("Content-Type", "text/plain; charset=utf-8"), *extra], text.encode()


def _internal_fault(*, soap12: bool) -> _Response:
    if soap12:
        env, mime = "http://www.w3.org/2003/05/soap-envelope", "application/soap+xml"
        fault = (
            "<e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason>"
            '<e:Text xml:lang="en">internal error</e:Text></e:Reason>'
        )
    else:
        env, mime = "http://schemas.xmlsoap.org/soap/envelope/", "text/xml"
        fault = "<faultcode>e:Server</faultcode><faultstring>internal error</faultstring>"
    text = f'<e:Envelope xmlns:e="{env}"><e:Body><e:Fault>{fault}</e:Fault></e:Body></e:Envelope>'
    return "500 Internal Server Error", [("Content-Type", f"{mime}; charset=utf-8")], text.encode()


@lru_cache(maxsize=64)
def _wsdl_bytes(base_url: str, soap11_path: str) -> bytes:
    return render_wsdl(base_url, soap11_path=soap11_path).encode("utf-8")


def _spyne(protocol: type[Any], ledger: StockLedger) -> tuple[Any, WsgiApplication]:
    app = Application(
        [InventoryService],
        tns=TNS,
        name="InventoryService",
        in_protocol=protocol(validator="soft"),
        out_protocol=protocol(),
    )
    app.user_data = ledger
    return app, WsgiApplication(app, max_content_length=MAX_BODY_BYTES)


class InventoryWsgiApp:
    """The whole inventory server as one WSGI callable.

    ``base_url`` is the scheme-host-port written into served WSDLs; when
    ``None`` it comes from the request's ``Host`` header (for wildcard binds).
    """

    def __init__(
        self,
        *,
        ledger: StockLedger | None = None,
        credentials: Credentials | None = None,
        base_url: str | None = None,
    ) -> None:
        # spyne runs a full gc.collect() after a request at most once a second, to close
        # file descriptors early. This server holds no files, and in a process with a
        # large heap (the REST API beside it, a test session) each collection stalls
        # every request for as long as it takes.
        spyne_const.MIN_GC_INTERVAL = float("inf")
        self.ledger = ledger or StockLedger()
        self.credentials = credentials
        self.base_url = base_url
        _, self._soap11 = _spyne(InventorySoap11, self.ledger)
        _, self._soap12 = _spyne(InventorySoap12, self.ledger)
        wsse_app, self._wsse = _spyne(InventorySoap11, self.ledger)
        if credentials is not None:
            install_wsse_check(wsse_app, credentials)
        self._routes: dict[str, WsgiApplication] = {
            SOAP11_PATH: self._soap11,
            SOAP12_PATH: self._soap12,
            WSSE_SOAP11_PATH: self._wsse,
            BASIC_SOAP11_PATH: self._soap11,
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = self._respond(environ)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _base_url(self, environ: dict[str, Any]) -> str:
        if self.base_url:
            return self.base_url
        host = str(environ.get("HTTP_HOST", ""))
        if not _HOST_RE.fullmatch(host):
            host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        return f"http://{host}"

    def _respond(self, environ: dict[str, Any]) -> _Response:
        if environ.get("HTTP_TRANSFER_ENCODING"):
            return _plain("411 Length Required", "send the request with a Content-Length\n", _CLOSE)
        body = self._read_body(environ)  # always read whole: keeps kept-alive connections in step
        if body is None:
            return _plain("413 Content Too Large", "request body too large or malformed\n", _CLOSE)
        path = str(environ.get("PATH_INFO", "")) or "/"
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        query = str(environ.get("QUERY_STRING", ""))
        if (
            path.startswith("/basic/")
            and self.credentials is not None
            and not self.credentials.accepts_basic(environ.get("HTTP_AUTHORIZATION"))
        ):
            return _plain(
                "401 Unauthorized",
                "authentication required\n",
                ("WWW-Authenticate", 'Basic realm="InventoryService"'),
            )
        if method == "GET" and (
            path == WSDL_ROUTE or (path in self._routes and query.split("=")[0].lower() == "wsdl")
        ):
            soap11 = path if path in (WSSE_SOAP11_PATH, BASIC_SOAP11_PATH) else SOAP11_PATH
            wsdl = _wsdl_bytes(self._base_url(environ), soap11)
            return "200 OK", [("Content-Type", "text/xml; charset=utf-8")], wsdl
        if method == "GET" and path == "/health":
            return _plain("200 OK", "ok\n")
        target = self._routes.get(path)
        if target is None:
            return _plain("404 Not Found", f"no such endpoint: {path}\n")
        content_type = str(environ.get("CONTENT_TYPE", "")).lower()
        if target is self._soap12 and content_type.startswith("text/xml"):
            target = self._soap11  # a SOAP 1.1 message: process it as SOAP 1.1
        try:
            return self._call(target, environ, body)
        except Exception:  # a spyne bug must still come back as a SOAP fault
            _log.exception("unhandled error in the SOAP stack")
            return _internal_fault(soap12=target is self._soap12)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes | None:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY_BYTES:
            return None
        return bytes(environ["wsgi.input"].read(length)) if length else b""

    @staticmethod
    def _call(target: WsgiApplication, environ: dict[str, Any], body: bytes) -> _Response:
        env = dict(environ, CONTENT_LENGTH=str(len(body)))
        env["wsgi.input"] = io.BytesIO(body)
        seen: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            seen["status"], seen["headers"] = status, headers
            return lambda _data: None

        chunks = target(env, start_response)
        try:
            payload = b"".join(c if isinstance(c, bytes) else str(c).encode() for c in chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = [(k, v) for k, v in seen["headers"] if k.lower() != "content-length"]
        return seen["status"], headers, payload
