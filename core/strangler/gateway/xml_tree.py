"""Two XML answers made comparable: parsed safely, prefixes normalised, as nested values.

Both documents go through the SOAP adapter's hardened reply parser (no DTD, no
entities, no processing instructions, bounded element count and depth): an
answer it refuses raises ``ValueError`` here too.

Each namespace gets one prefix for both documents: the one the legacy document
declares for it (else the modern one's, else ``ns0``, ``ns1``... in the order of
the namespaces' names), so prefixes chosen differently by the two sides do not
count. :func:`canonical_xml` writes a document with those prefixes as Canonical
XML 2.0 (comments and whitespace-only text dropped); :func:`xml_pair` gives the
nested form the diff walks: an element with neither attributes nor children is
its text; any other is a mapping of ``@prefix:attr``, ``prefix:child`` (a list
when repeated) and ``#text`` when it has text of its own.
"""

from __future__ import annotations

from typing import Any, cast

from lxml import etree

__all__ = ["canonical_xml", "xml_pair"]


def xml_pair(legacy: bytes | str, modern: bytes | str) -> tuple[Any, Any]:
    """Both answers in nested form, under prefixes common to the two."""
    left, right = _parse(legacy, "legacy"), _parse(modern, "modern")
    prefixes = _prefixes(left, right)
    return _nested_root(left, prefixes), _nested_root(right, prefixes)


def canonical_xml(value: bytes | str, *, like: bytes | str | None = None) -> str:
    """``value`` as Canonical XML 2.0 with normalised prefixes (those of ``like`` first)."""
    root = _parse(value, "answer")
    prefixes = _prefixes(_parse(like, "answer") if like is not None else root, root)
    copy = _renamed(root, prefixes)
    # lxml's stubs do not know the C14N 2.0 options of tostring.
    text: bytes = cast(Any, etree.tostring)(
        copy, method="c14n2", with_comments=False, strip_text=True
    )
    return text.decode("utf-8")


def _parse(value: bytes | str, side: str) -> Any:
    from strangler.adapters.soap.reply_xml import parse_envelope

    content = value.encode("utf-8") if isinstance(value, str) else value
    try:
        return parse_envelope(content)
    except ValueError as exc:
        raise ValueError(f"the {side} answer is not acceptable XML: {exc}") from exc


def _prefixes(*roots: Any) -> dict[str, str]:
    """Namespace URI → the one prefix both documents are written with."""
    chosen: dict[str, str] = {}
    used: set[str] = set()
    unnamed: set[str] = set()
    for root in roots:
        for element in root.iter(etree.Element):
            for prefix, uri in element.nsmap.items():
                if uri in chosen:
                    continue
                if prefix and prefix not in used:
                    chosen[uri] = prefix
                    used.add(prefix)
                else:
                    unnamed.add(uri)
    counter = 0
    for uri in sorted(unnamed - chosen.keys()):
        while f"ns{counter}" in used:
            counter += 1
        chosen[uri] = f"ns{counter}"
        used.add(chosen[uri])
    return chosen


def _name(qualified: str, prefixes: dict[str, str]) -> str:
    qname = etree.QName(qualified)
    return f"{prefixes[qname.namespace]}:{qname.localname}" if qname.namespace else qname.localname


def _nested_root(root: Any, prefixes: dict[str, str]) -> dict[str, Any]:
    return {_name(root.tag, prefixes): _nested(root, prefixes)}


def _nested(element: Any, prefixes: dict[str, str]) -> Any:
    text = (element.text or "").strip()
    children = [child for child in element if isinstance(child.tag, str)]
    if not element.attrib and not children:
        return text
    value: dict[str, Any] = {}
    for key, attribute in element.attrib.items():
        value["@" + _name(key, prefixes)] = attribute
    for child in children:
        key = _name(child.tag, prefixes)
        nested = _nested(child, prefixes)
        if key not in value:
            value[key] = nested
        elif isinstance(value[key], _Repeated):
            value[key].append(nested)
        else:
            value[key] = _Repeated([value[key], nested])
    if text:
        value["#text"] = text
    return value


class _Repeated(list[Any]):
    """The children of one name, when there are several."""


def _renamed(root: Any, prefixes: dict[str, str]) -> Any:
    nsmap = {prefix: uri for uri, prefix in prefixes.items()}

    def copy(element: Any, parent: Any) -> Any:
        attrib = dict(element.attrib)
        if parent is None:
            new = etree.Element(element.tag, attrib, nsmap=nsmap)
        else:
            new = etree.SubElement(parent, element.tag, attrib)
        new.text = element.text
        for child in element:
            if isinstance(child.tag, str):
                copy(child, new).tail = child.tail
        return new

    return copy(root, None)
