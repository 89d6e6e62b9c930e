"""The one small interface every adapter implements.

An adapter turns a legacy system into :class:`Operation` objects, each with a
pydantic input and output model, answers :meth:`Adapter.invoke` with plain
JSON-ready data, and resolves any of its operations by name with
:meth:`Adapter.lookup` (see :mod:`strangler.platform.operations` for the
names). It is a :class:`~strangler.platform.Component` like every other part:
the app starts it, closes it and asks its health.

Adapters raise the project's errors only (:mod:`strangler.errors`) and know
nothing of HTTP: the REST edge builds routes from their operations, and the
few resource-style routes a kind needs (a table's list/get/insert) live beside
the edge, named by the kind's registration (:mod:`strangler.adapters.registration`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from strangler.platform.component import Health
from strangler.platform.operations import Operation

__all__ = ["Adapter", "Operation"]


@runtime_checkable
class Adapter(Protocol):
    """A legacy system as a component made of operations."""

    @property
    def name(self) -> str:
        """The system's name in the spec (also :attr:`system`)."""
        ...

    @property
    def system(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def operations(self) -> Sequence[Operation[Any]]:
        """The operations served as ``POST`` routes, known once built (no I/O)."""
        ...

    def lookup(self, name: str) -> Operation[Any]:
        """Any operation of this system by name; ``UnknownOperation`` otherwise."""
        ...

    async def invoke(self, operation: Operation[Any], payload: BaseModel) -> Any:
        """Call the legacy system; return JSON-ready data or raise a StranglerError."""
        ...

    async def start(self) -> None:
        """Open long-lived resources (connection pools)."""
        ...

    async def health(self) -> Health:
        """A cheap check that the legacy side can be served; never raises."""
        ...

    async def close(self) -> None:
        """Release what :meth:`start` opened; idempotent."""
        ...
