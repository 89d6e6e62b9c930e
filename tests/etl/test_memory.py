"""Memory stays flat: a run's peak RSS does not grow with the rows it loads.

A child process loads 50k rows, another 200k (same view, fresh feature stores on
PostgreSQL); rows are streamed from the source with server-side cursors, and
staged chunk by chunk, so the four times as many rows may cost no more than a
few megabytes more. A source read whole would cost hundreds of bytes a row.
"""

from __future__ import annotations

import json
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
