"""The running set of components: lifecycle, health and the one operation lookup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from pydantic import BaseModel, ValidationError

from strangler.errors import InputProblem, InvalidInput, UnknownOperation
from strangler.platform.component import Component, Health
from strangler.platform.invocations import Call
from strangler.platform.invocations import invoke as observed_invoke
from strangler.platform.operations import Operation, OperationSource, split_ref

__all__ = ["Platform"]


class Platform:
    """Components built from a spec (or given), started and stopped together.

    Components start in the order given and close in reverse; if one fails to
    start, the ones already started (and the failing one) are closed before the
    error propagates, so nothing stays open.
    """

    def __init__(self, components: Iterable[Component]) -> None:
        self.components: tuple[Component, ...] = tuple(components)
        names = [c.name for c in self.components]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"component names must be unique: {', '.join(twice)}")
        self._by_name = {c.name: c for c in self.components}

    def __iter__(self) -> Any:
        return iter(self.components)

    def component(self, name: str) -> Component:
        try:
            return self._by_name[name]
        except KeyError:
            raise LookupError(f"no component {name!r}") from None

    # -- operations ---------------------------------------------------------

    def sources(self) -> dict[str, OperationSource]:
        """The components made of operations (the legacy adapters), by name."""
        return {c.name: c for c in self.components if isinstance(c, OperationSource)}

    def operation(self, ref: str) -> Operation[Any]:
        """The operation named ``system.name`` (see :mod:`.operations`)."""
        try:
            system, name = split_ref(ref)
        except ValueError:
            raise UnknownOperation(ref.partition(".")[0], ref) from None
        source = self.sources().get(system)
        if source is None:
            raise UnknownOperation(system, name)
        return source.lookup(name)

    async def invoke(
        self,
        operation: str | Operation[Any],
        payload: BaseModel | Mapping[str, Any] | None = None,
        *,
        call: Call | None = None,
    ) -> Any:
        """Call an operation in-process; a mapping is validated against its input model.
        ``call`` makes the call instead of the source (see :func:`observed_invoke`)."""
        op = self.operation(operation) if isinstance(operation, str) else operation
        source = self.sources().get(op.system)
        if source is None:
            raise UnknownOperation(op.system, op.name)
        return await observed_invoke(source, op, validate_input(op, payload), call)

    # -- lifecycle ----------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Platform]:
        """Start every component; close them all on exit, also when a start fails."""
        async with AsyncExitStack() as stack:
            for component in self.components:
                stack.push_async_callback(component.close)
                await component.start()
            yield self

    async def health(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Whether every component can serve, and each one's health."""
        answers = await asyncio.gather(*(_health(c) for c in self.components))
        detail = {c.name: h.as_json() for c, h in zip(self.components, answers, strict=True)}
        return all(h.status != "down" for h in answers), detail


async def _health(component: Component) -> Health:
    try:
        return await component.health()
    except Exception as exc:  # a broken health check must not break /readyz
        return Health("down", {"kind": component.kind, "error": type(exc).__name__})


def validate_input(
    operation: Operation[Any], payload: BaseModel | Mapping[str, Any] | None
) -> BaseModel:
    """``payload`` as the operation's input model; ``InvalidInput`` naming each bad field."""
    model = operation.input_model
    if isinstance(payload, model):
        return payload
    data: Any = (
        payload.model_dump(by_alias=True, exclude_unset=True)
        if isinstance(payload, BaseModel)
        else dict(payload or {})
    )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            InputProblem("/".join(str(p) for p in err["loc"]) or "/", err["msg"])
            for err in exc.errors(include_url=False)
        ]
        raise InvalidInput(
            f"{operation.ref}: " + "; ".join(f"{p.path}: {p.message}" for p in problems[:5]),
            problems,
        ) from None


def components_of(value: Platform | Sequence[Component]) -> Platform:
    """A platform for ``value`` (components given one by one, as tests do)."""
    return value if isinstance(value, Platform) else Platform(value)
