"""Operations: the callable things of legacy systems, addressed by one name.

Every adapter kind answers the same lookup. A reference is the system's name,
a dot, and a name the system resolves::

    inventory.GetReorderAdvice                            a SOAP operation (first port)
    inventory.InventoryService.InventorySoap12.GetStock   ... on a named service and port
    pricing.pricing.quote                                 an XML-RPC method (dots included)
    erp.ORDERS            erp.ORDERS.list    erp.ORDERS.get   a table's reads
    erp.invoices_by_country                              a stored procedure

The gateway, command topics, ETL sources and the SOAP shim all address legacy
operations this way and call them in-process with :meth:`OperationSource.invoke`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

__all__ = ["Operation", "OperationSource", "split_ref"]

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Operation(Generic[T]):
    """One callable thing of a legacy system, with typed input and output.

    ``route`` is the path below the system's REST prefix (e.g.
    ``("InventoryService", "InventorySoap11", "GetStock")``), ``aliases`` are
    shorter paths for the same operation; ``name`` is what :func:`split_ref`
    leaves after the system. ``target`` is the adapter's own typed description
    of what to call (a SOAP binding operation, an RPC method); only the adapter
    that made the operation reads it. ``safe`` marks operations without side
    effects: only those are retried. ``rest`` is false for operations the REST
    edge does not serve as a ``POST`` (a table's reads have routes of their own).
    """

    system: str
    name: str
    route: tuple[str, ...]
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    target: T
    summary: str | None = None
    description: str | None = None
    safe: bool = False
    aliases: tuple[tuple[str, ...], ...] = ()
    tags: tuple[str, ...] = ()
    rest: bool = True

    @property
    def operation_id(self) -> str:
        return "_".join((self.system, *self.route))

    @property
    def ref(self) -> str:
        """The name that finds this operation again: ``system.name``."""
        return f"{self.system}.{self.name}"


@runtime_checkable
class OperationSource(Protocol):
    """A component made of operations (every legacy adapter)."""

    def operations(self) -> Sequence[Operation[Any]]:
        """The operations the REST edge serves, known once built (no I/O)."""
        ...

    def lookup(self, name: str) -> Operation[Any]:
        """The operation ``name`` (without the system); ``UnknownOperation`` if none."""
        ...

    async def invoke(self, operation: Operation[Any], payload: BaseModel) -> Any:
        """Call the legacy system; JSON-ready data or one of the project's errors."""
        ...


def split_ref(ref: str) -> tuple[str, str]:
    """``"inventory.GetStock"`` → ``("inventory", "GetStock")``; ValueError without a dot."""
    system, dot, name = ref.partition(".")
    if not dot or not system or not name:
        raise ValueError(f"{ref!r} is not system.operation")
    return system, name
