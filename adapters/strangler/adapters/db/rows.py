"""Table rows over a runner: list (filters, sort, fields, cursor), get, insert, update, delete.

Keys in paths are the key columns' values in key order, comma-separated
(``/PlaylistTrack/1,3402``); a value holding a comma, a double quote or a line
break, and an empty one, is double-quoted, a quote inside it doubled
(``/Thing/"a,b",2``). Each value is parsed against
its column's type. In a URL the segment is percent-encoded, ``/`` too.

On a table served in a modern shape (:mod:`.mapped`) keys and written values
are given modern and stored encoded; rows are decoded (:mod:`.mapped_rows`).

Write listeners (the event side's outbox) see each write: ``in_transaction``
ones with the write's own session before it commits (an error there rolls the
write back), ``after_commit`` ones once it has committed. Both get the row as
answered (for a delete: its key fields, read before the delete).
"""

from __future__ import annotations

import builtins
import csv
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import Any, Literal, TypeVar

from strangler.adapters.db.json_pages import JsonPages, Pair
from strangler.adapters.db.mapped import encode_key, encode_values
from strangler.adapters.db.mapped_rows import decode_items, decode_row
from strangler.adapters.db.mapped_sql import cursor_json
from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.query import ListQuery, parse_list_query, split
from strangler.adapters.db.read_ahead import ReadAhead
from strangler.adapters.db.runner import Runner, Session
from strangler.adapters.db.statements import (
    delete_row,
    insert_row,
    page_columns,
    page_sort_values,
    select_by_key,
    select_page,
    update_row,
)
from strangler.adapters.db.values import (
    converter,
    cursor_value,
    decode_cursor,
    encode_cursor,
    needs_conversion,
    parse_text,
    to_json,
)
from strangler.errors import BadQuery, InputProblem, InvalidInput, NotAllowed, RowNotFound
from strangler.spec.database import DatabaseSystem

__all__ = [
    "RowService",
    "WriteListeners",
    "WriteVerb",
    "key_text",
    "page_items",
    "parse_key",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

WriteVerb = Literal["insert", "update", "delete"]
InTransaction = Callable[[Session, TableInfo, WriteVerb, Mapping[str, Any]], None]
AfterCommit = Callable[[TableInfo, WriteVerb, Mapping[str, Any]], Awaitable[None]]


@dataclass
class WriteListeners:
    """Who hears of writes: inside the write's transaction, or after its commit."""

    in_transaction: list[InTransaction] = field(default_factory=list)
    after_commit: list[AfterCommit] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.in_transaction or self.after_commit)

    def inside(self, session: Session, table: TableInfo, verb: WriteVerb, row: Any) -> None:
        for listener in self.in_transaction:
            listener(session, table, verb, row)

    async def after(self, table: TableInfo, verb: WriteVerb, row: Mapping[str, Any]) -> None:
        for listener in self.after_commit:
            try:
                await listener(table, verb, row)
            except Exception:  # committed: nothing here may turn the answer into an error
                log.exception("a listener of %s %s failed after the commit", verb, table.name)


def parse_key(table: TableInfo, text: str) -> tuple[Any, ...]:
    """The typed key values in a path segment, as stored; ``BadQuery`` naming the column
    otherwise."""
    try:
        parts = split(text)
    except csv.Error:
        parts = []
    if len(parts) != len(table.key):
        names = ",".join(table.key)
        raise BadQuery(
            f"the key of {table.name} is {names}: give {len(table.key)} comma-separated value(s)",
            [InputProblem("key", f"expected {names}")],
        )
    values = []
    for column, part in zip(table.key_columns, parts, strict=True):
        try:
            values.append(parse_text(column, part))
        except ValueError as exc:
            raise BadQuery(str(exc), [InputProblem(column.name, str(exc))]) from None
    return _stored_key(table, values)


def _stored_key(table: TableInfo, values: Sequence[Any]) -> tuple[Any, ...]:
    """Key values given modern, as the table stores them; ``BadQuery`` if one cannot be."""
    if not table.mapped:
        return tuple(values)
    try:
        return encode_key(table, values)
    except ValueError as exc:
        raise BadQuery(str(exc), [InputProblem("key", str(exc))]) from None


def page_items(
    table: TableInfo, names: Sequence[str], shown: set[str], page: Sequence[Sequence[Any]]
) -> list[dict[str, Any]]:
    """A page's rows as JSON-ready objects of the ``shown`` columns.

    The hot path of listing: which columns need converting is decided once per
    page (a type check that runs in C, see ``needs_conversion``), and only those
    values are touched in Python; the rest go to the JSON encoder as they are.
    """
    picked = [(i, name) for i, name in enumerate(names) if name in shown]
    out_names = [name for _, name in picked]
    columns = list(zip(*page, strict=False)) if page else []
    convert = [
        (position, converter(table.require(name)))
        for position, (i, name) in enumerate(picked)
        if columns and needs_conversion(table.require(name), columns[i])
    ]
    if len(picked) == len(names):
        selected: Iterable[Sequence[Any]] = page
    else:
        pick = itemgetter(*(i for i, _ in picked))
        selected = (pick(row) if len(picked) > 1 else (pick(row),) for row in page)
    # Rows and names have the same length by construction; strict zips cost
    # about a third more here, on every row of every page.
    if not convert:
        return [dict(zip(out_names, row, strict=False)) for row in selected]
    items = []
    for row in selected:
        values = list(row)
        for position, function in convert:
            value = values[position]
            if value is not None:
                values[position] = function(value)
        items.append(dict(zip(out_names, values, strict=False)))
    return items


def _read_ahead_key(table: TableInfo, query: ListQuery) -> tuple[str, ListQuery] | None:
    """What a page read ahead is found by; ``None`` for a query that cannot be a key."""
    key = (table.name, query)
    try:
        hash(key)
    except TypeError:  # a filter value that is a list
        return None
    return key


def key_text(values: Sequence[Any]) -> str:
    """The path segment for key values as answered (see :func:`parse_key`)."""
    texts = ["" if v is None else str(v) for v in values]
    return ",".join(
        '"' + t.replace('"', '""') + '"' if not t or any(c in t for c in ',"\r\n') else t
        for t in texts
    )


READ_AHEAD_PAGES = 2
"""Pages read ahead of a walk, one after the other: while the client handles a page,
the next one is read, and once it is read, the one after it (on the same
connection, with no trip through the event loop, where the database writes the
pages), so the database is not left idle while the answer travels (see
:mod:`.read_ahead`)."""


class RowService:
    """The table operations behind the router, in the project's errors."""

    def __init__(self, system: str, spec: DatabaseSystem, runner: Runner) -> None:
        self.system = system
        self.spec = spec
        self.runner = runner
        self.json_pages = JsonPages(runner, enabled=spec.database_json and spec.odbc is None)
        self.listeners = WriteListeners()
        self.read_ahead: ReadAhead[tuple[bytes | dict[str, Any], str | None]] = ReadAhead(
            system, max_age_s=spec.read_ahead_s, max_running=spec.pool_size // 2
        )

    async def list(self, table: TableInfo, params: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """A page for a query string's ``(name, value)`` pairs (see :mod:`.query`)."""
        return await self.page(table, self._query(table, params))

    async def list_json(
        self, table: TableInfo, params: Iterable[tuple[str, str]]
    ) -> bytes | dict[str, Any]:
        """:meth:`list`, as the answer's JSON bytes where the database writes them
        (:mod:`.json_pages`: the same bytes), else as :meth:`list` answers."""
        query = self._query(table, params)
        key = _read_ahead_key(table, query)
        answer = await self.read_ahead.take(key) if key is not None else None
        if answer is None:
            answer = await self._answer(table, query)
        body, cursor = answer
        if cursor is not None and query.after is not None and key is not None:
            # a client walking the table with a cursor: read its next pages now
            self._read_ahead(table, query, cursor, pages=READ_AHEAD_PAGES)
        return body

    def _read_ahead(self, table: TableInfo, query: ListQuery, cursor: str, pages: int) -> None:
        """Start reading the page after ``query``'s (whose next cursor is ``cursor``),
        and when it is read, the one after that, up to ``pages`` pages in a row.

        Pages the database writes are read two at a time on one connection (see
        :meth:`.JsonPages.answer_pair`): the second is held as soon as the first is
        read, counted from when the first was started, under the adapter's writes
        as they were then (a write since makes it stale).
        """
        following = self._after(table, query, cursor)
        ahead = self.read_ahead

        async def read() -> tuple[bytes | dict[str, Any], str | None]:
            answer: tuple[bytes | dict[str, Any], str | None]
            if pages > 1 and ahead.max_running > 1:
                started, version = ahead.clock(), ahead.version
                after = partial(self._after, table)
                pair = await self.json_pages.answer_pair(table, following, after)
                if pair is not None:
                    if pair.answer[1] is not None:
                        self._hold(table, following, pair, started, version)
                    return pair.answer
                answer = await self._python_answer(table, following)
            else:
                answer = await self._answer(table, following)
            if pages > 1 and answer[1] is not None:
                self._read_ahead(table, following, answer[1], pages - 1)
            return answer

        ahead.start((table.name, following), read)

    def _hold(
        self, table: TableInfo, query: ListQuery, pair: Pair, started: float, version: int
    ) -> None:
        """Hold the page after ``query``'s, which ``pair``'s job is making."""
        assert pair.answer[1] is not None
        second = self._after(table, query, pair.answer[1])

        async def read() -> tuple[bytes | dict[str, Any], str | None]:
            answer = await pair.following
            return answer if answer is not None else await self._python_answer(table, second)

        self.read_ahead.start((table.name, second), read, started=started, version=version)

    async def _answer(
        self, table: TableInfo, query: ListQuery
    ) -> tuple[bytes | dict[str, Any], str | None]:
        """The page as the database writes it (bytes) or as :meth:`page` answers,
        with its next cursor."""
        written = await self.json_pages.answer(table, query)
        if written is not None:
            return written
        return await self._python_answer(table, query)

    async def _python_answer(
        self, table: TableInfo, query: ListQuery
    ) -> tuple[dict[str, Any], str | None]:
        """The page as :meth:`page` answers it, with its next cursor."""
        page = await self.page(table, query)
        return page, page["next_cursor"]

    @staticmethod
    def _after(table: TableInfo, query: ListQuery, cursor: str) -> ListQuery:
        """The query of the page that follows ``query``'s, whose next cursor is ``cursor``."""
        columns = [table.require(k.column) for k in query.sort]
        after = decode_cursor(cursor, columns, query.sort_signature)
        return dataclasses.replace(query, after=after, offset=0)

    async def _write(self, work: Callable[[Session], T], operation: str) -> T:
        """A write in a transaction of its own; pages read ahead before it are dropped."""
        try:
            return await self.runner.run(work, operation=operation, write=True)
        finally:
            self.read_ahead.written()

    def _query(self, table: TableInfo, params: Iterable[tuple[str, str]]) -> ListQuery:
        return parse_list_query(
            table,
            params,
            default_limit=self.spec.default_page_size,
            max_limit=self.spec.max_page_size,
            max_filters=self.spec.max_filters,
            max_sort_keys=self.spec.max_sort_keys,
        )

    async def page(self, table: TableInfo, query: ListQuery) -> dict[str, Any]:
        """``{"items": [...], "next_cursor": ...}`` for a checked query."""
        statement = select_page(table, query)
        rows = await self.runner.run(
            lambda s: s.fetch(statement), operation=f"list {table.name}", single_read=True
        )
        names = page_columns(table, query)
        page = rows[: query.limit]
        if table.mapped:
            items = decode_items(self.system, table, names, set(query.fields), page)
        else:
            items = page_items(table, names, set(query.fields), page)
        next_cursor = None
        if len(rows) > query.limit:
            last = dict(zip(names, page[-1], strict=False))
            # converted sort columns: their sortable values, selected after the columns
            sortable = dict(
                zip(page_sort_values(table, query), page[-1][len(names) :], strict=True)
            )
            next_cursor = encode_cursor(
                query.sort_signature,
                [
                    cursor_json(sortable[k.column], table.require(k.column))
                    if k.column in sortable
                    else cursor_value(table.require(k.column), last[k.column])
                    for k in query.sort
                ],
            )
        return {"items": items, "next_cursor": next_cursor}

    async def stream(
        self, table: TableInfo, query: ListQuery
    ) -> AsyncIterator[builtins.list[dict[str, Any]]]:
        """Every row the query selects, a page of ``query.limit`` rows at a time.

        Pages follow the keyset cursor, so memory stays at one page however
        large the table, and rows written meanwhile behind the cursor are not
        repeated. ``query.offset`` applies to the first page only.
        """
        while True:
            page = await self.page(table, query)
            if page["items"]:
                yield page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return
            query = self._after(table, query, cursor)

    async def get(self, table: TableInfo, key: str | Sequence[Any]) -> dict[str, Any]:
        """One row by its key: the path segment's text, or the typed key values."""
        values = parse_key(table, key) if isinstance(key, str) else tuple(key)
        if len(values) != len(table.key):
            raise BadQuery(
                f"the key of {table.name} is {','.join(table.key)}",
                [InputProblem("key", f"expected {len(table.key)} value(s)")],
            )
        if not isinstance(key, str):
            values = _stored_key(table, values)
        statement = select_by_key(table, values)
        rows = await self.runner.run(
            lambda s: s.fetch(statement), operation=f"get {table.name}", single_read=True
        )
        if not rows:
            raise self._not_found(table, key)
        return self._json(table, table.names, rows[0])

    async def insert(self, table: TableInfo, values: Mapping[str, Any]) -> dict[str, Any]:
        self._writable(table)
        values = encode_values(table, values) if table.mapped else values
        statement = insert_row(table, values)

        def work(session: Session) -> dict[str, Any]:
            session.execute(statement)
            key = tuple(values.get(name) for name in table.key)
            found: tuple[Any, ...] | None = key
            if any(v is None for v in key):
                found = session.inserted_key(table)
            rows = session.fetch(select_by_key(table, found)) if found is not None else []
            if rows:
                answered = self._json(table, table.names, rows[0])
            else:  # the database could not tell the generated key
                names = list(values)
                answered = self._json(table, names, [values[name] for name in names])
            self.listeners.inside(session, table, "insert", answered)
            return answered

        row = await self._write(work, f"insert {table.name}")
        await self.listeners.after(table, "insert", row)
        return row

    async def update(self, table: TableInfo, key: str, values: Mapping[str, Any]) -> dict[str, Any]:
        self._writable(table)
        if not values:
            raise InvalidInput("nothing to change: the body names no column", [])
        key_values = parse_key(table, key)
        values = encode_values(table, values) if table.mapped else values
        statement = update_row(table, key_values, values)

        def work(session: Session) -> dict[str, Any] | None:
            session.execute(statement)  # row counts differ (MariaDB counts changed rows)
            rows = session.fetch(select_by_key(table, key_values))
            if not rows:
                return None
            answered = self._json(table, table.names, rows[0])
            self.listeners.inside(session, table, "update", answered)
            return answered

        row = await self._write(work, f"update {table.name}")
        if row is None:
            raise self._not_found(table, key)
        await self.listeners.after(table, "update", row)
        return row

    async def delete(self, table: TableInfo, key: str) -> None:
        self._writable(table)
        key_values = parse_key(table, key)
        statement = delete_row(table, key_values)
        heard = bool(self.listeners)

        def work(session: Session) -> dict[str, Any] | None:
            gone: dict[str, Any] = {}
            if heard:  # the key fields as answered, read before they go
                rows = session.fetch(select_by_key(table, key_values))
                if rows:
                    answered = self._json(table, table.names, rows[0])
                    gone = {name: answered.get(name) for name in table.key}
            if session.execute(statement) == 0:
                return None
            if heard and gone:
                self.listeners.inside(session, table, "delete", gone)
            return gone

        deleted = await self._write(work, f"delete {table.name}")
        if deleted is None:
            raise self._not_found(table, key)
        if deleted:
            await self.listeners.after(table, "delete", deleted)

    def _writable(self, table: TableInfo) -> None:
        if not table.writes:
            raise NotAllowed(
                f"{table.name} is read-only: the spec does not allow writes",
                allowed=("GET", "HEAD"),
            )

    def _not_found(self, table: TableInfo, key: str | Sequence[Any]) -> RowNotFound:
        text = key if isinstance(key, str) else key_text(list(key))
        return RowNotFound(self.system, table.name, text)

    def _json(self, table: TableInfo, names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
        if table.mapped:
            return decode_row(self.system, table, names, row)
        return {
            name: to_json(table.require(name), value)
            for name, value in zip(names, row, strict=True)
        }
