"""Rows of a database table or SQL query, in modern shape, streamed in keyset order.

Both are read through a :class:`~strangler.adapters.db.meta.TableInfo`: a
table's as the database adapter reflected and mapped it (names and codecs from
the system's ``tables:`` entry), a query's made from its result columns and the
view's ``fields`` (:mod:`strangler.etl.query_table`). The statement is the one
the adapter's list route builds (:func:`~strangler.adapters.db.statements.select_page`,
without its limit), so filters and order on a converted column are evaluated by
the database over the codec's sortable form: ``DD.MM.YYYY`` text orders and
compares as dates.

Rows are streamed through one server-side cursor (:mod:`strangler.etl.streaming`),
read off the DB-API cursor where the driver allows it: a column the mapping layer
leaves alone gets the driver's value, passed through when it already has the
column's kind, else read by the kind's reader one column of a chunk at a time
(:func:`~strangler.etl.values.read_column`); SQLAlchemy's type processing is kept
for converted columns (their codec sees the value it always saw) and the sort
columns (the checkpoint),
or read in keyset pages of :data:`PAGE_ROWS` where the driver cannot stream
(MariaDB's ODBC driver before 3.1.17). They come ordered by (watermark, key),
or by key when the view has no watermark; the checkpoint after each batch is
the last row's sort values, and a resumed read continues strictly after them.
``low`` (inclusive) and ``high`` (exclusive) bound the watermark.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from strangler.adapters.db.meta import ColumnInfo, TableInfo
from strangler.adapters.db.query import Filter, ListQuery, SortKey
from strangler.adapters.db.statements import page_columns, page_sort_values, select_page
from strangler.etl.checkpoints import dump_values, load_values
from strangler.etl.streaming import Processor, Streamer
from strangler.etl.types import Batch, FeatureKind, Schema
from strangler.etl.values import column_kind, column_reader, parse_as, read_column
from strangler.mapping import BrokenValue, Codec, decode_value

__all__ = ["PAGE_ROWS", "DatabaseSource"]

_FAST: dict[FeatureKind, frozenset[type[Any]]] = {
    "integer": frozenset({int}),
    "float": frozenset({float}),
    "decimal": frozenset({decimal.Decimal}),
    "string": frozenset({str}),
    "boolean": frozenset({bool}),
    "date": frozenset({dt.date}),
    "datetime": frozenset({dt.datetime}),
    "time": frozenset({dt.time}),
    "bytes": frozenset({bytes}),
}
_NONE = type(None)
_RAW_KINDS = frozenset(
    {"integer", "float", "decimal", "string", "char", "boolean", "date", "datetime"}
)
"""Stored kinds whose reader takes the DB-API's value as it comes (SQLite's text
dates and timestamps, a NUMERIC's float): SQLAlchemy's processing is not needed."""


class DatabaseSource:
    """A table or query of one database system (see the module's docstring)."""

    def __init__(
        self,
        *,
        system: str,
        runner: Any,
        table: TableInfo,
        watermark: str | None,
        order: Sequence[str],
        chunk_rows: int,
        on_close: Callable[[], None],
        count: bool = True,
    ) -> None:
        self.system = system
        self.table = table
        self.watermark = watermark
        self.chunk_rows = chunk_rows
        self.schema: Schema = {c.name: column_kind(c) for c in table.columns}
        self.estimated_rows: int | None = None
        keys = [watermark] if watermark else []
        keys += [name for name in order if name not in keys]
        self._sort = tuple(SortKey(name) for name in keys)
        self._streamer = Streamer(system, runner)
        self._dbms = str(getattr(runner, "dbms", ""))
        self._on_close = on_close
        self._count_rows = count
        self._raw: frozenset[int] = frozenset()
        self._decoders = [_ColumnDecoder(system, table, c) for c in table.columns]

    def batches(
        self, *, resume: dict[str, Any] | None, low: Any | None, high: Any | None
    ) -> Iterator[Batch]:
        """The rows (see the module's docstring), ``chunk_rows`` per batch."""
        table = self.table
        filters: list[Filter] = []
        if self.watermark is not None:
            column = table.require(self.watermark)
            if low is not None:
                filters.append(Filter(column.name, "ge", self._bound(column, low)))
            if high is not None:
                filters.append(Filter(column.name, "lt", self._bound(column, high)))
        after = None
        if resume and resume.get("after") is not None:
            after = tuple(self._text_time(v) for v in load_values(resume["after"]))
        query = ListQuery(tuple(filters), self._sort, table.names, 1, 0, after)
        statement = select_page(table, query).limit(None)
        operation = f"read {table.name}"
        if self._count_rows:
            self.estimated_rows = self._count(statement, operation)
        names = page_columns(table, query)
        width = len(names)
        assert names[:width] == table.names[:width]
        extra = page_sort_values(table, query)
        positions = [
            width + extra.index(k.column) if k.column in extra else names.index(k.column)
            for k in self._sort
        ]
        columns = table.names
        self._raw = frozenset(
            i
            for i, c in enumerate(table.columns)
            if c.codec is None and c.kind in _RAW_KINDS and i not in positions
        )
        for chunk, processors in self._chunks(query, statement, positions, operation):
            last = _processed(chunk[-1], positions, processors)
            checkpoint = {"after": dump_values(last)}
            yield Batch(columns, self._decode(chunk, width, processors), checkpoint)

    def _chunks(
        self,
        query: ListQuery,
        statement: sa.Select[Any],
        positions: list[int],
        operation: str,
    ) -> Iterator[tuple[list[Any], tuple[Processor, ...]]]:
        """One streamed statement; or, where the driver cannot stream, keyset pages."""
        size = self.chunk_rows
        streamer = self._streamer
        if streamer.streams():
            yield from streamer.raw_chunks(statement, size, operation)
            return
        after = query.after
        rows = max(size, PAGE_ROWS)
        while True:
            page = select_page(self.table, dataclasses.replace(query, after=after)).limit(rows)
            got = 0
            last: Any = None
            processors: tuple[Processor, ...] = ()
            for part, processors in streamer.raw_chunks(page, size, operation):
                got += len(part)
                last = part[-1]
                yield part, processors
            if got < rows:
                return
            after = tuple(self._text_time(v) for v in _processed(last, positions, processors))

    def _count(self, statement: sa.Select[Any], operation: str) -> int | None:
        counted = sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
        _, rows = self._streamer.sample(counted, 1, f"{operation} (count)")
        return int(rows[0][0]) if rows else None

    def _bound(self, column: ColumnInfo, value: Any) -> Any:
        """A bound on the watermark as the column's kind (naive columns compare UTC)."""
        kind = column_kind(column)
        if kind in ("date", "datetime"):
            if isinstance(value, str):
                value = parse_as("datetime", value)
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                aware = column.kind == "datetime_tz" or (
                    column.codec is not None and column.codec.kind == "datetime_tz"
                )
                if not aware:
                    value = value.astimezone(dt.UTC).replace(tzinfo=None)
        value = parse_as(kind, value)
        return self._text_time(value) if column.codec is None else value

    def _text_time(self, value: Any) -> Any:
        """MariaDB's ODBC driver drops the fraction of a bound timestamp: bind it as text."""
        if self._dbms == "mysql" and isinstance(value, dt.datetime):
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def _decode(
        self, chunk: list[Any], width: int, processors: tuple[Processor, ...]
    ) -> list[tuple[Any, ...]]:
        columns: list[Sequence[Any]] = []
        columns.extend(zip(*chunk, strict=True))
        del columns[width:]
        raw = self._raw
        for i, decoder in enumerate(self._decoders):
            process = processors[i] if i < len(processors) else None
            values = columns[i]
            if process is not None and i in raw:
                read = decoder.read_raw(values)  # the driver's value, where the kind reads it
                if read is not None:
                    columns[i] = read
                    continue
            if process is not None:
                values = list(map(process, values))
            columns[i] = decoder.decode(values, chunk)
        return list(zip(*columns, strict=True))

    def close(self) -> None:
        self._streamer.close()
        self._on_close()


def _processed(
    row: Sequence[Any], positions: list[int], processors: tuple[Processor, ...]
) -> list[Any]:
    """The values at ``positions`` of a driver's row, as SQLAlchemy's types read them."""
    out = []
    for p in positions:
        process = processors[p] if p < len(processors) else None
        out.append(row[p] if process is None else process(row[p]))
    return out


PAGE_ROWS = 50_000
"""Rows of one keyset page where the driver cannot stream: each page is a statement that
sorts what is left of the table, so pages are larger than chunks (memory stays bounded
by the page, whatever the table's size)."""

MEMO_SIZE = 4096
"""Decoded values remembered per column: a chunk of dates or codes decodes each once."""
_MISSING: Any = object()


class _ColumnDecoder:
    """Reads one column of a chunk, touching values only where they need it.

    A converted column remembers what its stored values decode to while they
    repeat (most rows share a few dates, codes or padded keys); a column whose
    values are mostly distinct (amounts) stops remembering after one chunk.
    """

    def __init__(self, system: str, table: TableInfo, column: ColumnInfo) -> None:
        self.system = system
        self.table = table
        self.column = column
        kind = column_kind(column)
        self._kind = kind
        fast = _FAST.get(kind) if column.codec is None else None
        self._strip = column.kind == "char" and column.strip
        if self._strip:
            fast = None
        self._fast = None if fast is None else fast | {_NONE}
        self._read = column_reader(system, table, column)
        self._key = [table.names.index(k) for k in table.key if k in table.names]
        # stored value -> decoded, while values repeat (dates, codes, padded keys)
        self._memo: dict[tuple[type[Any], Any], Any] | None = (
            {} if column.codec is not None else None
        )

    def read_raw(self, values: Sequence[Any]) -> Sequence[Any] | None:
        """The column of a plain column (no codec) from the DB-API's values, or
        ``None`` where some value needs SQLAlchemy's type to read it first."""
        if self._fast is not None and set(map(type, values)) <= self._fast:
            return values
        if self._strip:
            return None
        return read_column(self._kind, values)

    def decode(self, values: Sequence[Any], rows: list[Any]) -> Sequence[Any]:
        if self._fast is not None and set(map(type, values)) <= self._fast:
            return values
        codec = self.column.codec
        if codec is None:
            if self._strip:
                return [None if v is None else str(v).rstrip(" ") for v in values]
            bulk = read_column(self._kind, values)
            if bulk is not None:
                return bulk
            read = self._read
            return [read(v, "") for v in values]
        memo = self._memo
        if memo is None:
            return [self._decoded(codec, v, rows, i) for i, v in enumerate(values)]
        out = []
        misses = 0
        for i, stored in enumerate(values):
            key = (type(stored), stored)
            found = memo.get(key, _MISSING)
            if found is _MISSING:
                misses += 1
                try:
                    found = codec.decode(stored)
                except BrokenValue:  # never remembered: each one is logged and counted
                    found = self._decoded(codec, stored, rows, i)
                else:
                    if len(memo) < MEMO_SIZE:
                        memo[key] = found
            out.append(found)
        if misses > len(values) // 2:  # mostly distinct values: the memo only costs
            self._memo = None
        return out

    def _decoded(self, codec: Codec, stored: Any, rows: list[Any], i: int) -> Any:
        try:
            return codec.decode(stored)
        except BrokenValue:  # the field's policy, with the row named
            modern, _ = decode_value(
                codec,
                stored,
                system=self.system,
                obj=self.table.sql_name,
                field=self.column.sql_name,
                row=self._label(rows[i]),
            )
            return modern

    def _label(self, row: Sequence[Any]) -> str:
        table = self.table
        return ", ".join(
            f"{table.require(table.names[i]).sql_name}={str(row[i]).rstrip(' ')}" for i in self._key
        )
