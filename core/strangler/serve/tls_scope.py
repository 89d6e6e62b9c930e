"""The ASGI TLS extension: the verified client certificate in each request's scope.

uvicorn serves HTTPS but puts nothing of the TLS session into the scope. The
protocols strangler serves with (:mod:`.protocols`) take this mixin: once the
handshake is done (``connection_made``), the connection's TLS facts are read
once from the transport's ``ssl_object`` and every request of the connection
sees them as ``scope["extensions"]["tls"]``, shaped as the ASGI TLS extension
says::

    {"server_cert": None, "client_cert_chain": [PEM, ...], "client_cert_name": "CN=...",
     "client_cert_error": None, "tls_version": 0x0304, "cipher_suite": None}

``client_cert_chain`` holds the peer's certificate only (Python's ``ssl`` hands
out the verified leaf, not the chain before 3.13); it is empty when the client
sent none. The handshake itself has already refused a certificate that does not
verify against ``server.tls.client_ca``, so what is here was verified.
Plain-HTTP connections are left untouched. WebSocket upgrades are served by
uvicorn's WebSocket protocols, which do not carry the extension.
"""

from __future__ import annotations

import ssl
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["TlsScope", "tls_extension"]

_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> dict[str, Any]:
    """The ASGI TLS extension's dict for one established TLS session."""
    der = ssl_object.getpeercert(binary_form=True)
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    name = None
    if der:
        try:
            from cryptography import x509
        except ImportError:  # the security extra is not installed: the name is optional
            pass
        else:
            name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class _WithTls:
    """``app`` with one connection's TLS extension added to every scope."""

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self.app, self.tls = app, tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("extensions", {})["tls"] = self.tls
        await self.app(scope, receive, send)


class TlsScope:
    """Mixin for uvicorn's HTTP protocols (before them in the bases): the connection's
    app adds the TLS extension (see the module docstring)."""

    app: ASGIApp

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = _WithTls(self.app, tls_extension(ssl_object))
