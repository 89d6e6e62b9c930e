"""Legacy activity: the old ERP application keeps working while the demo runs.

:class:`LegacyActivity` writes into the ERP's SQLite file directly with SQL,
as the legacy application does (never through strangler): new orders with
their lines, status changes (new → shipped or cancelled) that move
``UPDATED_AT`` on, deletes of new or cancelled orders, and stock movements.
Polling change capture turns the order changes into CloudEvents, so
``strangler demo`` shows them arriving over SSE.

Each change is one transaction taken with ``BEGIN IMMEDIATE``; ``UPDATED_AT``
always moves past every value already stored (as :func:`touch_orders` does).
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from strangler.demo.erp.generate import format_order_date, format_timestamp

__all__ = ["Change", "LegacyActivity"]

_BUSY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Change:
    """One write the legacy application made: what (``insert``, ``update``, ``delete``,
    ``stock``) and to which order number or stock key."""

    kind: str
    key: str


class LegacyActivity:
    """Writes orders and stock movements into the ERP at a gentle rate, in a thread.

    Use :meth:`insert_order`, :meth:`update_order`, :meth:`delete_order` and
    :meth:`move_stock` for one change each, or :meth:`start` / :meth:`stop`
    (or ``with``) to keep writing one change every ``interval_s`` seconds.
    """

    def __init__(self, path: Path, *, interval_s: float = 2.0, seed: int | None = None) -> None:
        self.path = Path(path)
        self.interval_s = interval_s
        self.rng = random.Random(seed)
        self.changes: list[Change] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- one change each ------------------------------------------------------

    def insert_order(self) -> Change:
        """A new order (status new) with one or two lines."""

        def work(conn: sqlite3.Connection) -> str:
            order_no = int(conn.execute("SELECT COALESCE(MAX(ORDER_NO), 100000) + 1 FROM ORDERS")
                           .fetchone()[0])  # fmt: skip
            customer = self._pick(conn, "SELECT CUST_NO FROM CUSTOMERS WHERE STATUS = 'A'")
            items = conn.execute("SELECT DISTINCT SKU FROM STOCK ORDER BY 1").fetchall()
            lines = []
            for line_no in range(10, 10 * self.rng.randint(1, 2) + 1, 10):
                sku = self.rng.choice(items)[0]
                qty = self.rng.randint(1, 12)
                price = Decimal(self.rng.randint(199, 4999)) / 100
                lines.append((order_no, line_no, sku, qty, str(price)))
            total = sum(Decimal(line[4]) * line[3] for line in lines)
            stamp = _next_stamp(conn)
            conn.execute(
                "INSERT INTO ORDERS (ORDER_NO, CUST_NO, ORDER_DATE, STATUS, TOTAL, UPDATED_AT) "
                "VALUES (?, ?, ?, 'N', ?, ?)",
                (
                    order_no,
                    customer,
                    format_order_date(stamp.date()),
                    str(total),
                    format_timestamp(stamp),
                ),
            )
            conn.executemany("INSERT INTO ORDER_LINES VALUES (?, ?, ?, ?, ?)", lines)
            return str(order_no)

        return self._change("insert", work)

    def update_order(self, order_no: int | None = None) -> Change:
        """A new order shipped or cancelled (``order_no``, else a random new order)."""

        def work(conn: sqlite3.Connection) -> str:
            number = order_no or self._pick(conn, "SELECT ORDER_NO FROM ORDERS WHERE STATUS = 'N'")
            status = self.rng.choice("SSSC")
            conn.execute(
                "UPDATE ORDERS SET STATUS = ?, UPDATED_AT = ? WHERE ORDER_NO = ?",
                (status, format_timestamp(_next_stamp(conn)), number),
            )
            return str(number)

        return self._change("update", work)

    def delete_order(self, order_no: int | None = None) -> Change:
        """An order removed with its lines (``order_no``, else a random new or cancelled one)."""

        def work(conn: sqlite3.Connection) -> str:
            number = order_no or self._pick(
                conn, "SELECT ORDER_NO FROM ORDERS WHERE STATUS IN ('N', 'C')"
            )
            conn.execute("DELETE FROM ORDER_LINES WHERE ORDER_NO = ?", (number,))
            conn.execute("DELETE FROM ORDERS WHERE ORDER_NO = ?", (number,))
            return str(number)

        return self._change("delete", work)

    def move_stock(self) -> Change:
        """Goods in or out of one warehouse (never below zero on hand)."""

        def work(conn: sqlite3.Connection) -> str:
            rows = conn.execute(
                "SELECT SKU, WAREHOUSE, ON_HAND FROM STOCK ORDER BY 1, 2"
            ).fetchall()
            sku, warehouse, on_hand = self.rng.choice(rows)
            moved = self.rng.choice([-1, 1]) * self.rng.randint(1, 20)
            conn.execute(
                "UPDATE STOCK SET ON_HAND = ? WHERE SKU = ? AND WAREHOUSE = ?",
                (max(0, on_hand + moved), sku, warehouse),
            )
            return f"{sku.strip()},{warehouse}"

        return self._change("stock", work)

    def step(self) -> Change:
        """One change, picked at random (mostly inserts and updates)."""
        action = self.rng.choices(
            [self.insert_order, self.update_order, self.delete_order, self.move_stock],
            weights=[4, 4, 1, 3],
        )[0]
        return action()

    # -- running in the background --------------------------------------------

    def start(self) -> LegacyActivity:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="legacy-activity", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> LegacyActivity:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.step()
            except sqlite3.Error:  # locked for longer than the busy timeout: try next time
                continue

    # -- plumbing ---------------------------------------------------------------

    def _pick(self, conn: sqlite3.Connection, sql: str) -> str:
        rows = conn.execute(sql + " ORDER BY 1").fetchall()
        if not rows:
            raise LookupError(f"nothing to change: {sql}")
        value: str = self.rng.choice(rows)[0]
        return value

    def _change(self, kind: str, work: Callable[[sqlite3.Connection], str]) -> Change:
        with self._lock:
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    key = work(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            finally:
                conn.close()
            change = Change(kind, key)
            self.changes.append(change)
            return change


def _next_stamp(conn: sqlite3.Connection) -> datetime:
    """Now (UTC, naive), or a microsecond past the highest ``UPDATED_AT`` if that is later."""
    latest = conn.execute("SELECT MAX(UPDATED_AT) FROM ORDERS").fetchone()[0]
    now = datetime.now(UTC).replace(tzinfo=None)
    if latest is None:
        return now
    return max(now, datetime.fromisoformat(latest) + timedelta(microseconds=1))
