"""The state database: the outbox, capture offsets and snapshots, leases, command keys.

Any SQLAlchemy database (SQLite is the embedded default, PostgreSQL in
production). Nothing about events lives in memory or a local file only, so a
restart, or a second replica, carries on from the same place.

Tables (created when missing):

* ``strangler_outbox``: every event, in the order it was appended (``seq``),
  with its topic, message key and the CloudEvent as JSON; ``sent_at`` is set
  when the relay has published it.
* ``strangler_offsets``: how far each stream's capture has read (JSON).
* ``strangler_snapshot``: each captured row's key and the hash of its last
  published version: re-read rows are recognised, deleted rows found.
* ``strangler_leases``: who runs a stream's relay (or capture) until when.
* ``strangler_commands``: command ids already taken, and their replies.

All functions here are blocking; callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from strangler.adapters.db.state_engine import READS, state_engine

__all__ = [
    "COMMANDS",
    "LEASES",
    "METADATA",
    "OFFSETS",
    "OUTBOX",
    "SNAPSHOT",
    "OutboxRow",
    "StateStore",
    "insert_many",
    "state_url",
]

METADATA = sa.MetaData()
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

OUTBOX = sa.Table(
    "strangler_outbox",
    METADATA,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(200), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("topic", sa.String(249), nullable=False),
    sa.Column("msg_key", sa.String(1000), nullable=False),
    sa.Column("event", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_strangler_outbox_stream_seq", "stream", "seq"),
    sa.Index("ix_strangler_outbox_pending", "stream", "sent_at", "seq"),
)

OFFSETS = sa.Table(
    "strangler_offsets",
    METADATA,
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("position", sa.Text(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

SNAPSHOT = sa.Table(
    "strangler_snapshot",
    METADATA,
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("row_key", sa.String(1000), primary_key=True),
    sa.Column("row_hash", sa.String(64), nullable=False),
)

LEASES = sa.Table(
    "strangler_leases",
    METADATA,
    sa.Column("name", sa.String(250), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float(), nullable=False),
)

COMMANDS = sa.Table(
    "strangler_commands",
    METADATA,
    sa.Column("command_key", sa.String(500), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reply", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class OutboxRow(NamedTuple):
    """One event as the outbox keeps it (``event`` is the CloudEvent's JSON text)."""

    seq: int
    stream: str
    event_id: str
    topic: str
    msg_key: str
    event: str


def state_url(configured: str | None, cache_dir: Path | None) -> str:
    """The state database's URL: the spec's, else a SQLite file in the cache dir."""
    if configured:
        return configured
    from strangler.paths import default_cache_dir

    folder = cache_dir or default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'events-state.sqlite'}"


def now() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """The state tables on one engine; a transaction per call unless one is given."""

    def __init__(self, url: str) -> None:
        self.url = url
        # SQLite: one writer at a time, queued rather than "database is locked"
        self.engine = state_engine(url)

    def create(self) -> None:
        """Create the tables that are missing (safe to run from every replica)."""
        METADATA.create_all(self.engine, checkfirst=True)

    def dispose(self) -> None:
        self.engine.dispose()

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection that only reads (SQLite: it never waits for, or holds, the
        write lock)."""
        with self.engine.connect().execution_options(**READS) as connection:
            yield connection

    # -- the outbox ---------------------------------------------------------

    def append(self, connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Add events (dicts with stream, event_id, topic, msg_key, event) in order."""
        insert_many(connection, OUTBOX, _EVENT_COLUMNS, rows, {"created_at": now()})

    def read(self, stream: str, after: int, limit: int) -> list[OutboxRow]:
        """Events of ``stream`` with ``seq > after``, oldest first (sent or not)."""
        query = (
            sa.select(*_ROW)
            .where(OUTBOX.c.stream == stream, OUTBOX.c.seq > after)
            .order_by(OUTBOX.c.seq)
            .limit(limit)
        )
        with self.reading() as connection:
            return [OutboxRow(*row) for row in connection.execute(query)]

    def pending(self, stream: str, limit: int) -> list[OutboxRow]:
        """Events of ``stream`` not yet published, oldest first.

        The relay's read of every batch: its statement is compiled once per stream
        and limit, and the rows are taken as the driver's tuples (no result
        processing: the columns are integers and text)."""
        with self.reading() as connection:
            sql, params = _pending_statement(connection.dialect, stream, limit)
            connection.begin()  # as any read: SQLite begins without the write lock
            cursor = connection.connection.cursor()
            try:
                cursor.execute(sql, params)
                return list(map(OutboxRow._make, cursor.fetchall()))
            finally:
                cursor.close()

    def mark_sent(self, connection: sa.Connection, seqs: Sequence[int]) -> None:
        if seqs:
            connection.execute(
                OUTBOX.update().where(OUTBOX.c.seq.in_(list(seqs))).values(sent_at=now())
            )


_EVENT_COLUMNS = ("stream", "event_id", "topic", "msg_key", "event")

_PENDING: dict[tuple[str, str, int], tuple[str, Any]] = {}


def _pending_statement(dialect: sa.Dialect, stream: str, limit: int) -> tuple[str, Any]:
    """The SQL text and driver parameters of :meth:`StateStore.pending`, compiled once."""
    key = (dialect.name, stream, limit)
    found = _PENDING.get(key)
    if found is None:
        query = (
            sa.select(*_ROW)
            .where(OUTBOX.c.stream == stream, OUTBOX.c.sent_at.is_(None))
            .order_by(OUTBOX.c.seq)
            .limit(limit)
        )
        compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        values = compiled.construct_params()
        names = compiled.positiontup or ()
        params = tuple(values[n] for n in names) if dialect.positional else values
        found = _PENDING[key] = (compiled.string, params)
    return found


@dataclass(frozen=True)
class _Bulk:
    """One table's multi-row INSERT, compiled for one dialect."""

    sql: str
    order: tuple[str, ...]  # the parameters' names, in their order in ``sql``
    positional: bool
    processors: dict[str, Any]  # column → the dialect's bind processor, where it has one


_BULK: dict[tuple[str, str, tuple[str, ...]], _Bulk] = {}


def _bulk(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> _Bulk:
    key = (dialect.name, table.name, columns)
    found = _BULK.get(key)
    if found is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup or ()) if dialect.positional else columns
        processors = {}
        for name in columns:
            processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        found = _BULK[key] = _Bulk(compiled.string, order, dialect.positional, processors)
    return found


def insert_many(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (their ``columns``; ``constants`` the same in every row) in
    one ``executemany`` of the driver: SQLAlchemy compiles the statement and its
    types' bind processors once, not once per row."""
    if not rows:
        return
    fixed = dict(constants or {})
    bulk = _bulk(connection.dialect, table, (*columns, *fixed))
    for name, value in fixed.items():
        processor = bulk.processors.get(name)
        fixed[name] = processor(value) if processor is not None else value
    varying = [(n, bulk.processors.get(n)) for n in columns]
    if any(p is not None for _, p in varying):
        rows = [{n: p(r[n]) if p else r[n] for n, p in varying} for r in rows]
    if bulk.positional and bulk.order == (*columns, *fixed):  # INSERT keeps their order
        tail = tuple(fixed.values())
        params: list[Any] = [(*map(r.__getitem__, columns), *tail) for r in rows]
    elif bulk.positional:
        params = [tuple(fixed[n] if n in fixed else r[n] for n in bulk.order) for r in rows]
    else:
        params = [{**{n: r[n] for n in columns}, **fixed} for r in rows]
    connection.exec_driver_sql(bulk.sql, params)


_ROW = (
    OUTBOX.c.seq,
    OUTBOX.c.stream,
    OUTBOX.c.event_id,
    OUTBOX.c.topic,
    OUTBOX.c.msg_key,
    OUTBOX.c.event,
)
