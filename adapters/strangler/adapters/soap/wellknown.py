"""Well-known schemas shipped with strangler, so WSDLs that need them load offline.

zeep fetches some schemas by URL whatever the WSDL says: the SOAP 1.1 encoding
schema (``SOAP-ENC``) as soon as a type refers to its namespace, e.g. every
``SOAP-ENC:Array`` of an rpc/encoded service. WSDLs refer to the SOAP 1.2
encoding schema the same way, by namespace alone or by its W3C URL. Air-gapped
servers cannot reach ``schemas.xmlsoap.org`` or ``www.w3.org``, so these URLs are
answered from the files in ``schemas/`` (sources in ``schemas/SOURCES.md``), never
from the network. :data:`WELL_KNOWN_NAMESPACES` tells the loading (through
:func:`.zeep_api.adapter_loading`) which URL stands for each namespace, so that a
reference or an ``xsd:import`` with no (or a remote) ``schemaLocation`` finds it.

zeep's ``forbid_external`` setting refuses such a fetch before the transport
(and its cache) is asked, so loading uses :func:`loading_settings` and a
:class:`GuardedTransport`, which keeps the same rule itself: the entry WSDL may
come over the network, the well-known schemas from the bundle, nothing else
by ``http(s)``.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

import attr
from zeep import Settings
from zeep.cache import Base
from zeep.exceptions import ExternalReferenceForbidden
from zeep.transports import Transport

__all__ = [
    "WELL_KNOWN",
    "WELL_KNOWN_NAMESPACES",
    "GuardedTransport",
    "WellKnownCache",
    "loading_settings",
    "origin",
]

SOAP11_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
SOAP12_ENCODING = "http://www.w3.org/2003/05/soap-encoding"

#: URL zeep asks for → bundled file in ``schemas/``.
WELL_KNOWN: dict[str, str] = {
    SOAP11_ENCODING: "soap-encoding.xsd",
    "https://schemas.xmlsoap.org/soap/encoding/": "soap-encoding.xsd",
    SOAP12_ENCODING: "soap12-encoding.xsd",
    "https://www.w3.org/2003/05/soap-encoding": "soap12-encoding.xsd",
}

#: Namespace of a bundled schema → the URL (a key of :data:`WELL_KNOWN`) it loads from.
WELL_KNOWN_NAMESPACES: dict[str, str] = {
    SOAP11_ENCODING: SOAP11_ENCODING,
    SOAP12_ENCODING: SOAP12_ENCODING,
}


def bundled(url: str) -> bytes | None:
    """The bundled copy of the schema at ``url``, or None if it is not a well-known one."""
    name = WELL_KNOWN.get(url)
    if name is None:
        return None
    return files(__package__ or "strangler.adapters.soap").joinpath("schemas", name).read_bytes()


class WellKnownCache(Base):
    """A zeep document cache: bundled well-known schemas first, then ``inner`` (if any)."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner

    def get(self, url: str) -> bytes | None:
        content = bundled(url)
        if content is not None:
            return content
        return self.inner.get(url) if self.inner is not None else None

    def add(self, url: str, content: bytes) -> None:
        if self.inner is not None and url not in WELL_KNOWN:
            self.inner.add(url, content)


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL (the default port made explicit)."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class GuardedTransport(Transport):
    """A zeep transport that fetches by URL only what the WSDL's owner vouches for.

    Allowed over ``http(s)``: the entry WSDL, documents from the same origin as a
    remote entry WSDL (its ``?xsd=`` parts and relative imports), origins listed
    in ``trusted_origins``, and the well-known schemas (from the bundle). Any other
    remote document (an import elsewhere, an external entity) raises zeep's
    ``ExternalReferenceForbidden``, cached or not. Local files load as usual.
    """

    def __init__(
        self,
        entry: str,
        *,
        cache: Any = None,
        timeout: float = 300,
        trusted_origins: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(cache=WellKnownCache(cache), timeout=timeout)
        self.entry = entry
        self.allowed = {origin(o) for o in trusted_origins}
        if urlsplit(entry).scheme in ("http", "https"):
            self.allowed.add(origin(entry))

    def load(self, url: str) -> bytes:
        remote = urlsplit(url).scheme in ("http", "https")
        if remote and url not in WELL_KNOWN and origin(url) not in self.allowed:
            raise ExternalReferenceForbidden(
                f"{url}: not the WSDL's own origin; list it in 'trusted_origins' to allow it"
            )
        return bytes(super().load(url))


def loading_settings(settings: Settings) -> Settings:
    """``settings`` for loading with a :class:`GuardedTransport`: zeep's own external
    check off (it would refuse the well-known URLs), the transport's in force."""
    public = {a.name: getattr(settings, a.name) for a in attr.fields(Settings) if a.name[0] != "_"}
    return Settings(**{**public, "forbid_external": False})
