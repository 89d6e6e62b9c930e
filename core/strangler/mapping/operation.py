"""An operation of a SOAP or RPC system in modern shape: its name, request and answer.

:func:`shape_operation` builds an :class:`OperationShape` from the legacy
request and response models an adapter made and the spec; the adapter then
serves the modern models and converts each call with :meth:`~OperationShape.to_legacy`
(a modern request as the legacy model's instance; a value that cannot be
encoded is an :class:`~strangler.errors.InvalidInput` naming the field) and
:meth:`~OperationShape.to_modern` (an answer; a stored value breaking its
encoding follows the field's ``on_broken`` policy, a 502 naming the operation
and field by default). The SOAP shim reads the same shape the other way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from strangler.errors import InputProblem, InvalidInput, LegacyDataError
from strangler.mapping.message import Node, modern_path
from strangler.mapping.naming import Naming
from strangler.mapping.reshape import Reshaper
from strangler.platform.operations import Operation
from strangler.spec.operations import OperationMap

__all__ = ["OperationShape", "shape_operation", "shape_operations"]

T = TypeVar("T")
_UNMAPPED = OperationMap()


@dataclass(frozen=True)
class OperationShape:
    """How one operation's requests and answers are converted."""

    system: str
    legacy_name: str
    modern_name: str
    legacy_input: type[BaseModel]
    input_model: type[BaseModel]
    request: Node
    legacy_output: type[BaseModel]
    output_model: type[BaseModel]
    answer: Node

    def to_legacy(self, payload: BaseModel) -> BaseModel:
        """A validated modern request as an instance of the legacy request model."""
        if self.input_model is self.legacy_input:
            return payload
        modern = payload.model_dump(by_alias=True, exclude_unset=True)
        try:
            legacy = self.request.encode(modern, "")
        except ValueError as exc:
            path, _, message = str(exc).partition(": ")
            raise InvalidInput(
                f"{self.modern_name}: {exc}", [InputProblem(path, message or str(exc))]
            ) from None
        try:
            return self.legacy_input.model_validate(legacy)
        except ValidationError as exc:
            problems = [
                self._problem(error["loc"], error["msg"]) for error in exc.errors(include_url=False)
            ]
            raise InvalidInput(
                f"{self.modern_name}: the request does not fit the legacy operation", problems
            ) from None

    def _problem(self, legacy: tuple[str | int, ...], message: str) -> InputProblem:
        """A legacy check's finding, at the modern field the caller sent."""
        modern = modern_path(self.request, legacy)
        if modern is None:  # nothing the caller sent: say where it failed
            return InputProblem("/".join(map(str, legacy)) + " (legacy field)", message)
        return InputProblem("/".join(map(str, modern)), message)

    def to_modern(self, answer: Any) -> Any:
        """A legacy answer (checked against the legacy response model) in modern shape."""
        if self.output_model is self.legacy_output:
            return answer
        try:
            return self.answer.decode(answer, (self.system, self.legacy_name))[0]
        except LegacyDataError as exc:
            exc.operation = self.legacy_name
            raise


def shape_operation(
    reshaper: Reshaper,
    system: str,
    legacy_name: str,
    input_model: type[BaseModel],
    output_model: type[BaseModel],
    spec: OperationMap | None,
    *,
    keep: frozenset[str] = frozenset(),
) -> OperationShape | None:
    """The operation's modern shape, or None when it is the legacy one.

    ``ValueError`` (naming the operation) when the spec does not fit the models.
    """
    spec = spec or _UNMAPPED
    name = spec.modern_name or legacy_name
    try:
        modern_in, request = reshaper.message(
            input_model, spec.request, name=input_model.__name__, tag=name, output=False, keep=keep
        )
        modern_out, answer = reshaper.message(
            output_model, spec.response, name=output_model.__name__, tag=name, output=True
        )
    except ValueError as exc:
        raise ValueError(f"operation {legacy_name}: {exc}") from None
    if modern_in is input_model and modern_out is output_model and name == legacy_name:
        return None
    return OperationShape(
        system, legacy_name, name, input_model, modern_in, request, output_model, modern_out, answer
    )


def shape_operations(
    system: str,
    operations: Sequence[Operation[T]],
    specs: Mapping[str, OperationMap],
    *,
    naming: Naming,
    unwrap: bool,
    keep: frozenset[str] = frozenset(),
) -> tuple[list[Operation[T]], dict[Operation[T], OperationShape]]:
    """Every operation in modern shape (``specs`` by legacy name), and the shape of
    each one that changed. The last part of a route becomes the modern name.

    ``ValueError`` when the spec names an operation the system lacks or does not fit.
    """
    unknown = [name for name in specs if name not in {op.name for op in operations}]
    if unknown:
        raise ValueError(f"no operation {', '.join(map(repr, unknown))}")
    reshaper = Reshaper(naming, unwrap)
    out: list[Operation[T]] = []
    shapes: dict[Operation[T], OperationShape] = {}
    for op in operations:
        shape = shape_operation(
            reshaper,
            system,
            op.name,
            op.input_model,
            op.output_model,
            specs.get(op.name),
            keep=keep,
        )
        if shape is None:
            out.append(op)
            continue
        name = shape.modern_name
        modern = replace(
            op,
            name=name,
            route=(*op.route[:-1], name),
            aliases=tuple((*alias[:-1], name) for alias in op.aliases),
            input_model=shape.input_model,
            output_model=shape.output_model,
        )
        shapes[modern] = shape
        out.append(modern)
    return out, shapes
