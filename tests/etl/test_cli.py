"""``strangler etl run`` and ``strangler etl status``, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.etl.legacy import FIELDS, LegacyDb, legacy_db, order_rows

STRANGLER = Path(sys.executable).parent / "strangler"


@pytest.fixture
def spec_file(tmp_path: Path) -> Iterator[tuple[Path, LegacyDb, str]]:
    """A spec file over a SQLite ERP holding 500 orders, its feature store beside it."""
    with legacy_db("sqlite", tmp_path) as db:
        db.insert(order_rows(1, 500))
        store = f"sqlite:///{tmp_path / 'features.sqlite'}"
        fields = json.dumps(FIELDS)
        path = tmp_path / "strangler.yaml"
        path.write_text(
            f"""
systems:
  erp:
    kind: database
    url: {db.url}
    tables:
      ORDERS_X: {{as: orders, fields: {fields}}}
features:
  store: {store}
  views:
    orders:
      source: {{from: erp.orders, chunk_rows: 100}}
      entity: orderNumber
      timestamp: orderDate
      watermark: updatedAt
    customers:
      source: {{from: erp.orders}}
      entity: customerNumber
"""
        )
        yield path, db, store


def _strangler(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STRANGLER), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_run_then_status(spec_file: tuple[Path, LegacyDb, str]) -> None:
    path, db, store = spec_file
    done = _strangler("etl", "run", "orders", "-c", str(path))
    assert done.returncode == 0, done.stderr
    assert "orders: run done: 500 rows read, 500 written" in done.stdout
    assert "watermark 2024-03-01 16:20:00+00:00" in done.stdout
    engine = sa.create_engine(store)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar() == 500
    engine.dispose()

    db.insert(order_rows(501, 20))
    again = _strangler("etl", "run", "orders", "-c", str(path))
    assert "21 rows read, 20 written" in again.stdout, again.stdout

    backfill = _strangler(
        "etl", "run", "orders", "-c", str(path), "--since", "2024-01-10", "--until", "2024-01-12"
    )
    assert backfill.returncode == 0, backfill.stderr
    assert "orders: backfill done" in backfill.stdout

    status = _strangler("etl", "status", "-c", str(path))
    assert status.returncode == 0, status.stderr
    lines = [line for line in status.stdout.splitlines() if "orders" in line and "│" in line]
    assert lines, status.stdout
    cells = [c.strip() for c in lines[0].split("│")]
    assert cells[1] == "orders"
    assert "2024-03-01 16:40:00" in cells[2]  # the watermark, not moved by the backfill
    assert cells[3] == "succeeded"
    assert cells[-3:-1] == ["520", "520"]  # history and latest rows
    assert any("customers" in line and "never run" in line for line in status.stdout.splitlines())


def test_mistakes_are_one_line_each(spec_file: tuple[Path, LegacyDb, str]) -> None:
    path, _, _ = spec_file
    unknown = _strangler("etl", "run", "nope", "-c", str(path))
    assert unknown.returncode == 1
    assert "no feature view 'nope' (views: customers, orders)" in unknown.stderr
    bad_date = _strangler("etl", "run", "orders", "-c", str(path), "--since", "10.01.2024")
    assert bad_date.returncode == 2
    assert "is not a date" in bad_date.stderr
    backwards = _strangler(
        "etl", "run", "orders", "-c", str(path), "--since", "2024-02-01", "--until", "2024-01-01"
    )
    assert backwards.returncode == 1 and "since must come before until" in backwards.stderr


def test_a_system_at_another_address(spec_file: tuple[Path, LegacyDb, str], tmp_path: Path) -> None:
    path, db, _ = spec_file
    moved = path.read_text().replace(db.url, f"sqlite:///{tmp_path / 'gone.sqlite'}")
    path.write_text(moved)
    gone = _strangler("etl", "run", "orders", "-c", str(path))
    assert gone.returncode == 1 and "erp" in gone.stderr
    there = _strangler("etl", "run", "orders", "-c", str(path), "--system", f"erp={db.url}")
    assert there.returncode == 0, there.stderr
    assert "500 rows read" in there.stdout
    bad = _strangler("etl", "run", "orders", "-c", str(path), "--system", "erp")
    assert bad.returncode == 2 and "NAME=URL" in bad.stderr
