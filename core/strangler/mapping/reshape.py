"""A legacy message model in modern shape: renamed, converted, unwrapped, regrouped.

:class:`Reshaper` walks the pydantic model an adapter built for a legacy
message (its fields are the legacy names) and, from the spec's
:class:`~strangler.spec.operations.MessageMap` and the system's naming
convention, builds the modern model (what the OpenAPI document shows) and the
:mod:`~strangler.mapping.message` tree that converts values both ways.

Structural rules: with ``unwrap``, a message whose only field is an object is
that object's fields (``GetStockResponse.GetStockResult``), and a field whose
type has one repeated child only (``ArrayOfItem``) is that child's array;
``flatten`` lifts a group's fields into its parent; ``nest`` gathers sibling
fields into a modern group. Unchanged types keep their legacy model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from strangler.mapping.codecs import build_codec
from strangler.mapping.legacy_types import LegacyType, modern_annotation, read_type, stored_kind
from strangler.mapping.message import Array, Node, Object, Scalar, Slot
from strangler.mapping.naming import Naming, apply_naming
from strangler.mapping.spec import FieldMap
from strangler.spec.operations import MessageMap

__all__ = ["Reshaper"]


@dataclass
class _Member:
    """A modern field under construction."""

    slot: Slot
    annotation: Any
    options: dict[str, Any]
    changed: bool


@dataclass
class _Rules:
    spec: MessageMap
    unwrap: bool
    tag: str
    name: str
    used: set[str] = field(default_factory=set)

    def touches(self, path: tuple[str, ...]) -> bool:
        """Whether this message's own rules reach below ``path``."""
        prefix = ".".join(path) + "."
        paths = (
            *self.spec.fields,
            *self.spec.flatten,
            *(p for ps in self.spec.nest.values() for p in ps),
        )
        return any(p.startswith(prefix) for p in paths)

    def field(self, path: tuple[str, ...]) -> FieldMap | None:
        key = ".".join(path)
        found = self.spec.fields.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def flattened(self, path: tuple[str, ...]) -> bool:
        key = ".".join(path)
        if key in self.spec.flatten:
            self.used.add(key)
            return True
        return False


class Reshaper:
    """Builds modern models for one system; names stay unique within it."""

    def __init__(self, naming: Naming, unwrap: bool) -> None:
        self.naming, self.unwrap = naming, unwrap
        self._names: set[str] = set()
        self._shared: dict[tuple[int, bool, int], tuple[Node, Any, bool]] = {}
        self._messages: dict[tuple[int, int, bool, str], tuple[type[BaseModel], Node]] = {}

    def message(
        self,
        model: type[BaseModel],
        spec: MessageMap,
        *,
        name: str,
        tag: str,
        output: bool,
        keep: frozenset[str] = frozenset(),
    ) -> tuple[type[BaseModel], Node]:
        """The modern model of a message and its conversion tree.

        ``name`` is the legacy model's, ``tag`` the operation's (it tells apart
        types this operation's own rules change); ``keep``: top-level fields
        passed as they are (a SOAP header object). ``ValueError`` names spec
        paths that match no field.
        """
        cached = self._messages.get((id(model), id(spec), output, tag))
        if cached is not None:
            return cached
        rules = _Rules(spec, self.unwrap if spec.unwrap is None else spec.unwrap, tag, name)
        members = self._members(model, (), rules, output=output, keep=keep, top=True)
        unknown = [
            p
            for p in (*spec.fields, *spec.flatten, *(p for ps in spec.nest.values() for p in ps))
            if p not in rules.used
        ]
        if unknown:
            raise ValueError(f"{name}: no field {', '.join(map(repr, unknown))}")
        result: tuple[type[BaseModel], Node] = (model, Scalar())
        if any(m.changed for m in members):
            extra = model.model_config.get("extra") == "allow"
            result = (
                self._model(name, model, members),
                Object(tuple(m.slot for m in members), extra),
            )
        self._messages[(id(model), id(spec), output, tag)] = result
        return result

    # -- members ----------------------------------------------------------------

    def _members(
        self,
        model: type[BaseModel],
        path: tuple[str, ...],
        rules: _Rules,
        *,
        output: bool,
        keep: frozenset[str] = frozenset(),
        top: bool = False,
    ) -> list[_Member]:
        fields = [(info.alias or name, info) for name, info in model.model_fields.items()]
        shaped = [(a, i) for a, i in fields if a not in keep]
        members: list[_Member] = []
        for alias, info in fields:
            here = (*path, alias)
            legacy = read_type(info.annotation, tuple(info.metadata))
            if alias in keep:
                members.append(_Member(Slot(alias, (alias,), Scalar()), *_same(info), False))
                continue
            lone = top and len(shaped) == 1 and rules.unwrap and legacy.kind == "object"
            if legacy.kind == "object" and (lone or rules.flattened(here)):
                assert legacy.model is not None
                inner = self._members(legacy.model, here, rules, output=output)
                optional = legacy.nullable or not info.is_required()
                for m in inner:
                    if optional:
                        m.options.setdefault("default", None)
                    m.slot, m.changed = _prefixed(m.slot, alias), True
                members.extend(inner)
                continue
            members.append(self._member(alias, info, legacy, here, rules, output=output))
        return self._nest(members, path, rules)

    def _member(
        self,
        alias: str,
        info: FieldInfo,
        legacy: LegacyType,
        here: tuple[str, ...],
        rules: _Rules,
        *,
        output: bool,
    ) -> _Member:
        spec = rules.field(here) or FieldMap()
        modern = spec.name or apply_naming(alias, self.naming)
        at: tuple[str, ...] = (alias,)
        collapsed = self._array_of(legacy) if rules.unwrap else None
        if collapsed is not None:
            inner_alias, legacy = collapsed
            at, here = (alias, inner_alias), (*here, inner_alias)
        node, annotation, changed = self._value(legacy, here, spec, rules, output=output)
        nullable = legacy.nullable or (node_codec_nullable(node, output) if changed else False)
        options = _options(info, annotation_changed=changed)
        description = _describe(info.description, node, ".".join(here), renamed=modern != alias)
        options["description"] = description
        raw = None
        if isinstance(node, Scalar) and node.codec is not None and spec.on_broken == "raw":
            raw = modern + ("_raw" if "_" in modern or modern.islower() else "Raw")
        return _Member(
            Slot(modern, at, node, raw),
            annotation | None if nullable else annotation,
            options,
            changed or modern != alias or at != (alias,),
        )

    def _value(
        self,
        legacy: LegacyType,
        here: tuple[str, ...],
        spec: FieldMap,
        rules: _Rules,
        *,
        output: bool,
    ) -> tuple[Node, Any, bool]:
        """The node, the modern annotation (without None) and whether it differs."""
        converts = spec.encoding is not None or spec.null_values or spec.width is not None
        if legacy.kind == "scalar":
            if not converts:
                return Scalar(), legacy.annotation, False
            where = ".".join(here)
            try:
                codec = build_codec(spec, stored_kind(legacy))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            return Scalar(codec, where), modern_annotation(codec, legacy.annotation), True
        if legacy.kind == "array":
            assert legacy.item is not None
            node, item, changed = self._value(legacy.item, here, spec, rules, output=output)
            if not changed:
                return Scalar(), legacy.annotation, False
            item = item | None if legacy.item.nullable else item
            return Array(node), _with_meta(list[item], legacy), True  # type: ignore[valid-type]
        if converts:
            raise ValueError(f"{'.'.join(here)}: conversions apply to values, not to groups")
        assert legacy.model is not None
        touched = rules.touches(here)
        key = (id(legacy.model), rules.unwrap, id(rules.spec) if touched else 0)
        if key in self._shared:
            return self._shared[key]
        members = self._members(legacy.model, here, rules, output=output)
        result: tuple[Node, Any, bool] = (Scalar(), legacy.model, False)
        if any(m.changed for m in members):
            extra = legacy.model.model_config.get("extra") == "allow"
            hint = legacy.model.__name__ + (f"_{rules.tag}" if touched else "")
            model = self._model(hint, legacy.model, members)
            result = (Object(tuple(m.slot for m in members), extra), model, True)
        self._shared[key] = result
        return result

    @staticmethod
    def _array_of(legacy: LegacyType) -> tuple[str, LegacyType] | None:
        """An ``ArrayOfX`` type (one field, repeated): its child's name and type."""
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

    def _nest(self, members: list[_Member], path: tuple[str, ...], rules: _Rules) -> list[_Member]:
        for group, paths in rules.spec.nest.items():
            wanted = {p for p in paths if tuple(p.split("."))[:-1] == path}
            if not wanted:
                continue
            inside = [m for m in members if ".".join((*path, *m.slot.path[:1])) in wanted]
            rules.used.update(".".join((*path, *m.slot.path[:1])) for m in inside)
            if not inside:
                continue
            at = members.index(inside[0])
            rest = [m for m in members if m not in inside]
            model = self._model(f"{rules.name}_{group[:1].upper()}{group[1:]}", None, inside)
            required = any(m.options.get("default", PydanticUndefined) is PydanticUndefined
                           for m in inside)  # fmt: skip
            options: dict[str, Any] = {"description": "A group of legacy fields."}
            if not required:
                options["default"] = None
            slot = Slot(group, (), Object(tuple(m.slot for m in inside)))
            rest.insert(at, _Member(slot, model if required else model | None, options, True))
            members = rest
        return members

    # -- models -----------------------------------------------------------------

    def _model(
        self, hint: str, legacy: type[BaseModel] | None, members: list[_Member]
    ) -> type[BaseModel]:
        name, n = hint, 2
        while name in self._names:
            name, n = f"{hint}_{n}", n + 1
        self._names.add(name)
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
        model: type[BaseModel] = create_model(  # type: ignore[call-overload]
            name, __config__=config, __doc__=doc, **definitions
        )
        return model


def _prefixed(slot: Slot, alias: str) -> Slot:
    """A slot of a group lifted out of ``alias`` into the record that holds it."""
    if slot.path:
        return Slot(slot.modern, (alias, *slot.path), slot.node, slot.raw_name)
    assert isinstance(slot.node, Object)  # a modern group reads its siblings
    inner = tuple(_prefixed(s, alias) for s in slot.node.slots)
    return Slot(slot.modern, (), Object(inner, slot.node.extra), slot.raw_name)


def node_codec_nullable(node: Node, output: bool) -> bool:
    """Whether a converted value may be null: a sentinel, or a broken value let through."""
    if not isinstance(node, Scalar) or node.codec is None:
        return False
    spec = node.codec.spec
    return bool(spec.null_values) or (output and spec.on_broken != "error")


def _same(info: FieldInfo) -> tuple[Any, dict[str, Any]]:
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    options = _options(info, annotation_changed=False)
    options["description"] = info.description
    return annotation, options


def _options(info: FieldInfo, *, annotation_changed: bool) -> dict[str, Any]:
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


def _with_meta(annotation: Any, legacy: LegacyType) -> Any:
    return Annotated[(annotation, *legacy.metadata)] if legacy.metadata else annotation


def _describe(legacy: str | None, node: Node, path: str, *, renamed: bool) -> str | None:
    if isinstance(node, Scalar) and node.codec is not None:
        text = node.codec.describe(path)
    elif renamed or "." in path:
        text = f"Legacy field {path}."
    else:
        return legacy
    return f"{legacy} ({text})" if legacy else text
