"""Pydantic models per table, so the OpenAPI document shows each table's real schema.

Fields are named ``c0``, ``c1``… inside Python and carry the column's name as
their alias, so any column name works (spaces, keywords, ``model_config``).
A column served in a modern shape has its modern name and type, the legacy
name and encoding in its description, and with ``on_broken: raw`` a side field
(``r0``…) for stored values that break the encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.types import input_annotation, output_annotation
from strangler.platform import naming

__all__ = ["TableModels", "body_values", "build_models", "model_name"]


@dataclass(frozen=True)
class TableModels:
    """The row as answered, a page of rows, and the bodies of insert and update."""

    row: type[BaseModel]
    page: type[BaseModel]
    create: type[BaseModel] | None
    update: type[BaseModel] | None


class _Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def body_values(body: BaseModel, *, only_set: bool = True) -> dict[str, Any]:
    """A validated body as column (or parameter) name → Python value.

    Not ``model_dump``: that would turn base64-decoded bytes back into base64.
    """
    fields = type(body).model_fields
    names = body.model_fields_set if only_set else fields.keys()
    return {fields[name].alias or name: getattr(body, name) for name in names}


def model_name(system: str, table: str, suffix: str) -> str:
    """``"erp.OrderLinesRow"``: see :func:`strangler.platform.naming.model_name`."""
    return naming.model_name(system, table, suffix)


def build_models(system: str, table: TableInfo) -> TableModels:
    """The models of ``table`` (insert and update only when it takes writes)."""
    fields: dict[str, Any] = {
        f"c{i}": output_annotation(column) for i, column in enumerate(table.columns)
    }
    for i, column in enumerate(table.columns):
        if column.raw_name is not None:
            fields[f"r{i}"] = (
                str | int | float | bool | None,
                Field(
                    default=None,
                    alias=column.raw_name,
                    description=f"The value stored in {column.sql_name} when it breaks "
                    f"its encoding ({column.name} is then null); null otherwise.",
                ),
            )
    row = create_model(
        model_name(system, table.name, "Row"),
        __base__=_Answer,
        __doc__=f"A row of {table.name}; ?fields= may leave columns out.",
        **fields,
    )
    page = create_model(
        model_name(system, table.name, "Page"),
        __base__=_Answer,
        __doc__=f"One page of {table.name} rows.",
        items=(list[row], ...),  # type: ignore[valid-type]
        next_cursor=(
            str | None,
            Field(description="Pass as ?cursor= for the next page; null on the last page."),
        ),
    )
    if not table.writes:
        return TableModels(row, page, None, None)
    create_fields = {
        f"c{i}": input_annotation(c, required=not (c.nullable or c.has_default))
        for i, c in enumerate(table.columns)
    }
    update_fields = {
        f"c{i}": input_annotation(c, required=False)
        for i, c in enumerate(table.columns)
        if c.name not in table.key
    }
    create = create_model(  # type: ignore[call-overload]
        model_name(system, table.name, "Insert"),
        __base__=_Body,
        __doc__=f"A new {table.name} row; columns left out get the database's default.",
        **create_fields,
    )
    update = create_model(  # type: ignore[call-overload]
        model_name(system, table.name, "Update"),
        __base__=_Body,
        __doc__=f"Columns of a {table.name} row to change (the key cannot change).",
        **update_fields,
    )
    return TableModels(row, page, create, update)
