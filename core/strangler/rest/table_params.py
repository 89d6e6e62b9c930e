"""The query parameters of a table's list route, typed and documented per column.

The list route reads its query string itself (``strangler.adapters.db.query``
checks it and answers 400 ``bad-query`` naming each problem), so these
parameters are for the OpenAPI document: ``limit`` and ``offset`` integers with
their ranges, ``cursor``, ``sort`` and ``fields`` strings, and one optional,
repeatable ``op.value`` filter per column, listing the operators that apply to
the column's type and the form of its values.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import Query
from pydantic import WithJsonSchema

from strangler.adapters.db.meta import TEXT_KINDS, ColumnInfo, TableInfo
from strangler.adapters.db.query import OPERATORS, RESERVED

__all__ = ["MAX_OFFSET", "filter_operators", "list_parameters"]

MAX_OFFSET = 10**9
"""The largest ``offset`` the list query takes."""

_VALUES = {
    "integer": "an integer (digits, optional sign)",
    "decimal": "a decimal number",
    "float": "a number",
    "boolean": "true or false",
    "string": "text",
    "char": "text (trailing padding ignored)",
    "date": "a date, YYYY-MM-DD",
    "time": "a time, HH:MM[:SS[.ffffff]]",
    "datetime": "a date-time without offset, YYYY-MM-DDTHH:MM[:SS[.ffffff]]",
    "datetime_tz": "a date-time with its offset, YYYY-MM-DDTHH:MM[:SS]+HH:MM",
    "uuid": "a UUID",
    "binary": "base64",
}


def filter_operators(column: ColumnInfo) -> tuple[str, ...]:
    """The operators a filter on ``column`` takes (``like`` on text only; only ``is``
    on columns of types without a JSON counterpart)."""
    if column.kind == "other":
        return ("is",)
    return tuple(op for op in OPERATORS if op != "like" or column.kind in TEXT_KINDS)


def _filter_description(column: ColumnInfo) -> str:
    ops = filter_operators(column)
    kind = column.kind if column.kind != "other" else (column.db_type or "other")
    if ops == ("is",):
        return f"Filter on {column.name} ({kind}): `is.null` or `is.notnull`. Repeat to AND."
    value = _VALUES.get(column.kind, "text")
    examples = ["`eq.<value>` (ne, lt, le, gt, ge alike)"]
    examples.append("`in.<value>,<value>,...` (quote a value holding a comma)")
    if "like" in ops:
        examples.append("`like.<pattern>` (SQL LIKE: `%` any run, `_` one character)")
    examples.append("`is.null`, `is.notnull`")
    return (
        f"Filter on {column.name} ({kind}): `op.value`, with op one of {', '.join(ops)}; "
        f"the value is {value}. Forms: {'; '.join(examples)}. Repeat to AND."
    )


def _filter_schema(column: ColumnInfo) -> dict[str, Any]:
    ops = "|".join(filter_operators(column))
    item = {"type": "string", "pattern": f"^({ops})\\."}
    return {"type": "array", "items": item}


def _param(name: str, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=None
    )


def _text(name: str, description: str, schema: dict[str, Any]) -> inspect.Parameter:
    """A parameter read as text (checked by the list query), documented as ``schema``."""
    return _param(
        name,
        Annotated[str | None, WithJsonSchema(schema), Query(description=description)],
    )


def list_parameters(
    table: TableInfo, *, default_limit: int, max_limit: int
) -> list[inspect.Parameter]:
    """The route-function parameters of the list route of ``table`` (see module doc)."""
    sortable = [c.name for c in table.columns if c.kind != "other"]
    names = ", ".join(table.names)
    reserved = [
        _text(
            "limit",
            f"Rows per page, 1 to {max_limit}; {default_limit} when not given.",
            {"type": "integer", "minimum": 1, "maximum": max_limit},
        ),
        _text(
            "offset",
            "Rows to skip (not together with cursor).",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        ),
        _text(
            "cursor",
            "The next_cursor of the previous page: the page after it (not with offset).",
            {"type": "string"},
        ),
        _text(
            "sort",
            "Comma-separated columns to order by, `-` before a name for descending "
            f"(e.g. `-{sortable[0] if sortable else 'Name'}`); the key is added last. "
            f"Columns: {', '.join(sortable)}.",
            {"type": "string"},
        ),
        _text(
            "fields",
            f"Comma-separated columns to answer (default: all). Columns: {names}.",
            {"type": "string"},
        ),
    ]
    filters = [
        _param(
            f"f{i}",
            Annotated[
                list[str] | None,
                WithJsonSchema(_filter_schema(c)),
                Query(alias=c.name, description=_filter_description(c)),
            ],
        )
        for i, c in enumerate(table.columns)
        if c.name not in RESERVED
    ]
    return [*reserved, *filters]
