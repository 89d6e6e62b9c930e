"""The audit trail: who wrote what, and who changed the configuration.

Each record is one row of the audit table and one structured log line on the
``strangler.audit`` logger (JSON in the message, for any log shipper). A row is
written for every request that writes (a table insert, update or delete, an
operation not marked safe, a change through ``/admin``), whatever its answer,
and for each start of the app with the security section's fingerprint (the
key names and a hash of their hashes), so a change of keys shows between two
starts. Rows are written off the request's path; :meth:`AuditTrail.close`
waits for those still pending.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from strangler.errors.redact import mask_urls

__all__ = ["AuditRecord", "AuditTrail"]

log = logging.getLogger("strangler.audit")


@dataclass(frozen=True)
class AuditRecord:
    """One audited event. ``actor`` is ``key:NAME``, ``jwt:SUBJECT`` or ``anonymous``."""

    action: str
    actor: str
    method: str = ""
    path: str = ""
    scope: str = ""
    status: int = 0
    client: str = ""
    detail: str = ""


def _table(name: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False, index=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


class AuditTrail:
    """Audit records into a table at ``url`` (any SQLAlchemy URL) and the log."""

    def __init__(self, url: str, table: str = "strangler_audit") -> None:
        self.url = url
        self.metadata = sa.MetaData()
        self.table = _table(table, self.metadata)
        self._engine: sa.Engine | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.failures = 0

    async def start(self) -> None:
        from strangler.adapters.db.state_engine import state_engine

        self._engine = state_engine(self.url)
        await asyncio.to_thread(self.metadata.create_all, self._engine)

    def record(self, record: AuditRecord) -> None:
        """Log ``record`` now and write its row in the background."""
        at = dt.datetime.now(dt.UTC)
        log.info(json.dumps({"audit": record.action, "at": at.isoformat(), **asdict(record)}))
        if self._engine is None:
            return
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._write, record, at))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _write(self, record: AuditRecord, at: dt.datetime) -> None:
        assert self._engine is not None
        try:
            with self._engine.begin() as connection:
                connection.execute(self.table.insert().values(at=at, **asdict(record)))
        except sa.exc.SQLAlchemyError as exc:
            self.failures += 1
            log.error("the audit row could not be written: %s", mask_urls(str(exc)))

    async def flush(self) -> None:
        """Wait for the rows still being written."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def rows(self, **where: Any) -> list[dict[str, Any]]:
        """The rows (oldest first), filtered by column values; blocking."""
        assert self._engine is not None
        query = sa.select(self.table).order_by(self.table.c.id)
        for column, value in where.items():
            query = query.where(self.table.c[column] == value)
        with self._engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]

    async def close(self) -> None:
        await self.flush()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
