"""Codecs: one field's stored legacy value ⇄ its modern value, both ways.

A :class:`Codec` is built once per field from its :class:`~.spec.FieldMap`
and the kind the legacy system stores it as. ``decode`` reads a stored value
(``"16.05.2024"`` → ``date(2024, 5, 16)``), ``encode`` writes a modern one back
(``ValueError`` with a message fit for the caller when it cannot be written),
``sortable``/``comparable`` let a database evaluate filters and sorts on the
stored column (see :mod:`.pushdown`), ``schema`` and ``describe`` document the
modern value in OpenAPI. Modern values are Python values: ``date``, ``time``,
``datetime``, ``Decimal``, ``bool``, ``str``, ``int``.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from strangler.mapping.formats import TextFormat, from_python, parse_format, to_python
from strangler.mapping.pushdown import (
    Arithmetic,
    AsInteger,
    Cases,
    Expr,
    NullIf,
    RTrim,
    Slices,
    Stored,
)
from strangler.mapping.spec import FieldMap

__all__ = ["BrokenValue", "Codec", "ModernKind", "StoredKind", "build_codec"]

StoredKind = Literal[
    "integer", "text", "decimal", "float", "boolean", "date", "time", "datetime", "other"
]
"""How the legacy system stores a field, as far as decoding cares."""

ModernKind = Literal[
    "integer", "decimal", "float", "boolean", "string", "date", "time", "datetime",
    "datetime_tz", "other",
]  # fmt: skip
"""What a field becomes; the names the database adapter's column kinds use."""

_AS_MODERN: dict[StoredKind, ModernKind] = {
    "integer": "integer", "text": "string", "decimal": "decimal", "float": "float",
    "boolean": "boolean", "date": "date", "time": "time", "datetime": "datetime", "other": "other",
}  # fmt: skip


class BrokenValue(ValueError):
    """A stored value that breaks the field's declared encoding."""


@dataclass(frozen=True)
class Codec:
    """How one field is decoded, encoded, compared in SQL and documented."""

    spec: FieldMap
    stored: StoredKind
    kind: ModernKind
    scale: int | None = None
    labels: tuple[str, ...] | None = None
    _fmt: TextFormat | None = field(default=None, repr=False)
    _zone: ZoneInfo | None = field(default=None, repr=False)
    _codes: dict[str, str] = field(default_factory=dict, repr=False)
    _nulls: frozenset[str] = field(default_factory=frozenset, repr=False)

    # -- reading --------------------------------------------------------------

    def decode(self, stored: Any) -> Any:
        """The modern value of a stored one; ``BrokenValue`` when it breaks the encoding."""
        if stored is None:
            return None
        value = self._unpad(stored)
        if self._nulls and _key(value) in self._nulls:
            return None
        try:
            return self._decode(value)
        except (ValueError, ArithmeticError, TypeError) as exc:
            raise BrokenValue(f"stored {stored!r} is not {self.describe_encoding()}") from exc

    def _decode(self, value: Any) -> Any:
        spec = self.spec
        if self._fmt is not None and self._zone is None:
            kind: Literal["date", "time", "datetime"] = (
                "date" if spec.date else "time" if spec.time else "datetime"
            )
            return to_python(kind, self._fmt.read(self._text(value)))
        if self._zone is not None:
            naive = (
                to_python("datetime", self._fmt.read(self._text(value)))
                if self._fmt is not None
                else _naive(value)
            )
            assert isinstance(naive, dt.datetime)
            return naive.replace(tzinfo=self._zone)
        if spec.minor_units is not None:
            if isinstance(value, bool) or not isinstance(value, int | decimal.Decimal | str):
                raise ValueError("not an integer")
            number = decimal.Decimal(value)
            if number != number.to_integral_value():
                raise ValueError("not a whole number of minor units")
            exponent = decimal.Decimal(1).scaleb(-spec.minor_units)
            return number.scaleb(-spec.minor_units).quantize(exponent)
        if spec.flag is not None:
            key = _key(value)
            if key in self._flag_true:
                return True
            if key in self._flag_false:
                return False
            raise ValueError("not a declared flag value")
        if self._codes:
            label = self._codes.get(_key(value))
            if label is None:
                raise ValueError("not a declared code")
            return label
        return value

    def _text(self, value: Any) -> str:
        if isinstance(value, bool):
            raise ValueError("not text")
        if isinstance(value, int):
            assert self._fmt is not None
            return f"{value:0{self._fmt.width}d}" if value >= 0 else str(value)
        if isinstance(value, decimal.Decimal | float) and value == int(value):
            return self._text(int(value))
        return str(value)

    def _unpad(self, value: Any) -> Any:
        spec = self.spec
        if not isinstance(value, str):
            return value
        if spec.width is not None or self.stored == "text":
            if spec.align == "left":
                value = value.rstrip(spec.fill) if spec.fill != " " else value.rstrip(" ")
            else:
                value = value.lstrip(spec.fill) if spec.fill != " " else value.lstrip(" ")
        return value

    # -- writing --------------------------------------------------------------

    def encode(self, modern: Any) -> Any:
        """The stored form of a modern value; ``ValueError`` naming why it cannot be."""
        if modern is None:
            return self._null_sentinel()
        value = self._encode(modern)
        spec = self.spec
        if spec.width is not None and isinstance(value, str):
            if len(value) > spec.width:
                raise ValueError(f"longer than the {spec.width} characters the field holds")
            value = (
                value.ljust(spec.width, spec.fill)
                if spec.align == "left"
                else value.rjust(spec.width, spec.fill)
            )
        return value

    def _encode(self, modern: Any) -> Any:
        spec = self.spec
        if self._zone is not None:
            if not isinstance(modern, dt.datetime) or modern.tzinfo is None:
                raise ValueError("give a date-time with its offset (2024-05-16T10:30:00+02:00)")
            local = modern.astimezone(self._zone).replace(tzinfo=None)
            return self._write_parts(local) if self._fmt is not None else local
        if self._fmt is not None:
            return self._write_parts(modern)
        if spec.minor_units is not None:
            number = decimal.Decimal(modern).scaleb(spec.minor_units)
            if number != number.to_integral_value():
                raise ValueError(f"has more than {spec.minor_units} decimal places")
            whole = int(number)
            return whole if self.stored in ("integer", "decimal", "float") else str(whole)
        if spec.flag is not None:
            if not isinstance(modern, bool):
                raise ValueError("must be true or false")
            return self._typed(spec.flag["true" if modern else "false"][0])
        if self._codes:
            for code, label in self._codes.items():
                if label == modern:
                    return self._typed(code)
            raise ValueError(f"must be one of {', '.join(self._codes.values())}")
        return modern

    def _write_parts(self, value: Any) -> Any:
        assert self._fmt is not None
        text = self._fmt.write(from_python(value))
        return int(text) if self.stored in ("integer", "decimal", "float") else text

    def _typed(self, code: Any) -> Any:
        """A code from the spec in the stored column's type (``1`` for an integer flag)."""
        if self.stored == "integer" and isinstance(code, str) and code.lstrip("-").isdigit():
            return int(code)
        if self.stored == "boolean" and code in ("true", "false"):
            return code == "true"
        return code

    def _null_sentinel(self) -> Any:
        return self._typed(_text(self.spec.null_values[0])) if self.spec.null_values else None

    # -- pushing filters and sorts down ---------------------------------------

    def sortable(self) -> Expr:
        """An expression over the stored column that compares as the modern value does."""
        inner: Expr = Stored()
        spec = self.spec
        if self.stored == "text" and spec.align == "left" and spec.fill == " ":
            inner = RTrim(inner) if spec.width is not None or self._codes or spec.flag else inner
        expr = self._sortable(inner)
        if spec.null_values:
            nulls = tuple(self._typed(_text(v)) for v in spec.null_values)
            expr = NullIf(inner, nulls, expr)
        return expr

    def _sortable(self, inner: Expr) -> Expr:
        fmt = self._fmt
        if fmt is not None and not fmt.sorts_as_stored:
            if self.stored == "integer":
                width = fmt.width
                groups = []
                ordered = sorted(fmt.positions(), key=lambda p: _ORDER.index(p[0]))
                weight_digits = sum(w for _, _, w in ordered)
                for _part, at, w in ordered:
                    weight_digits -= w
                    groups.append((10 ** (width - at - w), 10**w, 10**weight_digits))
                return Arithmetic(inner, tuple(groups))
            ordered = sorted(fmt.positions(), key=lambda p: _ORDER.index(p[0]))
            return Slices(inner, tuple((at, w) for _, at, w in ordered))
        if self.spec.minor_units is not None and self.stored == "text":
            return AsInteger(inner)
        if self.spec.flag is not None:
            pairs = [(self._typed(v), 1) for v in self.spec.flag["true"]]
            pairs += [(self._typed(v), 0) for v in self.spec.flag["false"]]
            return Cases(inner, tuple(pairs))
        if self._codes:
            return Cases(inner, tuple((self._typed(c), label) for c, label in self._codes.items()))
        return inner

    def comparable(self, modern: Any) -> Any:
        """A modern value in the domain of :meth:`sortable` (``ValueError`` if it has none)."""
        if modern is None:
            return None
        fmt = self._fmt
        if self._zone is not None:
            return self._encode(modern)
        if fmt is not None and not fmt.sorts_as_stored:
            text = fmt.sort_text(from_python(modern))
            return int(text) if self.stored == "integer" else text
        if self.spec.flag is not None:
            if not isinstance(modern, bool):
                raise ValueError("must be true or false")
            return 1 if modern else 0
        if self._codes:
            return modern  # compared with the labels the CASE gives
        if self.spec.minor_units is not None:
            return int(self._encode(modern))
        return self._encode(modern)

    # -- documenting ----------------------------------------------------------

    def describe_encoding(self) -> str:
        spec = self.spec
        if self._zone is not None:
            stored = f"text {spec.datetime}" if spec.datetime else "a local timestamp"
            return f"{stored} in {spec.timezone}"
        for key in ("date", "time", "datetime"):
            if getattr(spec, key):
                stored = "an integer" if self.stored == "integer" else "text"
                return f"a {key} as {stored} {getattr(spec, key)}"
        if spec.minor_units is not None:
            return f"an amount in minor units (÷ 10^{spec.minor_units})"
        if spec.flag is not None:
            t, f = (", ".join(map(str, spec.flag[k])) for k in ("true", "false"))
            return f"a flag ({t} = true; {f} = false)"
        if self._codes:
            shown = ", ".join(f"{c} = {label}" for c, label in list(self._codes.items())[:20])
            return f"a code ({shown})"
        return f"{self.stored}"

    def describe(self, legacy_name: str) -> str:
        """The field's description: the legacy name and how it is stored."""
        parts = [f"Legacy field {legacy_name}, stored as {self.describe_encoding()}"]
        if self.spec.width is not None:
            parts.append(f"fixed width {self.spec.width}")
        if self.spec.null_values:
            parts.append("null when stored as " + ", ".join(repr(v) for v in self.spec.null_values))
        text = "; ".join(parts) + "."
        return f"{self.spec.description} ({text})" if self.spec.description else text

    @property
    def _flag_true(self) -> frozenset[str]:
        return frozenset(_key(v) for v in (self.spec.flag or {}).get("true", ()))

    @property
    def _flag_false(self) -> frozenset[str]:
        return frozenset(_key(v) for v in (self.spec.flag or {}).get("false", ()))


_ORDER = ("year", "month", "day", "hour", "minute", "second")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _key(value: Any) -> str:
    """A stored value as text for lookups: ``1``, ``1.0`` and ``Decimal('1')`` are ``'1'``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | decimal.Decimal) and value == int(value):
        return str(int(value))
    return str(value)


def _naive(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise ValueError("already carries an offset")
        return value
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    raise ValueError("not a timestamp")


def build_codec(
    spec: FieldMap, stored: StoredKind, *, labels: dict[str, str] | None = None
) -> Codec:
    """The codec of a field stored as ``stored`` (``ValueError`` when they do not fit).

    ``labels`` gives the codes of an ``enum_table`` once the adapter has read it.
    """
    fmt = zone = None
    kind: ModernKind = _AS_MODERN[stored]
    scale = None
    codes: dict[str, str] = {}
    for key in ("date", "time", "datetime"):
        text = getattr(spec, key)
        if text is not None:
            fmt = parse_format(text, key)
            kind = key
            if stored not in ("text", "integer", "decimal", "other"):
                raise ValueError(f"a {key} format applies to text or integer fields, not {stored}")
            if stored != "text" and not fmt.digits_only:
                raise ValueError(f"{text!r} has separators: the field must be text")
    if spec.timezone is not None:
        try:
            zone = ZoneInfo(spec.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {spec.timezone!r}") from None
        if fmt is None and stored not in ("datetime", "text"):
            raise ValueError("timezone applies to timestamps (or text with a datetime format)")
        kind = "datetime_tz"
    if spec.minor_units is not None:
        if stored not in ("integer", "decimal", "text"):
            raise ValueError(f"minor_units applies to integer fields, not {stored}")
        kind, scale = "decimal", spec.minor_units
    if spec.flag is not None:
        kind = "boolean"
    if spec.enum is not None or spec.enum_table is not None:
        codes = dict(spec.enum or labels or {})
        if not codes:
            raise ValueError("the code table holds no codes")
        kind = "string"
    if spec.width is not None and stored != "text":
        raise ValueError("width applies to text fields")
    return Codec(
        spec, stored, kind, scale, tuple(codes.values()) if codes else None,
        fmt, zone, codes, frozenset(_key(_text(v)) for v in spec.null_values),
    )  # fmt: skip
