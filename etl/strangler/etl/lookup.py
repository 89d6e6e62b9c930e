"""Reading features: as of points in time (training rows), and the latest (inference).

:func:`rows_as_of` puts the (entity, time) pairs into a temporary table and joins
the history table once: per pair, the row whose event time is the newest at or
before the pair's time (and, with a ttl, after the time less the ttl). The
subquery seeks on the history table's primary key (entity…, event time), so the
cost grows with the pairs asked for, not with the history kept; no value from
after a pair's time is ever read.

:func:`latest_rows` reads the latest table by its primary key, a few hundred
entities per statement.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from strangler.errors import InputProblem, InvalidInput
from strangler.etl.bulk import write_rows
from strangler.etl.tables import FeatureTable, UtcDateTime, column_type

__all__ = ["latest_rows", "rows_as_of"]

_CHUNK = 500  # keys per IN list, far below every database's parameter limit
Row = dict[str, Any]


def latest_rows(
    connection: sa.Connection, table: FeatureTable, entities: Sequence[Mapping[str, Any]]
) -> list[Row | None]:
    """Each entity's latest row (entity, event time, features), ``None`` where there is
    none or (with a ttl) it is older than the ttl."""
    keys = _keys(table, entities)
    latest = table.latest
    columns = [latest.c[c] for c in table.stored]
    found: dict[tuple[Any, ...], Row] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        query = sa.select(*columns).where(_key_in(connection, latest, table.entity, chunk))
        for result in connection.execute(query):
            data = dict(result._mapping)
            found[tuple(data[e] for e in table.entity)] = data
    oldest = None if table.ttl_s is None else datetime.now(UTC) - timedelta(seconds=table.ttl_s)
    out: list[Row | None] = []
    for key in keys:
        row = found.get(key)
        fresh = row is not None and (oldest is None or row[table.event_time] > oldest)
        out.append(row if fresh else None)
    return out


def rows_as_of(
    connection: sa.Connection,
    table: FeatureTable,
    entities: Sequence[Mapping[str, Any]],
    at: Sequence[datetime] | datetime,
) -> list[Row | None]:
    """Per (entity, time): the newest history row with event time <= the time (and
    > the time less the ttl), or ``None``."""
    keys = _keys(table, entities)
    times = [at] * len(keys) if isinstance(at, datetime) else list(at)
    if len(times) != len(keys):
        raise InvalidInput(f"{len(keys)} entities but {len(times)} times")
    for i, moment in enumerate(times):
        if not isinstance(moment, datetime):
            raise InvalidInput(
                "a time must be a datetime",
                [InputProblem(f"at[{i}]", f"not a datetime: {moment!r}")],
            )
    if not keys:
        return []
    ttl = None if table.ttl_s is None else timedelta(seconds=table.ttl_s)
    asked = _asked_table(connection, table)
    asked.create(connection)
    try:
        names = ["_q", *table.entity, "_at", "_since"]
        for start in range(0, len(keys), 5_000):
            rows = [
                (i, *keys[i], times[i], None if ttl is None else times[i] - ttl)
                for i in range(start, min(start + 5_000, len(keys)))
            ]
            write_rows(connection, asked, names, rows)
        history = table.history
        earlier = history.alias("earlier")
        time = table.event_time
        newest = (
            sa.select(sa.func.max(earlier.c[time]))
            .where(
                *[earlier.c[e] == asked.c[e] for e in table.entity],
                earlier.c[time] <= asked.c["_at"],
                sa.or_(asked.c["_since"].is_(None), earlier.c[time] > asked.c["_since"]),
            )
            .scalar_subquery()
        )
        query = sa.select(asked.c["_q"], *[history.c[c] for c in table.stored]).join_from(
            asked,
            history,
            sa.and_(*[history.c[e] == asked.c[e] for e in table.entity], history.c[time] == newest),
        )
        out: list[Row | None] = [None] * len(keys)
        for result in connection.execute(query):
            data = dict(result._mapping)
            out[data.pop("_q")] = data
        return out
    finally:
        asked.drop(connection)


def _asked_table(connection: sa.Connection, table: FeatureTable) -> sa.Table:
    """A temporary table of the pairs asked for (dropped after the query)."""
    name = f"strangler_etl_asof_{secrets.token_hex(4)}"
    if connection.dialect.name == "mssql":
        name = f"#{name}"
        prefixes: list[str] = []
    else:
        prefixes = ["TEMPORARY"]
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("_q", sa.Integer(), primary_key=True, autoincrement=False),
        *[sa.Column(e, column_type(table.schema[e], key=True)) for e in table.entity],
        sa.Column("_at", UtcDateTime(), nullable=False),
        sa.Column("_since", UtcDateTime(), nullable=True),
        prefixes=prefixes,
    )


def _keys(table: FeatureTable, entities: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    keys: list[tuple[Any, ...]] = []
    problems: list[InputProblem] = []
    for i, entity in enumerate(entities):
        missing = [e for e in table.entity if entity.get(e) is None]
        if missing:
            problems.append(InputProblem(f"entities[{i}]", f"no value for {', '.join(missing)}"))
            continue
        keys.append(tuple(entity[e] for e in table.entity))
    if problems:
        raise InvalidInput(f"feature view {table.view}: entities without their key", problems)
    return keys


def _key_in(
    connection: sa.Connection, target: sa.Table, entity: Sequence[str], keys: list[tuple[Any, ...]]
) -> sa.ColumnElement[bool]:
    if len(entity) == 1:
        return target.c[entity[0]].in_([k[0] for k in keys])
    if connection.dialect.name == "mssql":  # no row values
        return sa.or_(
            *[sa.and_(*[target.c[e] == v for e, v in zip(entity, k, strict=True)]) for k in keys]
        )
    return sa.tuple_(*[target.c[e] for e in entity]).in_(keys)
