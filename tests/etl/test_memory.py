"""Memory stays flat: a run's peak RSS does not grow with the rows it loads.

A child process loads 50k rows, another 200k (same view, fresh feature stores on
PostgreSQL); rows are streamed from the source with server-side cursors, and
staged chunk by chunk, so the four times as many rows may cost no more than a
few megabytes more. A source read whole would cost hundreds of bytes a row.

Twice: the legacy ``ORDERS_X`` (six columns, the mapping layer's codecs), and a
wide table of twenty plain columns of every common type (decimals, doubles,
dates, timestamps, text, nulls) as an ETL benchmark loads: a driver that leaks
on one type (MariaDB's Connector/ODBC 3.1.15 on DECIMAL values) shows there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.etl.legacy import LegacyDb, legacy_db, spec_data
from tests.etl.stores import fresh_database

ROOT = Path(__file__).parents[2]
VIEW: dict[str, Any] = {
    "source": {"from": "erp.orders", "chunk_rows": 5000},
    "entity": "orderNumber",
    "timestamp": "orderDate",
    "watermark": "updatedAt",
}
SMALL, LARGE = 50_000, 200_000
MAX_GROWTH_KIB = 6 * 1024
"""What 150k more rows may add to the peak (a result held whole costs 9 to 25 MiB more)."""


def _fill(db: LegacyDb, first: int, last: int) -> None:
    """Rows ``first``..``last`` made by the database itself (as ``order_rows`` makes them)."""
    if db.name.startswith("postgresql"):
        db.execute(
            "INSERT INTO \"ORDERS_X\" SELECT i, 'C' || lpad(mod(i, 37)::text, 3, '0'), "
            "to_char(date '2024-01-01' + mod(i, 90), 'DD.MM.YYYY'), "
            "to_char(date '2024-01-01' + mod(i, 90) - 3, 'YYYYMMDD')::int, "
            "1000 + mod(i * 37, 50000), timestamp '2024-03-01 08:00' + i * interval '1 minute' "
            f"FROM generate_series({first}, {last}) AS i"
        )
    else:
        day = "('2024-01-01' + INTERVAL (seq % 90) DAY)"
        db.execute(
            "INSERT INTO ORDERS_X SELECT seq, CONCAT('C', LPAD(seq % 37, 3, '0')), "
            f"DATE_FORMAT({day}, '%d.%m.%Y'), "
            f"CAST(DATE_FORMAT({day} - INTERVAL 3 DAY, '%Y%m%d') AS INT), "
            "1000 + (seq * 37) % 50000, '2024-03-01 08:00:00' + INTERVAL seq MINUTE "
            f"FROM seq_{first}_to_{last}"
        )


def _peak(db: LegacyDb, store: str, folder: Path) -> dict[str, int]:
    job = folder / f"job-{store.rpartition('/')[2]}.json"
    job.write_text(
        json.dumps({"spec": spec_data(db, {"orders": VIEW}), "view": "orders", "store": store})
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.etl.child", str(job)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


WIDE_COLUMNS = (  # name, type, value made from the row number ``n``
    ("ID", "INT NOT NULL PRIMARY KEY", "n"),
    ("SKU", "VARCHAR(16) NOT NULL", "CONCAT('SKU-', LPAD(n % 99991, 6, '0'))"),
    ("CUSTOMER", "VARCHAR(40) NOT NULL", "CONCAT('Customer ', LPAD(n % 5003, 5, '0'), ' Ltd')"),
    ("STATUS", "VARCHAR(12) NOT NULL", "ELT(1 + n % 3, 'new', 'paid', 'shipped')"),
    ("QTY", "INT NOT NULL", "1 + n % 50"),
    ("PRICE", "DECIMAL(12,2) NOT NULL", "(n * 7919 % 100000) / 100"),
    ("DISCOUNT", "DECIMAL(5,2) NOT NULL", "(n % 30) / 2"),
    ("TOTAL", "DECIMAL(14,2)", "IF(n % 7 = 0, NULL, (n * 7919 % 100000) / 100 * (1 + n % 50))"),
    ("WEIGHT", "DOUBLE NOT NULL", "(n % 97) * 0.37 + 0.5"),
    ("SCORE", "DOUBLE", "IF(n % 9 = 0, NULL, (n % 1000) / 7)"),
    ("PAID", "SMALLINT NOT NULL", "n % 2"),
    ("ORDER_DAY", "DATE NOT NULL", "DATE('2020-01-01') + INTERVAL (n % 1500) DAY"),
    ("SHIPPED_AT", "DATETIME", "IF(n % 4 = 0, NULL, TIMESTAMP('2020-01-02') + INTERVAL n SECOND)"),
    ("UPDATED_AT", "DATETIME NOT NULL", "TIMESTAMP('2020-01-01') + INTERVAL (n * 31) SECOND"),
    ("WAREHOUSE", "VARCHAR(8) NOT NULL", "CONCAT('WH', n % 13)"),
    ("REGION", "VARCHAR(16) NOT NULL", "ELT(1 + n % 4, 'north', 'south', 'east', 'west')"),
    ("CHANNEL", "VARCHAR(12) NOT NULL", "ELT(1 + n % 3, 'web', 'store', 'phone')"),
    ("LINE_COUNT", "INT NOT NULL", "1 + n % 12"),
    ("CURRENCY", "CHAR(3) NOT NULL", "ELT(1 + n % 3, 'EUR', 'USD', 'GBP')"),
    ("NOTE", "VARCHAR(200)", "IF(n % 3 = 0, NULL, CONCAT('gate ', n % 40, ', ask for ', n % 97))"),
)
WIDE_VIEW: dict[str, Any] = {
    "source": {"from": "erp.WIDE_X", "chunk_rows": 5000},
    "entity": "ID",
    "timestamp": "UPDATED_AT",
}


def _fill_wide(db: LegacyDb, first: int, last: int) -> None:
    """Rows ``first``..``last`` of ``WIDE_X``, made by MariaDB from its sequence table."""
    names = ", ".join(c[0] for c in WIDE_COLUMNS)
    made = ", ".join(_seq(c[2]) for c in WIDE_COLUMNS)
    db.execute(f"INSERT INTO WIDE_X ({names}) SELECT {made} FROM seq_{first}_to_{last}")


def _seq(expression: str) -> str:
    """An expression of ``n`` over MariaDB's ``seq`` column."""
    return re.sub(r"\bn\b", "seq", expression)


def _wide_peak(db: LegacyDb, store: str, folder: Path) -> dict[str, int]:
    job = folder / f"wide-{store.rpartition('/')[2]}.json"
    system = {"kind": "database", **db.connection, "tables": {"WIDE_X": {}}}
    spec = {"systems": {"erp": system}, "features": {"views": {"wide": WIDE_VIEW}}}
    job.write_text(json.dumps({"spec": spec, "view": "wide", "store": store}))
    done = subprocess.run(
        [sys.executable, "-m", "tests.etl.child", str(job)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("source", ["mariadb-odbc", "mariadb-sa"])
def test_peak_memory_of_a_wide_table_does_not_grow_with_the_rows(
    source: str, tmp_path: Path
) -> None:
    with (
        legacy_db(source, tmp_path) as db,
        fresh_database("postgresql", tmp_path) as small_store,
        fresh_database("postgresql", tmp_path) as large_store,
    ):
        db.execute(f"CREATE TABLE WIDE_X ({', '.join(f'{c[0]} {c[1]}' for c in WIDE_COLUMNS)})")
        db.execute("CREATE INDEX IX_WIDE_X_UPDATED ON WIDE_X (UPDATED_AT, ID)")
        _fill_wide(db, 1, SMALL)
        small = _wide_peak(db, small_store, tmp_path)
        _fill_wide(db, SMALL + 1, LARGE)
        large = _wide_peak(db, large_store, tmp_path)
    assert (small["rows"], large["rows"]) == (SMALL, LARGE)
    growth = large["peak_kib"] - small["peak_kib"]
    print(f"{source} (wide): peak RSS {small['peak_kib'] / 1024:.1f} MiB at {SMALL} rows, "
          f"{large['peak_kib'] / 1024:.1f} MiB at {LARGE} rows")  # fmt: skip
    assert growth < MAX_GROWTH_KIB, f"{growth} KiB more for {LARGE - SMALL} more rows"


@pytest.mark.parametrize("source", ["postgresql", "postgresql-odbc", "mariadb-odbc", "mariadb-sa"])
def test_peak_memory_does_not_grow_with_the_rows(source: str, tmp_path: Path) -> None:
    with (
        legacy_db(source, tmp_path) as db,
        fresh_database("postgresql", tmp_path) as small_store,
        fresh_database("postgresql", tmp_path) as large_store,
    ):
        _fill(db, 1, SMALL)
        small = _peak(db, small_store, tmp_path)
        _fill(db, SMALL + 1, LARGE)
        large = _peak(db, large_store, tmp_path)
    assert (small["rows"], large["rows"]) == (SMALL, LARGE)
    growth = large["peak_kib"] - small["peak_kib"]
    print(f"{source}: peak RSS {small['peak_kib'] / 1024:.1f} MiB at {SMALL} rows, "
          f"{large['peak_kib'] / 1024:.1f} MiB at {LARGE} rows")  # fmt: skip
    assert growth < MAX_GROWTH_KIB, f"{growth} KiB more for {LARGE - SMALL} more rows"
