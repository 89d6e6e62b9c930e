"""The TLS context of calls to one legacy system, from its spec's ``tls:``."""

from __future__ import annotations

import ssl

from strangler.spec.common import TlsSpec

__all__ = ["ssl_context"]

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
