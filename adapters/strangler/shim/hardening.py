"""An old client's envelope, read as data and never as instructions: safe XML on the way in.

:func:`parse_envelope` reads one request body into an lxml element, or refuses it with
:class:`EnvelopeRefused`, a client error whose ``rule`` names the limit or the rule broken
(the shim answers it with a client Fault). In order:

1. the body's size (``max_bytes``), before anything else looks at it;
2. its encoding: UTF-8 (with or without a byte order mark), UTF-16 with a byte order
   mark, US-ASCII or ISO-8859-1; a declared encoding (the XML declaration, the
   ``charset`` of the Content-Type) must agree with the bytes. Anything else (UTF-7,
   UTF-32, EBCDIC...) is refused: an exotic encoding is how a ``<!DOCTYPE`` hides from a
   look at the bytes. The parser then reads UTF-8 only, whatever a declaration says;
3. a DTD: a ``<!DOCTYPE`` (or any ``<!`` that opens no comment) before the root element
   is refused before a parser sees it, and its entity declarations with it. SOAP 1.1
   (section 3) and SOAP 1.2 (part 1, section 5) forbid a DTD in a message, so this
   costs no client; ``<!DOCTYPE`` quoted in a CDATA section is data and stays;
4. counts, for a body over 64 KiB whose bytes allow more than the limits (more ``<``
   than ``max_elements``, say): a parser that builds nothing counts elements, depth,
   attributes, names, distinct namespace declarations, attribute and text lengths, and stops at
   the first excess, so a hostile body costs no tree;
5. the tree, parsed with entities unresolved, no DTD loading, no network, libxml2's
   own huge-tree guards on and a resolver that refuses every external resource; then
   a DTD (should one get this far), processing instructions (SOAP forbids them),
   XInclude elements (lxml would never process them, but a client sending one is told
   so) are refused, and a small body's tree is counted as in step 4.

Nothing here opens a file or a connection: no DTD is read, no entity resolved, no
XInclude processed.
"""

from __future__ import annotations

import codecs
import functools
import re
import threading
from typing import Any, Final, cast

from lxml import etree

from strangler.adapters.soap.safe_xml import (
    ExternalResourceRefused,
    declares_dtd,
    holds_pi,
    holds_xinclude,
    parse_bytes,
    safe_parser,
)
from strangler.errors import InvalidInput
from strangler.spec.shim import ShimLimits

__all__ = ["MAX_NAMESPACES", "EnvelopeRefused", "parse_envelope"]

MAX_NAMESPACES: Final = 64
"""Distinct namespace declarations (prefix and URI) in one envelope: a real one declares a
handful, though some writers repeat them on every element (zeep, on each item of a
SOAP-encoded array), so a declaration repeated counts once."""

_OPTIONS: Final[dict[str, Any]] = {
    "encoding": "utf-8",  # the bytes are UTF-8 by now: a declared encoding is not honoured
    "remove_comments": True,
    "remove_pis": False,  # kept, to be seen and refused
}
_PER_THREAD = threading.local()
_SMALL: Final = 64 * 1024
"""Bodies up to this size are parsed at once and their tree checked after: even the
densest (``<a/>`` after ``<a/>``) makes a tree of a few megabytes at most."""
_HEAD: Final = 1024
"""Where the XML declaration must have ended."""
_DECLARATION: Final = re.compile(rb"""^<\?xml\b[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ACCEPTED: Final = {"utf-8": "utf-8", "utf-16": "utf-16", "ascii": "ascii", "latin-1": "latin-1"}


class EnvelopeRefused(InvalidInput):
    """An incoming envelope the shim will not read.

    ``rule`` names what it broke: one of the limits (``max_bytes``, ``max_depth``,
    ``max_elements``, ``max_attributes``, ``max_name_length``, ``max_attribute_length``,
    ``max_text_length``, ``max_namespaces``) or a rule (``encoding``, ``dtd``,
    ``processing_instruction``, ``xinclude``, ``external_resource``, ``not_xml``).
    Always the client's fault.
    """

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


def parse_envelope(
    body: bytes, limits: ShimLimits, *, charset: str | None = None
) -> etree._Element:
    """The root element of ``body``, or :class:`EnvelopeRefused` saying why not.

    ``charset`` is the Content-Type's ``charset`` parameter, when it has one.
    """
    if len(body) > limits.max_bytes:
        raise EnvelopeRefused(
            f"the request is larger than {limits.max_bytes} bytes", rule="max_bytes"
        )
    data = _as_utf8(body, charset)
    if declares_dtd(data):
        raise EnvelopeRefused(
            "the request holds a DTD or a markup declaration (<!DOCTYPE, <!ENTITY...), "
            "which SOAP forbids",
            rule="dtd",
        )
    exceedable = _may_exceed(data, limits)
    counted = exceedable and len(data) > _SMALL
    if counted:
        _parse(data, _Counter(limits))
    root: etree._Element = _parse(data, None)
    _refuse_markup(root, data)
    if exceedable and not counted:
        _check_tree(root, limits)
    return root


def _as_utf8(body: bytes, charset: str | None) -> bytes:
    """The body as UTF-8, after checking its encoding (see the module, step 2)."""
    plain = body[:1] == b"<" and body[1:2] != b"\x00"  # the usual: no mark, not UTF-16
    found, start = ("utf-8", 0) if plain else _sniff(body)
    text: str | None = None
    if found == "utf-16":
        text = _decode(body, "utf-16")  # the codec reads and drops the mark
        if not text.lstrip().startswith("<"):
            raise EnvelopeRefused(
                "the request starts with a UTF-16 byte order mark but is no UTF-16 XML",
                rule="encoding",
            )
        head = text[:_HEAD].encode("ascii", "replace")
    else:
        head = body[start : start + _HEAD]
    if head.startswith(b"<?xml") and b"?>" not in head:
        raise EnvelopeRefused(
            f"the request's XML declaration does not end within {_HEAD} bytes", rule="not_xml"
        )
    declared = _DECLARATION.match(head)
    labels = {
        "XML declaration": declared.group(1).decode("ascii", "replace") if declared else "",
        "Content-Type charset": charset or "",
    }
    for source, label in labels.items():
        if label:
            _agree(label, found, source)
    if text is None and any(_codec(label) == "latin-1" for label in labels.values() if label):
        text = _decode(body[start:], "latin-1")
    if text is not None:
        return text.encode("utf-8")
    data = body[start:] if start else body
    _decode(data, "utf-8")  # refused here, by name, rather than by the parser
    return data


def _sniff(body: bytes) -> tuple[str, int]:
    """The encoding the first bytes show (a byte order mark, or ``<`` encoded), and where
    the text starts; refuses UTF-32, EBCDIC and UTF-16 without a byte order mark."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            if name == "utf-32":
                raise EnvelopeRefused(
                    "the request is UTF-32; send UTF-8 or UTF-16", rule="encoding"
                )
            return name, len(bom)
    if body[:2] in (b"\x00<", b"<\x00"):
        raise EnvelopeRefused(
            "the request looks like UTF-16 or UTF-32 without a byte order mark; "
            "send UTF-8, or UTF-16 with its byte order mark",
            rule="encoding",
        )
    if body[:4] == b"\x4c\x6f\xa7\x94":  # "<?xm" in EBCDIC (XML 1.0, appendix F)
        raise EnvelopeRefused("the request is EBCDIC; send UTF-8 or UTF-16", rule="encoding")
    return "utf-8", 0


@functools.lru_cache(maxsize=64)
def _codec(label: str) -> str | None:
    """The accepted codec a label names (``ISO-8859-1`` → ``latin-1``), or ``None``."""
    try:
        name = codecs.lookup(label.strip()).name
    except (LookupError, ValueError):  # an unknown name, or one with a NUL in it
        return None
    aliases = {"utf-16-le": "utf-16", "utf-16-be": "utf-16", "iso8859-1": "latin-1"}
    return _ACCEPTED.get(aliases.get(name, name))


def _agree(label: str, found: str, source: str) -> None:
    codec = _codec(label)
    if codec is None:
        raise EnvelopeRefused(
            f"the request's {source} names the encoding {label!r}; the service reads "
            "UTF-8, UTF-16, US-ASCII and ISO-8859-1",
            rule="encoding",
        )
    single_byte = codec in ("utf-8", "ascii", "latin-1")
    if (found == "utf-16") == single_byte:
        raise EnvelopeRefused(
            f"the request's {source} names {label!r} but its bytes are {found.upper()}",
            rule="encoding",
        )


def _decode(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise EnvelopeRefused(
            f"the request is not valid {codec.upper()}: {exc.reason} at byte {exc.start}",
            rule="encoding",
        ) from None


def _may_exceed(data: bytes, limits: ShimLimits) -> bool:
    """Whether the bytes leave room to break a count limit (else nothing is counted).

    Each bound is what the bytes can hold at most: no more elements (or nesting) than
    ``<``, attributes than ``=``, namespace declarations than ``xmlns``, no value or
    text longer than the body, and no name longer than the longest run of bytes that
    may stand in a name.
    """
    return (
        data.count(b"<") > min(limits.max_elements, limits.max_depth)
        or data.count(b"=") > limits.max_attributes
        or data.count(b"xmlns") > MAX_NAMESPACES
        or len(data) > min(limits.max_attribute_length, limits.max_text_length)
        or _name_run(limits.max_name_length).search(data) is not None
    )


@functools.lru_cache(maxsize=8)
def _name_run(longest: int) -> re.Pattern[bytes]:
    """A run of more than ``longest`` bytes none of which can end a name's part."""
    return re.compile(rb"[^\s<>=/\"'&;:?!\[\]]{%d}" % (longest + 1))


class _Counter:
    """A parser target that builds nothing: it checks every count and stops at an excess."""

    def __init__(self, limits: ShimLimits) -> None:
        self.limits = limits
        self.elements = self.depth = self.text = 0
        self.namespaces: set[tuple[str, str]] = set()

    def start_ns(self, prefix: str | None, uri: str) -> None:
        limits = self.limits
        _check_name(prefix or "", limits)
        _check_value(uri, limits)
        self.namespaces.add((prefix or "", uri))
        if len(self.namespaces) > MAX_NAMESPACES:
            _refuse(
                "the request declares more than {} namespaces", MAX_NAMESPACES, "max_namespaces"
            )

    def start(self, tag: str, attrib: Any) -> None:
        limits = self.limits
        self.elements += 1
        self.depth += 1
        self.text = 0
        if self.elements > limits.max_elements:
            _refuse("the request has more than {} elements", limits.max_elements, "max_elements")
        if self.depth > limits.max_depth:
            _refuse("the request nests elements deeper than {}", limits.max_depth, "max_depth")
        if len(attrib) > limits.max_attributes:
            _refuse(
                "an element has more than {} attributes", limits.max_attributes, "max_attributes"
            )
        _check_name(tag, limits)
        for name, value in attrib.items():
            _check_name(name, limits)
            _check_value(value, limits)

    def end(self, tag: str) -> None:
        self.depth -= 1
        self.text = 0

    def data(self, text: str) -> None:
        self.text += len(text)  # one text node may come in several pieces
        if self.text > self.limits.max_text_length:
            _refuse(
                "a text node is longer than {} characters",
                self.limits.max_text_length,
                "max_text_length",
            )

    def pi(self, target: str, data: str | None) -> None:
        _refuse_pi()

    def close(self) -> None:
        return None


def _parse(data: bytes, target: _Counter | None) -> Any:
    """The tree (or, with a ``target``, what it returns), foreign errors translated.

    The tree parser is kept per thread (making one costs as much as a small parse);
    a counting parser is made for its target.
    """
    if target is None:
        parser = getattr(_PER_THREAD, "parser", None)
        if parser is None:
            parser = _PER_THREAD.parser = safe_parser(None, **_OPTIONS)
    else:
        parser = safe_parser(target, **_OPTIONS)
    try:
        try:
            return parse_bytes(data, parser)  # small ones holding the GIL: see there
        except BaseException:
            _PER_THREAD.parser = None  # its feed state is unknown: a new one next time
            raise
    except etree.XMLSyntaxError as exc:
        raise EnvelopeRefused(
            f"the request is not well-formed XML: {exc}", rule="not_xml"
        ) from None
    except ExternalResourceRefused as exc:
        raise EnvelopeRefused(str(exc), rule="external_resource") from None


def _check_tree(root: etree._Element, limits: ShimLimits) -> None:
    """Every count of :class:`_Counter`, on a small tree already built."""
    counter = _Counter(limits)
    stack: list[etree._Element] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            counter.end("")
            if element.tail:
                counter.data(element.tail)
                counter.text = 0
            stack.pop()
            continue
        parent = stack[-1] if stack else None
        own = element.nsmap if parent is None else _own_namespaces(element, parent)
        for prefix, uri in own.items():
            counter.start_ns(prefix, uri)
        counter.start(cast(str, element.tag), element.attrib)
        if element.text:
            counter.data(element.text)
        stack.append(element)


def _own_namespaces(element: etree._Element, parent: etree._Element) -> dict[str | None, str]:
    mine, theirs = element.nsmap, parent.nsmap
    if mine is theirs or mine == theirs:
        return {}
    return {p: u for p, u in mine.items() if theirs.get(p) != u}


def _check_name(qname: str, limits: ShimLimits) -> None:
    local = qname.rpartition("}")[2]
    if len(local) > limits.max_name_length:
        _refuse("a name is longer than {} characters", limits.max_name_length, "max_name_length")


def _check_value(value: str, limits: ShimLimits) -> None:
    if len(value) > limits.max_attribute_length:
        _refuse(
            "an attribute value is longer than {} characters",
            limits.max_attribute_length,
            "max_attribute_length",
        )


def _refuse(message: str, limit: int, rule: str) -> None:
    raise EnvelopeRefused(message.format(limit) + f" (limit {rule})", rule=rule)


def _refuse_pi() -> None:
    raise EnvelopeRefused(
        "the request holds a processing instruction, which SOAP forbids",
        rule="processing_instruction",
    )


def _refuse_markup(root: etree._Element, data: bytes) -> None:
    """A DTD the prolog check missed, processing instructions (around the root or in
    it) and XInclude elements (looked for when the bytes may name their namespace)."""
    if b"<!" in data:  # a DTD needs "<!", a processing instruction "<?" after the start
        info: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
        if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
            raise EnvelopeRefused("the request holds a DTD, which SOAP forbids", rule="dtd")
    if data.find(b"<?", 1) >= 0 and holds_pi(root):
        _refuse_pi()
    if (b"XInclude" in data or b"&#" in data) and holds_xinclude(root):
        raise EnvelopeRefused(
            "the request holds an XInclude element, which the service does not process",
            rule="xinclude",
        )
