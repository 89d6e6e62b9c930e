"""A table's reads as operations, so code can call them by name in-process.

``erp.orders`` (or ``erp.orders.list``; a table by its served name) takes a
:class:`ListInput` (filters, sort, fields, limit, cursor) and answers the
table's page model;
``erp.orders.get`` takes the key columns and answers the row model. The REST
edge serves tables with routes of its own (``GET /database/erp/orders?...``),
so these operations are not ``POST`` routes; the gateway, ETL and the shim
use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.models import TableModels, model_name
from strangler.adapters.db.query import OPERATORS, Op
from strangler.adapters.db.types import input_annotation
from strangler.platform.operations import Operation

__all__ = ["FilterInput", "ListInput", "TableRead", "read_operations"]


@dataclass(frozen=True)
class TableRead:
    """The target of a table read: which table, list or get."""

    table: str
    verb: Literal["list", "get"]


class FilterInput(BaseModel):
    """One ``column op value`` condition; conditions are ANDed."""

    model_config = ConfigDict(extra="forbid")

    column: str
    op: Op = Field(description=f"One of {', '.join(OPERATORS)}.")
    value: Any = Field(description="Text as in a query string, or a typed value; a list for in.")


class ListInput(BaseModel):
    """A page of a table: the same choices as the list route's query string."""

    model_config = ConfigDict(extra="forbid")

    filters: list[FilterInput] = Field(default_factory=list)
    sort: list[str] = Field(default_factory=list, description="Columns, '-' first: descending.")
    fields: list[str] | None = Field(default=None, description="The columns answered.")
    limit: int | None = Field(default=None, ge=1, description="Page size (default: the spec's).")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")


def read_operations(
    system: str, table: TableInfo, models: TableModels
) -> list[Operation[TableRead]]:
    """The list and get operations of ``table``."""
    key_fields: dict[str, Any] = {
        f"c{i}": input_annotation(column, required=True)
        for i, column in enumerate(table.key_columns)
    }
    key_model = create_model(
        model_name(system, table.name, "Key"),
        __config__=ConfigDict(extra="forbid", populate_by_name=True),
        __doc__=f"The key of a {table.name} row.",
        **key_fields,
    )
    common: dict[str, Any] = {"system": system, "tags": (system,), "safe": True, "rest": False}
    return [
        Operation(
            name=table.name,
            route=(table.name,),
            input_model=ListInput,
            output_model=models.page,
            target=TableRead(table.name, "list"),
            summary=f"List {table.name}",
            aliases=((table.name, "list"),),
            **common,
        ),
        Operation(
            name=f"{table.name}.get",
            route=(table.name, "get"),
            input_model=key_model,
            output_model=models.row,
            target=TableRead(table.name, "get"),
            summary=f"Get one {table.name} by {','.join(table.key)}",
            **common,
        ),
    ]
