"""The spec of a legacy database system (SQLAlchemy URL or raw ODBC).

A database system is reached either through a SQLAlchemy ``url``
(``postgresql+psycopg://``, ``mysql+pyodbc://``, ``mssql+pyodbc://``,
``sqlite:///file.db``) or through a raw ODBC connection string ``odbc``
(``DRIVER={...};...`` or ``DSN=...``) for drivers without a SQLAlchemy dialect.
Both may carry a password, so both are secrets and never shown in full.

Tables are read-only unless their entry says ``writes: true``; stored
procedures become POST operations with the parameters listed here.

Tables and columns can be served in a modern shape (see :mod:`strangler.mapping`)::

    naming: camelCase                    # names not given one by one: ORDER_LINES → orderLines
    tables:
      ORDERS:
        as: orders                       # the name in URLs and operation names
        fields:
          ORDER_NO: orderNumber
          ORDER_DATE: {as: orderDate, date: DD.MM.YYYY}
          STATUS: {enum: {N: new, S: shipped, C: cancelled}}

``key`` and ``columns`` keep naming the legacy columns. A mapping that does not
fit the database (an unknown column, a codec for another stored type, two
fields with one modern name) is refused when the adapter starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from strangler.mapping.naming import Naming, apply_naming
from strangler.mapping.spec import FieldMaps
from strangler.spec.common import Frozen

__all__ = ["CharPadding", "DatabaseSystem", "ParamType", "ProcedureSpec", "TableSpec"]

CharPadding = Literal["strip", "keep"]
"""What to do with the trailing blanks of fixed-width CHAR columns."""

ParamType = Literal[
    "string", "integer", "decimal", "float", "boolean", "date", "datetime", "time", "bytes"
]
"""The JSON-facing type of a stored procedure parameter."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


class TableSpec(Frozen):
    """How one table (or view) is exposed."""

    model_config = ConfigDict(populate_by_name=True)

    modern_name: str | None = Field(
        default=None, alias="as", description="The table's name in URLs and operation names."
    )
    fields: FieldMaps = Field(
        default_factory=dict,
        description="Legacy column → its modern name, or a mapping (name, encoding, on_broken).",
    )
    writes: bool = Field(default=False, description="Allow POST, PUT, PATCH and DELETE.")
    key: tuple[str, ...] | None = Field(
        default=None, description="Key columns, for views or tables without a primary key."
    )
    columns: tuple[str, ...] | None = Field(
        default=None, description="Only these columns are exposed (the key must be among them)."
    )
    char_padding: CharPadding | None = Field(
        default=None, description="Overrides the system's char_padding for this table."
    )

    @field_validator("key", "columns")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("must list at least one column, each once")
        return value


class ProcedureSpec(Frozen):
    """A stored procedure (MariaDB/MySQL, SQL Server) or set-returning function (PostgreSQL)."""

    params: dict[str, ParamType] = Field(
        default_factory=dict, description="Parameter name → type, in call order."
    )
    safe: bool = Field(default=False, description="True when the call changes nothing.")
    summary: str | None = None

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, ParamType]) -> dict[str, ParamType]:
        for name in value:
            if not name.isidentifier():
                raise ValueError(f"parameter name {name!r} must be a plain identifier")
        return value


class DatabaseSystem(Frozen):
    """A legacy database exposed table by table."""

    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["database"]
    url: SecretStr | None = Field(default=None, description="A SQLAlchemy database URL.")
    odbc: SecretStr | None = Field(
        default=None, description="A raw ODBC connection string ('DRIVER={...};...' or 'DSN=...')."
    )
    db_schema: str | None = Field(
        default=None, alias="schema", description="The schema (or database) holding the tables."
    )
    tables: dict[str, TableSpec] | None = Field(
        default=None,
        description="Table names, or name → options. Omitted: every table, read-only.",
    )
    procedures: dict[str, ProcedureSpec] = Field(default_factory=dict)
    max_page_size: PositiveInt = 500
    default_page_size: PositiveInt = 50
    max_filters: PositiveInt = Field(
        default=50, description="More filters in one list request are refused (400)."
    )
    max_sort_keys: PositiveInt = Field(
        default=10, description="More sort columns in one list request are refused (400)."
    )
    statement_timeout_s: PositiveFloat | None = Field(
        default=30.0, description="Longer statements are cancelled (answered 504)."
    )
    connect_timeout_s: PositiveFloat = 5.0
    pool_size: PositiveInt = Field(default=5, description="Connections kept open at most.")
    pool_timeout_s: PositiveFloat = Field(
        default=10.0, description="How long a request waits for a free connection."
    )
    retry_after_s: PositiveFloat = Field(
        default=5.0, description="Retry-After sent when the database cannot be reached."
    )
    char_padding: CharPadding = "strip"
    naming: Naming = Field(
        default="keep",
        description="How table and column names not renamed one by one are made modern.",
    )
    read_ahead_s: NonNegativeFloat = Field(
        default=2.0,
        description=(
            "A client paging with a cursor has its next two pages read, one after the "
            "other, while it handles this one; such a page answers if asked for within "
            "this many seconds and no write "
            "went through the adapter meanwhile. 0 turns read-ahead off; it takes at "
            "most half of pool_size connections (none with a pool of one)."
        ),
    )
    database_json: bool = Field(
        default=True,
        description=(
            "Let PostgreSQL and SQLite (SQLAlchemy URLs) write list pages' JSON where they "
            "write it exactly as the adapter would; false keeps that work in the adapter."
        ),
    )

    def served_name(self, table: str) -> str:
        """The name ``table`` is served under (its ``as``, or the naming convention's)."""
        options = (self.tables or {}).get(table)
        if options is not None and options.modern_name:
            return options.modern_name
        return apply_naming(table, self.naming)

    @field_validator("tables", mode="before")
    @classmethod
    def _table_list(cls, value: Any) -> Any:
        """Accept a plain list of names, and ``name:`` entries without options."""
        if isinstance(value, list | tuple):
            if len(set(value)) != len(value):
                raise ValueError("a table is listed twice")
            return {name: {} for name in value}
        if isinstance(value, dict):
            return {name: {} if options is None else options for name, options in value.items()}
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Check the URL's shape; a relative ``sqlite:///file`` is taken from the spec's folder."""
        if value is None:
            return None
        text = value.get_secret_value()
        scheme, sep, rest = text.partition("://")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9]*(\+[a-z0-9_]+)?", scheme):
            raise ValueError("must be a SQLAlchemy URL such as postgresql+psycopg://host/db")
        base = (info.context or {}).get("base_dir")
        if scheme.startswith("sqlite") and rest.startswith("/") and base is not None:
            path = rest[1:].partition("?")
            if path[0] and path[0] != ":memory:" and not Path(path[0]).is_absolute():
                text = f"{scheme}:///{Path(base) / path[0]}{path[1]}{path[2]}"
        return SecretStr(text)

    @model_validator(mode="after")
    def _consistent(self) -> DatabaseSystem:
        if (self.url is None) == (self.odbc is None):
            raise ValueError(
                "give exactly one of 'url' (a SQLAlchemy URL) or 'odbc' (an ODBC connection string)"
            )
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size must not exceed max_page_size")
        for name in self.procedures:
            if not _NAME.match(name):
                raise ValueError(f"procedure name {name!r} must be an identifier (or schema.name)")
        clash = set(self.tables or ()) & set(self.procedures)
        if clash:
            raise ValueError(f"{sorted(clash)} named both as table and procedure")
        served: dict[str, str] = {}
        for name, table in (self.tables or {}).items():
            modern = self.served_name(name)
            if not name or "/" in name or not modern or "/" in modern:
                raise ValueError(f"table name {modern or name!r} cannot be used in a URL path")
            if modern in served:
                raise ValueError(
                    f"tables {served[modern]!r} and {name!r} are both served as {modern!r}"
                )
            served[modern] = name
            if table.key and table.columns and not set(table.key) <= set(table.columns):
                raise ValueError(f"table {name!r}: the key columns must be among 'columns'")
        return self
