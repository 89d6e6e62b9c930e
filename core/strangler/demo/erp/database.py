"""Build the ERP's SQLite file, hand out its SQLAlchemy URL, and make it change.

The file is built in a temporary file next to the target and moved into
place, so a reader never sees a half-built database and two builders racing
for the same path both end up with a complete one.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import tempfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from strangler.demo.erp.generate import format_timestamp, generate_rows
from strangler.demo.erp.schema import DDL, SCHEMA_VERSION

__all__ = [
    "build_erp_database",
    "erp_url",
    "orders_watermark",
    "touch_orders",
]

_BUSY_TIMEOUT_SECONDS = 10.0


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    """An autocommit connection (transactions are explicit), closed on exit."""
    conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _fingerprint(customers: int, orders: int, seed: int) -> int:
    """The generator parameters as a positive 31-bit ``PRAGMA application_id``."""
    return zlib.crc32(f"{customers}:{orders}:{seed}".encode()) & 0x7FFFFFFF


def _is_current(path: Path, fingerprint: int) -> bool:
    """Whether ``path`` is an ERP file of this schema version built with these parameters."""
    if not path.is_file():
        return False
    try:
        with _connect(path) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError:
        return False
    return bool(version == SCHEMA_VERSION and app_id == fingerprint)


def build_erp_database(
    path: Path,
    *,
    customers: int = 200,
    orders: int = 2000,
    seed: int = 7,
    rebuild: bool = False,
) -> Path:
    """Create the legacy ERP database at ``path`` and return ``path``.

    Idempotent: a file already built with this schema version and the same
    ``customers``, ``orders`` and ``seed`` is kept as it is (including any
    :func:`touch_orders` changes); anything else there is replaced. Pass
    ``rebuild=True`` to start from fresh data regardless.
    """
    if customers < 0 or orders < 0:
        raise ValueError("customers and orders must not be negative")
    path = Path(path)
    fingerprint = _fingerprint(customers, orders, seed)
    if not rebuild and _is_current(path, fingerprint):
        return path
    rows = generate_rows(customers, orders, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _connect(tmp) as conn:
            conn.execute("BEGIN")
            for statement in DDL:
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO CUSTOMERS VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows.customers
            )
            conn.executemany("INSERT INTO ORDERS VALUES (?, ?, ?, ?, ?, ?)", rows.orders)
            conn.executemany("INSERT INTO ORDER_LINES VALUES (?, ?, ?, ?, ?)", rows.order_lines)
            conn.executemany("INSERT INTO STOCK VALUES (?, ?, ?, ?)", rows.stock)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
            conn.execute(f"PRAGMA application_id = {fingerprint:d}")
            conn.execute("COMMIT")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def erp_url(path: Path) -> str:
    """The SQLAlchemy URL of the ERP file: ``sqlite:////absolute/path/erp.sqlite``."""
    return "sqlite:///" + Path(path).resolve().as_posix()


def orders_watermark(path: Path) -> str | None:
    """The highest ``ORDERS.UPDATED_AT`` (``None`` with no orders): where CDC got to."""
    with _connect(Path(path)) as conn:
        latest: str | None = conn.execute("SELECT MAX(UPDATED_AT) FROM ORDERS").fetchone()[0]
    return latest


def touch_orders(path: Path, n: int, *, seed: int | None = None) -> list[int]:
    """Mark ``n`` random orders as changed now; return their ``ORDER_NO`` in change order.

    Each touched order gets its own ``UPDATED_AT``, strictly later than every
    timestamp already in the table (the wall clock in UTC, or one microsecond
    past the current maximum if the clock is behind), so a CDC reader polling
    ``UPDATED_AT > :watermark`` sees every touch exactly once. ``seed`` makes
    the choice of orders repeatable; ``n`` larger than the table touches all.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    rng = random.Random(seed)
    with _connect(Path(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")  # serialise against other writers before reading MAX
        try:
            order_nos = [row[0] for row in conn.execute("SELECT ORDER_NO FROM ORDERS ORDER BY 1")]
            chosen = rng.sample(order_nos, min(n, len(order_nos)))
            latest = conn.execute("SELECT MAX(UPDATED_AT) FROM ORDERS").fetchone()[0]
            start = datetime.now(UTC).replace(tzinfo=None)
            if latest is not None:
                start = max(start, datetime.fromisoformat(latest) + timedelta(microseconds=1))
            conn.executemany(
                "UPDATE ORDERS SET UPDATED_AT = ? WHERE ORDER_NO = ?",
                [
                    (format_timestamp(start + timedelta(microseconds=i)), order_no)
                    for i, order_no in enumerate(chosen)
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return chosen
