"""Parsing XML that someone else wrote: the settings and checks every reader shares.

A legacy system's reply (:mod:`.reply_xml`), a REST caller's ``xsd:any`` value
(:mod:`.xml_content`) and an old client's envelope (``strangler.shim.hardening``) are
all read with :func:`safe_parser`: entities left unresolved, no DTD loaded, no
network, libxml2's huge-tree guards on, and a resolver that refuses every external
resource libxml2 would still load (so a DTD that slipped past a reader's own checks
reaches no file and no host). ``collect_ids`` is never turned off: with it off and
entities unresolved, lxml 6.0 (libxml2 2.14) reads an external parameter entity named
in an internal DTD subset.

:func:`declares_dtd` finds a DTD in a document's prolog without parsing it;
:func:`holds_pi` and :func:`holds_xinclude` look for what SOAP forbids or no reader
here processes.
"""

from __future__ import annotations

import re
from typing import Any, Final, cast

from lxml import etree

__all__ = [
    "SAFE_OPTIONS",
    "XINCLUDE_NAMESPACES",
    "ExternalResourceRefused",
    "declares_dtd",
    "holds_pi",
    "holds_xinclude",
    "parse_bytes",
    "safe_parser",
]

SAFE_OPTIONS: Final[dict[str, Any]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
}
"""What every reader of foreign XML sets (a reader adds its own, e.g. ``remove_comments``)."""

XINCLUDE_NAMESPACES: Final = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")
_SPACE: Final = re.compile(rb"[ \t\r\n]*")


class ExternalResourceRefused(ValueError):
    """The document made the parser reach for an external resource (a DTD, an entity)."""


class _NoResolver(etree.Resolver):
    """Refuses every external resource libxml2 asks for."""

    def resolve(  # type: ignore[override]  # lxml passes a context; its stubs omit it
        self, system_url: str, public_id: str, context: Any
    ) -> Any:
        raise ExternalResourceRefused(
            "the document refers to an external resource, which is never loaded"
        )


def safe_parser(target: object | None = None, **options: Any) -> etree.XMLParser:
    """A new parser with :data:`SAFE_OPTIONS` and ``options`` (``target``: events only).

    A new one per call: lxml parsers are not safe to share between threads. An
    external load raises :class:`ExternalResourceRefused` out of the parse.
    """
    if options.get("collect_ids") is False:
        raise ValueError("collect_ids=False lets libxml2 load external parameter entities")
    made = etree.XMLParser(target=cast(Any, target), **{**SAFE_OPTIONS, **options})
    made.resolvers.add(_NoResolver())
    return made


HELD_BYTES: Final = 64 * 1024
"""Documents up to this size are parsed without releasing the GIL (:func:`parse_bytes`)."""


def parse_bytes(data: bytes, parser: etree.XMLParser) -> Any:
    """``etree.fromstring(data, parser)``, holding the GIL for a small document.

    lxml releases the GIL while it parses a whole document. On an event loop's thread
    that hands the interpreter to any busy worker thread (a database read, a log
    writer) for up to its switch interval, 5 ms, around a parse of a few
    microseconds. Documents up to :data:`HELD_BYTES` go through the parser's feed
    interface instead, which keeps the GIL; larger ones, read in worker threads, let
    others run. After an error the parser's feed state is unknown: use a new one.
    """
    if len(data) > HELD_BYTES:
        return etree.fromstring(data, parser)
    parser.feed(data)
    return parser.close()


def declares_dtd(data: bytes) -> bool:
    """Whether a markup declaration (``<!`` that opens no comment) comes before the root.

    Only the prolog is looked at: a DTD can stand nowhere else, and ``<!DOCTYPE``
    inside a CDATA section (an HTML page sent as text, say) is data. ``data`` is
    UTF-8 (or any encoding where ``<``, ``!``, ``?`` and ``-`` are single ASCII bytes).
    """
    at = 0
    while True:
        at = _SPACE.match(data, at).end()  # type: ignore[union-attr]  # always matches
        if data.startswith(b"<?", at):
            end = data.find(b"?>", at + 2)
        elif data.startswith(b"<!--", at):
            end = data.find(b"-->", at + 4)
        else:
            return data.startswith(b"<!", at)
        if end < 0:
            return False  # unterminated: the parser says so
        at = end + 2 if data[end] == ord("?") else end + 3


def holds_pi(root: etree._Element) -> bool:
    """Whether a processing instruction stands anywhere: around the root or inside it."""
    around = (*root.itersiblings(etree.PI, preceding=True), *root.itersiblings(etree.PI))
    return bool(around) or next(root.iter(etree.PI), None) is not None


def holds_xinclude(root: etree._Element) -> bool:
    """Whether any element is in an XInclude namespace (never processed here)."""
    return any(
        root.xpath("boolean(//*[namespace-uri() = $ns])", ns=namespace)
        for namespace in XINCLUDE_NAMESPACES
    )
