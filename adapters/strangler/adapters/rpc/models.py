"""Pydantic models for RPC methods, from the spec's types or XML-RPC signatures.

A method with declared parameter names takes a flat JSON object, one field per
parameter (the field's alias is the parameter's name, so any name works). A
method known only by its XML-RPC signatures takes ``{"params": [...]}`` typed
as a tuple per signature. A method known by name only takes untyped
``{"params": ...}``. Every result is ``{"result": ...}``.

What the protocol cannot carry is refused while the body is validated (422,
naming the field), before anything is sent, at every depth, untyped values
included (:class:`Wire`): text with characters XML 1.0 lacks (XML-RPC) or lone
surrogates (JSON-RPC: UTF-8 cannot encode them), numbers that are not finite,
and for XML-RPC untyped integers beyond ``int``'s 32 bits.

XML-RPC's ``int``/``i4`` (and ``integer``) are documented as 32-bit, ``i8`` as
64-bit; ``dateTime.iso8601`` as a local date-time (the protocol has no offset),
see :data:`LocalDateTime`. :func:`check_answer` holds answers to the same
documented schema: one outside it is the legacy system's protocol error (502),
never passed on changed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    create_model,
    model_validator,
)

from strangler.errors import LegacyProtocolError
from strangler.platform.naming import model_name, strip_system
from strangler.spec.rpc import FAMILIES, ParamSchema, TypeRef

__all__ = [
    "INT32",
    "INT64",
    "JSON_WIRE",
    "XMLRPC_WIRE",
    "Base64",
    "LocalDateTime",
    "ModelFactory",
    "Wire",
    "check_answer",
    "xmlrpc_type",
]

_NO_PARAMS = Annotated[tuple[()], WithJsonSchema({"type": "array", "maxItems": 0, "items": {}})]
"""A signature without parameters: an empty array (with ``items``, which generators need)."""

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_ANSWER = {"answer": True}
"""Validation context of :func:`check_answer`: only what the answer's JSON cannot hold
is refused (text and integers came over the wire, so the wire could carry them)."""


def _answering(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("answer"))


@dataclass(frozen=True)
class Wire:
    """What one protocol can carry, checked in the caller's values at every depth."""

    name: str
    bad_char: re.Pattern[str]
    why: str
    int_range: tuple[int, int] | None = None

    def text_problem(self, text: str) -> str | None:
        found = self.bad_char.search(text)
        if found is None:
            return None
        return (
            f"character U+{ord(found.group()):04X} at position {found.start()} "
            f"cannot be sent over {self.name} ({self.why})"
        )

    def problems(self, value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
        """``(path, what is wrong)`` for each part of an untyped value the wire cannot carry."""
        if isinstance(value, str):
            problem = self.text_problem(value)
            if problem:
                yield "/".join(path), problem
        elif isinstance(value, float) and not math.isfinite(value):
            yield "/".join(path), f"{value} is not a finite number; {self.name} cannot carry it"
        elif isinstance(value, int) and not isinstance(value, bool) and self.int_range:
            low, high = self.int_range
            if not low <= value <= high:
                yield (
                    "/".join(path),
                    f"{value} is beyond {self.name}'s 32-bit int; declare the parameter "
                    "as i8 to send it as a 64-bit integer",
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (problem := self.text_problem(key)):
                    yield "/".join((*path, _shown(key))), f"the name: {problem}"
                yield from self.problems(item, (*path, _shown(str(key))))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                yield from self.problems(item, (*path, str(index)))

    def check_text(self, value: str, info: ValidationInfo) -> str:
        problem = None if _answering(info) else self.text_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def check_names(self, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """An object's keys (its values are checked by their own types)."""
        for key in value if not _answering(info) else ():
            if problem := self.text_problem(key):
                raise ValueError(f"{_shown(key)}: the name: {problem}")
        return value

    def check_any(self, value: Any, info: ValidationInfo) -> Any:
        answering = _answering(info)
        for where, problem in self.problems(value):
            if answering and "finite" not in problem:
                continue
            raise ValueError(f"{where}: {problem}" if where else problem)
        return value


def _shown(name: str) -> str:
    """A caller's key as it can be shown in a message (escaped where unprintable)."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", name)


_UNPRINTABLE = re.compile("[\\x00-\\x1f\\x7f\\ud800-\\udfff\\ufffe\\uffff]")

XMLRPC_WIRE = Wire(
    "XML-RPC",
    re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"),
    "XML 1.0 has no such character",
    INT32,
)
JSON_WIRE = Wire(
    "JSON-RPC",
    re.compile("[\ud800-\udfff]"),
    "a lone surrogate cannot be encoded as UTF-8",
)

_LOCAL_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"
_REQUEST_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})?$"


def _iso_text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(_REQUEST_PATTERN, value):
        raise ValueError(
            "must be a date-time such as 2024-05-01T13:30:00, in whole seconds, "
            "with an optional offset (Z or +02:00)"
        )
    return value


def _whole_seconds(value: dt.datetime) -> dt.datetime:
    if value.microsecond:
        raise ValueError("XML-RPC's dateTime.iso8601 carries whole seconds only")
    return value


LocalDateTime = Annotated[
    dt.datetime,
    BeforeValidator(_iso_text),
    AfterValidator(_whole_seconds),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _REQUEST_PATTERN,
            "description": "An XML-RPC dateTime.iso8601: a date-time in whole seconds. "
            "Without offset it is sent as it is (the legacy system's local time); "
            "with one (Z or +hh:mm) it is converted to UTC and sent without offset.",
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _LOCAL_PATTERN,
            "description": "An XML-RPC dateTime.iso8601, as the legacy system sent it: "
            "a local date-time without offset (not RFC 3339's date-time).",
        },
        mode="serialization",
    ),
]
"""XML-RPC's ``dateTime.iso8601``: it has no offset, so it is documented as what it is
(a pattern for the local form), never as ``format: date-time``."""


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

_FINITE = Annotated[float, Field(allow_inf_nan=False)]
_BASE: dict[str, Any] = {
    "any": Any,
    "string": str,
    "integer": int,
    "int": int,
    "i4": int,
    "i8": int,
    "number": _FINITE,
    "double": _FINITE,
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
_XMLRPC_INTS = {"integer": INT32, "int": INT32, "i4": INT32, "i8": INT64}
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

    def __init__(self, system: str, *, xmlrpc: bool) -> None:
        self.system, self.xmlrpc = system, xmlrpc
        self.wire = XMLRPC_WIRE if xmlrpc else JSON_WIRE
        self._names: set[str] = set()
        self._text = Annotated[str, AfterValidator(self.wire.check_text)]
        self._any = Annotated[Any, AfterValidator(self.wire.check_any)]
        self._object = Annotated[
            dict[str, self._any],  # type: ignore[name-defined]
            AfterValidator(self.wire.check_names),
        ]
        self._datetime: Any = LocalDateTime if xmlrpc else dt.datetime

        wire = self.wire

        class Extras(BaseModel):
            """Keys an object's declared properties leave out, checked like the rest."""

            model_config = ConfigDict(
                extra="allow",
                populate_by_name=False,
                regex_engine="python-re",
                allow_inf_nan=False,
            )
            __pydantic_extra__: dict[str, self._any]  # type: ignore[name-defined]

            @model_validator(mode="after")
            def _names(self, info: ValidationInfo) -> Any:
                wire.check_names(self.__pydantic_extra__ or {}, info)
                return self

        self._extras: type[BaseModel] = Extras

    def name(self, *parts: str) -> str:
        """A model name unique in this system: ``name("pricing.quote", "Params")`` is
        ``"pricing.QuoteParams"`` (see :func:`strangler.platform.naming.model_name`;
        a method's namespace that repeats the system's name is left out)."""
        first, *rest = parts
        base = model_name(self.system, strip_system(self.system, first), *rest)
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}{n}"
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
        """The type of a type name, as this protocol carries it."""
        if self.xmlrpc and name in _XMLRPC_INTS:
            low, high = _XMLRPC_INTS[name]
            return Annotated[int, Field(ge=low, le=high)]
        if name == "dateTime.iso8601":
            return self._datetime
        if name == "any":
            return self._any
        if name == "string":
            return self._text
        if name in ("object", "struct"):
            return self._object
        if name == "array":
            return list[self._any]  # type: ignore[name-defined]
        return _BASE[name]

    def _shape(self, ref: ParamSchema, name: str, where: str) -> Any:
        """One member of the type, with the keywords of its family."""
        family = next((f for f, (names, _) in FAMILIES.items() if name in names), None)
        base = self._named(name)
        if family == "string" and ref.format == "date-time":
            return self._datetime
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
        if not constraints:
            return base
        if name == "string":  # the constraints first, or pydantic leaves them undocumented
            return Annotated[str, Field(**constraints), AfterValidator(self.wire.check_text)]
        return Annotated[base, Field(**constraints)]

    def object_model(self, ref: ParamSchema, where: str) -> type[BaseModel]:
        """A nested object with declared properties; other keys are kept as they are."""
        fields = {
            f"f{i}": self._field(sub, key, required=key in ref.required, where=f"{where}_{key}")
            for i, (key, sub) in enumerate((ref.properties or {}).items())
        }
        model: type[BaseModel] = create_model(self.name(where), __base__=self._extras, **fields)
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
        config = ConfigDict(
            extra="forbid",
            populate_by_name=False,
            regex_engine="python-re",
            allow_inf_nan=False,
        )
        model: type[BaseModel] = create_model(
            self.name(method, "Params"), __config__=config, **fields
        )
        return model

    def signature_params(self, method: str, signatures: list[list[str]]) -> type[BaseModel]:
        """``{"params": [...]}`` typed by XML-RPC signatures (``[result, param...]``)."""
        shapes = [tuple(self._named(xmlrpc_type(t)) for t in sig[1:]) for sig in signatures]
        annotation = _union(
            [tuple.__class_getitem__(shape) if shape else _NO_PARAMS for shape in shapes]
        )
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
            annotation: Any = list[self._any]  # type: ignore[name-defined]
            field = Field(default_factory=list, description="The positional parameters.")
        else:
            annotation = list[self._any] | self._object | None  # type: ignore[name-defined]
            field = Field(default=None, description="Parameters by position or by name.")
        return create_model(self.name(method, "Params"), params=(annotation, field))

    def result(self, method: str, result: Any) -> type[BaseModel]:
        """``{"result": ...}``."""
        return create_model(self.name(method, "Result"), result=(result, ...))

    def result_of(self, method: str, ref: TypeRef) -> type[BaseModel]:
        return self.result(method, self.annotation(ref, method + "_Value"))

    def signature_result(self, method: str, signatures: list[list[str]]) -> type[BaseModel]:
        types = [self._named(xmlrpc_type(sig[0])) for sig in signatures if sig]
        return self.result(method, _union(types) if types else self._any)


def check_answer(
    model: type[BaseModel], value: Any, *, system: str, operation: str, json: bool
) -> Any:
    """``value`` unchanged when ``{"result": value}`` fits the documented ``model``;
    a :class:`LegacyProtocolError` naming where and why otherwise.

    Validation is strict (``"5"`` is no integer) and reads the answer as it was
    decoded: Python values for XML-RPC, JSON text for JSON-RPC (``json``).
    """
    try:
        if json:
            model.model_validate_json(orjson.dumps({"result": value}), strict=True, context=_ANSWER)
        else:
            model.model_validate({"result": value}, strict=True, context=_ANSWER)
    except (ValidationError, orjson.JSONEncodeError) as exc:
        if isinstance(exc, ValidationError):
            error = exc.errors(include_url=False)[0]
            where = "/".join(str(p) for p in error["loc"])
            text = repr(error.get("input"))
            what = f"{text[:60]}{'...' if len(text) > 60 else ''}: {error['msg']}"
        else:
            where, what = "result", str(exc)
        raise LegacyProtocolError(
            f"{system} answered {operation} with a value its documented schema does not "
            f"allow, at {where}: {what}",
            system=system,
            operation=operation,
        ) from exc
    return value
