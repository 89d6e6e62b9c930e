"""What polling capture reads from the source: watermark pages, key pages, key checks.

Every read is one SQLAlchemy Core statement built like the list route builds
its pages (:func:`strangler.adapters.db.statements.select_page`), run by the
database adapter's runner, so SQLAlchemy URLs and raw ODBC strings behave
alike. Rows are answered exactly as the REST side answers them (the adapter's
:class:`~strangler.adapters.db.rows.RowService` decodes them), then keyed and
hashed (:mod:`strangler.events.rows`).

Rows re-read within the lookback come back every cycle as they were: a row
whose stored values are exactly those of a row already decoded (same types,
same values, decimals to the digit, times to the offset) is not decoded and
hashed again (:class:`Decoded`, the rows of about the last two lookback
windows, at most ``2 * MEMO_ROWS``).

Watermarks (:class:`Watermark`) are integers (row versions), timestamps with
or without a zone, or ISO 8601 text (SQLite's date-times are text too). Bounds
are computed from values read from the source only: the relay's clock never
takes part, so a source whose clock or zone differs from the relay's is read
the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from strangler.adapters.db.meta import ColumnInfo, TableInfo
from strangler.adapters.db.query import Filter, ListQuery, SortKey
from strangler.adapters.db.rows import parse_key
from strangler.adapters.db.statements import page_columns, page_sort_values, select_page
from strangler.errors import SpecError, SpecProblem, StranglerError
from strangler.events.rows import data_hash, entity_key
from strangler.spec.events import PollSpec

__all__ = ["MEMO_ROWS", "Captured", "Decoded", "Page", "SourceReader", "Watermark"]

MEMO_ROWS = 50_000
"""Rows per generation of :class:`Decoded` (two generations are kept)."""

Mode = Literal["integer", "datetime", "text"]


@dataclass(frozen=True)
class Watermark:
    """The watermark column and how its values are compared, bounded and timed."""

    column: ColumnInfo
    mode: Mode
    zone: dt.tzinfo
    lookback_s: float
    lookback_versions: int

    @classmethod
    def of(cls, table: TableInfo, poll: PollSpec, where: str) -> Watermark:
        """The watermark of ``table``; ``SpecError`` at ``where`` if it cannot be one."""
        column = table.column(poll.watermark)
        problem = None
        mode: Mode = "text"
        if column is None:
            problem = f"{table.name} has no column {poll.watermark!r} (give its API name)"
        elif column.codec is not None:
            problem = f"{poll.watermark} is converted by the mapping: a watermark must be stored "
            problem += "as a timestamp, an integer or ISO 8601 text"
        elif column.kind == "integer":
            mode = "integer"
        elif column.kind in ("datetime", "datetime_tz"):
            mode = "text" if column.as_stored else "datetime"
        elif column.kind not in ("string", "char"):
            problem = f"{poll.watermark} is a {column.kind}: a watermark must be a timestamp, "
            problem += "an integer or ISO 8601 text"
        try:
            zone: dt.tzinfo = ZoneInfo(poll.timezone) if poll.timezone else dt.UTC
        except (ValueError, KeyError):
            problem = problem or f"unknown time zone {poll.timezone!r}"
            zone = dt.UTC
        if problem is not None or column is None:
            raise SpecError([SpecProblem("spec", None, where, problem or "")])
        return cls(column, mode, zone, poll.lookback_s, poll.lookback_versions)

    def low(self, high: Any) -> Any:
        """The lowest value a cycle reads from: ``high`` less the lookback.

        Text is floored to whole seconds and written in the stored shape up to
        the seconds, a prefix of every stored value of that second, so it
        compares as lower or equal whatever fraction or offset follows.
        """
        if self.mode == "integer":
            return int(high) - self.lookback_versions
        back = dt.timedelta(seconds=self.lookback_s)
        if self.mode == "datetime" and isinstance(high, dt.datetime):
            return high - back
        text = str(high)
        moment = _parse(text)
        if moment is None:
            return text  # not a date-time: re-read from the highest value itself
        moment -= back
        if self.column.as_stored:  # SQLite: compared by julianday(), binds as its text
            return moment.replace(microsecond=0)
        separator = text[10] if len(text) > 10 else "T"
        return moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S")

    def later(self, a: Any, b: Any) -> Any:
        """The later of two watermark values (``a`` may be None)."""
        if a is None:
            return b
        if self.mode == "text":
            return b if str(b) > str(a) else a
        return b if b > a else a

    def instant(self, value: Any) -> dt.datetime | None:
        """The watermark as an aware UTC time (local times in the spec's zone); None
        for a row version or a value that is no date-time (the event time is then now)."""
        if value is None or self.mode == "integer":
            return None
        moment = value if isinstance(value, dt.datetime) else _parse(str(value))
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(dt.UTC)

    def dump(self, value: Any) -> Any:
        """A watermark value as JSON (for the stored offset)."""
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return value

    def load(self, value: Any) -> Any:
        """The inverse of :meth:`dump`."""
        if value is not None and self.mode == "datetime":
            return dt.datetime.fromisoformat(value)
        return value


def _as_text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


def _parse(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Captured:
    """One row as read: its entity key, version hash, answered data and watermark."""

    key: str
    hash: str
    data: dict[str, Any]
    watermark: Any


def _exact(value: Any) -> Any:
    """``value`` as a dict key equal only to the very same stored value."""
    kind = type(value)
    if kind is Decimal or kind is float:
        return kind, repr(value)  # 1.0 and 1.00, 0.0 and -0.0 differ
    if isinstance(value, (dt.datetime, dt.time)) and value.tzinfo is not None:
        return kind, value.isoformat()  # one instant in two offsets differs
    return kind, value


class Decoded:
    """Rows already decoded, by their exact stored values: two generations; a
    generation that reaches ``limit`` rows becomes the older one, and the older is
    dropped. A row found is moved to the newer generation."""

    def __init__(self, limit: int = MEMO_ROWS) -> None:
        self.limit = limit
        self._new: dict[tuple[Any, ...], Captured] = {}
        self._old: dict[tuple[Any, ...], Captured] = {}

    def key(self, stored: Sequence[Any]) -> tuple[Any, ...] | None:
        """The row's key here (None: a value that cannot be a key, such as a list)."""
        key = tuple(map(_exact, stored))
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: tuple[Any, ...]) -> Captured | None:
        found = self._new.get(key)
        if found is None:
            found = self._old.pop(key, None)
            if found is not None:
                self.put(key, found)
        return found

    def put(self, key: tuple[Any, ...], row: Captured) -> None:
        if len(self._new) >= self.limit:
            self._old, self._new = self._new, {}
        self._new[key] = row

    def __len__(self) -> int:
        return len(self._new) + len(self._old)


@dataclass(frozen=True)
class Page:
    """Rows of one read, where the next read starts (``after``), whether it may find more."""

    rows: list[Captured]
    after: tuple[Any, ...] | None
    more: bool


class SourceReader:
    """Reads one table of a database adapter for capture."""

    def __init__(self, adapter: Any, table: TableInfo, watermark: Watermark, batch: int) -> None:
        self.adapter = adapter
        self.table = table
        self.watermark = watermark
        self.batch = batch
        name = watermark.column.name
        keys = tuple(SortKey(k) for k in table.key if k != name)
        self._by_watermark = (SortKey(name), *keys)
        self._by_key = tuple(SortKey(k) for k in table.key)
        # MariaDB's ODBC driver drops the fraction of a bound timestamp: bind them as text
        self._text_times = adapter.runner.dialect.name in ("mysql", "mariadb")
        self.decoded = Decoded()

    async def changes(self, low: Any, after: tuple[Any, ...] | None) -> Page:
        """Rows with watermark >= ``low`` (all rows with one if None), by (watermark, key)."""
        name = self.watermark.column.name
        condition = Filter(name, "is", "not null") if low is None else Filter(name, "ge", low)
        return await self._page((condition,), self._by_watermark, after, self.decoded)

    async def rows_by_key(self, after: tuple[Any, ...] | None) -> Page:
        """Every row, in key order (the full pass)."""
        return await self._page((), self._by_key, after)

    async def _page(
        self,
        filters: tuple[Filter, ...],
        sort: tuple[SortKey, ...],
        after: tuple[Any, ...] | None,
        decoded: Decoded | None = None,
    ) -> Page:
        table = self.table
        if self._text_times:
            filters = tuple(Filter(f.column, f.op, _as_text(f.value)) for f in filters)
            after = None if after is None else tuple(_as_text(v) for v in after)
        query = ListQuery(filters, sort, table.names, self.batch, 0, after)
        statement = select_page(table, query)
        fetched = await self.adapter.runner.run(
            lambda s: s.fetch(statement), operation=f"capture {table.name}", single_read=True
        )
        names = page_columns(table, query)
        rows = fetched[: self.batch]
        width = len(names)
        position = names.index(self.watermark.column.name)
        captured = []
        for row in rows:
            stored = row[:width]
            key = None if decoded is None else decoded.key(stored)
            known = None if key is None or decoded is None else decoded.get(key)
            if known is None:
                data = self.adapter.rows._json(table, names, stored)
                known = Captured(entity_key(table, data), data_hash(data), data, row[position])
                if key is not None and decoded is not None:
                    decoded.put(key, known)
            captured.append(known)
        last = None
        if rows:
            sortable = dict(zip(page_sort_values(table, query), rows[-1][width:], strict=True))
            stored = dict(zip(names, rows[-1][:width], strict=True))
            last = tuple(sortable.get(k.column, stored[k.column]) for k in sort)
        return Page(captured, last or after, len(fetched) > self.batch)

    async def present(self, keys: Sequence[str]) -> set[str]:
        """Which of these entity keys (texts, as in snapshots) the table still holds.

        A key that no longer parses against the table's key columns is reported
        present: capture never calls a row deleted that it cannot look up.
        """
        table = self.table
        t = table.sa_table
        kept: set[str] = set()
        wanted: list[tuple[Any, ...]] = []
        for key in keys:
            try:
                wanted.append(parse_key(table, key))
            except StranglerError:
                kept.add(key)
        if not wanted:
            return kept

        def same(name: str, value: Any) -> sa.ColumnElement[bool]:
            column = t.c[name]
            if table.require(name).as_stored:  # SQLite's text dates: compare the instant
                bound = sa.bindparam(None, value, type_=column.type)
                return sa.func.julianday(column) == sa.func.julianday(bound)
            equal: sa.ColumnElement[bool] = column == value
            return equal

        condition = sa.or_(
            *(
                sa.and_(*(same(n, v) for n, v in zip(table.key, values, strict=True)))
                for values in wanted
            )
        )
        statement = sa.select(*(t.c[k] for k in table.key)).where(condition)
        rows = await self.adapter.runner.run(
            lambda s: s.fetch(statement), operation=f"capture {table.name}", single_read=True
        )
        for row in rows:
            kept.add(entity_key(table, self.adapter.rows._json(table, table.key, row)))
        return kept
