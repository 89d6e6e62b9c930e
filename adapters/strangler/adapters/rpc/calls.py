"""What an RPC operation calls, and how a validated body becomes wire parameters.

Declared parameters arrive as named fields. By name, only the fields the
caller gave are sent (the legacy system applies its own defaults). By
position, they are sent in declared order up to the last one given; a gap
before it is filled with the parameter's declared default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from strangler.adapters.base import Operation
from strangler.adapters.rpc.models import ModelFactory
from strangler.errors import SystemLoadError
from strangler.mapping.operation import OperationShape, shape_operations
from strangler.spec.operations import OperationMap
from strangler.spec.rpc import RpcMethod, RpcSystemBase

__all__ = ["RpcTarget", "declared_operation", "modern_operations"]


@dataclass(frozen=True)
class RpcTarget:
    """One remote method (the ``target`` of its :class:`Operation`).

    ``names`` are the declared parameter names, or ``None`` when the body
    carries raw ``params``.
    """

    method: str
    names: tuple[str, ...] | None
    by_position: bool = True
    notification: bool = False

    def wire_params(self, value: BaseModel | Any, *, json_mode: bool) -> Any:
        """Parameters for the request: a list, an object, or ``None`` (none sent)."""
        if self.names is None:
            raw = getattr(value, "params", None) if isinstance(value, BaseModel) else value
            return list(raw) if isinstance(raw, tuple) else raw
        if not self.names:  # declared without parameters: "params" is left out
            return None
        if not isinstance(value, BaseModel):
            raise TypeError(f"{self.method}: expected a parameters model")
        given = value.model_dump(
            by_alias=True, exclude_unset=True, mode="json" if json_mode else "python"
        )
        if not self.by_position:
            return given
        defaults = {f.alias or n: f.default for n, f in type(value).model_fields.items()}
        last = max((i for i, n in enumerate(self.names) if n in given), default=-1)
        return [given[n] if n in given else defaults.get(n) for n in self.names[: last + 1]]


def declared_operation(
    system: str,
    kind: str,
    factory: ModelFactory,
    name: str,
    method: RpcMethod,
    *,
    by_position: bool,
    notification: bool = False,
    input_model: type[BaseModel] | None = None,
    output_model: type[BaseModel] | None = None,
    description: str | None = None,
) -> Operation[RpcTarget]:
    """The operation for a method; models default to those the spec declares.

    With neither declared parameters nor ``input_model`` the body is raw
    ``params`` (positional only when ``by_position``).
    """
    names = tuple(method.params) if method.params is not None else None
    if names is not None and method.params is not None:
        input_model = factory.named_params(name, method.params)
    elif input_model is None:
        input_model = factory.free_params(name, positional_only=by_position)
    if output_model is None or "result" in method.model_fields_set:
        output_model = factory.result_of(name, method.result)
    return Operation(
        system=system,
        name=name,
        route=(name,),
        input_model=input_model,
        output_model=output_model,
        summary=f"{name} ({kind})",
        description=method.description or description,
        safe=method.safe,
        tags=(system,),
        target=RpcTarget(name, names, by_position, notification),
    )


def modern_operations(
    system: str,
    spec: RpcSystemBase,
    methods: Mapping[str, RpcMethod],
    operations: list[Operation[RpcTarget]],
) -> tuple[list[Operation[RpcTarget]], dict[Operation[RpcTarget], OperationShape]]:
    """The methods in the modern shape the spec declares (names, fields, unwrapping),
    and the shape of each one that changed (see :mod:`strangler.mapping.operation`)."""
    maps = {
        name: OperationMap.model_validate(
            {"as": method.modern_name, "request": method.request, "response": method.response}
        )
        for name, method in methods.items()
        if method.modern_name is not None or not (method.request.empty and method.response.empty)
    }
    if not (spec.mapped or maps):
        return operations, {}
    try:
        return shape_operations(system, operations, maps, naming=spec.naming, unwrap=spec.unwrap)
    except ValueError as exc:
        raise SystemLoadError(system, spec.url, f"methods: {exc}") from None
