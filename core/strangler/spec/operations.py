"""How a legacy operation's messages are declared modern: names, conversions, shape.

Shared by SOAP operations and RPC methods. A system chooses a naming
convention for every field it does not list (``naming: camelCase``) and
whether single-child wrappers are unwrapped (``unwrap: true``); each
operation may then give a modern name (``as``) and, per message
(``request``, ``response``), conversions by *legacy field path* and
structural changes::

    operations:
      GetStock:
        as: getStock
        response:
          fields:
            GetStockResult.quantity: onHand              # a rename
            GetStockResult.updatedAt: {as: updated}      # any FieldMap
            GetStockResult: {fields: {warehouse: site}}  # the same, nested
          flatten: [GetStockResult.location]     # lift a group's fields into its parent
          nest: {levels: [GetStockResult.quantity, GetStockResult.reorderPoint]}

Paths name legacy fields from the message's top; arrays are transparent
(``item.unitPrice`` is the ``unitPrice`` of every item). A message given as a
plain mapping of paths is its ``fields`` (``response: {Result.qty: quantity}``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from strangler.mapping.naming import Naming
from strangler.mapping.spec import FieldMaps

__all__ = ["MappedSystem", "MessageMap", "OperationMap"]

_MESSAGE_KEYS = frozenset({"fields", "flatten", "nest", "unwrap"})


def _paths(fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ``{group: {fields: {...}}}`` entries as dotted paths."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and "fields" in value:
            value = dict(value)
            inner = value.pop("fields") or {}
            if value:
                out[path] = value
            out.update(_paths(inner, path + "."))
        else:
            out[path] = value
    return out


class MessageMap(BaseModel):
    """One message (a request or an answer) made modern."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fields: FieldMaps = Field(
        default_factory=dict, description="Legacy field path → its modern name and encoding."
    )
    flatten: tuple[str, ...] = Field(
        default=(), description="Legacy paths of groups whose fields move into their parent."
    )
    nest: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Modern group name → legacy paths of sibling fields gathered under it.",
    )
    unwrap: bool | None = Field(
        default=None, description="Unwrap a single-child wrapper (default: the system's choice)."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            if not set(value) <= _MESSAGE_KEYS:
                value = {"fields": value}
            if isinstance(value.get("fields"), dict):
                value = {**value, "fields": _paths(value["fields"])}
        return value

    @property
    def empty(self) -> bool:
        return not (self.fields or self.flatten or self.nest) and self.unwrap is None


class OperationMap(BaseModel):
    """An operation's modern name and the shape of its request and answer."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    modern_name: str | None = Field(
        default=None, alias="as", description="The modern operation name (its route)."
    )
    request: MessageMap = Field(default_factory=MessageMap)
    response: MessageMap = Field(default_factory=MessageMap)

    @property
    def empty(self) -> bool:
        return self.modern_name is None and self.request.empty and self.response.empty


class MappedSystem(BaseModel):
    """The options every SOAP and RPC system has for modern shapes."""

    naming: Naming = Field(
        default="keep",
        description="Naming convention for every field not renamed one by one.",
    )
    unwrap: bool = Field(
        default=False,
        description="Unwrap single-child wrappers (GetStockResult) in requests and answers, "
        "and ArrayOfX elements into plain arrays.",
    )

    @property
    def mapped(self) -> bool:
        """Whether any shape differs from the legacy one by the system's own options."""
        return self.naming != "keep" or self.unwrap
