"""A record's shape: which legacy field becomes which modern one, and how.

:class:`Shape` is built once per table, message or operation from the legacy
field names, the spec's :class:`~.spec.FieldMap` entries and the system's
naming convention; every part then reads and writes records through it
(REST, events, ETL, the gateway's legacy side, the SOAP shim in reverse).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from strangler.mapping.broken import MISSING, decode_value
from strangler.mapping.codecs import Codec, StoredKind, build_codec
from strangler.mapping.naming import Naming, apply_naming
from strangler.mapping.spec import FieldMap

__all__ = ["FieldShape", "Shape", "build_shape"]


@dataclass(frozen=True)
class FieldShape:
    """One field: its legacy and modern names, and its codec (None: renamed only)."""

    legacy: str
    modern: str
    codec: Codec | None
    spec: FieldMap
    naming: Naming = "keep"

    @property
    def raw_name(self) -> str | None:
        """The side field that carries a broken stored value (policy ``raw``), spelled
        in the naming convention (``orderDateRaw``, ``order_date_raw``)."""
        if self.spec.on_broken != "raw":
            return None
        if self.naming in ("camelCase", "PascalCase"):
            return self.modern + "Raw"
        if self.naming == "snake_case" or "_" in self.modern or self.modern.islower():
            return self.modern + "_raw"
        return self.modern + "Raw"


@dataclass(frozen=True)
class Shape:
    """The fields of one record, in the legacy order."""

    system: str
    name: str
    modern_name: str
    fields: tuple[FieldShape, ...]

    def by_legacy(self, name: str) -> FieldShape | None:
        return next((f for f in self.fields if f.legacy == name), None)

    def by_modern(self, name: str) -> FieldShape | None:
        return next((f for f in self.fields if f.modern == name), None)

    @property
    def identity(self) -> bool:
        """True when nothing is renamed or converted."""
        return all(f.codec is None and f.legacy == f.modern for f in self.fields)

    def decode(self, record: Mapping[str, Any], *, row: str = "") -> dict[str, Any]:
        """A stored record (legacy names) as a modern one; unknown keys are dropped."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.legacy not in record:
                continue
            value = record[f.legacy]
            if f.codec is None:
                out[f.modern] = value
                continue
            out[f.modern], raw = decode_value(
                f.codec, value, system=self.system, obj=self.name, field=f.legacy, row=row
            )
            if f.raw_name is not None:
                out[f.raw_name] = None if raw is MISSING else raw
        return out

    def encode(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A modern record as the legacy system stores it; ``ValueError`` naming the field."""
        out: dict[str, Any] = {}
        for name, value in record.items():
            f = self.by_modern(name)
            if f is None:
                raise ValueError(f"{name}: unknown field")
            try:
                out[f.legacy] = f.codec.encode(value) if f.codec is not None else value
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return out


def build_shape(
    system: str,
    name: str,
    fields: Iterable[tuple[str, StoredKind]],
    maps: Mapping[str, FieldMap],
    *,
    naming: Naming = "keep",
    modern_name: str | None = None,
    labels: Mapping[str, dict[str, str]] | None = None,
) -> Shape:
    """The shape of a record with these ``(legacy name, stored kind)`` fields.

    ``ValueError`` when the spec names a field that does not exist, a codec
    does not fit the stored kind, or two fields end up with one modern name.
    """
    fields = list(fields)
    known = {legacy for legacy, _ in fields}
    unknown = [legacy for legacy in maps if legacy not in known]
    if unknown:
        raise ValueError(
            f"{name}: no field {', '.join(map(repr, unknown))} (fields: {', '.join(sorted(known))})"
        )
    shaped = []
    for legacy, stored in fields:
        spec = maps.get(legacy, FieldMap())
        modern = spec.name or apply_naming(legacy, naming)
        codec = None
        if spec.encoding is not None or spec.null_values or spec.width is not None:
            try:
                codec = build_codec(spec, stored, labels=(labels or {}).get(legacy))
            except ValueError as exc:
                raise ValueError(f"{name}.{legacy}: {exc}") from None
        shaped.append(FieldShape(legacy, modern, codec, spec, naming))
    seen: dict[str, str] = {}
    for f in shaped:
        for out in (f.modern, f.raw_name):
            if out is None:
                continue
            if out in seen:
                raise ValueError(f"{name}: {seen[out]} and {f.legacy} would both be called {out!r}")
            seen[out] = f.legacy
    return Shape(system, name, modern_name or name, tuple(shaped))
