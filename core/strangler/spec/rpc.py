"""The spec of legacy RPC systems: XML-RPC and JSON-RPC 2.0.

A method's parameters are an ordered mapping of name to type. A type is either
a type name (JSON's ``string``, ``integer``, ``number``, ``boolean``,
``object``, ``array``, ``null``, ``any``, or XML-RPC's ``int``, ``i4``, ``i8``,
``double``, ``dateTime.iso8601``, ``base64``, ``struct``, ``nil``) or a small
JSON-schema mapping (:class:`ParamSchema`) for arrays of something, objects
with properties, enums, bounds and patterns. A parameter whose schema has a
``default`` may be left out by callers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Tag,
    field_validator,
    model_validator,
)

from strangler.spec.common import BasicAuth, CallPolicy, Frozen, one_place_for_credentials
from strangler.spec.operations import MappedSystem, MessageMap

__all__ = [
    "FAMILIES",
    "TYPE_NAMES",
    "JsonRpcMethod",
    "JsonRpcSystem",
    "ParamSchema",
    "RpcMethod",
    "RpcSystemBase",
    "TypeName",
    "TypeRef",
    "XmlRpcMethod",
    "XmlRpcSystem",
]

TypeName = Literal[
    "any", "string", "integer", "number", "boolean", "object", "array", "null",
    "int", "i4", "i8", "double", "dateTime.iso8601", "base64", "struct", "nil",
]  # fmt: skip
TYPE_NAMES: frozenset[str] = frozenset(get_args(TypeName))

FAMILIES: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "number": (
        frozenset({"integer", "int", "i4", "i8", "number", "double"}),
        ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum"),
    ),
    "string": (frozenset({"string"}), ("min_length", "max_length", "pattern", "format")),
    "array": (frozenset({"array"}), ("items", "min_items", "max_items")),
    "object": (frozenset({"object", "struct"}), ("properties", "required")),
}
"""Type family → (its type names, the keywords that constrain it)."""


class ParamSchema(Frozen):
    """A small JSON schema: the keywords below and nothing else."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    type: TypeName | tuple[TypeName, ...] = "any"
    items: TypeRef | None = None
    properties: dict[str, TypeRef] | None = None
    required: tuple[str, ...] = ()
    enum: tuple[str | int | float | bool, ...] | None = None
    format: Literal["date-time", "byte", "base64"] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = Field(default=None, alias="exclusiveMinimum")
    exclusive_maximum: float | None = Field(default=None, alias="exclusiveMaximum")
    min_length: NonNegativeInt | None = Field(default=None, alias="minLength")
    max_length: NonNegativeInt | None = Field(default=None, alias="maxLength")
    min_items: NonNegativeInt | None = Field(default=None, alias="minItems")
    max_items: NonNegativeInt | None = Field(default=None, alias="maxItems")
    pattern: str | None = None
    description: str | None = None
    default: Any = Field(default=None, description="Makes the parameter optional.")

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    def families(self) -> list[str]:
        """The type families whose keywords this schema uses."""
        return [
            family
            for family, (_, keywords) in FAMILIES.items()
            if any(getattr(self, k) not in (None, ()) for k in keywords)
        ]

    @model_validator(mode="after")
    def _satisfiable(self) -> ParamSchema:
        """Refuse bounds no value meets: every call would be refused."""
        for low, high in (
            ("minimum", "maximum"),
            ("min_length", "max_length"),
            ("min_items", "max_items"),
        ):
            lower, upper = getattr(self, low), getattr(self, high)
            if lower is not None and upper is not None and lower > upper:
                raise ValueError(f"{low} {lower} is above {high} {upper}: no value fits")
        lows = [v for v in (self.minimum, self.exclusive_minimum) if v is not None]
        highs = [v for v in (self.maximum, self.exclusive_maximum) if v is not None]
        exclusive = self.exclusive_minimum is not None or self.exclusive_maximum is not None
        if lows and highs and (max(lows) > min(highs) or (exclusive and max(lows) == min(highs))):
            raise ValueError("the minimum and maximum leave no value that fits")
        return self

    @model_validator(mode="after")
    def _keywords_fit_the_type(self) -> ParamSchema:
        names = self.type if isinstance(self.type, tuple) else (self.type,)
        used = self.families()
        if "any" in names:
            if len(used) > 1:
                raise ValueError(f"keywords of {' and '.join(used)} together need a 'type'")
            return self
        for family in used:
            if not FAMILIES[family][0] & set(names):
                raise ValueError(f"{family} keywords given for type {self.type!r}")
        return self


def _type_or_schema(value: Any) -> str:
    return "schema" if isinstance(value, dict | ParamSchema) else "type"


TypeRef = Annotated[
    Annotated[TypeName, Tag("type")] | Annotated[ParamSchema, Tag("schema")],
    Discriminator(_type_or_schema),
]
"""A type name, or a small JSON schema."""
ParamSchema.model_rebuild()


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "/{}?#") or name.startswith("_"):
        raise ValueError(
            f"method name {name!r} must not be empty, start with '_' or hold / {{ }} ? #"
        )


class RpcMethod(Frozen):
    """One remote method: its parameters (in call order), result and safety, and its
    modern shape (``as``, ``request``, ``response``: :mod:`strangler.spec.operations`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    params: dict[str, TypeRef] | None = Field(
        default=None,
        description="Name → type, in call order. Left out: the caller sends raw 'params' "
        "(for XML-RPC, the introspected signature is used when there is one).",
    )
    result: TypeRef = "any"
    safe: bool = Field(default=False, description="No side effects: retried on failure.")
    description: str | None = None
    modern_name: str | None = Field(
        default=None, alias="as", description="The modern method name (its route)."
    )
    request: MessageMap = Field(default_factory=MessageMap)
    response: MessageMap = Field(default_factory=MessageMap)

    @field_validator("modern_name")
    @classmethod
    def _route_name(cls, value: str | None) -> str | None:
        if value is not None:
            _check_name(value)
        return value


class XmlRpcMethod(RpcMethod):
    """An XML-RPC method (always called with positional parameters)."""


class JsonRpcMethod(RpcMethod):
    """A JSON-RPC 2.0 method."""

    by_position: bool = Field(
        default=False, description="Send 'params' as an array in declared order, not an object."
    )
    notification: bool = Field(
        default=False, description="Sent without an id; answered 202 Accepted with no result."
    )


class RpcSystemBase(CallPolicy, MappedSystem):
    """What every RPC system has: an endpoint, the call policy (basic auth only),
    which fault codes blame whom, and the modern shape of its methods."""

    url: str = Field(description="The endpoint every call is POSTed to (http or https).")
    auth: BasicAuth | None = None
    client_fault_codes: frozenset[int] = Field(
        default=frozenset(), description="Fault codes that blame the caller (answered 400)."
    )
    server_fault_codes: frozenset[int] = Field(
        default=frozenset(), description="Fault codes that blame the legacy system (502)."
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RpcSystemBase:
        one_place_for_credentials(self.auth, url=self.url)
        both = self.client_fault_codes & self.server_fault_codes
        if both:
            raise ValueError(
                f"fault codes {sorted(both)} are listed as both client and server fault codes"
            )
        return self


class XmlRpcSystem(RpcSystemBase):
    """A legacy XML-RPC service; methods come from introspection and/or the spec."""

    kind: Literal["xmlrpc"]
    introspect: bool = Field(
        default=True,
        description="Ask system.listMethods / methodSignature / methodHelp at start; "
        "declared methods override and extend what it finds.",
    )
    introspect_timeout_s: PositiveFloat = 3.0
    methods: dict[str, XmlRpcMethod] = Field(default_factory=dict)

    @field_validator("methods")
    @classmethod
    def _names(cls, value: dict[str, XmlRpcMethod]) -> dict[str, XmlRpcMethod]:
        for name in value:
            _check_name(name)
        return value

    @model_validator(mode="after")
    def _some_methods(self) -> XmlRpcSystem:
        if not self.introspect and not self.methods:
            raise ValueError("with introspect: false, declare the methods")
        return self


class JsonRpcSystem(RpcSystemBase):
    """A legacy JSON-RPC 2.0 service; every method is declared in the spec."""

    kind: Literal["jsonrpc"]
    methods: dict[str, JsonRpcMethod] = Field(min_length=1)
    max_batch: PositiveInt = Field(default=100, description="Most calls in one batch request.")

    @field_validator("methods")
    @classmethod
    def _names(cls, value: dict[str, JsonRpcMethod]) -> dict[str, JsonRpcMethod]:
        for name in value:
            _check_name(name)
            if name.startswith("rpc."):
                raise ValueError(f"method name {name!r}: 'rpc.' names are reserved by JSON-RPC")
        return value
