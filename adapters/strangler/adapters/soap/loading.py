"""Open a WSDL with zeep: hardened XML settings, an on-disk document cache, auth.

Documents fetched over HTTP (the WSDL and every XSD it imports) are cached on
disk by zeep's ``SqliteCache``, and the parsed result by :class:`.cache.WsdlCache`,
so a restart neither fetches nor parses them again. zeep parses inside
:func:`.zeep_api.adapter_loading`, so WSDLs plain zeep refuses but real estates hold
(SOAP 1.2 encoding, chameleon includes, portTypes two ``wsdl:import`` levels away) load.

A WSDL that still cannot be loaded is one :class:`~strangler.errors.SystemLoadError`
(:func:`load_errors`), whatever the library that gave up on it raised:

==========================================  ============================================
raised while loading                        reason given
==========================================  ============================================
``zeep.exceptions.Error`` (parse, lookup,   its message
forbidden external reference)
:class:`NotAWsdl` (an HTML error page,      its message (what the root element is)
an XSD, WSDL 2.0)
``lxml.etree.LxmlError`` (not well-formed)  its message (with line and column)
``OSError`` (missing file, HTTP failure)    its message
``LookupError``, ``ValueError``,            ``TypeName: message``: zeep's own
``TypeError``, ``AttributeError``,          assumptions about the document failed
``AssertionError``, ``NotImplementedError``,
``RecursionError``
==========================================  ============================================

The original exception stays the error's ``__cause__``. What zeep only warns about
while loading (an operation it drops because a reference in it dangles) is logged,
one line naming the system, instead of printed as a Python warning.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from lxml import etree
from zeep import Client, Settings
from zeep.cache import SqliteCache
from zeep.exceptions import Error as ZeepError
from zeep.wsdl import Document
from zeep.wsse.username import UsernameToken

from strangler.adapters.calls.tls import mount_tls
from strangler.adapters.soap import zeep_api
from strangler.adapters.soap.cache import WsdlCache
from strangler.adapters.soap.facets import read_schema
from strangler.adapters.soap.wellknown import (
    WELL_KNOWN_NAMESPACES,
    GuardedTransport,
    loading_settings,
)
from strangler.errors import SystemLoadError
from strangler.paths import default_cache_dir
from strangler.spec.common import WsseAuth
from strangler.spec.soap import SoapSystem

__all__ = ["LOAD_ERRORS", "NotAWsdl", "load_errors", "open_wsdl", "override_address"]

log = logging.getLogger(__name__)

WSDL11 = "http://schemas.xmlsoap.org/wsdl/"
WSDL20 = "http://www.w3.org/ns/wsdl"


class NotAWsdl(ValueError):
    """The document is well-formed XML but not a WSDL 1.1 ``definitions``."""


#: What the libraries reading a WSDL raise when they give up on it (see the table above).
LOAD_ERRORS: tuple[type[Exception], ...] = (
    ZeepError,
    etree.LxmlError,
    OSError,
    LookupError,
    ValueError,
    TypeError,
    AttributeError,
    AssertionError,
    NotImplementedError,
    RecursionError,
)
_OWN_MESSAGE = (ZeepError, etree.LxmlError, OSError, NotAWsdl)
_MAX_REASON = 400


@contextlib.contextmanager
def load_errors(system: str, source: str) -> Iterator[None]:
    """Within the block, what :data:`LOAD_ERRORS` lists becomes one ``SystemLoadError``
    and zeep's warnings become log records."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
            log.warning("%s: %s: %s", system, source, message)
    except LOAD_ERRORS as exc:
        log.debug("loading %s for %s failed", source, system, exc_info=True)
        raise SystemLoadError(system, source, _reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    """One line saying why: the message, with the type when the message alone is cryptic."""
    message = " ".join(str(exc).split())
    if not isinstance(exc, _OWN_MESSAGE) or not message:
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return message if len(message) <= _MAX_REASON else message[: _MAX_REASON - 1] + "…"


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
    if system.tls is not None:  # the WSDL and its imports over the spec's TLS, as the calls
        mount_tls(transport.session, system.tls)
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
        check_root(system.wsdl, transport, settings)
        with zeep_api.adapter_loading(WELL_KNOWN_NAMESPACES):
            document = Document(
                system.wsdl, cast(Any, transport), settings=loading_settings(settings)
            )
        schema = read_schema(system.wsdl, system.tls)
        cache.save(system.wsdl, document, schema)
    client = Client(document, transport=transport, wsse=wsse, settings=settings)
    return client, schema, hit is not None


def check_root(source: str, transport: Any, settings: Settings) -> None:
    """Refuse a document that is not a WSDL 1.1 (zeep reads any XML as an empty WSDL)."""
    root = zeep_api.parse_document(transport.load(source), transport, settings)
    tag = etree.QName(root)
    if tag.namespace == WSDL11 and tag.localname == "definitions":
        return
    if tag.namespace == WSDL20:
        raise NotAWsdl("a WSDL 2.0 document: only WSDL 1.1 is supported")
    where = f"in namespace {tag.namespace}" if tag.namespace else "in no namespace"
    raise NotAWsdl(
        f"not a WSDL 1.1 document: its root element is <{tag.localname}> {where}, "
        f"not <definitions> in {WSDL11}"
    )


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
