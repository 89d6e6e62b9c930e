"""Modern fields under construction, and the pydantic models made of them.

:mod:`strangler.mapping.reshape` decides a message's modern shape; this module
holds what it builds with: a :class:`Member` (one modern field: its slot in the
conversion tree, its annotation and its ``Field`` options), the helpers that
derive those from a legacy field, and :func:`build_model`, which turns members
into the model the OpenAPI document shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from strangler.mapping.legacy_types import LegacyType
from strangler.mapping.message import Node, Object, Scalar, Slot

__all__ = [
    "Member",
    "build_model",
    "codec_nullable",
    "describe",
    "field_options",
    "lifted",
    "same_field",
    "unique",
    "with_metadata",
]


@dataclass
class Member:
    """A modern field under construction; ``changed``: it differs from the legacy one."""

    slot: Slot
    annotation: Any
    options: dict[str, Any]
    changed: bool


def build_model(
    name: str, legacy: type[BaseModel] | None, members: list[Member]
) -> type[BaseModel]:
    """A model named ``name`` with ``members`` as fields (aliases are the modern names).

    It keeps the configuration and docstring of ``legacy`` (the model it stands
    for, if any) except its schema extras, forbids unknown fields unless the
    legacy model allowed them, and adds the ``*_raw`` side field of each member
    whose broken stored values are passed through raw.
    """
    config = ConfigDict(**(legacy.model_config if legacy is not None else {}))
    config.pop("json_schema_extra", None)  # legacy names (choices) would be wrong here
    config.setdefault("extra", "forbid")
    config["populate_by_name"] = False
    definitions: dict[str, Any] = {}
    for i, m in enumerate(members):
        definitions[f"f{i}"] = (m.annotation, Field(alias=m.slot.modern, **m.options))
        if m.slot.raw_name is not None:  # the side field of a broken stored value
            text = f"The stored value of {m.slot.modern} when it breaks its encoding."
            raw = Field(default=None, alias=m.slot.raw_name, description=text)
            definitions[f"r{i}"] = (str | int | float | bool | None, raw)
    doc = legacy.__doc__ if legacy is not None else None
    model: type[BaseModel] = create_model(name, __config__=config, __doc__=doc, **definitions)
    return model


def unique(members: list[Member], path: tuple[str, ...]) -> list[Member]:
    """``members`` of the record at legacy ``path``; ``ValueError`` when two share
    a modern name (a group flattened beside a field of the same name, say)."""
    seen: dict[str, str] = {}
    for m in members:
        where = ".".join((*path, *m.slot.path)) or f"group {m.slot.modern}"
        for name in (m.slot.modern, m.slot.raw_name):
            if name is None:
                continue
            if name in seen:
                raise ValueError(f"{seen[name]} and {where} are both named {name!r}: rename one")
            seen[name] = where
    return members


def lifted(slot: Slot, alias: str) -> Slot:
    """A slot of a group lifted out of ``alias`` into the record that holds it."""
    if slot.path:
        return Slot(slot.modern, (alias, *slot.path), slot.node, slot.raw_name)
    assert isinstance(slot.node, Object)  # a modern group reads its siblings
    inner = tuple(lifted(s, alias) for s in slot.node.slots)
    return Slot(slot.modern, (), Object(inner, slot.node.extra), slot.raw_name)


def codec_nullable(node: Node, output: bool) -> bool:
    """Whether a converted value may be null: a sentinel, or a broken value let through."""
    if not isinstance(node, Scalar) or node.codec is None:
        return False
    spec = node.codec.spec
    return bool(spec.null_values) or (output and spec.on_broken != "error")


def same_field(info: FieldInfo) -> tuple[Any, dict[str, Any]]:
    """The annotation and options of a legacy field passed as it is."""
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    options = field_options(info, annotation_changed=False)
    options["description"] = info.description
    return annotation, options


def field_options(info: FieldInfo, *, annotation_changed: bool) -> dict[str, Any]:
    """The default (and schema extras) of a legacy field, for its modern field.

    A field whose type changed defaults to None: the legacy default is a legacy value.
    """
    options: dict[str, Any] = {}
    if not info.is_required():
        if info.default_factory is not None and not annotation_changed:
            options["default_factory"] = info.default_factory
        else:
            default = info.default if info.default is not PydanticUndefined else None
            options["default"] = None if annotation_changed else default
        if info.json_schema_extra is not None:
            options["json_schema_extra"] = info.json_schema_extra
    return options


def with_metadata(annotation: Any, legacy: LegacyType) -> Any:
    """``annotation`` with the constraints (``Annotated`` metadata) of ``legacy``."""
    return Annotated[(annotation, *legacy.metadata)] if legacy.metadata else annotation


def describe(legacy: str | None, node: Node, path: str, *, renamed: bool) -> str | None:
    """A modern field's description: the legacy one, plus its legacy path or encoding."""
    if isinstance(node, Scalar) and node.codec is not None:
        text = node.codec.describe(path)
    elif renamed or "." in path:
        text = f"Legacy field {path}."
    else:
        return legacy
    return f"{legacy} ({text})" if legacy else text
