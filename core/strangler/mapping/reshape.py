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

from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from strangler.mapping.codecs import build_codec
from strangler.mapping.legacy_types import (
    LegacyType,
    array_of,
    modern_annotation,
    read_type,
    stored_kind,
)
from strangler.mapping.message import Array, Node, Object, Scalar, Slot
from strangler.mapping.message_rules import MessageRules
from strangler.mapping.modern_fields import (
    Member,
    build_model,
    codec_nullable,
    describe,
    field_options,
    lifted,
    same_field,
    unique,
    with_metadata,
)
from strangler.mapping.naming import Naming, apply_naming
from strangler.mapping.spec import FieldMap
from strangler.spec.operations import MessageMap

__all__ = ["Reshaper"]


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
        rules = MessageRules(spec, self.unwrap if spec.unwrap is None else spec.unwrap, tag, name)
        members = self._members(model, (), rules, output=output, keep=keep, top=True)
        unknown = rules.unused()
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
        rules: MessageRules,
        *,
        output: bool,
        keep: frozenset[str] = frozenset(),
        top: bool = False,
    ) -> list[Member]:
        fields = [(info.alias or name, info) for name, info in model.model_fields.items()]
        shaped = [(a, i) for a, i in fields if a not in keep]
        members: list[Member] = []
        for alias, info in fields:
            here = (*path, alias)
            legacy = read_type(info.annotation, tuple(info.metadata))
            if alias in keep:
                members.append(Member(Slot(alias, (alias,), Scalar()), *same_field(info), False))
                continue
            lone = top and len(shaped) == 1 and rules.unwrap and legacy.kind == "object"
            if legacy.kind == "object" and (lone or rules.flattened(here)):
                assert legacy.model is not None
                inner = self._members(legacy.model, here, rules, output=output)
                optional = legacy.nullable or not info.is_required()
                for m in inner:
                    if optional:
                        m.options.setdefault("default", None)
                    m.slot, m.changed = lifted(m.slot, alias), True
                members.extend(inner)
                continue
            members.append(self._member(alias, info, legacy, here, rules, output=output))
        return unique(self._nest(members, path, rules), path)

    def _member(
        self,
        alias: str,
        info: FieldInfo,
        legacy: LegacyType,
        here: tuple[str, ...],
        rules: MessageRules,
        *,
        output: bool,
    ) -> Member:
        spec = rules.field(here) or FieldMap()
        modern = spec.name or apply_naming(alias, self.naming)
        at: tuple[str, ...] = (alias,)
        collapsed = array_of(legacy) if rules.unwrap else None
        if collapsed is not None:
            inner_alias, legacy = collapsed
            at, here = (alias, inner_alias), (*here, inner_alias)
        node, annotation, changed = self._value(legacy, here, spec, rules, output=output)
        nullable = legacy.nullable or (codec_nullable(node, output) if changed else False)
        options = field_options(info, annotation_changed=changed)
        description = describe(info.description, node, ".".join(here), renamed=modern != alias)
        options["description"] = description
        raw = None
        if isinstance(node, Scalar) and node.codec is not None and spec.on_broken == "raw":
            raw = modern + ("_raw" if "_" in modern or modern.islower() else "Raw")
        return Member(
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
        rules: MessageRules,
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
            return Array(node), with_metadata(list[item], legacy), True  # type: ignore[valid-type]
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

    def _nest(
        self, members: list[Member], path: tuple[str, ...], rules: MessageRules
    ) -> list[Member]:
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
            rest.insert(at, Member(slot, model if required else model | None, options, True))
            members = rest
        return members

    def _model(
        self, hint: str, legacy: type[BaseModel] | None, members: list[Member]
    ) -> type[BaseModel]:
        """A model of ``members`` under a name not used before in this system."""
        name, n = hint, 2
        while name in self._names:
            name, n = f"{hint}_{n}", n + 1
        self._names.add(name)
        return build_model(name, legacy, members)
