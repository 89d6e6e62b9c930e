"""A threaded HTTP/1.1 server for the inventory WSGI app, run in the background.

stdlib ``wsgiref`` with ``ThreadingMixIn`` (one daemon thread per connection),
plus what a benchmark needs: HTTP/1.1 keep-alive (the app always sends
``Content-Length``), ``TCP_NODELAY``, a deep accept backlog, no reverse DNS at
bind time and no per-request access log.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Any, Final
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from strangler.demo.inventory.data import StockLedger
from strangler.demo.inventory.security import Credentials
from strangler.demo.inventory.wsgi import WSDL_ROUTE, InventoryWsgiApp
from strangler.demo.serving import BackgroundServer, ConnectionTrackingMixin

__all__ = ["InventoryServer", "start_inventory_server"]

IDLE_TIMEOUT_SECONDS: Final = 30.0
_WILDCARDS: Final = ("", "0.0.0.0", "::")


class _ServerHandler(ServerHandler):
    """wsgiref's handler speaking HTTP/1.1, remembering whether to close."""

    http_version = "1.1"
    wants_close = True

    def close(self) -> None:
        headers: Any = getattr(self, "headers", None)
        self.wants_close = headers is None or headers.get("Connection", "").lower() == "close"
        super().close()


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request logging."""

    def handle(self) -> None:
        """Serve requests on this connection until either side wants it closed."""
        self.close_connection = True
        self._serve_one()
        while not self.close_connection:
            self._serve_one()

    def _serve_one(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:  # idle timeout or reset
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            self.close_connection = True
            return
        if not self.parse_request():  # sent an error already
            return
        if self.request_version != "HTTP/1.1":
            self.close_connection = True
        handler = _ServerHandler(
            self.rfile,
            self.wfile,  # type: ignore[arg-type]
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]
        if handler.wants_close:
            self.close_connection = True


class _Server(ConnectionTrackingMixin, socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily) -> None:
        self.address_family = family
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn() lookup
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])
        self.setup_environ()


class InventoryServer(BackgroundServer):
    """A running inventory server; stop it with :meth:`stop` or a ``with`` block."""

    def __init__(self, server: _Server, app: InventoryWsgiApp, thread: threading.Thread) -> None:
        super().__init__(server, thread)
        self.app = app

    @property
    def wsdl_url(self) -> str:
        """Where the server serves the WSDL with its own addresses."""
        return self.base_url + WSDL_ROUTE

    @property
    def ledger(self) -> StockLedger:
        """The stock state of this server."""
        return self.app.ledger

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server, e.g. ``url("/soap12")``."""
        return self.base_url + path


def start_inventory_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    username: str | None = None,
    password: str | None = None,
) -> InventoryServer:
    """Start the inventory server in a daemon thread and return once it listens.

    ``port=0`` picks a free port (see ``.port``). With ``username`` and
    ``password`` set, ``/wsse/soap11`` requires a WS-Security UsernameToken
    and ``/basic/soap11`` HTTP Basic auth; otherwise both are open.
    """
    if (username is None) != (password is None):
        raise ValueError("give both username and password, or neither")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, port), family)
    credentials = (
        Credentials(username, password) if username is not None and password is not None else None
    )
    bound = str(server.server_address[0])
    shown = f"[{bound}]" if ":" in bound else bound
    base_url = None if host in _WILDCARDS else f"http://{shown}:{server.server_address[1]}"
    app = InventoryWsgiApp(credentials=credentials, base_url=base_url)
    server.set_app(app)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"inventory-server-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return InventoryServer(server, app, thread)
