"""The demo legacy ERP database: schema, legacy encodings, determinism and CDC touches."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from strangler.demo.erp import (
    AS_OF,
    CUSTOMER_SEGMENTS,
    CUSTOMER_STATUSES,
    ERP_PRIMARY_KEYS,
    ERP_TABLES,
    ORDER_STATUSES,
    SCHEMA_VERSION,
    build_erp_database,
    erp_url,
    orders_watermark,
    touch_orders,
)
from strangler.demo.inventory.data import CATALOGUE


@pytest.fixture(scope="module")
def erp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default ERP database, shared read-only by the module."""
    return build_erp_database(tmp_path_factory.mktemp("erp") / "erp.sqlite")


def _rows(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _dump(path: Path) -> str:
    """Every row of every table, in key order, hashed."""
    digest = hashlib.sha256()
    for table in ERP_TABLES:
        keys = ", ".join(ERP_PRIMARY_KEYS[table])
        for row in _rows(path, f"SELECT * FROM {table} ORDER BY {keys}"):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_reflected_schema_has_the_legacy_types_and_composite_keys(erp: Path) -> None:
    engine = sa.create_engine(erp_url(erp))
    try:
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) == set(ERP_TABLES)
        for table, keys in ERP_PRIMARY_KEYS.items():
            assert tuple(inspector.get_pk_constraint(table)["constrained_columns"]) == keys
        types = {
            (table, column["name"]): str(column["type"])
            for table in ERP_TABLES
            for column in inspector.get_columns(table)
        }
        assert types["CUSTOMERS", "CUST_NO"] == "CHAR(8)"
        assert types["ORDER_LINES", "SKU"] == "CHAR(12)"
        assert types["ORDERS", "TOTAL"] == "DECIMAL(12, 2)"
        assert types["ORDER_LINES", "UNIT_PRICE"] == "DECIMAL(10, 2)"
        nullable = {c["name"]: c["nullable"] for c in inspector.get_columns("CUSTOMERS")}
        assert nullable["EMAIL"] and not nullable["CUST_NO"]
        fks = inspector.get_foreign_keys("ORDER_LINES")
        assert fks[0]["referred_table"] == "ORDERS"
        assert inspector.get_foreign_keys("ORDERS")[0]["referred_table"] == "CUSTOMERS"
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal:sqlalchemy.exc.SAWarning")
def test_sqlalchemy_reads_decimals_with_two_places(erp: Path) -> None:
    engine = sa.create_engine(erp_url(erp))
    try:
        lines = sa.Table("ORDER_LINES", sa.MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            prices = conn.execute(sa.select(lines.c.UNIT_PRICE).distinct()).scalars().all()
    finally:
        engine.dispose()
    assert {str(p) for p in prices} <= {str(item.unit_price) for item in CATALOGUE}
    assert all(isinstance(price, Decimal) for price in prices)


def test_counts(erp: Path) -> None:
    count = {t: _rows(erp, f"SELECT COUNT(*) FROM {t}")[0][0] for t in ERP_TABLES}
    assert count["CUSTOMERS"] == 200
    assert count["ORDERS"] == 2000
    assert 5000 <= count["ORDER_LINES"] <= 7000
    assert count["STOCK"] == len(CATALOGUE) * 4


def test_keys_and_skus_are_space_padded_in_the_raw_data(erp: Path) -> None:
    cust_nos = [row[0] for row in _rows(erp, "SELECT CUST_NO FROM CUSTOMERS")]
    assert all(len(c) == 8 and c.endswith("  ") and c.strip()[0] in CUSTOMER_SEGMENTS
               for c in cust_nos)  # fmt: skip
    skus = {row[0] for row in _rows(erp, "SELECT SKU FROM ORDER_LINES UNION SELECT SKU FROM STOCK")}
    assert skus == {item.sku.ljust(12) for item in CATALOGUE}
    assert _rows(erp, "SELECT COUNT(*) FROM CUSTOMERS WHERE CUST_NO = 'C10001'") == [(0,)]
    assert _rows(erp, "SELECT COUNT(*) FROM ORDERS WHERE CUST_NO NOT IN "
                      "(SELECT CUST_NO FROM CUSTOMERS)") == [(0,)]  # fmt: skip


def test_codes_dates_and_money_follow_the_data_dictionary(erp: Path) -> None:
    customers = _rows(erp, "SELECT CUST_NO, STATUS, CREATED_YYYYMMDD, CREDIT_LIMIT, EMAIL "
                           "FROM CUSTOMERS")  # fmt: skip
    created = {}
    for cust_no, status, yyyymmdd, limit, email in customers:
        assert status in CUSTOMER_STATUSES
        assert isinstance(limit, int) and limit % 100 == 0
        assert email is None or email == str(email).lower()
        created[cust_no] = datetime.strptime(str(yyyymmdd), "%Y%m%d").date()
    assert any(row[4] is None for row in customers)
    orders = _rows(erp, "SELECT ORDER_NO, CUST_NO, ORDER_DATE, STATUS, UPDATED_AT FROM ORDERS")
    discontinued = {i.sku.ljust(12) for i in CATALOGUE if i.status == "DISCONTINUED"}
    sold = dict(_rows(erp, "SELECT ORDER_NO, GROUP_CONCAT(SKU, '|') FROM ORDER_LINES GROUP BY 1"))
    for order_no, cust_no, order_date, status, updated_at in orders:
        day = datetime.strptime(str(order_date), "%d.%m.%Y").date()
        assert created[cust_no] <= day <= AS_OF.date()
        assert status in ORDER_STATUSES
        assert len(str(updated_at)) == 26
        assert day <= datetime.fromisoformat(str(updated_at)).date()
        assert datetime.fromisoformat(str(updated_at)) < AS_OF
        if day >= date(2023, 1, 1):
            assert not set(str(sold[order_no]).split("|")) & discontinued
    mismatched = _rows(erp, "SELECT COUNT(*) FROM ORDERS o WHERE ABS(o.TOTAL - (SELECT "
                            "SUM(QTY * UNIT_PRICE) FROM ORDER_LINES l WHERE l.ORDER_NO = "
                            "o.ORDER_NO)) > 0.005")  # fmt: skip
    assert mismatched == [(0,)]
    line_nos = _rows(erp, "SELECT DISTINCT LINE_NO FROM ORDER_LINES ORDER BY 1")
    assert [n for (n,) in line_nos] == [10, 20, 30, 40, 50]


def test_central_stock_matches_the_inventory_service(erp: Path) -> None:
    central = dict(_rows(erp, "SELECT RTRIM(SKU), ON_HAND FROM STOCK WHERE WAREHOUSE = ?",
                         "WH-CENTRAL"))  # fmt: skip
    assert central == {item.sku: item.initial_quantity for item in CATALOGUE}


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    first = build_erp_database(tmp_path / "a.sqlite", customers=50, orders=300, seed=11)
    second = build_erp_database(tmp_path / "b.sqlite", customers=50, orders=300, seed=11)
    other = build_erp_database(tmp_path / "c.sqlite", customers=50, orders=300, seed=12)
    assert _dump(first) == _dump(second)
    assert _dump(first) != _dump(other)


def test_building_is_fast_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "erp.sqlite"
    started = time.perf_counter()
    assert build_erp_database(path) == path
    assert time.perf_counter() - started < 1.0
    assert _rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    touched = touch_orders(path, 5, seed=3)
    mark, stamp = orders_watermark(path), path.stat().st_mtime_ns
    build_erp_database(path)  # same schema and parameters: kept, touches and all
    assert path.stat().st_mtime_ns == stamp and orders_watermark(path) == mark
    build_erp_database(path, rebuild=True)
    assert orders_watermark(path) is not None and orders_watermark(path) < str(mark)
    build_erp_database(path, orders=10)  # other parameters: rebuilt
    assert _rows(path, "SELECT COUNT(*) FROM ORDERS") == [(10,)]
    assert sorted(p.name for p in path.parent.iterdir()) == ["erp.sqlite"]
    assert len(touched) == 5


def test_a_file_that_is_not_the_erp_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "erp.sqlite"
    path.write_text("not a database")
    build_erp_database(path, customers=5, orders=5)
    assert _rows(path, "SELECT COUNT(*) FROM CUSTOMERS") == [(5,)]


def test_touch_orders_advances_the_watermark_monotonically(tmp_path: Path) -> None:
    path = build_erp_database(tmp_path / "erp.sqlite", customers=20, orders=100)
    before = orders_watermark(path)
    assert before is not None
    touched = touch_orders(path, 7, seed=1)
    assert len(set(touched)) == 7
    changed = _rows(path, "SELECT ORDER_NO, UPDATED_AT FROM ORDERS WHERE UPDATED_AT > ? "
                          "ORDER BY UPDATED_AT", before)  # fmt: skip
    assert [order_no for order_no, _ in changed] == touched
    middle = orders_watermark(path)
    again = touch_orders(path, 3)
    newer = _rows(path, "SELECT ORDER_NO FROM ORDERS WHERE UPDATED_AT > ? ORDER BY UPDATED_AT",
                  middle)  # fmt: skip
    assert [order_no for (order_no,) in newer] == again
    assert touch_orders(path, 0) == []
    assert len(touch_orders(path, 1000)) == 100
    with pytest.raises(ValueError, match="negative"):
        touch_orders(path, -1)


def test_erp_url_is_an_absolute_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = erp_url(Path("erp.sqlite"))
    assert url == f"sqlite:///{tmp_path.resolve().as_posix()}/erp.sqlite"
    assert url.startswith("sqlite:////")
