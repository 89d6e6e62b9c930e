"""Open a WSDL with zeep: hardened XML settings, an on-disk document cache, auth.

Documents fetched over HTTP (the WSDL and every XSD it imports) are cached on
disk by zeep's ``SqliteCache``, and the parsed result by :class:`.cache.WsdlCache`,
so a restart neither fetches nor parses them again.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from zeep import Client, Settings
from zeep.cache import SqliteCache
from zeep.wsdl import Document
from zeep.wsse.username import UsernameToken

from strangler.adapters.soap.cache import WsdlCache
from strangler.adapters.soap.facets import read_schema
from strangler.adapters.soap.wellknown import GuardedTransport, loading_settings
from strangler.paths import default_cache_dir
from strangler.spec.models import SoapSystem, WsseAuth

__all__ = ["open_wsdl", "override_address"]


def xml_settings() -> Settings:
    """zeep settings that refuse DTDs, entities and network access from XML."""
    return Settings(
        strict=True,
        xml_huge_tree=False,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )


def open_wsdl(system: SoapSystem, cache_dir: Path | None = None) -> tuple[Client, Any, bool]:
    """A zeep client for ``system``'s WSDL (file path or URL), the ``xmlschema``
    schema for facets, and whether both came from the on-disk cache."""
    folder = cache_dir or default_cache_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    documents = SqliteCache(path=str(folder / "wsdl-documents.sqlite"), timeout=7 * 24 * 3600)
    # Well-known schemas (SOAP-ENC) come from the bundle; only the WSDL itself may be fetched.
    transport = GuardedTransport(
        system.wsdl,
        cache=documents,
        timeout=system.timeout_s,
        trusted_origins=system.trusted_origins,
    )
    if system.auth is not None and system.auth.kind == "basic":
        transport.session.auth = (system.auth.username, system.auth.password.get_secret_value())
    wsse = None
    if isinstance(system.auth, WsseAuth):
        wsse = UsernameToken(
            system.auth.username,
            system.auth.password.get_secret_value(),
            use_digest=system.auth.digest,
        )
    settings = xml_settings()
    cache = WsdlCache(folder)
    hit = cache.load(system.wsdl, transport, settings)
    if hit is not None:
        document, schema = hit
    else:
        document = Document(system.wsdl, cast(Any, transport), settings=loading_settings(settings))
        schema = read_schema(system.wsdl)
        cache.save(system.wsdl, document, schema)
    client = Client(document, transport=transport, wsse=wsse, settings=settings)
    return client, schema, hit is not None


def override_address(address: str, override: str | None) -> str:
    """Replace scheme, host and port of ``address`` with those of ``override``."""
    if not override:
        return address
    new = urlsplit(override)
    old = urlsplit(address)
    path = old.path
    if new.path and new.path != "/":
        path = new.path.rstrip("/") + "/" + old.path.lstrip("/")
    return urlunsplit((new.scheme, new.netloc, path, old.query, old.fragment))


def http_client(system: SoapSystem) -> aiohttp.ClientSession:
    """The pooled keep-alive HTTP client used for calls to ``system``.

    Call it inside the running event loop (the app's lifespan does).
    """
    headers = {}
    if system.auth is not None and system.auth.kind == "basic":
        token = base64.b64encode(
            f"{system.auth.username}:{system.auth.password.get_secret_value()}".encode()
        ).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    connector = aiohttp.TCPConnector(limit=system.max_connections, keepalive_timeout=30)
    return aiohttp.ClientSession(
        headers=headers,
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=system.timeout_s),
        skip_auto_headers=("User-Agent",),
    )
