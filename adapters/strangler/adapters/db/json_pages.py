"""List pages whose JSON the database writes, passed through as bytes.

For a list request on PostgreSQL or SQLite (SQLAlchemy path), when every
answered column has an exact SQL rendering (:mod:`.json_sql`), the page's
statement (the same ``select_page``: filters, sort, keyset cursor, limit + 1)
selects instead of the columns one text per row, the row's JSON object with
its answered names, and the sort values of the row. The answer is
``{"items":[`` + the rows' texts joined by commas + ``],"next_cursor":...}``,
byte for byte what the Python encoder writes for the same rows; the cursor is
made from the last row's sort values exactly as :class:`.rows.RowService`
makes it. On SQLite the statement answers the page as one row instead (see
``_aggregated``): the rows' texts already joined, so the database makes the
whole page in one step without the interpreter lock.

The Python path answers instead (``None`` here) when the table lives behind
raw ODBC or another dialect, when an answered column has no rendering
(floats, binary, times, zoned timestamps, converted columns...), or when the
database marks a row's text NULL (on SQLite: writes ``json_sql.UNSURE`` into
it): a stored value it cannot prove it writes exactly (SQLite's dynamic types,
odd text dates, decimals that do not read back), for that page alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, Select

from strangler.adapters.db.json_mapped import json_string, mapped_json
from strangler.adapters.db.json_sql import (
    DIALECTS,
    OBJECT_MEMBERS,
    UNSURE,
    UNSURE_MEMBER,
    object_text,
    or_null,
    sqlite_object,
    text,
    typed_value,
    value_json,
)
from strangler.adapters.db.mapped_sql import cursor_json, sort_expression
from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.query import ListQuery
from strangler.adapters.db.runner import Runner, Session
from strangler.adapters.db.statements import after_name, select_page
from strangler.adapters.db.values import cursor_value, encode_cursor

__all__ = ["JsonPages", "Pair", "json_key"]

Answer = tuple[bytes, str | None]
"""A page's JSON bytes and its next cursor (``None`` on the last page)."""

_CACHED = 256
"""Row expressions kept per adapter (one per table and answered field list), and
page statements (one per query shape)."""


_first = operator.itemgetter(0)


def _unsure(joined: str) -> bool:
    """A SQLite page holds a value the database could not write exactly. ``]`` is
    looked for first: one character is found at memory speed, the member's four
    characters take about a tenth of a millisecond over a 1,000-row page."""
    return UNSURE in joined or ("]" in joined and UNSURE_MEMBER in joined)


def json_key(name: str) -> str:
    """``"name":`` with the name escaped as orjson escapes it (and PostgreSQL, SQLite)."""
    return json_string(name) + ":"


class JsonPages:
    """Database-written pages for one adapter's tables: ``enabled`` by the spec (and
    never on the raw ODBC path), for the dialects that write them."""

    def __init__(self, runner: Runner, *, enabled: bool) -> None:
        self.runner = runner
        self.dialect = runner.dialect.name
        self.enabled = enabled and self.dialect in DIALECTS
        self._rows: dict[tuple[str, tuple[str, ...]], ColumnElement[Any] | None] = {}
        self._statements: dict[Hashable, Select[Any]] = {}
        version = getattr(getattr(runner.dialect, "dbapi", None), "sqlite_version_info", (0,))
        self.aggregate = self.dialect == "sqlite" and version >= _MATERIALIZED
        """The page as one row (``_aggregated``): SQLite that materialises a CTE."""

    def row_json(self, table: TableInfo, fields: Sequence[str]) -> ColumnElement[Any] | None:
        """The expression writing a row's object of ``fields``; ``None`` if some field
        has no exact rendering in this dialect."""
        key = (table.name, tuple(fields))
        if key not in self._rows:
            if len(self._rows) >= _CACHED:
                self._rows.clear()
            self._rows[key] = self._build(table, fields)
        return self._rows[key]

    def _build(self, table: TableInfo, fields: Sequence[str]) -> ColumnElement[Any] | None:
        if not self.enabled or not fields:
            return None
        if self.dialect == "sqlite":
            typed = self._typed_members(table, fields)
            if typed is not None:
                return self._frozen(sqlite_object(typed))
        parts: list[str | ColumnElement[Any]] = []
        for i, name in enumerate(fields):
            column, stored = table.require(name), table.sa_table.c[name]
            if column.codec is None:
                rendered = value_json(self.dialect, column, stored)
            else:
                rendered = mapped_json(self.dialect, column, stored)
                rendered = None if rendered is None else or_null(column, stored, rendered)
            if rendered is None:
                return None
            parts += [("{" if i == 0 else ",") + json_key(name), rendered]
            if column.raw_name is not None:  # a decoded value has no raw side value
                parts.append("," + json_key(column.raw_name) + "null")
        return self._frozen(object_text(self.dialect, [*parts, "}"]))

    def _statement(
        self, table: TableInfo, query: ListQuery, row: ColumnElement[Any]
    ) -> tuple[Select[Any], dict[str, Any]]:
        """The page's statement and the cursor's values to run it with.

        A client walking a table asks for the same query page after page, only the
        cursor moving: the statement is built once per shape (the query but the
        cursor's values, and which of them are NULL), with the cursor's values as
        named parameters, and run again with each page's values.
        """
        after = query.after
        shape = (
            table.name,
            dataclasses.replace(query, after=None),
            None if after is None else tuple(v is None for v in after),
        )
        try:
            statement = self._statements.get(shape)
        except TypeError:  # a filter value that is a list: not a key
            return self._build_statement(table, query, row), {}
        if statement is None:
            if len(self._statements) >= _CACHED:
                self._statements.clear()
            statement = self._statements[shape] = self._build_statement(table, query, row)
        values = {after_name(i): v for i, v in enumerate(after or ()) if v is not None}
        return statement, values

    def _build_statement(
        self, table: TableInfo, query: ListQuery, row: ColumnElement[Any]
    ) -> Select[Any]:
        t = table.sa_table
        sort_columns = [sort_expression(table.require(k.column), t.c[k.column]) for k in query.sort]
        statement = select_page(table, query, named_after=True)
        if not self.aggregate:
            statement = statement.with_only_columns(row, *sort_columns)
            return statement.select_from(t)  # the row object is SQL text: name the table
        return _aggregated(statement, t, query.limit, row, sort_columns)

    def _typed_members(
        self, table: TableInfo, fields: Sequence[str]
    ) -> list[tuple[str, ColumnElement[Any]]] | None:
        """SQLite: the row's ``(name, typed value)`` members for ``json_object``;
        ``None`` past :data:`.json_sql.OBJECT_MEMBERS` or if a field has no typed value."""
        members: list[tuple[str, ColumnElement[Any]]] = []
        for name in fields:
            column, stored = table.require(name), table.sa_table.c[name]
            if column.codec is None:
                value = typed_value(column, stored)
            else:
                value = mapped_json(self.dialect, column, stored, typed=True)
                value = None if value is None else or_null(column, stored, value, typed=True)
            if value is None:
                return None
            members.append((name, value))
            if column.raw_name is not None:  # a decoded value has no raw side value
                members.append((column.raw_name, sa.null()))
        return members if len(members) <= OBJECT_MEMBERS else None

    def _frozen(self, expression: ColumnElement[Any]) -> ColumnElement[Any]:
        """``expression`` compiled once into SQL text with its constants (JSON keys and
        pieces made from reflected names, never request data) written in as literals.

        A page statement is then small for SQLAlchemy's statement cache, whose key
        it builds on every request by walking the statement: a tree of a few hundred
        nodes per row object would cost about as much as encoding the page in Python.
        """
        dialect = self.runner.dialect
        sql = str(expression.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        if dialect.paramstyle in ("format", "pyformat"):
            sql = sql.replace("%%", "%")  # literal_column escapes percent signs again
        return sa.literal_column(sql, sa.Text())

    async def page(self, table: TableInfo, query: ListQuery) -> bytes | None:
        """The page's answer as JSON bytes; ``None`` when the Python path must answer."""
        answer = await self.answer(table, query)
        return None if answer is None else answer[0]

    async def answer(self, table: TableInfo, query: ListQuery) -> tuple[bytes, str | None] | None:
        """:meth:`page`, with the page's next cursor (``None`` on the last page).

        The whole page is made in the runner's worker thread: the statement, its
        rows and the answer's bytes. The event loop only hands the request over and
        sends the bytes, so it serves other requests (and a client's previous page)
        while the page is read.
        """
        row = self.row_json(table, query.fields)
        if row is None:
            return None
        return await self.runner.run(
            lambda s: self._answer(s, table, query, row),
            operation=f"list {table.name}",
            single_read=True,
        )

    async def answer_pair(
        self, table: TableInfo, query: ListQuery, after: Callable[[ListQuery, str], ListQuery]
    ) -> Pair | None:
        """:meth:`answer`, then at once on the same connection the page after it.

        For a walk read ahead: the database goes from one page straight to the next,
        with no round trip through the event loop between them. The first page is
        answered as soon as it is made; the second (``after(query, cursor)``) is
        :attr:`Pair.following`. ``None`` when the Python path must answer the first
        page (:meth:`.rows.RowService.page`; the database has nothing more to try).
        """
        row = self.row_json(table, query.fields)
        if row is None:
            return None
        loop = asyncio.get_running_loop()
        first: asyncio.Future[Answer | None] = loop.create_future()

        def work(session: Session) -> Answer | None:
            answer = self._answer(session, table, query, row)
            loop.call_soon_threadsafe(_settle, first, answer)
            if answer is None or answer[1] is None:
                return None
            return self._answer(session, table, after(query, answer[1]), row)

        job = loop.create_task(
            self.runner.run(work, operation=f"list {table.name}", single_read=True)
        )
        job.add_done_callback(_retrieve)
        try:
            await asyncio.wait((first, job), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            job.cancel()
            raise
        if not first.done():  # the job failed before the first page was made
            first.cancel()
            job.result()
        answer = first.result()
        return None if answer is None else Pair(answer, job)

    def _answer(
        self, session: Session, table: TableInfo, query: ListQuery, row: ColumnElement[Any]
    ) -> Answer | None:
        statement, parameters = self._statement(table, query, row)
        rows, processed = session.fetch_plain(statement, parameters)
        last: tuple[Any, ...] | None = None
        if self.aggregate:  # one row: see _aggregated
            text_or_none, count, written, *_ = aggregate = rows[0]
            if written < count:  # a row's text is NULL: a value it cannot write exactly
                return None
            joined = text_or_none or ""
            if count > query.limit:
                last = processed(aggregate)[_AGGREGATES:]
        else:
            try:
                joined = ",".join(map(_first, rows[: query.limit]))
            except TypeError:  # a row's text is NULL: a value it cannot write exactly
                return None
            if len(rows) > query.limit:
                last = processed(rows[query.limit - 1])[1:]
        cursor: str | None = None
        if last is not None:
            values = []
            for k, value in zip(query.sort, last, strict=True):  # as RowService.page does
                column = table.require(k.column)
                values.append(
                    cursor_json(value, column)
                    if column.codec is not None
                    else cursor_value(column, value)
                )
            cursor = encode_cursor(query.sort_signature, values)
        if self.dialect == "sqlite" and _unsure(joined):
            return None  # see json_sql.object_text and json_sql.sqlite_object
        tail = b"null" if cursor is None else b'"' + cursor.encode("ascii") + b'"'
        # one join: each ``+`` would copy the whole page again (a fresh block of the
        # page's size each time, about 0.2 ms a 1,000-row page in all)
        parts = (b'{"items":[', joined.encode("utf-8"), b'],"next_cursor":', tail, b"}")
        return b"".join(parts), cursor


@dataclasses.dataclass(frozen=True)
class Pair:
    """A page, and the job making the page after it (``None`` from the job: none
    follows, or the Python path must answer it)."""

    answer: Answer
    following: asyncio.Task[Answer | None]


def _settle(future: asyncio.Future[Answer | None], answer: Answer | None) -> None:
    if not future.done():
        future.set_result(answer)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Fetch a job's error so asyncio does not report it as lost (the page that
    needs it meets the error itself)."""
    if not task.cancelled():
        task.exception()


_AGGREGATES = 3
"""Columns of :func:`_aggregated`'s row before the last row's sort values."""
_MATERIALIZED = (3, 35, 0)
"""The SQLite that reads ``AS MATERIALIZED``: a CTE made once however often it is read."""


def _aggregated(
    statement: Select[Any],
    table: sa.Table,
    limit: int,
    row: ColumnElement[Any],
    sort_columns: Sequence[ColumnElement[Any]],
) -> Select[Any]:
    """SQLite: the page as one row: its rows' texts joined by commas (the first
    ``limit``), how many rows and row texts the page statement found (``limit`` + 1
    at most), and the sort values of its row ``limit``.

    SQLite then makes the whole page in one step, with the interpreter lock
    released throughout, instead of a step per row that must take the lock back
    each time (and wait for it while the event loop runs). The page is
    materialised once, in its order, and read in that order.
    """
    labelled = [c.label(f"sort_{i}") for i, c in enumerate(sort_columns)]
    page = (
        statement.with_only_columns(row.label("row_text"), *labelled)
        .select_from(table)  # the row object is SQL text: name the table
        .cte("page")
        .prefix_with("MATERIALIZED")
    )
    first = sa.select(page.c.row_text).limit(limit).subquery("first_rows")
    texts = sa.func.group_concat(first.c.row_text, text(","), type_=sa.Text())
    return sa.select(
        sa.select(texts).scalar_subquery(),
        sa.select(sa.func.count()).select_from(page).scalar_subquery(),
        sa.select(sa.func.count(page.c.row_text)).scalar_subquery(),
        *(sa.select(page.c[c.name]).offset(limit - 1).limit(1).scalar_subquery() for c in labelled),
    )
