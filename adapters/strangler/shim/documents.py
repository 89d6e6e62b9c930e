"""The service's WSDL and schemas, as its old clients fetch them from the shim.

``?wsdl`` gives the original WSDL with every ``soap:address`` (1.1 and 1.2)
pointing at the shim's URL as the request saw it (``Host``, or
``X-Forwarded-Host`` and ``X-Forwarded-Proto`` behind a proxy). The documents
it imports or includes (``wsdl:import``, ``xs:import``, ``xs:include``,
``xs:redefine``) are served too, each at ``?xsd=N`` (schemas) or ``?wsdl=N``
(WSDLs), numbered in the order they are first referenced, and the references
are rewritten to those URLs; ``?xsd=name`` (the file's name) and ``?xsd=xsdN``
(.NET's spelling) find the same schema. References to other origins stay as
they are, except the well-known SOAP encoding schemas: those are served from
strangler's own copies (and imported where a schema uses their namespace
without importing it), so an air-gapped client loads the WSDL too.

``?singleWsdl`` is one document: the schemas of every import and include
inlined into ``wsdl:types`` (an include's content merged into the including
schema), WSDL imports of the same target namespace merged in.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from strangler.adapters.soap.wellknown import WELL_KNOWN_NAMESPACES

__all__ = ["Documents", "UnknownDocument"]

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
_ADDRESSES = (
    "{http://schemas.xmlsoap.org/wsdl/soap/}address",
    "{http://schemas.xmlsoap.org/wsdl/soap12/}address",
)
_SCHEMA_REFS = (f"{{{XS}}}import", f"{{{XS}}}include", f"{{{XS}}}redefine")
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False
)
_CACHED = 64


class UnknownDocument(LookupError):
    """No document of the service has that key."""


@dataclass
class _Doc:
    kind: str  # "wsdl" or "xsd"
    number: int
    location: str
    root: Any
    refs: list[tuple[Any, str, int]] = field(default_factory=list)
    """(element, attribute, number of the document it refers to)."""

    @property
    def name(self) -> str:
        return posixpath.basename(urlsplit(self.location).path or self.location)


class Documents:
    """Every document of one WSDL, read once; rendered for each base URL asked."""

    def __init__(self, entry: str, load: Callable[[str], bytes]) -> None:
        self.entry = entry
        self._load = load
        self._docs: list[_Doc] = []
        self._by_location: dict[str, _Doc] = {}
        self._rendered: dict[tuple[str, str], bytes] = {}
        self.root = self._read(entry, "wsdl")
        if self.root is None:
            raise ValueError(f"cannot read the WSDL {entry}")

    # -- reading ------------------------------------------------------------

    def _read(self, location: str, kind: str) -> _Doc | None:
        found = self._by_location.get(location)
        if found is not None:
            return found
        try:
            root = etree.fromstring(self._load(location), _PARSER)
        except (OSError, ValueError, etree.XMLSyntaxError, LookupError):
            return None
        except Exception:  # a transport refusing a location (zeep's own errors)
            return None
        if etree.QName(root).namespace == XS and etree.QName(root).localname == "schema":
            kind = "xsd"
        doc = _Doc(kind, len(self._docs), location, root)
        self._docs.append(doc)
        self._by_location[location] = doc
        _import_well_known(root)
        for element, attribute in _references(root):
            target = self._resolve(location, element.get(attribute))
            if target is None and element.tag == f"{{{XS}}}import":
                target = WELL_KNOWN_NAMESPACES.get(element.get("namespace", ""))
            if target is None:
                continue
            child = self._read(target, "xsd" if element.tag in _SCHEMA_REFS else "wsdl")
            if child is not None:
                doc.refs.append((element, attribute, child.number))
        return doc

    def _resolve(self, base: str, ref: str | None) -> str | None:
        """Where ``ref`` (relative to ``base``) is, if it is the WSDL's own to serve."""
        if not ref:
            return None
        if "://" in ref:
            target = ref
        elif "://" in base:
            target = urljoin(base, ref)
        else:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(base), ref))
        remote = urlsplit(target).scheme in ("http", "https")
        if remote and _origin(target) != _origin(self.entry):
            return None  # another origin's document (a well-known schema): left as it is
        return target

    # -- serving ------------------------------------------------------------

    def find(self, kind: str, key: str) -> _Doc:
        """The document ``?{kind}={key}``: its number, ``{kind}N`` or its file name."""
        wanted = key[len(kind) :] if key.startswith(kind) and key[len(kind) :].isdigit() else key
        for doc in self._docs:
            if doc.kind != kind:
                continue
            if str(doc.number) == wanted or doc.name == key:
                return doc
        raise UnknownDocument(f"no {kind} document {key!r}")

    def render(self, doc: _Doc | None, base: str) -> bytes:
        """A document with its references and addresses pointing at ``base`` (the shim)."""
        doc = doc or self.root
        assert doc is not None
        key = (base, f"{doc.kind}{doc.number}")
        cached = self._rendered.get(key)
        if cached is not None:
            return cached
        for element, attribute, number in doc.refs:
            target = self._docs[number]
            element.set(attribute, f"{base}?{target.kind}={target.number}")
        root = copy.deepcopy(doc.root)
        for address in root.iter(*_ADDRESSES):
            address.set("location", base)
        data = etree.tostring(root, encoding="utf-8", xml_declaration=True)
        if len(self._rendered) >= _CACHED:
            self._rendered.clear()
        self._rendered[key] = data
        return data

    def single(self, base: str) -> bytes:
        """The WSDL with every schema inlined (see the module)."""
        key = (base, "single")
        cached = self._rendered.get(key)
        if cached is not None:
            return cached
        assert self.root is not None
        root, numbers = self._copy(self.root)
        namespace = root.get("targetNamespace")
        types = root.find(f"{{{WSDL}}}types")
        if types is None:
            types = etree.Element(f"{{{WSDL}}}types")
            root.insert(_types_position(root), types)
        pending: list[int] = []
        merged = {self.root.number}
        imports = list(root.iterchildren(f"{{{WSDL}}}import"))
        while imports:
            element = imports.pop(0)
            number = numbers.get(element)
            if number is None:
                continue
            target = self._docs[number]
            if target.kind == "xsd":
                element.getparent().remove(element)
                pending.append(number)
            elif target.root.get("targetNamespace") == namespace:
                element.getparent().remove(element)
                if number in merged:
                    continue
                merged.add(number)
                imported, more = self._copy(target)
                numbers.update(more)
                imports.extend(imported.iterchildren(f"{{{WSDL}}}import"))
                _merge_wsdl(root, types, imported)
            else:
                element.set("location", f"{base}?wsdl={number}")
        done: set[int] = set()
        for schema in list(types.iterchildren(f"{{{XS}}}schema")):
            pending.extend(self._inline(schema, numbers, done))
        while pending:  # imported schemas go first: readers resolve names in order
            number = pending.pop(0)
            if number in done:
                continue
            done.add(number)
            schema, more = self._copy(self._docs[number])
            schema = _adopted(types, schema)
            types.insert(0, schema)
            pending.extend(self._inline(schema, more, done))
        for address in root.iter(*_ADDRESSES):
            address.set("location", base)
        data = etree.tostring(root, encoding="utf-8", xml_declaration=True)
        self._rendered[key] = data
        return data

    def _copy(self, doc: _Doc) -> tuple[Any, dict[Any, int]]:
        """A deep copy of ``doc``'s root, and its references' document numbers by element
        of the copy (the elements themselves are the keys: that keeps lxml's proxies)."""
        copied = copy.deepcopy(doc.root)
        positions = {e: i for i, e in enumerate(doc.root.iter())}
        elements = list(copied.iter())
        return copied, {elements[positions[e]]: n for e, _, n in doc.refs}

    def _inline(
        self,
        schema: Any,
        numbers: dict[Any, int],
        done: set[int],
        prefixes: dict[str, str] | None = None,
        namespace: str | None = None,
    ) -> list[int]:
        """Merge ``schema``'s includes into it and drop its imports' locations; the
        documents its imports name (each to be inlined as a schema of its own).

        ``prefixes`` (namespace → prefix) is shared with the includes it merges, whose
        names are written with them; the outermost schema declares what it lacks."""
        imported: list[int] = []
        outermost = prefixes is None
        if prefixes is None:
            prefixes = {uri: p for p, uri in schema.nsmap.items() if p is not None}
            namespace = schema.get("targetNamespace")
        known = dict(prefixes)
        for ref in list(schema.iterchildren(*_SCHEMA_REFS)):
            number = numbers.get(ref)
            if number is None:
                continue
            if ref.tag == f"{{{XS}}}import":
                ref.attrib.pop("schemaLocation", None)
                imported.append(number)
                continue
            done.add(number)
            content, more = self._copy(self._docs[number])
            _requalify(content, namespace, prefixes)
            imported.extend(self._inline(content, more, done, prefixes, namespace))
            position = schema.index(ref)
            schema.remove(ref)
            for offset, child in enumerate(c for c in content if isinstance(c.tag, str)):
                schema.insert(position + offset, child)
        missing = {p: uri for uri, p in prefixes.items() if uri not in known}
        if outermost and missing and schema.getparent() is not None:
            replacement = etree.Element(
                schema.tag, attrib=dict(schema.attrib), nsmap={**schema.nsmap, **missing}
            )
            replacement.extend(list(schema))
            schema.getparent().replace(schema, replacement)
        return imported


def _references(root: Any) -> list[tuple[Any, str]]:
    found: list[tuple[Any, str]] = []
    for element in root.iter(f"{{{WSDL}}}import", *_SCHEMA_REFS):
        attribute = "location" if element.tag == f"{{{WSDL}}}import" else "schemaLocation"
        if element.get(attribute) or element.get("namespace") in WELL_KNOWN_NAMESPACES:
            found.append((element, attribute))
    return found


def _import_well_known(root: Any) -> None:
    """Each schema that names a well-known namespace (SOAP encoding) imports it.

    Many rpc/encoded WSDLs refer to ``SOAP-ENC:Array`` with no import (or one
    without a location), and clients then fetch the schema from the internet;
    served with a location on the shim, an air-gapped client finds it too.
    """
    for schema in root.iter(f"{{{XS}}}schema"):
        imported = {i.get("namespace") for i in schema.iterchildren(f"{{{XS}}}import")}
        used = set(schema.nsmap.values())
        for namespace in WELL_KNOWN_NAMESPACES:
            # the encoding schema itself too: zeep, reading it from the shim rather than
            # from its well-known URL, finds its own names only through that import
            if namespace in used and namespace not in imported:
                schema.insert(0, etree.Element(f"{{{XS}}}import", namespace=namespace))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _types_position(root: Any) -> int:
    for index, child in enumerate(root):
        if isinstance(child.tag, str) and etree.QName(child).localname not in (
            "documentation",
            "import",
        ):
            return index
    return len(root)


def _adopted(types: Any, schema: Any) -> Any:
    """A schema document's root made ready to sit in ``types``: its QName values written
    with prefixes declared there or on it (lxml drops a prefix the new place already
    binds to the same namespace, and text naming it would dangle)."""
    prefixes = {uri: p for p, uri in types.nsmap.items() if p is not None}
    known = dict(prefixes)
    _requalify(schema, schema.get("targetNamespace"), prefixes)
    missing = {p: uri for uri, p in prefixes.items() if uri not in known}
    adopted = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=missing)
    adopted.text = schema.text
    adopted.extend(list(schema))
    return adopted


def _merge_wsdl(root: Any, types: Any, imported: Any) -> None:
    """The components of an imported WSDL of the same target namespace, moved into ``root``
    (its imports are resolved by the caller)."""
    for child in list(imported):
        if not isinstance(child.tag, str):
            continue
        if child.tag == f"{{{WSDL}}}types":
            types.extend(list(child))
        elif child.tag not in (f"{{{WSDL}}}documentation", f"{{{WSDL}}}import"):
            root.append(child)


_BUILTIN_NAMES = (
    "anyType anySimpleType string normalizedString token language Name NCName ID IDREF "
    "IDREFS ENTITY ENTITIES NMTOKEN NMTOKENS boolean decimal integer nonPositiveInteger "
    "negativeInteger long int short byte nonNegativeInteger unsignedLong unsignedInt "
    "unsignedShort unsignedByte positiveInteger float double duration dateTime time date "
    "gYearMonth gYear gMonthDay gDay gMonth hexBinary base64Binary anyURI QName NOTATION"
)
_BUILTINS = frozenset(_BUILTIN_NAMES.split())
"""The built-in types of XML Schema, by local name."""

_QNAME_ATTRIBUTES = ("type", "ref", "base", "itemType", "substitutionGroup", "refer")


def _requalify(content: Any, namespace: str | None, prefixes: dict[str, str]) -> None:
    """Write each QName-valued attribute of ``content`` (an included schema's copy) with a
    prefix from ``prefixes`` (namespace → prefix, added to as needed), so it keeps its
    meaning once moved into another schema. A chameleon schema's (no target namespace)
    unprefixed names take the including schema's ``namespace``."""
    chameleon = content.get("targetNamespace") is None
    for element in content.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in (*_QNAME_ATTRIBUTES, "memberTypes"):
            value = element.get(attribute)
            if not value:
                continue
            names = value.split() if attribute == "memberTypes" else [value]
            written = [_qualified(n, element.nsmap, chameleon, namespace, prefixes) for n in names]
            element.set(attribute, " ".join(written))


def _qualified(
    name: str,
    nsmap: dict[Any, str],
    chameleon: bool,
    namespace: str | None,
    prefixes: dict[str, str],
) -> str:
    prefix, _, local = name.rpartition(":")
    uri = nsmap.get(prefix or None)
    if not prefix and chameleon and (uri is None or (uri == XS and local not in _BUILTINS)):
        uri = namespace  # the chameleon's own component, in the including namespace
    if uri is None:
        return name
    if uri not in prefixes:
        taken = set(prefixes.values())
        prefixes[uri] = next(f"inc{n}" for n in range(len(taken) + 1) if f"inc{n}" not in taken)
    return f"{prefixes[uri]}:{local}"
