"""A route's request and answer mapped between the public shape and a side's.

Field maps go through the mapping layer's codecs (:mod:`strangler.mapping.codecs`):
each entry is keyed by the side's field (a dotted path) and names the public
field after ``as``; the public request is *encoded* into the side's shape and
the side's answer *decoded* into the public one, as an adapter does between a
legacy system and its REST face. Only mapped fields cross. A callable
(``module:function``) gets the payload and returns the mapped one.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

from strangler.errors import InputProblem, InvalidInput, SpecError, SpecProblem, StranglerError
from strangler.mapping.codecs import BrokenValue, Codec, StoredKind, build_codec
from strangler.mapping.spec import FieldMap
from strangler.platform.registry import load
from strangler.spec.gateway import CallableMap, FieldsMap

__all__ = ["Shape", "answer_shape", "request_shape"]

Shape = Callable[[Any], Any]
"""Maps one payload (JSON-ready values) to another."""

_Path = tuple[str, ...]


def request_shape(spec: FieldsMap | CallableMap | None, where: str) -> Shape | None:
    """Public request → the side's (``None``: the payload goes as it is)."""
    return _shape(spec, where, to_side=True)


def answer_shape(spec: FieldsMap | CallableMap | None, where: str) -> Shape | None:
    """The side's answer → the public one (``None``: the answer goes as it is)."""
    return _shape(spec, where, to_side=False)


def _shape(spec: FieldsMap | CallableMap | None, where: str, *, to_side: bool) -> Shape | None:
    if spec is None:
        return None
    if isinstance(spec, CallableMap):
        try:
            function = load(spec.callable, what=f"{where}: {spec.callable}")
        except (ImportError, AttributeError) as exc:
            raise SpecError([SpecProblem("<spec>", None, where, str(exc))]) from exc
        if not callable(function):
            raise SpecError(
                [SpecProblem("<spec>", None, where, f"{spec.callable} is not callable")]
            )
        shape: Shape = function
        return shape
    fields: list[tuple[_Path, _Path, Codec]] = []
    for side_path, field in spec.fields.items():
        try:
            codec = build_codec(field, _stored_kind(field))
        except ValueError as exc:
            raise SpecError(
                [SpecProblem("<spec>", None, f"{where}.{side_path}", str(exc))]
            ) from exc
        public = field.name or side_path
        fields.append((tuple(side_path.split(".")), tuple(public.split(".")), codec))
    return _Encoder(fields) if to_side else _Decoder(fields)


class _Encoder:
    """Public → side: each mapped public field encoded into the side's field."""

    def __init__(self, fields: list[tuple[_Path, _Path, Codec]]) -> None:
        self.fields = fields

    def __call__(self, payload: Any) -> Any:
        if not isinstance(payload, dict):
            raise InvalidInput("the request must be a JSON object", [InputProblem("/", "object")])
        out: dict[str, Any] = {}
        for side, public, codec in self.fields:
            found, value = _get(payload, public)
            if not found:
                continue
            try:
                value = codec.encode(_modern_value(codec, value))
            except (ValueError, ArithmeticError, TypeError) as exc:
                where = "/" + "/".join(public)
                raise InvalidInput(f"{where}: {exc}", [InputProblem(where, str(exc))]) from None
            _put(out, side, value)
        return out


class _Decoder:
    """Side → public: each mapped side field decoded into the public field."""

    def __init__(self, fields: list[tuple[_Path, _Path, Codec]]) -> None:
        self.fields = fields

    def __call__(self, payload: Any) -> Any:
        if not isinstance(payload, dict):
            raise StranglerError("the side answered something other than a JSON object")
        out: dict[str, Any] = {}
        for side, public, codec in self.fields:
            found, value = _get(payload, side)
            if not found:
                continue
            try:
                value = codec.decode(value)
            except BrokenValue as exc:
                raise StranglerError(f"{'.'.join(side)}: {exc}") from None
            _put(out, public, value)
        return out


def _stored_kind(field: FieldMap) -> StoredKind:
    if field.date or field.time or field.datetime or field.width or field.timezone:
        return "text"
    if field.minor_units is not None:
        return "integer"
    return "other"


def _modern_value(codec: Codec, value: Any) -> Any:
    """JSON's text for dates, times and decimals as the Python value a codec writes."""
    if isinstance(value, str):
        if codec.kind == "date":
            return dt.date.fromisoformat(value)
        if codec.kind == "time":
            return dt.time.fromisoformat(value)
        if codec.kind in ("datetime", "datetime_tz"):
            return dt.datetime.fromisoformat(value)
        if codec.kind == "decimal":
            return decimal.Decimal(value)
    if codec.kind == "decimal" and isinstance(value, int | float) and not isinstance(value, bool):
        return decimal.Decimal(str(value))
    return value


def _get(record: dict[str, Any], path: _Path) -> tuple[bool, Any]:
    value: Any = record
    for step in path:
        if not isinstance(value, dict) or step not in value:
            return False, None
        value = value[step]
    return True, value


def _put(record: dict[str, Any], path: _Path, value: Any) -> None:
    for step in path[:-1]:
        record = record.setdefault(step, {})
    record[path[-1]] = value
