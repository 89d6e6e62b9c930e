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

The fix: zeep reads an empty element of a simple type as ``None`` whatever the type.
For ``xsd:string`` and the types derived from it an empty element is the empty
string; only ``xsi:nil="true"`` means no value. Without it, ``""`` sent by a legacy
system came back as ``null``, and empty strings inside SOAP-ENC arrays were dropped,
shifting the positions of the others. :func:`install_fixes` wraps zeep's method once
(the adapter calls it when it is built); the new reading holds only inside
:func:`adapter_parsing`, a context variable the adapter sets around its own parsing,
so any other zeep client in the process keeps zeep's own behaviour.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from zeep.loader import parse_xml
from zeep.xsd.elements.indicators import OrderIndicator
from zeep.xsd.types import builtins

__all__ = [
    "DYNAMIC_TYPES_MODULE",
    "PRIVATE_NAMES",
    "OrderIndicator",
    "PrivateName",
    "adapter_parsing",
    "array_type",
    "create_envelope",
    "deserialize_body",
    "deserialize_header",
    "dynamic_type_key",
    "install_fixes",
    "parse_reply",
    "picklable_state",
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


def parse_reply(content: bytes, transport: Any, settings: Any) -> Any:
    """The reply parsed by zeep's parser with the client's ``settings``."""
    # zeep annotates ``str`` but parses bytes (lxml's fromstring), as its own transport passes.
    return parse_xml(content, transport, settings=settings)  # type: ignore[arg-type]


def deserialize_body(message: Any, body: Any) -> Any:
    """The values of a reply's ``soap-env:Body`` element for the output ``message``."""
    return message._deserialize_body(body)["body"]


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


# -- the empty-string fix ------------------------------------------------------------

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_EMPTY_IS_TEXT: ContextVar[bool] = ContextVar("strangler_zeep_empty_is_text", default=False)
_install_lock = threading.Lock()
_installed = False


def install_fixes() -> None:
    """Wrap zeep's string parsing once per process (idempotent, thread-safe).

    Installing changes nothing by itself: the fix holds only inside :func:`adapter_parsing`.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        original = builtins.String.parse_xmlelement

        def parse_xmlelement(self: Any, xmlelement: Any, *args: Any, **kwargs: Any) -> Any:
            if _EMPTY_IS_TEXT.get() and xmlelement.text is None and len(xmlelement) == 0:
                return None if xmlelement.get(_XSI_NIL) in ("true", "1") else ""
            return original(self, xmlelement, *args, **kwargs)

        # The fix itself: a wrapper that defers to zeep outside adapter_parsing().
        builtins.String.parse_xmlelement = parse_xmlelement  # type: ignore[method-assign]
        _installed = True


@contextlib.contextmanager
def adapter_parsing() -> Iterator[None]:
    """Within the block (this thread or task only), empty string elements read as ``""``."""
    if not _installed:
        install_fixes()
    token = _EMPTY_IS_TEXT.set(True)
    try:
        yield
    finally:
        _EMPTY_IS_TEXT.reset(token)
