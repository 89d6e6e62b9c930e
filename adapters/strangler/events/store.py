"""The state database: the outbox, capture offsets and snapshots, leases, command keys.

Any SQLAlchemy database (SQLite is the embedded default, PostgreSQL in
production). Nothing about events lives in memory or a local file only, so a
restart, or a second replica, carries on from the same place.

Tables (created when missing):

* ``strangler_outbox``: every event, in the order it was appended (``seq``),
  with its topic, message key and the CloudEvent as JSON; ``sent_at`` is set
  when the relay has published it (PostgreSQL and other servers).
* ``strangler_published`` (SQLite): how far the relay has published each stream.
  SQLite runs one write transaction at a time and ``seq`` is given inside it,
  so ``seq`` order is commit order: a reader that sees an event sees every
  event of a lower ``seq``, and "published through ``seq`` N" replaces marking
  each row (one row written per batch instead of one per event). Events with
  ``seq`` at most N count as sent, as do rows with ``sent_at`` (written before
  this table, or by a server database). On a server database a lower ``seq``
  can commit after a higher one was read, so rows are marked one by one there.
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
    "PUBLISHED",
    "SNAPSHOT",
    "OutboxRow",
    "StateStore",
    "insert_many",
    "state_url",
]


def _not_sqlite(
    ddl: Any,
    target: Any,
    bind: sa.Connection | None,
    tables: Any = None,
    state: Any = None,
    *,
    dialect: sa.Dialect,
    **kw: Any,
) -> bool:
    return dialect.name != "sqlite"


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
    # the unsent events by their sent_at; SQLite finds them by the published mark with
    # the index above instead (state databases made before keep theirs)
    sa.Index("ix_strangler_outbox_pending", "stream", "sent_at", "seq").ddl_if(
        callable_=_not_sqlite
    ),
)

PUBLISHED = sa.Table(
    "strangler_published",
    METADATA,
    sa.Column("stream", sa.String(200), primary_key=True),
    # every event of the stream with seq <= this was published, the last at updated_at
    sa.Column("seq", _SEQ, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # the retention's checkpoint: events with seq <= mark_seq were published by mark_at
    sa.Column("mark_seq", _SEQ, nullable=False),
    sa.Column("mark_at", sa.DateTime(timezone=True), nullable=False),
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
        # SQLite: one writer at a time, so seq order is commit order (the module's text)
        self.ordered = self.engine.dialect.name == "sqlite"

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
            sql, params = _pending_statement(connection.dialect, stream, limit, self.ordered)
            connection.begin()  # as any read: SQLite begins without the write lock
            cursor = connection.connection.cursor()
            try:
                cursor.execute(sql, params)
                return list(map(OutboxRow._make, cursor.fetchall()))
            finally:
                cursor.close()

    def pending_count(self, stream: str) -> int:
        """How many events of ``stream`` wait to be published."""
        query = sa.select(sa.func.count()).select_from(OUTBOX).where(*_unsent(stream, self.ordered))
        with self.reading() as connection:
            return int(connection.execute(query).scalar_one())

    def mark_sent(self, connection: sa.Connection, stream: str, seqs: Sequence[int]) -> None:
        """Record the events ``seqs`` of ``stream`` (all its unsent events up to the
        highest of them, in order) as published, in ``connection``'s transaction."""
        if not seqs:
            return
        stamp = now()
        if not self.ordered:
            connection.execute(
                OUTBOX.update().where(OUTBOX.c.seq.in_(list(seqs))).values(sent_at=stamp)
            )
            return
        last = max(seqs)
        moved = connection.execute(
            PUBLISHED.update()
            .where(PUBLISHED.c.stream == stream)
            .values(seq=sa.func.max(PUBLISHED.c.seq, last), updated_at=stamp)
        ).rowcount
        if not moved:
            connection.execute(
                PUBLISHED.insert().values(
                    stream=stream, seq=last, updated_at=stamp, mark_seq=last, mark_at=stamp
                )
            )

    def requeue(self, connection: sa.Connection, event_id: str) -> bool:
        """Make a published event unsent again (same id, published again); False when
        it is no longer in the outbox. SQLite: it moves to the end of the outbox (a
        new ``seq``), past the published mark."""
        values: dict[str, Any] = {"sent_at": None}
        if self.ordered:
            values["seq"] = sa.select(sa.func.max(OUTBOX.c.seq) + 1).scalar_subquery()
        statement = OUTBOX.update().where(OUTBOX.c.event_id == event_id).values(**values)
        return bool(connection.execute(statement).rowcount)

    def purge(self, stream: str, cutoff: datetime) -> int:
        """Remove the events of ``stream`` published before ``cutoff``; how many.

        SQLite: the published mark has no time per event, so each purge that finds
        the retention's checkpoint (``mark_seq`` published by ``mark_at``) older than
        ``cutoff`` removes the events up to it and sets it again to the mark as it is
        now: an event goes between one and two retention periods (plus the purge's
        interval) after it was published. The outbox's highest ``seq`` always stays,
        so SQLite never gives a ``seq`` again (it takes the highest one plus 1)."""
        where = [OUTBOX.c.stream == stream]
        if self.ordered:
            where.append(OUTBOX.c.seq < sa.select(sa.func.max(OUTBOX.c.seq)).scalar_subquery())
        with self.transaction() as connection:
            removed = connection.execute(
                OUTBOX.delete().where(
                    *where, OUTBOX.c.sent_at.is_not(None), OUTBOX.c.sent_at < cutoff
                )
            ).rowcount
            if not self.ordered:
                return int(removed)
            due = connection.execute(
                sa.select(PUBLISHED.c.mark_seq, PUBLISHED.c.seq).where(
                    PUBLISHED.c.stream == stream, PUBLISHED.c.mark_at < cutoff
                )
            ).first()
            if due is not None:
                removed += connection.execute(
                    OUTBOX.delete().where(*where, OUTBOX.c.seq <= due.mark_seq)
                ).rowcount
                connection.execute(
                    PUBLISHED.update()
                    .where(PUBLISHED.c.stream == stream)
                    .values(mark_seq=due.seq, mark_at=now())
                )
        return int(removed)


def _unsent(stream: str, ordered: bool) -> tuple[sa.ColumnElement[bool], ...]:
    """The conditions of a stream's unsent events."""
    where = (OUTBOX.c.stream == stream, OUTBOX.c.sent_at.is_(None))
    if not ordered:
        return where
    through = sa.select(PUBLISHED.c.seq).where(PUBLISHED.c.stream == stream).scalar_subquery()
    return (*where, OUTBOX.c.seq > sa.func.coalesce(through, 0))


_EVENT_COLUMNS = ("stream", "event_id", "topic", "msg_key", "event")

_PENDING: dict[tuple[str, str, int, bool], tuple[str, Any]] = {}


def _pending_statement(
    dialect: sa.Dialect, stream: str, limit: int, ordered: bool
) -> tuple[str, Any]:
    """The SQL text and driver parameters of :meth:`StateStore.pending`, compiled once."""
    key = (dialect.name, stream, limit, ordered)
    found = _PENDING.get(key)
    if found is None:
        query = (
            sa.select(*_ROW).where(*_unsent(stream, ordered)).order_by(OUTBOX.c.seq).limit(limit)
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
