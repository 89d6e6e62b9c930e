"""One shimmed SOAP service: its documents on ``GET``, its envelopes on ``POST``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send

from strangler.spec.shim import ShimServiceSpec

if TYPE_CHECKING:
    from strangler.platform.core import Platform

__all__ = ["ShimService", "build_service"]


class ShimService:
    """The ASGI app of one service at its legacy path (see :mod:`strangler.shim`)."""

    def __init__(
        self,
        name: str,
        spec: ShimServiceSpec,
        adapter: Any,
        routes: dict[str, Any],
        platform: Platform,
        path: str,
    ) -> None:
        self.name = name
        self.spec = spec
        self.adapter = adapter
        self.routes = routes
        self.platform = platform
        self.path = path

    async def start(self) -> None:
        """Nothing to open: the adapter and the routes have their own lifetimes."""

    async def close(self) -> None:
        """Nothing to release."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b"shim: not served yet"
        await send(
            {
                "type": "http.response.start",
                "status": 501,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"20")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def build_service(
    name: str, spec: ShimServiceSpec, adapter: Any, routes: dict[str, Any], platform: Platform
) -> ShimService:
    """The service ``name`` over its SOAP adapter; ``ValueError`` when the spec does not fit."""
    path = spec.path or _address_path(adapter)
    return ShimService(name, spec, adapter, routes, platform, path)


def _address_path(adapter: Any) -> str:
    for operation in adapter.operations():
        address = operation.target.address
        if address:
            return urlsplit(address).path or "/"
    raise ValueError("the WSDL has no soap:address: give the service a 'path'")
