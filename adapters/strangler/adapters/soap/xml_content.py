"""Free-form XML from a REST caller (an ``xsd:any`` field), checked before it nears an envelope.

The value arrives as a JSON string, i.e. as text, and goes into the envelope as the
element it holds. It is parsed as UTF-8 whatever an XML declaration in it says: an
encoding declared inside text is meaningless, and honouring one (UTF-7, UTF-16...) is
how a ``<!DOCTYPE`` hides from a look at the characters. Since the parser reads exactly
the characters the caller sent, what is refused can be refused before parsing, and is:

* an XML declaration naming an encoding other than UTF-8;
* a DTD or any markup declaration (``<!DOCTYPE``, ``<!ENTITY``...): some libxml2
  options make it read a DTD's external subset even with DTD loading off (a local
  file's existence and first bytes would then show in the error), so no DTD ever
  reaches the parser.

Then lxml parses with :func:`~strangler.adapters.soap.safe_xml.safe_parser` (entities
left unresolved, no network, no DTD loading, the huge-tree limits on, every external
load refused), and the tree is looked at too:

* a DTD, an entity, a processing instruction (inside the element or around it) or an
  XInclude element: refused;
* anything but one element (text around it, no element at all): refused, as not
  well-formed.

What is refused raises ``ValueError``, which pydantic reports against the field (422).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from strangler.adapters.soap.safe_xml import XINCLUDE_NAMESPACES, safe_parser

__all__ = ["MAX_XML_CONTENT", "parse_xml_content"]

#: The most characters one free-form XML value may have.
MAX_XML_CONTENT = 1 << 20

_PARSER_OPTIONS: dict[str, Any] = {
    "encoding": "utf-8",  # the text's own encoding: a declared one is not honoured
    "remove_pis": False,  # kept, to be seen and refused
}
"""Besides :data:`~strangler.adapters.soap.safe_xml.SAFE_OPTIONS`."""
_DECLARED_ENCODING = re.compile(
    r"""^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([^"']*)["']""", re.IGNORECASE
)
_MARKUP_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.I)


def parse_xml_content(value: Any) -> etree._Element:
    """The one element ``value`` holds, or ``ValueError`` saying why it is refused."""
    if not isinstance(value, str):
        raise ValueError("xsd:any content must be an XML string")
    if len(value) > MAX_XML_CONTENT:
        raise ValueError("xsd:any content is larger than 1 MiB")
    declared = _DECLARED_ENCODING.match(value)
    if declared and declared.group(1).strip().lower() not in ("utf-8", "utf8"):
        raise ValueError(
            f"xsd:any content declares the encoding {declared.group(1)!r}: send it as "
            "plain text, with no XML declaration or one naming UTF-8"
        )
    if _MARKUP_DECLARATION.search(value):
        raise ValueError("xsd:any content may not hold a DTD or entity declarations")
    try:
        root = etree.fromstring(value.encode("utf-8"), safe_parser(None, **_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"xsd:any content is not well-formed XML: {exc}") from None
    _refuse_markup(root)
    return root


def _refuse_markup(root: etree._Element) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise ValueError("xsd:any content may not hold a DTD (<!DOCTYPE>)")
    around = [*root.itersiblings(preceding=True), *root.itersiblings()]
    for node in [*around, *root.iter()]:
        if node.tag is etree.Entity:
            raise ValueError("xsd:any content may not declare or use entities")
        if node.tag is etree.ProcessingInstruction:
            raise ValueError("xsd:any content may not hold processing instructions")
        if isinstance(node.tag, str) and etree.QName(node).namespace in XINCLUDE_NAMESPACES:
            raise ValueError("xsd:any content may not hold XInclude elements")
