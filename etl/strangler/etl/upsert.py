"""Upserts from a query into a table, in each database's own statement.

* PostgreSQL and SQLite: ``INSERT … SELECT … ON CONFLICT (key) DO UPDATE … WHERE``
  something differs, so an unchanged row keeps its ``ingested_at``;
* MariaDB / MySQL: ``INSERT … SELECT … ON DUPLICATE KEY UPDATE``, the load time
  first and only when a column differs (the assignments run left to right);
* SQL Server: ``MERGE … WITH (HOLDLOCK)`` with ``WHEN MATCHED AND EXISTS (SELECT
  target EXCEPT SELECT source)``, the null-safe "differs" test.

Rows of the source that share a key: SQLite and MariaDB apply them in the
source's order (it ends in ``ORDER BY`` the staging sequence), so the last one
wins; PostgreSQL and SQL Server refuse to touch a row twice in one statement, so
their callers give a source with one row per key (:func:`newest_per_key`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

__all__ = ["merge_sql", "newest_per_key", "upsert", "upsert_statement", "upsert_with_latest"]


def upsert(
    connection: sa.Connection,
    target: sa.Table,
    source: sa.Select[Any],
    *,
    key: Sequence[str],
    touch: str | None = None,
    unless_older: str | None = None,
) -> int:
    """Insert ``source``'s rows (labelled as ``target``'s columns) or update those whose
    key exists and whose values differ; ``touch`` (a load-time column) is updated only
    with them; ``unless_older`` (a time column): never replace a row by an older one.
    Returns the rowcount the database reports."""
    statement = upsert_statement(
        connection.dialect, target, source, key=key, touch=touch, unless_older=unless_older
    )
    result = connection.execute(statement, execution_options={"preserve_rowcount": True})
    return int(result.rowcount)


def upsert_statement(
    dialect_: sa.Dialect,
    target: sa.Table,
    source: sa.Select[Any],
    *,
    key: Sequence[str],
    touch: str | None = None,
    unless_older: str | None = None,
) -> sa.Executable:
    """The statement :func:`upsert` runs."""
    columns = [c.name for c in source.selected_columns]
    values = [c for c in columns if c not in key and c != touch]
    dialect = dialect_.name
    statement: sa.Executable
    if dialect in ("postgresql", "sqlite"):
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)
        insert = insert.from_select(columns, source)
        new = insert.excluded
        if not values and touch is None:
            statement = insert.on_conflict_do_nothing(index_elements=list(key))
        else:
            where = sa.or_(*[target.c[c].is_distinct_from(new[c]) for c in values])
            if unless_older is not None:
                where = sa.and_(new[unless_older] >= target.c[unless_older], where)
            statement = insert.on_conflict_do_update(
                index_elements=list(key),
                set_={c: new[c] for c in [*values, *([touch] if touch else [])]},
                where=where if values else None,
            )
    elif dialect in ("mysql", "mariadb"):
        statement = _on_duplicate_key(target, source, key, touch, unless_older)
    elif dialect == "mssql":
        statement = merge_sql(
            dialect_, target, source, key=key, touch=touch, unless_older=unless_older
        )
    else:
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
    return statement


def upsert_with_latest(
    connection: sa.Connection,
    history: sa.Table,
    source: sa.Select[Any],
    latest: sa.Table,
    *,
    entity: Sequence[str],
    event_time: str,
    touch: str,
) -> tuple[int, int]:
    """PostgreSQL: upsert ``source`` into ``history`` and, in the same statement, the
    newest of the rows it wrote per entity into ``latest`` (unless it holds a newer
    one). Rows that arrived unchanged are not written, so they cost the latest table
    nothing. Returns the rows written to each."""
    key = [*entity, event_time]
    into_history = upsert_statement(connection.dialect, history, source, key=key, touch=touch)
    assert isinstance(into_history, postgresql.Insert)
    written = into_history.returning(*[history.c[c.name] for c in latest.columns]).cte("written")
    by_entity = [written.c[e] for e in entity]
    newest = (
        sa.select(*[written.c[c.name] for c in latest.columns])
        .ext(postgresql.distinct_on(*by_entity))
        .order_by(*by_entity, written.c[event_time].desc())
    )
    into_latest = upsert_statement(
        connection.dialect, latest, newest, key=entity, unless_older=event_time
    )
    assert isinstance(into_latest, postgresql.Insert)
    fresh = into_latest.returning(sa.literal(1).label("one")).cte("fresh")
    counts = sa.select(
        sa.select(sa.func.count()).select_from(written).scalar_subquery(),
        sa.select(sa.func.count()).select_from(fresh).scalar_subquery(),
    )
    row = connection.execute(counts).one()
    return int(row[0]), int(row[1])


def _on_duplicate_key(
    target: sa.Table,
    source: sa.Select[Any],
    key: Sequence[str],
    touch: str | None,
    unless_older: str | None,
) -> sa.Executable:
    """MariaDB's form: assignments run left to right and see the values already set, so
    the load time and the time column (which the conditions read) come last."""
    columns = [c.name for c in source.selected_columns]
    values = [c for c in columns if c not in key and c != touch]
    insert = mysql.insert(target).from_select(columns, source)
    new = insert.inserted
    keep_newer = None if unless_older is None else new[unless_older] >= target.c[unless_older]

    def guarded(column: str, condition: sa.ColumnElement[bool] | None) -> tuple[str, Any]:
        if condition is None:
            return column, new[column]
        return column, sa.func.IF(condition, new[column], target.c[column])

    differs = sa.or_(*[target.c[c].is_distinct_from(new[c]) for c in values])
    assignments: list[tuple[str, Any]] = []
    if touch is not None:  # first: it reads the columns before they change
        assignments.append(
            guarded(
                touch,
                sa.and_(*([keep_newer] if keep_newer is not None else []), differs)
                if values
                else keep_newer,
            )
        )
    late = [c for c in values if c == unless_older]
    assignments += [guarded(c, keep_newer) for c in values if c not in late]
    assignments += [guarded(c, keep_newer) for c in late]
    if not assignments:
        assignments = [(key[0], target.c[key[0]])]
    return insert.on_duplicate_key_update(assignments)


def merge_sql(
    dialect: sa.Dialect,
    target: sa.Table,
    source: sa.Select[Any],
    *,
    key: Sequence[str],
    touch: str | None = None,
    unless_older: str | None = None,
) -> sa.TextClause:
    """SQL Server's ``MERGE`` of ``source`` into ``target`` (see :func:`upsert`)."""
    quote = dialect.identifier_preparer.quote
    columns = [c.name for c in source.selected_columns]
    values = [c for c in columns if c not in key and c != touch]
    # named parameters, so the MERGE text binds them by name with their types
    named: sa.Dialect = type(dialect)(paramstyle="named")  # type: ignore[call-arg]
    compiled = source.compile(dialect=named)
    on = " AND ".join(f"t.{quote(c)} = s.{quote(c)}" for c in key)
    sets = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in [*values, *([touch] if touch else [])])
    when = ""
    if unless_older is not None:
        when += f" AND s.{quote(unless_older)} >= t.{quote(unless_older)}"
    if values:
        when += (
            f" AND EXISTS (SELECT {', '.join(f't.{quote(c)}' for c in values)}"
            f" EXCEPT SELECT {', '.join(f's.{quote(c)}' for c in values)})"
        )
    names = ", ".join(quote(c) for c in columns)
    matched = f" WHEN MATCHED{when} THEN UPDATE SET {sets}" if sets else ""
    sql = (
        f"MERGE INTO {dialect.identifier_preparer.format_table(target)} WITH (HOLDLOCK) AS t"
        f" USING ({compiled}) AS s ON {on}{matched}"
        f" WHEN NOT MATCHED THEN INSERT ({names})"
        f" VALUES ({', '.join(f's.{quote(c)}' for c in columns)});"
    )
    binds = [
        sa.bindparam(name, value, type_=compiled.binds[name].type)
        for name, value in compiled.params.items()
    ]
    return sa.text(sql).bindparams(*binds)


def newest_per_key(source: sa.Select[Any], *, key: Sequence[str], order: sa.ColumnElement[Any]
                   ) -> sa.Select[Any]:  # fmt: skip
    """``source``'s rows, only the one with the highest ``order`` of each key
    (``ROW_NUMBER()``, which every supported database has)."""
    ranked = source.add_columns(
        sa.func.row_number()
        .over(partition_by=[source.selected_columns[k] for k in key], order_by=order.desc())
        .label("_rank")
    ).subquery("ranked")
    names = [c.name for c in source.selected_columns]
    return sa.select(*[ranked.c[n] for n in names]).where(ranked.c["_rank"] == 1)
