"""Streams as the spec declares them, resolved against the built adapters.

A stream's source is ``system.table`` (a table of a database system, by its
API name) or ``system.operation`` (any adapter operation, e.g. the demo's
``inventory.AdjustStock``). Resolution happens when the app is built, so a
stream naming a table or operation that does not exist is refused then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from strangler.errors import SpecError, SpecProblem
from strangler.platform.core import Platform
from strangler.platform.operations import Operation, split_ref
from strangler.spec.events import EventsSpec, StreamSpec

__all__ = ["Action", "Stream", "resolve_streams"]

Action = Literal["created", "updated", "deleted", "invoked"]


@dataclass(frozen=True, eq=False)
class Stream:
    """One declared stream, with what it reads from.

    ``adapter`` is the source system's adapter; ``table`` the table's API name
    (table streams) or ``operation`` the operation (operation streams).
    ``data_model`` is the payload's pydantic model: the same row model the REST
    side answers with, or the operation's input and output for operation streams.
    """

    name: str
    spec: StreamSpec
    system: str
    topic: str
    source: str
    adapter: Any
    data_model: type[BaseModel]
    table: str | None = None
    operation: Operation[Any] | None = None

    @property
    def kind(self) -> Literal["table", "operation"]:
        return "table" if self.table is not None else "operation"

    @property
    def entity(self) -> str:
        return self.table if self.table is not None else self.operation.name  # type: ignore[union-attr]

    def event_type(self, action: Action) -> str:
        """``strangler.erp.orders.created``: what happened, to what."""
        return f"strangler.{self.system}.{self.entity}.{action}"

    def actions(self) -> tuple[Action, ...]:
        return ("created", "updated", "deleted") if self.kind == "table" else ("invoked",)


class OperationEvent(BaseModel):
    """The data of an operation stream's event: what was asked and what was answered."""

    input: dict[str, Any]
    output: Any


def _bad(where: str, message: str) -> SpecError:
    return SpecError([SpecProblem("spec", None, where, message)])


def resolve_streams(spec: EventsSpec, platform: Platform) -> list[Stream]:
    """Every stream of the spec, its source looked up; ``SpecError`` naming a bad one."""
    sources = platform.sources()
    resolved: list[Stream] = []
    for name, stream in spec.streams.items():
        system, entity = split_ref(stream.source)
        adapter: Any = sources.get(system)
        if adapter is None:
            raise _bad(f"events.streams.{name}.from", f"no system {system!r}")
        source = f"{spec.source.rstrip('/')}/{system}/{entity}"
        topic = stream.topic or f"{system}.{entity}"
        tables = getattr(adapter, "tables", None)
        if isinstance(tables, dict) and entity in tables:
            models = adapter.models[entity]
            resolved.append(
                Stream(name, stream, system, topic, source, adapter, models.row, table=entity)
            )
            continue
        if stream.poll is not None:
            raise _bad(
                f"events.streams.{name}.poll",
                f"{stream.source} is not a table of a database system",
            )
        try:
            op = adapter.lookup(entity)
        except Exception:
            raise _bad(
                f"events.streams.{name}.from", f"{system} has no table or operation {entity!r}"
            ) from None
        resolved.append(
            Stream(name, stream, system, topic, source, adapter, OperationEvent, operation=op)
        )
    return resolved
