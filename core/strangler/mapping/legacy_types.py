"""What a legacy pydantic model's field holds: an object, an array or a scalar.

Adapters describe a legacy message with pydantic models (generated from a
WSDL, from RPC signatures or the spec). :func:`read_type` takes a field's
annotation apart so the mapping can rebuild it in modern shape;
:func:`stored_kind` says how a scalar is stored, as codecs want to know;
:func:`modern_annotation` is the Python type of a converted value;
:func:`array_of` reads an ``ArrayOfX`` wrapper as the array it stands for.
"""

from __future__ import annotations

import datetime as dt
import decimal
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, WithJsonSchema

from strangler.mapping.codecs import Codec, StoredKind

__all__ = ["LegacyType", "array_of", "modern_annotation", "read_type", "stored_kind"]

DECIMAL = Annotated[
    decimal.Decimal,
    WithJsonSchema({"type": ["number", "string"], "format": "decimal"}, mode="validation"),
    WithJsonSchema({"type": "string", "format": "decimal"}, mode="serialization"),
]
"""A decimal: taken as a number or text, answered as exact text."""


@dataclass(frozen=True)
class LegacyType:
    """One annotation taken apart: ``kind``, nullability, and what it holds."""

    kind: Literal["object", "array", "scalar"]
    annotation: Any
    nullable: bool
    model: type[BaseModel] | None = None
    item: LegacyType | None = None
    metadata: tuple[Any, ...] = ()


def _split_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        if len(rest) < len(args):
            if len(rest) == 1:
                return rest[0], True
            return Union[tuple(rest)], True  # noqa: UP007
    return annotation, False


def _split_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        return base, tuple(meta)
    return annotation, ()


def read_type(annotation: Any, metadata: tuple[Any, ...] = ()) -> LegacyType:
    """``annotation`` (with a field's own ``metadata``) as a :class:`LegacyType`.

    Its ``annotation`` is the type without ``None`` (``nullable`` says whether it was there).
    """
    core, nullable = _split_none(annotation)
    base, meta = _split_annotated(core)
    meta = (*meta, *metadata)
    bare = Annotated[(base, *meta)] if meta else base
    if isinstance(base, type) and issubclass(base, BaseModel):
        return LegacyType("object", bare, nullable, model=base, metadata=meta)
    if get_origin(base) is list:
        (item,) = get_args(base) or (Any,)
        return LegacyType("array", bare, nullable, item=read_type(item), metadata=meta)
    return LegacyType("scalar", bare, nullable)


def stored_kind(legacy: LegacyType) -> StoredKind:
    """How a scalar is stored, as far as a codec cares."""
    base, _ = _split_annotated(_split_none(legacy.annotation)[0])
    if get_origin(base) is Literal:
        values = get_args(base)
        return "integer" if all(isinstance(v, int) for v in values) else "text"
    order: list[tuple[type, StoredKind]] = [
        (bool, "boolean"), (int, "integer"), (str, "text"), (decimal.Decimal, "decimal"),
        (float, "float"), (dt.datetime, "datetime"), (dt.date, "date"), (dt.time, "time"),
    ]  # fmt: skip
    for python, kind in order:
        if isinstance(base, type) and issubclass(base, python):
            return kind
    return "other"


def modern_annotation(codec: Codec, legacy: Any) -> Any:
    """The type of a value ``codec`` decodes (``legacy`` where the kind is unchanged)."""
    if codec.spec.encoding is None:
        return legacy
    kinds: dict[str, Any] = {
        "date": dt.date,
        "time": dt.time,
        "datetime": dt.datetime,
        "datetime_tz": AwareDatetime,
        "decimal": DECIMAL,
        "boolean": bool,
        "integer": int,
        "float": float,
    }
    if codec.kind == "string":
        return Literal[codec.labels] if codec.labels else str
    return kinds.get(codec.kind, legacy)


def array_of(legacy: LegacyType) -> tuple[str, LegacyType] | None:
    """An ``ArrayOfX`` type (one field, repeated): its child's name, and the array
    it stands for (null where the wrapper or the child may be null)."""
    if legacy.kind != "object" or legacy.model is None:
        return None
    fields = list(legacy.model.model_fields.items())
    if len(fields) != 1:
        return None
    name, info = fields[0]
    inner = read_type(info.annotation, tuple(info.metadata))
    if inner.kind != "array":
        return None
    nullable = legacy.nullable or inner.nullable
    return info.alias or name, LegacyType(
        "array", inner.annotation, nullable, item=inner.item, metadata=inner.metadata
    )
