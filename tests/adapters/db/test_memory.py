"""Listing a MariaDB table's pages keeps memory flat, decimals and all.

MariaDB's Connector/ODBC 3.1.15 leaks memory on every DECIMAL value pyodbc
fetches its own way (about 45 bytes each); the adapter reads them as text
(``adapters.db.odbc_decimals``), as the ETL does. A child process lists a
twenty-column table (three DECIMAL columns, doubles, dates, date-times, text,
nulls) page by page through the raw ODBC pool and through ``mysql+pyodbc``:
after the first pages the resident set may not grow with the rows read (the
leak would add about 10 MiB over the rows read after them).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.adapters.db import chinook
from tests.etl.test_memory import WIDE_COLUMNS

ROOT = Path(__file__).parents[3]
ROWS, WARM_ROWS, LIMIT = 90_000, 10_000, 1000
MAX_GROWTH_KIB = 3 * 1024
"""What the rows read after the first ``WARM_ROWS`` may add (the leak: ~135 bytes a row)."""


@pytest.fixture(scope="module")
def wide() -> Iterator[str]:
    """A MariaDB database holding ``WIDE_X`` of ``ROWS`` rows, made by the server."""
    name = chinook.unique_name()
    admin = sa.create_engine(chinook.MARIADB_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE `{name}`")
            connection.exec_driver_sql(f"USE `{name}`")
            columns = ", ".join(f"{c[0]} {c[1]}" for c in WIDE_COLUMNS)
            connection.exec_driver_sql(f"CREATE TABLE WIDE_X ({columns})")
            made = ", ".join(re.sub(r"\bn\b", "seq", c[2]) for c in WIDE_COLUMNS)
            names = ", ".join(c[0] for c in WIDE_COLUMNS)
            connection.exec_driver_sql(
                f"INSERT INTO WIDE_X ({names}) SELECT {made} FROM seq_1_to_{ROWS}"
            )
        yield name
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


def _connection(path: str, database: str) -> dict[str, Any]:
    if path == "mariadb-sa":
        return {"url": chinook.mariadb_url(database)}
    return {
        "odbc": "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;"
        f"DATABASE={database};UID=root;PWD="
    }


@pytest.mark.parametrize("path", ["mariadb-odbc", "mariadb-sa"])
def test_listing_pages_keeps_memory_flat(path: str, wide: str, tmp_path: Path) -> None:
    spec = {"kind": "database", **_connection(path, wide), "tables": {"WIDE_X": {}},
            "max_page_size": LIMIT}  # fmt: skip
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps({"spec": spec, "table": "WIDE_X", "limit": LIMIT, "warm_rows": WARM_ROWS})
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.adapters.db.memory_child", str(job)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] == ROWS
    growth = result["peak_kib"] - result["warm_kib"]
    print(f"{path}: RSS {result['warm_kib'] / 1024:.1f} MiB after {WARM_ROWS} rows, "
          f"at most {result['peak_kib'] / 1024:.1f} MiB up to {ROWS}")  # fmt: skip
    assert growth < MAX_GROWTH_KIB, f"{growth} KiB more over {ROWS - WARM_ROWS} more rows"
