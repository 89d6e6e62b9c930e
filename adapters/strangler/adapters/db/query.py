"""The list endpoint's query string, checked against the reflected table.

Syntax (every name is a column's exact name; anything else is a 400)::

    ?Column=op.value       filter; ops: eq ne lt le gt ge like in is
                           in.a,b,"c,d"   (comma-separated; quote items holding commas)
                           like.A%25      (SQL LIKE: % any run, _ one character)
                           is.null / is.notnull
                           several filters are ANDed, also on the same column
    ?sort=-Total,Name      order; '-' descending; the key is always added last
    ?fields=Id,Total       the columns answered (default: all)
    ?limit=50              page size (1..max_page_size)
    ?offset=100            skip rows (not together with cursor)
    ?cursor=...            continue after the page that answered this next_cursor

Parameters named ``sort``, ``fields``, ``limit``, ``offset`` and ``cursor`` are
these, never filters. Numbers are ASCII digits. At most ``max_filters``
filters, ``max_sort_keys`` sort keys and ``MAX_IN_ITEMS`` values in all ``in``
lists together (the spec's settings; a database refuses an expression tree or a
parameter list past its own limits, which would be a 502); a refusal lists at
most ``MAX_PROBLEMS`` problems and the table's columns once. Columns of types
without a JSON counterpart (JSON, arrays, intervals…) take only ``is.null`` /
``is.notnull`` and cannot be sorted on.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from strangler.adapters.db.mapped import check_value
from strangler.adapters.db.meta import TEXT_KINDS, ColumnInfo, TableInfo
from strangler.adapters.db.values import check_integer, decode_cursor, parse_text
from strangler.errors import BadQuery, InputProblem

__all__ = [
    "MAX_FILTERS",
    "MAX_IN_ITEMS",
    "MAX_PROBLEMS",
    "MAX_SORT_KEYS",
    "OPERATORS",
    "RESERVED",
    "Filter",
    "ListQuery",
    "SortKey",
    "build_query",
    "parse_list_query",
    "signature",
    "split",
]

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "like", "is"]
OPERATORS: tuple[Op, ...] = ("eq", "ne", "lt", "le", "gt", "ge", "in", "like", "is")
RESERVED = frozenset({"sort", "fields", "limit", "offset", "cursor"})
MAX_IN_ITEMS = 1000
MAX_FILTERS = 50
MAX_SORT_KEYS = 10
MAX_PROBLEMS = 20
_INT = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Filter:
    """One ``column op value`` condition with its value already typed."""

    column: str
    op: Op
    value: Any


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class ListQuery:
    """A checked list request: nothing in it is SQL text from the caller."""

    filters: tuple[Filter, ...]
    sort: tuple[SortKey, ...]
    fields: tuple[str, ...]
    limit: int
    offset: int
    after: tuple[Any, ...] | None

    @property
    def sort_signature(self) -> str:
        return signature(self.sort)


def signature(sort: tuple[SortKey, ...]) -> str:
    """The sort order as text (``-Total,InvoiceId``); a cursor is tied to it."""
    return ",".join(("-" if k.descending else "") + k.column for k in sort)


def split(text: str) -> list[str]:
    """Comma-separated items; double quotes protect commas inside an item."""
    return next(csv.reader([text], skipinitialspace=False)) if text else []


class _Problems:
    """The problems of one request: at most ``MAX_PROBLEMS`` kept, the rest counted."""

    def __init__(self, table: TableInfo) -> None:
        self.table = table
        self.kept: list[InputProblem] = []
        self.more = 0
        self.unknown = False

    def append(self, problem: InputProblem) -> None:
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(InputProblem(_clip(problem.path), problem.message))
        else:
            self.more += 1

    def unknown_column(self, path: str, name: str) -> None:
        self.unknown = True
        self.append(InputProblem(path, f"unknown column {_clip(name)!r}"))

    def __bool__(self) -> bool:
        return bool(self.kept)

    def raise_any(self) -> None:
        if not self.kept:
            return
        detail = "; ".join(f"{p.path}: {p.message}" for p in self.kept)
        if self.more:
            detail += f"; and {self.more} more"
        if self.unknown:
            detail += f" ({_known(self.table)})"
        raise BadQuery(detail, self.kept)


def parse_list_query(
    table: TableInfo,
    params: Iterable[tuple[str, str]],
    *,
    default_limit: int,
    max_limit: int,
    max_filters: int = MAX_FILTERS,
    max_sort_keys: int = MAX_SORT_KEYS,
) -> ListQuery:
    """Check every parameter; raise ``BadQuery`` naming each bad one."""
    problems = _Problems(table)
    given: dict[str, str] = {}
    raw_filters: list[tuple[str, str]] = []
    for name, raw in params:
        if name in RESERVED:
            if name in given:
                problems.append(InputProblem(name, f"{name} is given twice"))
            given[name] = raw
        else:
            raw_filters.append((name, raw))
    if len(raw_filters) > max_filters:
        problems.append(
            InputProblem("/", f"{len(raw_filters)} filters; at most {max_filters} are taken")
        )
        problems.raise_any()
    filters: list[Filter] = []
    for name, raw in raw_filters:
        filters.extend(_filter(table, name, raw, problems))
    _count_values(filters, problems)
    sort = _sort(table, given.get("sort"), problems, max_sort_keys)
    fields = _fields(table, given.get("fields"), problems)
    limit = _number(given.get("limit"), "limit", default_limit, 1, max_limit, problems)
    offset = _number(given.get("offset"), "offset", 0, 0, 10**9, problems)
    after = None
    if "cursor" in given:
        if "offset" in given:
            problems.append(InputProblem("cursor", "give either cursor or offset, not both"))
        else:
            try:
                columns = [table.require(k.column) for k in sort]
                after = decode_cursor(given["cursor"], columns, signature(sort))
            except ValueError as exc:
                problems.append(InputProblem("cursor", str(exc)))
    problems.raise_any()
    return ListQuery(tuple(filters), sort, fields, limit, offset, after)


def build_query(
    table: TableInfo,
    *,
    filters: Iterable[tuple[str, str, Any]] = (),
    sort: Iterable[str] = (),
    fields: Iterable[str] | None = None,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
    max_filters: int = MAX_FILTERS,
    max_sort_keys: int = MAX_SORT_KEYS,
) -> ListQuery:
    """A query built in code (ETL, the gateway) rather than from a query string.

    ``filters`` are ``(column, op, value)``; a text value is read as the REST
    query string would read it, any other value is taken as already typed
    (``in`` takes a sequence). ``sort`` items are column names, ``-`` first
    for descending. Checked like a query string: ``BadQuery`` names each
    bad part.
    """
    problems = _Problems(table)
    checked: list[Filter] = []
    filters = list(filters)
    if len(filters) > max_filters:
        problems.append(InputProblem("/", f"{len(filters)} filters; at most {max_filters}"))
        problems.raise_any()
    for name, op, value in filters:
        if isinstance(value, str) and op != "in":
            checked.extend(_filter(table, name, f"{op}.{value}", problems))
            continue
        column = table.column(name)
        if column is None:
            problems.unknown_column(name, name)
        elif op not in OPERATORS or op in ("like", "is"):
            problems.append(InputProblem(name, f"{op!r} takes text; give the value as text"))
        elif op == "in":
            items = tuple(value) if not isinstance(value, str) else tuple(split(value))
            if not items or len(items) > MAX_IN_ITEMS:
                problems.append(InputProblem(name, f"'in' takes 1 to {MAX_IN_ITEMS} values"))
            else:
                try:
                    typed = tuple(_typed(column, v) for v in items)
                except ValueError as exc:
                    problems.append(InputProblem(name, str(exc)))
                else:
                    checked.append(Filter(name, "in", typed))
        else:
            try:
                checked.append(Filter(name, op, _typed(column, value)))
            except ValueError as exc:
                problems.append(InputProblem(name, str(exc)))
    _count_values(checked, problems)
    keys = _sort(table, ",".join(sort), problems, max_sort_keys)
    shown = _fields(table, ",".join(fields) if fields is not None else None, problems)
    if limit < 1 or offset < 0:
        problems.append(InputProblem("limit", "limit must be positive and offset not negative"))
    after = None
    if cursor is not None:
        try:
            columns = [table.require(k.column) for k in keys]
            after = decode_cursor(cursor, columns, signature(keys))
        except ValueError as exc:
            problems.append(InputProblem("cursor", str(exc)))
    problems.raise_any()
    return ListQuery(tuple(checked), keys, shown, limit, offset, after)


def _typed(column: ColumnInfo, value: Any) -> Any:
    """A value given in code: text is parsed, an integer checked against its column."""
    if isinstance(value, str):
        return _parse(column, value)
    if column.kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return check_integer(column, value)
    return check_value(column, value)


def _parse(column: ColumnInfo, text: str) -> Any:
    """Query text as a value of ``column`` (checked to have a stored form if converted)."""
    return check_value(column, parse_text(column, text))


def _count_values(filters: list[Filter], problems: _Problems) -> None:
    values = sum(len(f.value) for f in filters if f.op == "in")
    if values > MAX_IN_ITEMS:
        problems.append(
            InputProblem("/", f"{values} values in 'in' lists; at most {MAX_IN_ITEMS} in all")
        )


def _filter(table: TableInfo, name: str, raw: str, problems: _Problems) -> list[Filter]:
    column = table.column(name)
    if column is None:
        problems.unknown_column(name, name)
        return []
    op, dot, text = raw.partition(".")
    if not dot or op not in OPERATORS:
        problems.append(
            InputProblem(name, f"expected op.value with op one of {', '.join(OPERATORS)}")
        )
        return []
    try:
        if op == "is":
            if text.lower() not in ("null", "notnull"):
                raise ValueError("'is' takes null or notnull")
            return [Filter(name, "is", text.lower())]
        if column.kind == "other":
            raise ValueError(f"{name} ({column.db_type or 'this type'}) takes only is.null/notnull")
        if op == "like":
            if column.kind not in TEXT_KINDS:
                raise ValueError(f"like applies to text columns; {name} is {column.kind}")
            return [Filter(name, "like", text)]
        if op == "in":
            items = split(text)
            if not items or len(items) > MAX_IN_ITEMS:
                raise ValueError(f"'in' takes 1 to {MAX_IN_ITEMS} comma-separated values")
            return [Filter(name, "in", tuple(_parse(column, item) for item in items))]
        return [Filter(name, op, _parse(column, text))]
    except (ValueError, csv.Error) as exc:
        problems.append(InputProblem(name, str(exc)))
        return []


def _sort(
    table: TableInfo, raw: str | None, problems: _Problems, most: int = MAX_SORT_KEYS
) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    items = (raw or "").split(",") if raw else []
    if len(items) > most:
        problems.append(InputProblem("sort", f"{len(items)} sort keys; at most {most}"))
        items = []
    for item in items:
        item = item.strip()
        descending = item.startswith("-")
        name = item[1:].strip() if item[:1] in ("+", "-") else item
        column = table.column(name)
        if column is None:
            problems.unknown_column("sort", name)
        elif column.kind == "other":
            problems.append(InputProblem("sort", f"{name} ({column.db_type}) cannot be sorted on"))
        elif any(k.column == name for k in keys):
            problems.append(InputProblem("sort", f"{name} is sorted on twice"))
        else:
            keys.append(SortKey(name, descending))
    keys.extend(SortKey(k) for k in table.key if not any(s.column == k for s in keys))
    return tuple(keys)


def _fields(table: TableInfo, raw: str | None, problems: _Problems) -> tuple[str, ...]:
    if raw is None:
        return table.names
    names = [n.strip() for n in raw.split(",")]
    unknown = [n for n in names if table.column(n) is None]
    for name in dict.fromkeys(unknown):
        problems.unknown_column("fields", name)
    return tuple(dict.fromkeys(n for n in names if n not in unknown))


def _number(
    raw: str | None, name: str, default: int, low: int, high: int, problems: _Problems
) -> int:
    if raw is None:
        return default
    if not _INT.fullmatch(raw) or not low <= int(raw) <= high:
        problems.append(InputProblem(name, f"{name} must be an integer from {low} to {high}"))
        return default
    return int(raw)


def _known(table: TableInfo) -> str:
    names = table.names
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return f"columns: {shown}"


def _clip(text: str) -> str:
    """A caller's name, short enough to quote back in a problem."""
    return text if len(text) <= 64 else text[:64] + "..."
