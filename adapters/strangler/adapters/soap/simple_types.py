"""XSD simple types (as zeep resolves them) to Python types pydantic validates.

Facets that zeep drops (enumeration, pattern, lengths, bounds) are applied from
:class:`Facets`, which :mod:`.facets` reads from the schema itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema
from zeep import xsd

__all__ = ["Facets", "python_type"]


@dataclass(frozen=True)
class Facets:
    """Constraining facets of a simple type, as far as JSON Schema can say them."""

    enumeration: tuple[str, ...] = ()
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: decimal.Decimal | None = None
    maximum: decimal.Decimal | None = None
    documentation: str | None = None


# Bounds of the integer types, from XML Schema part 2, section 3.3.
_INT_BOUNDS: list[tuple[type[Any], int | None, int | None]] = [
    (xsd.UnsignedByte, 0, 255),
    (xsd.UnsignedShort, 0, 65535),
    (xsd.UnsignedInt, 0, 4294967295),
    (xsd.UnsignedLong, 0, 18446744073709551615),
    (xsd.PositiveInteger, 1, None),
    (xsd.NonNegativeInteger, 0, None),
    (xsd.Byte, -128, 127),
    (xsd.Short, -32768, 32767),
    (xsd.Int, -2147483648, 2147483647),
    (xsd.Long, -9223372036854775808, 9223372036854775807),
    (xsd.NegativeInteger, None, -1),
    (xsd.NonPositiveInteger, None, 0),
]

_DECIMAL = Annotated[
    decimal.Decimal,
    WithJsonSchema({"type": ["number", "string"], "format": "decimal"}, mode="validation"),
    WithJsonSchema({"type": "string", "format": "decimal"}, mode="serialization"),
]
_BASE64 = Annotated[bytes, WithJsonSchema({"type": "string", "contentEncoding": "base64"})]


def _lexical(fmt: str, pattern: str, description: str) -> Any:
    """A value kept as the legacy system wrote it, checked against its lexical space."""
    schema = {"type": "string", "format": fmt, "pattern": pattern, "description": description}
    return Annotated[str, Field(pattern=pattern), WithJsonSchema(schema)]


# xsd:date and xsd:time travel as written: Python's date has no place for a zone
# (``2017-12-01-05:00``), and the zone is the legacy system's to keep (XML Schema part 2,
# sections 3.2.8-9). Their formats are not JSON Schema's "date" and "time" (RFC 3339),
# which have no such zone or none at all.
_ZONE = r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
_DATE = _lexical(
    "xsd-date",
    rf"^-?([1-9][0-9]{{3,}}|0[0-9]{{3}})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]){_ZONE}$",
    "An xsd:date as written: YYYY-MM-DD, then an optional zone (Z, +hh:mm or -hh:mm).",
)
_TIME = _lexical(
    "xsd-time",
    rf"^(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|24:00:00(\.0+)?){_ZONE}$",
    "An xsd:time as written: hh:mm:ss with optional fractions, then an optional zone.",
)


def _formatted(fmt: str, pattern: str | None = None) -> Any:
    schema: dict[str, Any] = {"type": "string", "format": fmt}
    if pattern:
        schema["pattern"] = pattern
    return Annotated[str, WithJsonSchema(schema)]


def _int_bounds(xsd_type: Any) -> tuple[int | None, int | None]:
    for cls, low, high in _INT_BOUNDS:
        if isinstance(xsd_type, cls):
            return low, high
    return None, None


def _base(xsd_type: Any) -> Any:
    """The Python type for a zeep simple type, before facets."""
    if isinstance(xsd_type, xsd.ListType):
        return list[_base(xsd_type.item_type)]  # type: ignore[misc]
    if isinstance(xsd_type, xsd.UnionType):
        return str
    if isinstance(xsd_type, xsd.Boolean):
        return bool
    if isinstance(xsd_type, xsd.Integer):
        low, high = _int_bounds(xsd_type)
        return Annotated[int, Field(ge=low, le=high)] if (low, high) != (None, None) else int
    if isinstance(xsd_type, xsd.Decimal):
        return _DECIMAL
    if isinstance(xsd_type, xsd.Float | xsd.Double):
        return float
    if isinstance(xsd_type, xsd.DateTime):
        return dt.datetime
    if isinstance(xsd_type, xsd.Date):
        return _DATE
    if isinstance(xsd_type, xsd.Time):
        return _TIME
    if isinstance(xsd_type, xsd.Duration):
        return dt.timedelta
    if isinstance(xsd_type, xsd.Base64Binary):
        return _BASE64
    if isinstance(xsd_type, xsd.HexBinary):
        return _formatted("hex", "^([0-9a-fA-F]{2})*$")
    if isinstance(xsd_type, xsd.AnyURI):
        return _formatted("uri-reference")
    if isinstance(xsd_type, xsd.gYear | xsd.gYearMonth | xsd.gMonthDay | xsd.gDay | xsd.gMonth):
        return _formatted(type(xsd_type).__name__)
    if isinstance(xsd_type, xsd.String | xsd.QName | xsd.Notation):
        return str
    # xsd:anySimpleType and anything zeep could not resolve: any JSON scalar.
    return Any


def python_type(xsd_type: Any, facets: Facets | None = None) -> Any:
    """The annotated Python type for ``xsd_type`` with ``facets`` applied."""
    if isinstance(xsd_type, xsd.Integer) and facets is not None:
        low, high = _int_bounds(xsd_type)
        if facets.minimum is not None:
            low = int(facets.minimum) if low is None else max(low, int(facets.minimum))
        if facets.maximum is not None:
            high = int(facets.maximum) if high is None else min(high, int(facets.maximum))
        extra = (
            {"json_schema_extra": {"enum": [int(v) for v in facets.enumeration]}}
            if (facets.enumeration)
            else {}
        )
        return Annotated[int, Field(ge=low, le=high, **extra)]  # type: ignore[call-overload]
    base = _base(xsd_type)
    if facets is None:
        return base
    if facets.enumeration and base in (str, Any):
        return Literal[facets.enumeration]
    constraints: dict[str, Any] = {}
    if facets.pattern and base is str:
        constraints["pattern"] = facets.pattern
    if facets.min_length is not None and base is str:
        constraints["min_length"] = facets.min_length
    if facets.max_length is not None and base is str:
        constraints["max_length"] = facets.max_length
    if base is _DECIMAL or base is float:
        if facets.minimum is not None:
            constraints["ge"] = facets.minimum
        if facets.maximum is not None:
            constraints["le"] = facets.maximum
    if facets.enumeration:
        # Enumerated numbers and dates: keep the type, list the values.
        constraints["json_schema_extra"] = {"enum": list(facets.enumeration)}
    return Annotated[base, Field(**constraints)] if constraints else base
