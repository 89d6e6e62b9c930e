"""Run the pricing service in a background thread, for tests and the demo estate."""

from __future__ import annotations

import socket
import threading

from strangler.demo.pricing.rpc import RPC_PATH, PricingRpcServer
from strangler.demo.pricing.service import Clock, PricingService
from strangler.demo.serving import BackgroundServer

__all__ = ["PricingServer", "start_pricing_server"]


class PricingServer(BackgroundServer):
    """A running pricing server; stop it with :meth:`stop` or a ``with`` block."""

    def __init__(
        self, server: PricingRpcServer, service: PricingService, thread: threading.Thread
    ) -> None:
        super().__init__(server, thread)
        self.service = service

    @property
    def url(self) -> str:
        """The XML-RPC endpoint, ``http://host:port/RPC2``."""
        return self.base_url + RPC_PATH

    @property
    def _repr_url(self) -> str:
        return self.url


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
