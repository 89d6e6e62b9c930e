"""A legacy reply's XML, read within bounds: its media type, then its envelope.

The byte cap (``max_response_bytes``) bounds a reply's size, not what parsing it
costs: eight megabytes of ``<a/>`` are two million elements, and every element
becomes a libxml2 node, then zeep's objects. :func:`parse_envelope` refuses a
reply of more than :data:`MAX_ELEMENTS` elements or deeper than :data:`MAX_DEPTH`
*while parsing*: a reply that could exceed them (more ``<`` than the element
limit) is first counted by a parser that builds nothing, so a refused reply costs
no tree. DTDs, entity declarations and processing instructions are refused (SOAP 1.1
section 3 and SOAP 1.2 part 1 section 5 forbid them in a message); comments are dropped.

Media types are compared case-insensitively (RFC 9110, section 8.3.1).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from strangler.adapters.soap.safe_xml import (
    ExternalResourceRefused,
    holds_pi,
    parse_bytes,
    safe_parser,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "ReplyTooComplex",
    "UnreadableReply",
    "media_type",
    "parse_envelope",
]

MAX_ELEMENTS = 200_000
"""Elements in one reply; a legitimate answer this size is already megabytes of data."""
MAX_DEPTH = 100
"""Nesting of one reply; zeep reads nested elements recursively."""

_PARSER_OPTIONS: dict[str, Any] = {
    "remove_comments": True,
    "remove_pis": False,  # refused, not skipped
}
"""Besides :data:`~strangler.adapters.soap.safe_xml.SAFE_OPTIONS`."""


class UnreadableReply(ValueError):
    """The reply is not well-formed XML, or declares a DTD or entities."""


class ReplyTooComplex(ValueError):
    """The reply has more elements, or deeper nesting, than the limits allow."""


def media_type(content_type: str) -> str:
    """The media type of a ``Content-Type`` value, lowercased, without parameters."""
    return content_type.partition(";")[0].strip().lower()


def parse_envelope(
    content: bytes, *, max_elements: int = MAX_ELEMENTS, max_depth: int = MAX_DEPTH
) -> Any:
    """The reply's root element; raises :class:`UnreadableReply` or :class:`ReplyTooComplex`."""
    if content.count(b"<") > max_elements:  # may be too many elements: count them first
        _count(content, max_elements, max_depth)
    try:
        root = parse_bytes(content, safe_parser(None, **_PARSER_OPTIONS))
    except (etree.XMLSyntaxError, ExternalResourceRefused) as exc:
        raise UnreadableReply(str(exc)) from exc
    info: Any = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise UnreadableReply("the reply declares a DTD, which is not accepted")
    if holds_pi(root):
        raise UnreadableReply("the reply holds a processing instruction, which SOAP forbids")
    if _deeper_than(root, max_depth):
        raise ReplyTooComplex(f"the reply nests elements deeper than {max_depth}")
    return root


class _Counter:
    """A parser target that builds nothing: it counts elements and nesting, and stops."""

    def __init__(self, max_elements: int, max_depth: int) -> None:
        self.max_elements, self.max_depth = max_elements, max_depth
        self.elements = self.depth = 0

    def start(self, tag: str, attrib: Any, nsmap: Any = None) -> None:
        self.elements += 1
        self.depth += 1
        if self.elements > self.max_elements:
            raise ReplyTooComplex(f"the reply has more than {self.max_elements} elements")
        if self.depth > self.max_depth:
            raise ReplyTooComplex(f"the reply nests elements deeper than {self.max_depth}")

    def end(self, tag: str) -> None:
        self.depth -= 1

    def close(self) -> None:
        return None


def _count(content: bytes, max_elements: int, max_depth: int) -> None:
    # No data() or comment() on purpose: text costs no call. lxml's stubs want them.
    parser = safe_parser(_Counter(max_elements, max_depth), **_PARSER_OPTIONS)
    try:
        etree.fromstring(content, parser)
    except (etree.XMLSyntaxError, ExternalResourceRefused) as exc:
        raise UnreadableReply(str(exc)) from exc


def _deeper_than(root: Any, max_depth: int) -> bool:
    """Whether any element lies below ``max_depth`` levels (one XPath, evaluated in C)."""
    return bool(root.xpath("boolean(/" + "*/" * max_depth + "*)"))
