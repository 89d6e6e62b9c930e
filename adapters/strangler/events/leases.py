"""Leases in the state database: one holder at a time for a stream's relay or capture.

A replica that holds a lease renews it well before it expires; one that stops
renewing (killed, frozen, cut off) loses it after ``ttl_s``, and another takes
over. Taking and renewing is one conditional statement in its own transaction,
so two replicas never both hold a lease. Expiry times are the holders' wall
clocks: replicas' clocks must agree to well within ``ttl_s``.

A holder remembers the expiry it last wrote. No other replica can take the
lease before then, so :meth:`Lease.ensure` answers from memory while less
than a third of ``ttl_s`` has passed since the last renewal, and asks the
database only after that: a busy holder renews about three times per
``ttl_s`` instead of once per cycle. Writes made under the lease are fenced
all the same (:meth:`Lease.fence`: a conditional renewal inside the write's
own transaction).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from strangler.events.store import LEASES, StateStore

__all__ = ["Lease", "LeaseLost", "holder_id"]


class LeaseLost(Exception):
    """Another replica holds the lease: the write under it was not made."""


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
        self.until = 0.0
        """The expiry this holder last wrote (0: not held, as far as it knows)."""

    def ensure(self) -> bool:
        """Whether this holder holds the lease: from memory while less than a third of
        ``ttl_s`` has passed since it last renewed it, else :meth:`acquire`."""
        if time.time() < self.until - self.ttl_s * 2 / 3:
            return True
        return self.acquire()

    def acquire(self) -> bool:
        """Take the lease if free, expired or already ours, and extend it; True if held."""
        self.until = 0.0
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
                self.until = now + self.ttl_s
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
        self.until = now + self.ttl_s
        return True

    def fence(self, connection: sa.Connection) -> None:
        """Renew the lease inside ``connection``'s transaction, or raise ``LeaseLost``
        (the caller's transaction then rolls back: nothing is written under a lost lease)."""
        moment = time.time()
        renewed = connection.execute(
            LEASES.update()
            .where(
                LEASES.c.name == self.name,
                LEASES.c.holder == self.holder,
                LEASES.c.expires_at > moment,
            )
            .values(expires_at=moment + self.ttl_s)
        ).rowcount
        if renewed != 1:
            self.until = 0.0
            raise LeaseLost(self.name)
        self.until = moment + self.ttl_s

    @contextmanager
    def fenced(self) -> Iterator[sa.Connection]:
        """A state transaction under the lease: :meth:`fence` first (``LeaseLost``);
        if the transaction fails, the renewal made in it is forgotten too."""
        try:
            with self.store.transaction() as connection:
                self.fence(connection)
                yield connection
        except BaseException:
            self.until = 0.0
            raise

    def held(self) -> bool:
        """Whether this holder still holds an unexpired lease (checked in the database)."""
        with self.store.reading() as connection:
            row = connection.execute(
                sa.select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == self.name)
            ).first()
        return row is not None and row.holder == self.holder and row.expires_at > time.time()

    def release(self) -> None:
        """Give the lease up at once (a clean stop), so another replica need not wait."""
        self.until = 0.0
        with self.store.transaction() as connection:
            connection.execute(
                LEASES.update()
                .where(LEASES.c.name == self.name, LEASES.c.holder == self.holder)
                .values(expires_at=0.0)
            )
