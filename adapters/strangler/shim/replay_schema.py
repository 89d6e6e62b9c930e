"""What a WSDL's schema says about comparing its messages.

Read once with zeep (through the SOAP adapter's hardened, cached loading):

* which elements hold an ``xs:all`` group, whose children may come in any order
  (by element name; by type name for ``xsi:type``; by part name for rpc parts);
* the simple type of each leaf element, so that ``1`` and ``true`` are the
  same ``xs:boolean`` and ``12.0`` is not an ``xs:int``.

A name declared more than once with different content (an unqualified
``item`` in two types, say) keeps the strict reading: ordered, compared as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from strangler.shim.canonical import Rules, ValueKind

__all__ = ["schema_rules"]


def schema_rules(source: str, base: Rules, cache_dir: Path | None = None) -> Rules:
    """``base`` with the ``xs:all`` groups and leaf types of the WSDL at ``source``.

    Raises :class:`~strangler.errors.SystemLoadError` when the WSDL cannot be read.
    """
    from strangler.adapters.soap.loading import load_errors, open_wsdl
    from strangler.spec.soap import SoapSystem

    location = source if "://" in source else str(Path(source).resolve())
    system = SoapSystem.model_validate({"kind": "soap", "wsdl": location})
    with load_errors("replay", location):
        client, _, _ = open_wsdl(system, cache_dir)
    walker = _Walker()
    walker.document(client.wsdl)
    return Rules(
        ignore=base.ignore,
        unordered=base.unordered,
        unordered_names=frozenset(k for k, v in walker.all_names.items() if v == {True}),
        unordered_types=frozenset(walker.all_types),
        value_kinds={k: next(iter(v)) for k, v in walker.kinds.items() if len(v) == 1},
    )


class _Walker:
    def __init__(self) -> None:
        self.all_names: dict[str, set[bool]] = {}
        self.all_types: set[str] = set()
        self.kinds: dict[str, set[ValueKind]] = {}
        self._seen: set[int] = set()

    def document(self, wsdl: Any) -> None:
        types = wsdl.types
        for element in types.elements:
            if getattr(element, "type", None) is not None:
                self.element(element)
        for xsd_type in types.types:
            self.complex(xsd_type)
        for message in wsdl.messages.values():
            for name, part in getattr(message, "parts", {}).items():
                if getattr(part, "element", None) is None and part.type is not None:
                    self.named(str(name), part.type)

    def element(self, element: Any) -> None:
        qname = getattr(element, "qname", None)
        if qname is None:  # xs:any
            return
        self.named(str(qname), element.type)

    def named(self, name: str, xsd_type: Any) -> None:
        from zeep.xsd.types.complex import ComplexType

        if isinstance(xsd_type, ComplexType):
            self.all_names.setdefault(name, set()).add(_is_all(xsd_type))
            self.complex(xsd_type)
        else:
            self.kinds.setdefault(name, set()).add(_kind(xsd_type))

    def complex(self, xsd_type: Any) -> None:
        from zeep.xsd.types.complex import ComplexType

        if not isinstance(xsd_type, ComplexType) or id(xsd_type) in self._seen:
            return
        self._seen.add(id(xsd_type))
        if _is_all(xsd_type) and xsd_type.qname is not None:
            self.all_types.add(str(xsd_type.qname))
        try:
            children = list(xsd_type.elements)
        except Exception:  # zeep cannot flatten every group (a recursive reference)
            return
        for _, element in children:
            if getattr(element, "type", None) is not None:
                self.element(element)


def _is_all(xsd_type: Any) -> bool:
    from zeep import xsd

    indicator = getattr(xsd_type, "_element", None)
    if isinstance(indicator, xsd.Group):
        indicator = getattr(indicator, "child", None)
    return isinstance(indicator, xsd.All)


def _kind(xsd_type: Any) -> ValueKind:
    from zeep.xsd.types import builtins

    checks: tuple[tuple[type[Any] | tuple[type[Any], ...], ValueKind], ...] = (
        (builtins.Boolean, "boolean"),
        (builtins.Integer, "integer"),
        (builtins.Decimal, "decimal"),
        ((builtins.Float, builtins.Double), "float"),
        (builtins.String, "string"),
        (builtins.DateTime, "datetime"),
        ((builtins.Date, builtins.Time), "temporal"),
        (
            (
                builtins.Duration,
                builtins.QName,
                builtins.AnyURI,
                builtins.Base64Binary,
                builtins.HexBinary,
            ),
            "token",
        ),
    )
    for classes, kind in checks:
        if isinstance(xsd_type, classes):
            return kind
    return "string"
