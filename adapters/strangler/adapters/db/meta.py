"""What the adapter knows of a table: its columns, their kinds, its key.

Both reflection paths (SQLAlchemy's inspector and pyodbc's catalog calls)
produce the same :class:`TableInfo`; everything downstream (query parsing,
statements, models, JSON) works from it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from strangler.mapping.codecs import Codec

__all__ = ["TEXT_KINDS", "ColumnInfo", "Kind", "TableInfo"]

Kind = Literal[
    "integer",
    "decimal",
    "float",
    "boolean",
    "string",
    "char",
    "date",
    "datetime",
    "datetime_tz",
    "time",
    "binary",
    "uuid",
    "other",
]
"""How a column's values travel as JSON (see ``strangler.adapters.db.types``)."""

TEXT_KINDS: frozenset[Kind] = frozenset({"string", "char"})
"""Kinds that ``like`` filters apply to."""


@dataclass(frozen=True)
class ColumnInfo:
    """One exposed column.

    ``sa_type`` is the reflected SQLAlchemy type on the SQLAlchemy path and a
    generic one made from ``kind`` on the raw ODBC path; ``has_default`` says
    the column may be left out of an insert (a default or auto-increment).
    ``bounds`` is an integer column's range; ``as_stored`` says a cursor
    carries the value as the driver gave it rather than as answered (SQLite's
    text dates, whose stored form may differ from the ISO 8601 answer).

    A column served in a modern shape (see ``mapped``) has its modern ``name``
    and ``kind``; ``legacy`` is its name in the database and ``codec`` converts
    its stored values (``sa_type`` stays the stored type); ``raw_name`` is the
    side field carrying stored values that break their encoding;
    ``stored_bounds`` and ``stored_length`` are what the stored column holds
    (an encoded write or filter value must fit them).
    """

    name: str
    kind: Kind
    nullable: bool
    sa_type: TypeEngine[Any] = field(compare=False)
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    has_default: bool = False
    strip: bool = False
    db_type: str = ""
    bounds: tuple[int, int] | None = None
    as_stored: bool = False
    legacy: str = ""
    codec: Codec | None = field(default=None, compare=False)
    raw_name: str | None = None
    stored_bounds: tuple[int, int] | None = None
    stored_length: int | None = None

    @property
    def sql_name(self) -> str:
        """The column's name in the database."""
        return self.legacy or self.name


@dataclass(frozen=True)
class TableInfo:
    """One exposed table or view, with its key (primary key or the spec's override)."""

    # ``name`` is the spec's spelling (the URL path); ``db_name`` the database's.

    name: str
    schema: str | None
    columns: tuple[ColumnInfo, ...]
    key: tuple[str, ...]
    writes: bool = False
    db_name: str = ""

    @property
    def sql_name(self) -> str:
        """The table's name in the database (``name`` is how the API calls it)."""
        return self.db_name or self.name

    def column(self, name: str) -> ColumnInfo | None:
        """The column called ``name`` (exact spelling), if exposed."""
        return self._by_name.get(name)

    def require(self, name: str) -> ColumnInfo:
        """The column called ``name``; ``KeyError`` if it is not exposed."""
        return self._by_name[name]

    @cached_property
    def _by_name(self) -> dict[str, ColumnInfo]:
        return {c.name: c for c in self.columns}

    @cached_property
    def mapped(self) -> bool:
        """True when some column's values are converted (not only renamed)."""
        return any(c.codec is not None for c in self.columns)

    @property
    def key_columns(self) -> tuple[ColumnInfo, ...]:
        return tuple(self._by_name[name] for name in self.key)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @cached_property
    def sa_table(self) -> sa.Table:
        """A SQLAlchemy Core table for building statements (never for DDL)."""
        return sa.Table(
            self.sql_name,
            sa.MetaData(),
            *(
                sa.Column(
                    c.sql_name,
                    c.sa_type,
                    key=c.name,
                    primary_key=c.name in self.key,
                    nullable=c.nullable,
                    autoincrement=self.key == (c.name,) and c.kind == "integer" and c.has_default,
                )
                for c in self.columns
            ),
            schema=self.schema,
        )
