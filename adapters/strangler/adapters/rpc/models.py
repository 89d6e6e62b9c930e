"""Pydantic models for RPC methods, from the spec's types or XML-RPC signatures.

A method with declared parameter names takes a flat JSON object, one field per
parameter (the field's alias is the parameter's name, so any name works). A
method known only by its XML-RPC signatures takes ``{"params": [...]}`` typed
as a tuple per signature. A method known by name only takes untyped
``{"params": ...}``. Every result is ``{"result": ...}``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    create_model,
)

from strangler.spec.rpc import FAMILIES, ParamSchema, TypeRef

__all__ = ["INT32", "Base64", "ModelFactory", "xmlrpc_type"]

INT32 = (-(2**31), 2**31 - 1)


def _b64decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("not valid base64") from exc
    return value


Base64 = Annotated[
    bytes,
    BeforeValidator(_b64decode),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), when_used="json"),
    WithJsonSchema({"type": "string", "format": "base64", "contentEncoding": "base64"}),
]
"""Bytes that travel as base64 text in JSON."""

_BASE: dict[str, Any] = {
    "any": Any,
    "string": str,
    "integer": int,
    "int": int,
    "i4": int,
    "i8": int,
    "number": float,
    "double": float,
    "boolean": bool,
    "object": dict[str, Any],
    "struct": dict[str, Any],
    "array": list[Any],
    "null": None,
    "nil": None,
    "dateTime.iso8601": dt.datetime,
    "base64": Base64,
}
_XMLRPC_NAMES = {name.lower(): name for name in _BASE}
_BOUNDS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusive_minimum": "gt",
    "exclusive_maximum": "lt",
    "min_length": "min_length",
    "max_length": "max_length",
    "min_items": "min_length",
    "max_items": "max_length",
    "pattern": "pattern",
}


def xmlrpc_type(name: str) -> str:
    """The spec's type name for a type name from ``system.methodSignature``."""
    return _XMLRPC_NAMES.get(name.strip().lower(), "any")


def _union(types: list[Any]) -> Any:
    unique = list(dict.fromkeys(types))
    return unique[0] if len(unique) == 1 else Union[tuple(unique)]  # noqa: UP007


class ModelFactory:
    """Builds one system's models, with unique names in the OpenAPI document."""

    def __init__(self, system: str, *, int32: bool) -> None:
        self.system, self.int32 = system, int32
        self._names: set[str] = set()

    def name(self, *parts: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", "_".join((self.system, *parts))).strip("_")
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    def annotation(self, ref: TypeRef, where: str) -> Any:
        """The Python type (with constraints) that validates values of ``ref``.

        Each keyword constrains the members of a union it applies to (``minimum``
        the numbers, ``pattern`` the strings...); with type ``any``, keywords
        imply their family's type.
        """
        if isinstance(ref, str):
            return self._named(ref)
        names: tuple[str, ...] = ref.type if isinstance(ref.type, tuple) else (ref.type,)
        if names == ("any",) and ref.families():
            names = (ref.families()[0],)
        base = (
            Literal[ref.enum]
            if ref.enum is not None
            else _union([self._shape(ref, name, where) for name in names])
        )
        return Annotated[base, Field(description=ref.description)] if ref.description else base

    def _named(self, name: str) -> Any:
        base = _BASE[name]
        if self.int32 and base is int:
            return Annotated[int, Field(ge=INT32[0], le=INT32[1])]
        return base

    def _shape(self, ref: ParamSchema, name: str, where: str) -> Any:
        """One member of the type, with the keywords of its family."""
        family = next((f for f, (names, _) in FAMILIES.items() if name in names), None)
        base = self._named(name)
        if family == "string" and ref.format == "date-time":
            return dt.datetime
        if family == "string" and ref.format in ("byte", "base64"):
            return Base64
        if family == "array" and ref.items is not None:
            base = list[self.annotation(ref.items, where + "_item")]  # type: ignore[misc]
        if family == "object" and ref.properties is not None:
            return self.object_model(ref, where)
        keywords = FAMILIES[family][1] if family else ()
        constraints = {
            _BOUNDS[k]: getattr(ref, k)
            for k in keywords
            if k in _BOUNDS and getattr(ref, k) is not None
        }
        return Annotated[base, Field(**constraints)] if constraints else base

    def object_model(self, ref: ParamSchema, where: str) -> type[BaseModel]:
        """A nested object with declared properties; other keys are kept as they are."""
        fields = {
            f"f{i}": self._field(sub, key, required=key in ref.required, where=f"{where}_{key}")
            for i, (key, sub) in enumerate((ref.properties or {}).items())
        }
        config = ConfigDict(extra="allow", populate_by_name=False, regex_engine="python-re")
        model: type[BaseModel] = create_model(self.name(where), __config__=config, **fields)
        return model

    def _field(self, ref: TypeRef, alias: str, *, required: bool, where: str) -> Any:
        annotation = self.annotation(ref, where)
        if isinstance(ref, ParamSchema) and "default" in ref.model_fields_set:
            return (annotation, Field(default=ref.default, alias=alias))
        if required:
            return (annotation, Field(alias=alias))
        return (annotation | None, Field(default=None, alias=alias))

    def named_params(self, method: str, params: dict[str, TypeRef]) -> type[BaseModel]:
        """A flat object: one field per declared parameter, unknown fields refused."""
        fields = {
            f"p{i}": self._field(ref, name, required=True, where=f"{method}_{name}")
            for i, (name, ref) in enumerate(params.items())
        }
        config = ConfigDict(extra="forbid", populate_by_name=False, regex_engine="python-re")
        model: type[BaseModel] = create_model(
            self.name(method, "Params"), __config__=config, **fields
        )
        return model

    def signature_params(self, method: str, signatures: list[list[str]]) -> type[BaseModel]:
        """``{"params": [...]}`` typed by XML-RPC signatures (``[result, param...]``)."""
        shapes = [tuple(self._named(xmlrpc_type(t)) for t in sig[1:]) for sig in signatures]
        annotation = _union([tuple.__class_getitem__(shape) for shape in shapes])
        optional = any(not shape for shape in shapes)
        field = Field(
            default=() if optional else ...,
            description="The positional parameters, in one of the method's signatures.",
        )
        return create_model(self.name(method, "Params"), params=(annotation, field))

    def free_params(self, method: str, *, positional_only: bool) -> type[BaseModel]:
        """``{"params": ...}`` with no declared types."""
        field: Any
        if positional_only:
            annotation: Any = list[Any]
            field = Field(default_factory=list, description="The positional parameters.")
        else:
            annotation = list[Any] | dict[str, Any] | None
            field = Field(default=None, description="Parameters by position or by name.")
        return create_model(self.name(method, "Params"), params=(annotation, field))

    def result(self, method: str, result: Any) -> type[BaseModel]:
        """``{"result": ...}``."""
        return create_model(self.name(method, "Result"), result=(result, ...))

    def result_of(self, method: str, ref: TypeRef) -> type[BaseModel]:
        return self.result(method, self.annotation(ref, method + "_Value"))

    def signature_result(self, method: str, signatures: list[list[str]]) -> type[BaseModel]:
        types = [self._named(xmlrpc_type(sig[0])) for sig in signatures if sig]
        return self.result(method, _union(types) if types else Any)
