"""A message's conversion tree: legacy values ⇄ modern ones, both ways.

Built by :mod:`strangler.mapping.reshape` from an operation's legacy model and
its spec. Each modern field (:class:`Slot`) reads its value at a *path* of
legacy names below the record that holds it: one name for a plain field, more
for a field lifted out of a wrapper (``GetStockResult.sku`` → ``sku``) or an
``ArrayOfX`` element, none for a modern group gathered from its siblings.
Values are Python values on the modern side (``date``, ``Decimal``, ``bool``);
:func:`modern_path` reads a legacy field's location back as the modern one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strangler.mapping.broken import MISSING, decode_value
from strangler.mapping.codecs import Codec

__all__ = ["Array", "Node", "Object", "Scalar", "Slot", "modern_path"]

_ABSENT: Any = object()


@dataclass(frozen=True)
class Scalar:
    """A leaf: converted by its codec, or passed as it is."""

    codec: Codec | None = None
    path: str = ""

    def decode(self, value: Any, ctx: tuple[str, str]) -> tuple[Any, Any]:
        """``(modern value, raw side value or MISSING)``."""
        if self.codec is None or value is None:
            return value, MISSING
        system, operation = ctx
        return decode_value(
            self.codec, value, system=system, obj=operation, field=self.path, row=""
        )

    def encode(self, value: Any, where: str) -> Any:
        if self.codec is None:
            return value
        try:
            return self.codec.encode(value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Array:
    """A list whose every item has the same shape."""

    item: Node

    def decode(self, value: Any, ctx: tuple[str, str]) -> tuple[Any, Any]:
        if not isinstance(value, list | tuple):
            return value, MISSING
        return [self.item.decode(v, ctx)[0] for v in value], MISSING

    def encode(self, value: Any, where: str) -> Any:
        if not isinstance(value, list | tuple):
            return value
        return [self.item.encode(v, f"{where}/{i}") for i, v in enumerate(value)]


@dataclass(frozen=True)
class Slot:
    """One modern field: where its value sits in the legacy record, and its shape."""

    modern: str
    path: tuple[str, ...]
    node: Node
    raw_name: str | None = None


@dataclass(frozen=True)
class Object:
    """A record; ``extra``: keys no slot names are kept as they are (open objects)."""

    slots: tuple[Slot, ...]
    extra: bool = False

    def decode(self, value: Any, ctx: tuple[str, str]) -> tuple[Any, Any]:
        if not isinstance(value, dict):
            return value, MISSING
        out: dict[str, Any] = {}
        for slot in self.slots:
            found = _get(value, slot.path)
            if found is _ABSENT:
                continue
            if isinstance(slot.node, Object) and not slot.path:  # a modern group
                out[slot.modern] = slot.node.decode(value, ctx)[0]
                continue
            out[slot.modern], raw = slot.node.decode(found, ctx)
            if slot.raw_name is not None:
                out[slot.raw_name] = None if raw is MISSING else raw
        if self.extra:
            known = {s.path[0] for s in self.slots if s.path}
            out.update({k: v for k, v in value.items() if k not in known and k not in out})
        return out, MISSING

    def encode(self, value: Any, where: str = "") -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        by_name = {s.modern: s for s in self.slots}
        for name, item in value.items():
            slot = by_name.get(name)
            if slot is None:
                if self.extra:
                    out[name] = item
                continue
            here = f"{where}/{name}" if where else name
            if isinstance(slot.node, Object) and not slot.path:  # a modern group
                if isinstance(item, dict):
                    _merge(out, slot.node.encode(item, here))
                continue
            _put(out, slot.path, slot.node.encode(item, here))
        return out


Node = Scalar | Array | Object


Location = tuple[str | int, ...]
"""A field's place in a message: names and list indexes, as pydantic gives it."""


def modern_path(node: Node, legacy: Location) -> Location | None:
    """Where the value at ``legacy`` (a location in the legacy message) is in the
    modern one: renamed, unwrapped, flattened and nested as the tree says.

    A legacy group spread over a modern record (an unwrapped wrapper) is that
    record. None when ``legacy`` is outside everything the tree maps.
    """
    if not legacy or isinstance(node, Scalar):  # below an unchanged value names agree
        return legacy
    if isinstance(node, Array):
        first, rest = legacy[0], legacy[1:]
        inner = modern_path(node.item, rest) if isinstance(first, int) else None
        return None if inner is None else (first, *inner)
    spread = False
    for slot in sorted(node.slots, key=lambda s: -len(s.path)):
        if not slot.path:  # a modern group: its slots read this record
            found = modern_path(slot.node, legacy)
            if found:
                return (slot.modern, *found)
            continue
        depth = len(slot.path)
        if legacy[:depth] == slot.path:
            inner = modern_path(slot.node, legacy[depth:])
            return None if inner is None else (slot.modern, *inner)
        spread = spread or slot.path[: len(legacy)] == legacy
    if spread:
        return ()
    return legacy if node.extra else None


def _get(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return _ABSENT
        value = value[name]
        if value is None and name != path[-1]:
            return _ABSENT
    return value


def _put(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        inner = record.get(name)
        if not isinstance(inner, dict):
            inner = record[name] = {}
        record = inner
    record[path[-1]] = value


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
