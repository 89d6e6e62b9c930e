"""Run the pricing service in a background thread, for tests and the demo estate."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

from strangler.demo.pricing.rpc import RPC_PATH, PricingRpcServer
from strangler.demo.pricing.service import Clock, PricingService

__all__ = ["PricingServer", "start_pricing_server"]


class PricingServer:
    """A running pricing server; stop it with :meth:`stop` or a ``with`` block."""

    def __init__(
        self, server: PricingRpcServer, service: PricingService, thread: threading.Thread
    ) -> None:
        self._server, self._thread, self.service = server, thread, service
        self.host: str = str(server.server_address[0])
        self.port: int = int(server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The XML-RPC endpoint, ``http://host:port/RPC2``."""
        return self.base_url + RPC_PATH

    def stop(self) -> None:
        """Stop accepting, close open connections and join the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> PricingServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PricingServer({self.url})"


def start_pricing_server(
    host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None
) -> PricingServer:
    """Start the XML-RPC pricing service in a daemon thread and return once it listens.

    ``port=0`` picks a free port (see ``.port``). ``clock`` (naive UTC
    ``datetime``) decides what ``pricing.valid_until`` answers; the wall clock
    by default.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = PricingRpcServer((host, port), family)
    service = PricingService() if clock is None else PricingService(clock)
    for name, method in service.methods().items():
        server.register_function(method, name)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"pricing-server-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return PricingServer(server, service, thread)
