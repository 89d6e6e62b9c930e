"""What polling capture keeps in the state database: offsets, snapshots, its lease.

Each batch is one state transaction: the lease is renewed in it (a conditional
update that fails once another replica holds the lease, so the batch is rolled
back), the snapshot's hashes of the batch's keys are read, the events of new
and changed rows are appended to the outbox, the snapshot is brought up to
date and the offset written. A crash between two batches leaves the outbox,
the snapshot and the offset consistent with each other: the next cycle reads
the rows again and emits only what the snapshot has not recorded.

The snapshot is read first without the write lock and the batch planned
from it (events made): a batch that would write nothing (every row's hash
already in the snapshot, the offset unchanged: rows re-read within the
lookback) ends there, without a write transaction; otherwise the transaction
reads the hashes again and writes the plan when they are the same (else it
plans again from what it read), so the write lock is held for the writes.

All functions here are blocking; the capture component runs them in a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa

from strangler.events.capture_source import Captured
from strangler.events.leases import Lease, LeaseLost
from strangler.events.store import OFFSETS, SNAPSHOT, StateStore, insert_many, now
from strangler.events.streams import Action

__all__ = ["CaptureState", "Emitted", "LeaseLost", "MakeEvent"]

MakeEvent = Callable[[Action, str, Any, Any], dict[str, Any]]
"""``(action, key, data, watermark)`` → an outbox row."""

_CHUNK = 400  # keys per IN list: well below every database's parameter limit
_KEY_NAMES = tuple(f"keys_{n}" for n in range(1, _CHUNK + 1))


@dataclass
class Emitted:
    """What one or more batches appended, by action."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    keys: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.deleted

    def add(self, other: Emitted) -> None:
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted
        self.keys.extend(other.keys)


@dataclass
class _Plan:
    """What one batch writes, decided from the snapshot's hashes of its keys."""

    events: list[dict[str, Any]] = field(default_factory=list)
    inserts: dict[str, str] = field(default_factory=dict)
    updates: dict[str, str] = field(default_factory=dict)
    emitted: Emitted = field(default_factory=Emitted)

    @classmethod
    def of(cls, rows: Sequence[Captured], hashes: dict[str, str], make: MakeEvent) -> _Plan:
        """``created`` for keys ``hashes`` lacks, ``updated`` for another hash, in order
        (a key twice in the batch: each version that differs from the one before)."""
        plan = cls()
        known = dict(hashes)
        emitted = plan.emitted
        for row in rows:
            before = known.get(row.key)
            if before == row.hash:
                continue
            action: Action = "created" if before is None else "updated"
            plan.events.append(make(action, row.key, row.data, row.watermark))
            if action == "created":
                emitted.created += 1
                plan.inserts[row.key] = row.hash
            else:
                emitted.updated += 1
                if row.key in plan.inserts:
                    plan.inserts[row.key] = row.hash
                else:
                    plan.updates[row.key] = row.hash
            emitted.keys.append(row.key)
            known[row.key] = row.hash
        return plan


_HASH_SQL: dict[tuple[str, int], tuple[str, bool]] = {}


def _hash_statement(dialect: sa.Dialect, count: int) -> tuple[str, bool]:
    """The snapshot read of ``count`` keys of one stream, compiled once: its SQL, and
    whether its parameters are positional (``stream``, then the keys in order) or
    named (``stream``, ``keys_1`` … ``keys_<count>``)."""
    found = _HASH_SQL.get((dialect.name, count))
    if found is None:
        query = sa.select(SNAPSHOT.c.row_key, SNAPSHOT.c.row_hash).where(
            SNAPSHOT.c.stream == sa.bindparam("stream", ""),
            SNAPSHOT.c.row_key.in_(sa.bindparam("keys", [""] * count, expanding=True)),
        )
        compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        names = ("stream", *(f"keys_{n}" for n in range(1, count + 1)))
        if dialect.positional and tuple(compiled.positiontup or ()) != names:
            raise RuntimeError(f"the snapshot read's parameters: {compiled.positiontup}")
        found = _HASH_SQL[(dialect.name, count)] = (compiled.string, dialect.positional)
    return found


class CaptureState:
    """One stream's offset and snapshot, written under its lease."""

    def __init__(self, store: StateStore, stream: str, lease: Lease) -> None:
        self.store = store
        self.stream = stream
        self.lease = lease
        self._stored: dict[str, Any] | None = None  # the offset as last read or written

    def position(self) -> dict[str, Any]:
        """The stored offset (``{}`` before the first batch)."""
        with self.store.reading() as connection:
            text = connection.execute(
                sa.select(OFFSETS.c.position).where(OFFSETS.c.stream == self.stream)
            ).scalar()
        stored = dict(orjson.loads(text)) if text else {}
        self._stored = stored
        return dict(stored)

    def _hashes(self, connection: sa.Connection, keys: Sequence[str]) -> dict[str, str]:
        """The snapshot's hashes of ``keys`` (those it holds). Read twice per page (before
        and inside the write transaction), so the statement for each number of keys is
        compiled once and run on the driver's cursor (the columns are text)."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        if not unique:
            return found
        if not connection.in_transaction():
            connection.begin()  # as any read: SQLite begins without the write lock
        cursor = connection.connection.cursor()
        try:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                sql, positional = _hash_statement(connection.dialect, len(chunk))
                params: Any = (self.stream, *chunk)
                if not positional:
                    params = dict(zip(("stream", *_KEY_NAMES[: len(chunk)]), params, strict=True))
                cursor.execute(sql, params)
                found.update(cursor.fetchall())
        finally:
            cursor.close()
        return found

    def commit(
        self, rows: Sequence[Captured], make: MakeEvent, position: dict[str, Any] | None
    ) -> Emitted:
        """Append events for rows the snapshot does not hold in this version; record them;
        store ``position`` (None: keep the offset). One transaction; ``LeaseLost``.

        The snapshot is read first without the write lock and the batch planned (its
        events made) from it: a batch with nothing to write ends there, and a batch
        whose snapshot rows are the same inside the transaction writes that plan, so
        the write lock is held for the writes only."""
        keys = [r.key for r in rows]
        with self.store.reading() as connection:
            seen = self._hashes(connection, keys)
        ahead = _Plan.of(rows, seen, make)
        if not ahead.events and (position is None or position == self._stored):
            return ahead.emitted
        with self.lease.fenced() as connection:
            known = self._hashes(connection, keys)
            plan = ahead if known == seen else _Plan.of(rows, known, make)
            self.store.append(connection, plan.events)
            insert_many(
                connection,
                SNAPSHOT,
                ("row_key", "row_hash"),
                [{"row_key": k, "row_hash": h} for k, h in plan.inserts.items()],
                {"stream": self.stream},
            )
            if plan.updates:
                connection.execute(
                    SNAPSHOT.update()
                    .where(
                        SNAPSHOT.c.stream == sa.bindparam("b_stream"),
                        SNAPSHOT.c.row_key == sa.bindparam("b_key"),
                    )
                    .values(row_hash=sa.bindparam("b_hash")),
                    [
                        {"b_stream": self.stream, "b_key": k, "b_hash": h}
                        for k, h in plan.updates.items()
                    ],
                )
            if position is not None:
                self._save(connection, position)
        if position is not None:
            self._stored = dict(position)
        return plan.emitted

    def snapshot_keys(self, after: str | None, limit: int) -> list[str]:
        """A page of the snapshot's keys, in their text order, after ``after``."""
        query = sa.select(SNAPSHOT.c.row_key).where(SNAPSHOT.c.stream == self.stream)
        if after is not None:
            query = query.where(SNAPSHOT.c.row_key > after)
        query = query.order_by(SNAPSHOT.c.row_key).limit(limit)
        with self.store.reading() as connection:
            return [row.row_key for row in connection.execute(query)]

    def delete(self, keys: Sequence[str], make: MakeEvent) -> Emitted:
        """Emit ``deleted`` for keys gone from the table and drop them from the snapshot.
        One transaction; ``LeaseLost``."""
        emitted = Emitted()
        with self.lease.fenced() as connection:
            known = self._hashes(connection, keys)  # still in the snapshot
            gone = [k for k in dict.fromkeys(keys) if k in known]
            self.store.append(connection, [make("deleted", k, None, None) for k in gone])
            for start in range(0, len(gone), _CHUNK):
                connection.execute(
                    SNAPSHOT.delete().where(
                        SNAPSHOT.c.stream == self.stream,
                        SNAPSHOT.c.row_key.in_(gone[start : start + _CHUNK]),
                    )
                )
            emitted.deleted = len(gone)
            emitted.keys.extend(gone)
        return emitted

    def save(self, position: dict[str, Any]) -> None:
        """Store the offset alone (under the lease; ``LeaseLost``)."""
        with self.lease.fenced() as connection:
            self._save(connection, position)
        self._stored = dict(position)

    def _save(self, connection: sa.Connection, position: dict[str, Any]) -> None:
        text = orjson.dumps(position).decode()
        stamp = now()
        changed = connection.execute(
            OFFSETS.update()
            .where(OFFSETS.c.stream == self.stream)
            .values(position=text, updated_at=stamp)
        ).rowcount
        if not changed:
            connection.execute(
                OFFSETS.insert().values(stream=self.stream, position=text, updated_at=stamp)
            )
