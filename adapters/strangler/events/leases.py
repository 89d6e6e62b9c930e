"""Leases in the state database: one holder at a time for a stream's relay or capture.

A replica that holds a lease renews it well before it expires; one that stops
renewing (killed, frozen, cut off) loses it after ``ttl_s``, and another takes
over. Taking and renewing is one conditional statement in its own transaction,
so two replicas never both hold a lease. Expiry times are the holders' wall
clocks: replicas' clocks must agree to well within ``ttl_s``.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import sqlalchemy as sa

from strangler.events.store import LEASES, StateStore

__all__ = ["Lease", "holder_id"]


def holder_id() -> str:
    """This process's name for itself: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The lease called ``name``, as seen by ``holder``. Blocking calls."""

    def __init__(self, store: StateStore, name: str, *, ttl_s: float, holder: str = "") -> None:
        self.store = store
        self.name = name
        self.ttl_s = ttl_s
        self.holder = holder or holder_id()

    def acquire(self) -> bool:
        """Take the lease if free, expired or already ours, and extend it; True if held."""
        now = time.time()
        with self.store.transaction() as connection:
            taken = connection.execute(
                LEASES.update()
                .where(
                    LEASES.c.name == self.name,
                    sa.or_(LEASES.c.holder == self.holder, LEASES.c.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl_s)
            ).rowcount
            if taken:
                return True
            exists = connection.execute(
                sa.select(LEASES.c.name).where(LEASES.c.name == self.name)
            ).first()
            if exists is not None:
                return False
        try:
            with self.store.transaction() as connection:
                connection.execute(
                    LEASES.insert().values(
                        name=self.name, holder=self.holder, expires_at=now + self.ttl_s
                    )
                )
        except sa.exc.IntegrityError:  # another replica inserted it first
            return False
        return True

    def held(self) -> bool:
        """Whether this holder still holds an unexpired lease (checked in the database)."""
        with self.store.engine.connect() as connection:
            row = connection.execute(
                sa.select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == self.name)
            ).first()
        return row is not None and row.holder == self.holder and row.expires_at > time.time()

    def release(self) -> None:
        """Give the lease up at once (a clean stop), so another replica need not wait."""
        with self.store.transaction() as connection:
            connection.execute(
                LEASES.update()
                .where(LEASES.c.name == self.name, LEASES.c.holder == self.holder)
                .values(expires_at=0.0)
            )
