"""The TLS context of calls to one legacy system, from its spec's ``tls:``.

:func:`ssl_context` serves the calls; :func:`mount_tls` and :func:`tls_opener`
give the same context to the libraries that fetch a system's description
(zeep's ``requests`` session, ``xmlschema``'s ``urllib`` opener), so a WSDL at an
``https://`` URL is fetched with the CAs, client certificate and TLS version
the spec gives, too.
"""

from __future__ import annotations

import ssl
import urllib.request
from typing import TYPE_CHECKING, Any

from strangler.spec.common import TlsSpec

if TYPE_CHECKING:
    import requests

__all__ = ["mount_tls", "ssl_context", "tls_opener"]

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def ssl_context(tls: TlsSpec | None) -> ssl.SSLContext:
    """A client context: the spec's CAs (else the machine's), its client certificate,
    its oldest TLS version; certificates and host names checked unless ``verify`` is off."""
    tls = tls or TlsSpec()
    context = ssl.create_default_context(cafile=tls.ca_bundle)
    context.minimum_version = _VERSIONS[tls.min_version]
    if tls.client_cert is not None:
        password = tls.client_key_password.get_secret_value() if tls.client_key_password else None
        context.load_cert_chain(tls.client_cert, tls.client_key, password)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def mount_tls(session: requests.Session, tls: TlsSpec) -> None:
    """``session``'s ``https://`` requests over :func:`ssl_context` of ``tls`` alone."""
    from requests.adapters import HTTPAdapter

    context = ssl_context(tls)

    class TlsAdapter(HTTPAdapter):
        """requests' adapter on one SSL context, and nothing added to it: requests'
        own ``cert_verify`` would load its CA bundle into the context beside ours."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            kwargs["ssl_context"] = context
            return super().proxy_manager_for(proxy, **kwargs)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            pass

    session.mount("https://", TlsAdapter())


def tls_opener(tls: TlsSpec) -> urllib.request.OpenerDirector:
    """A ``urllib`` opener whose ``https://`` requests use :func:`ssl_context` of ``tls``."""
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl_context(tls)))
