"""The one module that touches zeep's private API, and the one fix the adapter applies to zeep.

zeep's public API builds clients and proxies; the adapter needs a few steps of a
call separately (build the envelope, parse the reply's Body) and a few facts zeep
keeps to itself. Every such name is used here only, through a small typed function,
and listed in :data:`PRIVATE_NAMES`; ``tests/adapters/soap/test_zeep_api.py`` checks
each against the installed zeep, and that no other module of the adapters uses one.
The names (zeep 4.3):

* ``SoapBinding._create(operation, args, kwargs, client=, options=)``: the envelope
  *and* its HTTP headers, for a call to the address we choose. The public
  ``create_message`` returns the envelope only.
* ``SoapMessage._deserialize_body(body)`` (overridden by ``DocumentMessage`` and
  ``RpcMessage``), ``SoapMessage._deserialize_headers(header)``: the values of a reply's
  Body and Header as zeep parsed them. The public ``deserialize`` unwraps one-part
  bodies and reshapes the rest, losing the element names our JSON keeps.
* ``zeep.wsdl.messages.multiref.process_multiref(body)``: resolves SOAP-ENC multi-reference
  values (``href``/``id``) in place; zeep does not export the module.
* ``zeep.loader.parse_xml(content, transport, settings=)``: zeep's hardened parser,
  honouring the client's settings (no DTDs, entities or network); zeep does not
  export the module.
* ``Document._definitions``: every WSDL document a WSDL imported. ``use="encoded"``
  is read from each (zeep drops it) and the on-disk cache hashes each.
* ``SchemaDocument._location``: where each XSD came from, for the cache's freshness check.
* ``ComplexType._array_type``: the ``wsdl:arrayType`` attribute of a SOAP-ENC array type.
* ``ComplexType._value_class``, ``ComplexType._array_class``: the value classes zeep
  creates and caches on first use; dropped before pickling, re-created after.
* ``CompoundValue._xsd_type``: the type a value class belongs to (a value class is
  pickled as a reference to it).
* ``ComplexType._xsd_name`` and the module name ``zeep.xsd.dynamic_types``: zeep makes
  a class per schema type; pickling re-creates it once per (name, bases, ``_xsd_name``).
* ``zeep.xsd.elements.indicators.OrderIndicator``: the base of sequence, all and
  choice; ``zeep.xsd`` does not export it.
* ``zeep.xsd.types.builtins.String.parse_xmlelement``: wrapped by the fix below.

* ``SchemaVisitor._create_qname(name)``, ``SchemaVisitor.visit_import(node, parent)``:
  wrapped by the well-known-namespace fix; ``SchemaVisitor.visit_include(node, parent)``
  and ``SchemaVisitor._retrieve_data(url, base_url=)``, ``SchemaDocument._base_url``:
  the chameleon-include fix; ``SchemaVisitor.visitors``: the table zeep calls each
  ``visit_*`` method through (a wrapper goes there too); ``Definition.get(name, key)``:
  the transitive-import fix; ``UnresolvedCustomType.resolve()`` (module
  ``zeep.xsd.types.unresolved``, not exported): the list-restriction fix.

The fixes. :func:`install_fixes` wraps zeep's methods once (the adapter calls it when
it is built); each new behaviour holds only inside a context variable the adapter sets
around its own work, so any other zeep client in the process keeps zeep's own behaviour.

While the adapter *parses a reply* (:func:`adapter_parsing`): zeep reads an empty
element of a simple type as ``None`` whatever the type. For ``xsd:string`` and the
types derived from it an empty element is the empty string; only ``xsi:nil="true"``
means no value. Without it, ``""`` sent by a legacy system came back as ``null``, and
empty strings inside SOAP-ENC arrays were dropped, shifting the positions of the others.
And ``xsd:date`` and ``xsd:time`` (``Date.pythonvalue``, ``Time.pythonvalue``, public
methods) read as the text the legacy system wrote: zeep's ``date`` and ``time`` drop
a date's zone (``2017-12-01-05:00``) and fractions beyond microseconds.

While the adapter *loads a WSDL* (:func:`adapter_loading`), four kinds of WSDL that
real estates hold and plain zeep refuses load:

* well-known namespaces: zeep imports only SOAP 1.1's encoding schema by itself. A
  reference to another bundled namespace (SOAP 1.2's ``enc:``), or an ``xsd:import``
  of one with no ``schemaLocation`` or a remote one, now loads the bundled schema.
* chameleon includes: a schema pulled in by ``xsd:include`` with no ``targetNamespace``
  takes the including schema's, and so do its unprefixed references. zeep gave them the
  default namespace in scope at the ``xsd:include`` (often WSDL's own), and raised
  ``KeyError: 'targetNamespace'`` when the including schema was itself a chameleon
  (no ``targetNamespace`` attribute) with a default namespace. It is now handed the
  namespace the including document really has.
* restricted lists: a simple type derived by restriction from a list type (SOAP 1.2's
  own ``enc:arraySize``) became a list of its own name instead of its base's items,
  and resolving it raised ``AttributeError``. It now keeps the base's item type.
* transitive ``wsdl:import``: zeep looks a name up through the imports but stops at a
  document whose ``targetNamespace`` it already visited, so a portType (binding,
  message) two imports away in the same namespace was "not found". The walk now
  remembers documents, not namespaces.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from lxml import etree
from zeep.loader import parse_xml
from zeep.wsdl.messages.multiref import process_multiref
from zeep.wsdl.wsdl import Definition
from zeep.xsd.elements.indicators import OrderIndicator
from zeep.xsd.types import builtins
from zeep.xsd.types.collection import ListType
from zeep.xsd.types.unresolved import UnresolvedCustomType
from zeep.xsd.visitor import SchemaVisitor

__all__ = [
    "DYNAMIC_TYPES_MODULE",
    "PRIVATE_NAMES",
    "OrderIndicator",
    "PrivateName",
    "adapter_loading",
    "adapter_parsing",
    "array_type",
    "create_envelope",
    "deserialize_body",
    "deserialize_header",
    "dynamic_type_key",
    "forward_envelope",
    "install_fixes",
    "parse_document",
    "parse_reply",
    "picklable_state",
    "resolve_multiref",
    "schema_locations",
    "value_class",
    "value_class_owner",
    "wsdl_definitions",
]

Kind = Literal[
    "method",
    "function",
    "class",
    "property",
    "cached property",
    "class attribute",
    "instance attribute",
    "module name",
]


@dataclass(frozen=True)
class PrivateName:
    """One private zeep name this module relies on.

    ``owner`` is ``module:Class`` (or a module); a method or function is called with
    ``arity`` positional arguments (after ``self``) and the ``keywords``.
    """

    owner: str
    name: str
    kind: Kind
    why: str
    arity: int = 0
    keywords: tuple[str, ...] = ()


DYNAMIC_TYPES_MODULE = "zeep.xsd.dynamic_types"
_BINDING = "zeep.wsdl.bindings.soap:SoapBinding"
_COMPLEX = "zeep.xsd.types.complex:ComplexType"
_VISITOR = "zeep.xsd.visitor:SchemaVisitor"

PRIVATE_NAMES: tuple[PrivateName, ...] = (
    PrivateName(
        _BINDING, "_create", "method", "envelope and HTTP headers", 3, ("client", "options")
    ),
    PrivateName(
        "zeep.wsdl.messages.soap:DocumentMessage",
        "_deserialize_body",
        "method",
        "a document reply's Body values",
        1,
    ),
    PrivateName(
        "zeep.wsdl.messages.soap:RpcMessage",
        "_deserialize_body",
        "method",
        "an rpc reply's Body values",
        1,
    ),
    PrivateName(
        "zeep.wsdl.messages.soap:SoapMessage",
        "_deserialize_headers",
        "method",
        "a reply's Header values",
        1,
    ),
    PrivateName(
        "zeep.loader", "parse_xml", "function", "zeep's hardened XML parser", 2, ("settings",)
    ),
    PrivateName(
        "zeep.wsdl.wsdl:Document",
        "_definitions",
        "instance attribute",
        "every imported WSDL document",
    ),
    PrivateName(
        "zeep.xsd.schema:SchemaDocument",
        "_location",
        "instance attribute",
        "where an XSD came from",
    ),
    PrivateName(_COMPLEX, "_array_type", "property", "a SOAP-ENC array's arrayType"),
    PrivateName(_COMPLEX, "_value_class", "cached property", "dropped before pickling"),
    PrivateName(_COMPLEX, "_array_class", "cached property", "dropped before pickling"),
    PrivateName(_COMPLEX, "_xsd_name", "class attribute", "key of a re-created type class"),
    PrivateName(
        "zeep.xsd.valueobjects:CompoundValue",
        "_xsd_type",
        "class attribute",
        "the type a value class belongs to (set on each value class, not on CompoundValue)",
    ),
    PrivateName(
        "zeep.xsd.visitor",
        DYNAMIC_TYPES_MODULE,
        "module name",
        "module of the classes zeep makes per schema type",
    ),
    PrivateName(
        "zeep.xsd.elements.indicators",
        "OrderIndicator",
        "class",
        "base of sequence, all and choice",
    ),
    PrivateName(
        "zeep.xsd.types.builtins:String",
        "parse_xmlelement",
        "method",
        "wrapped by the empty-string fix",
        1,
    ),
    PrivateName(
        "zeep.wsdl.messages.multiref",
        "process_multiref",
        "function",
        "multi-reference values resolved in place (module not exported)",
        1,
    ),
    PrivateName(_VISITOR, "_create_qname", "method", "wrapped by the well-known fix", 1),
    PrivateName(_VISITOR, "visit_import", "method", "wrapped by the well-known fix", 2),
    PrivateName(_VISITOR, "visit_include", "method", "wrapped by the chameleon fix", 2),
    PrivateName(_VISITOR, "visitors", "class attribute", "the dispatch table of visit_*"),
    PrivateName(
        _VISITOR, "_retrieve_data", "method", "an included schema, read ahead", 1, ("base_url",)
    ),
    PrivateName(
        "zeep.xsd.schema:SchemaDocument",
        "_base_url",
        "instance attribute",
        "where an include's relative location is resolved from",
    ),
    PrivateName(
        "zeep.wsdl.wsdl:Definition", "get", "method", "wrapped by the transitive-import fix", 2
    ),
    PrivateName(
        "zeep.xsd.types.unresolved:UnresolvedCustomType",
        "resolve",
        "method",
        "wrapped by the list-restriction fix",
    ),
)
_CACHED_CLASSES = ("_value_class", "_array_class")


# -- a call: envelope out, values in -------------------------------------------------


def create_envelope(
    binding: Any,
    operation: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    client: Any,
    address: str,
) -> tuple[Any, dict[str, str]]:
    """The envelope (lxml) and HTTP headers zeep builds for one call to ``address``."""
    envelope, headers = binding._create(
        operation, args, kwargs, client=client, options={"address": address}
    )
    return envelope, dict(headers)


def forward_envelope(
    binding: Any, operation: str, envelope: Any, *, client: Any, address: str
) -> tuple[Any, dict[str, str]]:
    """A request envelope written elsewhere (a client's, passed on as it came) made ready
    for ``binding``'s ``operation`` as :func:`create_envelope` makes zeep's own: the
    operation's HTTP headers, then WS-Addressing, the client's plugins, its WS-Security
    and its extra HTTP headers, in zeep's order."""
    from zeep import plugins, wsa

    operation_obj = binding.get(operation)
    action = operation_obj.soapaction
    if binding.nsmap["soap-env"] == "http://www.w3.org/2003/05/soap-envelope":
        content_type = "application/soap+xml; charset=utf-8"
        headers = {"Content-Type": f'{content_type}; action="{action}"' if action else content_type}
    else:
        headers = {"SOAPAction": f'"{action}"' if action else '""'}
        headers["Content-Type"] = "text/xml; charset=utf-8"
    options = {"address": address}
    if operation_obj.abstract.wsa_action:
        envelope, headers = wsa.WsAddressingPlugin().egress(
            envelope, headers, operation_obj, options
        )
    envelope, headers = plugins.apply_egress(client, envelope, headers, operation_obj, options)
    for wsse in client.wsse if isinstance(client.wsse, list) else [client.wsse]:
        if wsse is not None:
            envelope, headers = wsse.apply(envelope, headers)
    if client.settings.extra_http_headers:
        headers.update(client.settings.extra_http_headers)
    return envelope, dict(headers)


def parse_reply(content: bytes, transport: Any, settings: Any) -> Any:
    """The reply parsed by zeep's parser with the client's ``settings``."""
    # zeep annotates ``str`` but parses bytes (lxml's fromstring), as its own transport passes.
    return parse_xml(content, transport, settings=settings)  # type: ignore[arg-type]


def parse_document(content: bytes, transport: Any, settings: Any) -> Any:
    """A fetched document (a WSDL, say) parsed as zeep parses it, with ``settings``."""
    return parse_reply(content, transport, settings)


def deserialize_body(message: Any, body: Any) -> Any:
    """The values of a reply's ``soap-env:Body`` element for the output ``message``."""
    return message._deserialize_body(body)["body"]


def resolve_multiref(body: Any) -> None:
    """Replace each ``href`` accessor in a reply's Body by the value it refers to."""
    process_multiref(body)


def deserialize_header(message: Any, header: Any) -> Any:
    """The values of a reply's ``soap-env:Header`` element (None when there is none)."""
    return message._deserialize_headers(header).get("header")


# -- facts about a loaded WSDL -------------------------------------------------------


def wsdl_definitions(document: Any) -> list[Any]:
    """Every WSDL document (``Definition``) read for ``document``, imports included."""
    return list(document._definitions.values())


def schema_locations(document: Any) -> list[str]:
    """Where each XSD document of ``document``'s types came from (known ones only)."""
    return [str(d._location) for d in document.types.documents if d._location]


def array_type(xsd_type: Any) -> Any:
    """The ``wsdl:arrayType`` attribute of a SOAP-ENC array type, else None."""
    return getattr(xsd_type, "_array_type", None)


# -- pickling support for the on-disk cache ------------------------------------------


def picklable_state(xsd_type: Any) -> dict[str, Any]:
    """A complex type's instance state without the value classes zeep cached on it."""
    return {k: v for k, v in vars(xsd_type).items() if k not in _CACHED_CLASSES}


def value_class_owner(cls: type[Any]) -> Any:
    """The complex type a zeep value class was made for, or None for other classes."""
    return vars(cls).get("_xsd_type")


def value_class(xsd_type: Any) -> type[Any]:
    """The value class of a complex type (made on first use)."""
    cls: type[Any] = xsd_type._value_class
    return cls


def dynamic_type_key(attrs: dict[str, Any]) -> str:
    """What tells apart the classes zeep makes per schema type, beyond name and bases."""
    return str(attrs.get("_xsd_name"))


# -- the fixes -------------------------------------------------------------------------

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_EMPTY_IS_TEXT: ContextVar[bool] = ContextVar("strangler_zeep_empty_is_text", default=False)
#: Inside adapter_loading(): well-known namespace → the URL its bundled schema answers.
_LOADING: ContextVar[Mapping[str, str] | None] = ContextVar("strangler_zeep_loading", default=None)
_XSD_IMPORT = "{http://www.w3.org/2001/XMLSchema}import"
_install_lock = threading.Lock()
_installed = False


def install_fixes() -> None:
    """Wrap zeep's methods once per process (idempotent, thread-safe).

    Installing changes nothing by itself: each fix holds only inside
    :func:`adapter_parsing` or :func:`adapter_loading`.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        _install_empty_string_fix()
        _install_lexical_dates_fix()
        _install_well_known_fix()
        _install_chameleon_fix()
        _install_transitive_import_fix()
        _install_list_restriction_fix()
        _installed = True


@contextlib.contextmanager
def adapter_parsing() -> Iterator[None]:
    """Within the block (this thread or task only), empty string elements read as ``""``
    and dates and times as written."""
    if not _installed:
        install_fixes()
    token = _EMPTY_IS_TEXT.set(True)
    try:
        yield
    finally:
        _EMPTY_IS_TEXT.reset(token)


@contextlib.contextmanager
def adapter_loading(well_known: Mapping[str, str]) -> Iterator[None]:
    """Within the block (this thread or task only), the loading fixes hold.

    ``well_known`` maps a namespace to the URL its bundled schema is loaded from.
    """
    if not _installed:
        install_fixes()
    token = _LOADING.set(dict(well_known))
    try:
        yield
    finally:
        _LOADING.reset(token)


def _install_empty_string_fix() -> None:
    original = builtins.String.parse_xmlelement

    def parse_xmlelement(self: Any, xmlelement: Any, *args: Any, **kwargs: Any) -> Any:
        if _EMPTY_IS_TEXT.get() and xmlelement.text is None and len(xmlelement) == 0:
            return None if xmlelement.get(_XSI_NIL) in ("true", "1") else ""
        return original(self, xmlelement, *args, **kwargs)

    # The fix itself: a wrapper that defers to zeep outside adapter_parsing().
    builtins.String.parse_xmlelement = parse_xmlelement  # type: ignore[method-assign]


def _install_lexical_dates_fix() -> None:
    """xsd:date and xsd:time read as written: zeep's ``date``/``time`` lose the zone."""
    for cls in (builtins.Date, builtins.Time):
        original = cls.pythonvalue

        def pythonvalue(self: Any, value: Any, _original: Any = original) -> Any:
            if _EMPTY_IS_TEXT.get() and isinstance(value, str):
                return value.strip()  # whiteSpace="collapse" (a date has no inner spaces)
            return _original(self, value)

        cls.pythonvalue = pythonvalue  # type: ignore[method-assign]


def _install_well_known_fix() -> None:
    create_qname = SchemaVisitor._create_qname
    visit_import = SchemaVisitor.visit_import

    def _create_qname(self: Any, name: Any) -> Any:
        well_known = _LOADING.get()
        if well_known:
            namespace = etree.QName(name).namespace
            location = well_known.get(namespace or "")
            # What zeep does for SOAP-ENC 1.1 (its AUTO_IMPORT_NAMESPACES), for each bundled one.
            if location and not self.document.is_imported(namespace):
                node = etree.Element(_XSD_IMPORT, namespace=namespace, schemaLocation=location)
                self.visit_import(node, None)
        return create_qname(self, name)

    def _visit_import(self: Any, node: Any, parent: Any) -> Any:
        well_known = _LOADING.get()
        location = node.get("schemaLocation")
        bundled = (well_known or {}).get(node.get("namespace") or "")
        if bundled and location != bundled and (not location or _remote(location)):
            node = copy.copy(node)
            node.set("schemaLocation", bundled)
        return visit_import(self, node, parent)

    SchemaVisitor._create_qname = _create_qname  # type: ignore[method-assign]
    _replace_visitor(visit_import, _visit_import)


def _remote(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


def _install_chameleon_fix() -> None:
    visit_include = SchemaVisitor.visit_include

    def _visit_include(self: Any, node: Any, parent: Any) -> Any:
        location = node.get("schemaLocation")
        if _LOADING.get() is None or not location:
            return visit_include(self, node, parent)
        included = self._retrieve_data(location, base_url=self.document._base_url)
        if included.get("targetNamespace"):  # not a chameleon: zeep's own reading
            return visit_include(self, node, parent)
        # zeep gives a chameleon the default namespace in scope at <include> (else the
        # parent's targetNamespace attribute); hand it stand-ins that carry the namespace
        # the including document really has, or none (a no-namespace schema) at all.
        namespace = self.document.namespace
        nsmap: dict[str | None, str] = {None: namespace} if namespace else {}
        stand_in = etree.Element(node.tag, nsmap=cast(Any, nsmap), schemaLocation=location)
        including = etree.Element(parent.tag)
        if namespace:
            including.set("targetNamespace", namespace)
        return visit_include(self, stand_in, including)

    _replace_visitor(visit_include, _visit_include)


def _replace_visitor(original: Any, wrapper: Any) -> None:
    """Put ``wrapper`` where zeep finds ``original``: the method and the dispatch table."""
    setattr(SchemaVisitor, original.__name__, wrapper)
    for tag, function in list(SchemaVisitor.visitors.items()):
        if function is original:
            SchemaVisitor.visitors[tag] = wrapper


def _install_transitive_import_fix() -> None:
    get = Definition.get

    def _get(self: Any, name: str, key: Any, _processed: Any = None) -> Any:
        if _LOADING.get() is None:
            return get(self, name, key, _processed)
        return _lookup(self, name, key, set())

    def _lookup(definition: Any, name: str, key: Any, seen: set[int]) -> Any:
        # zeep's own walk (depth first, then the local name as a fallback, #356), with
        # the documents already visited remembered instead of their namespaces.
        container = getattr(definition, name)
        if key in container:
            return container[key]
        if id(definition) not in seen:
            seen.add(id(definition))
            for imported in definition.imports.values():
                with contextlib.suppress(IndexError):
                    return _lookup(imported, name, key, seen)
                with contextlib.suppress(IndexError):
                    return _lookup(imported, name, etree.QName(key).localname, seen)
        raise IndexError(f"No definition {key!r} in {name!r} found")

    Definition.get = _get  # type: ignore[method-assign]


def _install_list_restriction_fix() -> None:
    resolve = UnresolvedCustomType.resolve

    def _resolve(self: Any) -> Any:
        if _LOADING.get() is not None:
            base = self.base_type.resolve()
            if isinstance(base, ListType):  # zeep would pass the qname as the item type
                attributes = {"__module__": DYNAMIC_TYPES_MODULE}
                return type(self.name, (type(base),), attributes)(base.item_type)
        return resolve(self)

    UnresolvedCustomType.resolve = _resolve  # type: ignore[method-assign]
