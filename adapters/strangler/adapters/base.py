"""The one small interface every adapter implements, and the registry of kinds.

An adapter turns a legacy system into a list of :class:`Operation` objects,
each with a pydantic input and output model, and answers :meth:`Adapter.invoke`
with plain JSON-ready data. The REST edge builds routes from the operations; it
never sees zeep, pyodbc or any other foreign library.

An adapter whose legacy system is made of resources rather than calls (database
tables: list, get, insert…) may also have a ``router()`` method returning a
FastAPI ``APIRouter``; the edge mounts it under ``/{kind}/{system}``. Its
handlers raise the project's errors (``strangler.errors``) and the edge answers
them as problem+json like everything else.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

__all__ = ["ADAPTER_CLASSES", "Adapter", "Operation", "adapter_class"]


@dataclass(frozen=True)
class Operation:
    """One callable thing of a legacy system.

    ``route`` is the path below the system's prefix, e.g.
    ``("InventoryService", "InventorySoap11", "GetStock")``; ``aliases`` are
    shorter paths for the same operation.
    """

    system: str
    name: str
    route: tuple[str, ...]
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    summary: str | None = None
    description: str | None = None
    safe: bool = False
    aliases: tuple[tuple[str, ...], ...] = ()
    tags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def operation_id(self) -> str:
        return "_".join((self.system, *self.route))


@runtime_checkable
class Adapter(Protocol):
    """What the REST edge needs of a legacy system."""

    system: str
    kind: str

    def operations(self) -> Sequence[Operation]:
        """Every operation, known once the adapter is built (no I/O needed)."""
        ...

    async def start(self) -> None:
        """Open long-lived resources (connection pools)."""
        ...

    async def invoke(self, operation: Operation, payload: BaseModel) -> Any:
        """Call the legacy system; return JSON-ready data or raise a StranglerError."""
        ...

    async def health(self) -> dict[str, Any]:
        """A cheap check that the legacy side answers."""
        ...

    async def close(self) -> None:
        """Release what :meth:`start` opened."""
        ...


ADAPTER_CLASSES: dict[str, str] = {
    "soap": "strangler.adapters.soap:SoapAdapter",
    "xmlrpc": "strangler.adapters.rpc:XmlRpcAdapter",
    "jsonrpc": "strangler.adapters.rpc:JsonRpcAdapter",
    "database": "strangler.adapters.db:DatabaseAdapter",
}
"""Spec ``kind`` → import string of the adapter class, imported only when used."""


def adapter_class(kind: str) -> type[Any]:
    """Import the adapter class registered for ``kind``."""
    try:
        target = ADAPTER_CLASSES[kind]
    except KeyError:
        raise LookupError(f"no adapter for kind {kind!r}") from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"the {kind!r} adapter needs extra packages: pip install 'strangler[{kind}]' ({exc})"
        ) from exc
    cls: type[Any] = getattr(module, attr)
    return cls
