"""Runs of a feature view from real databases into real feature stores.

Incremental loads by watermark, late rows inside and outside the lookback, a
backfill over a date range, transforms, a failed check, and a run killed with
``kill -9`` (in a child process) then run again: the tables it leaves are the
ones a run never killed leaves, row for row but the ingestion time.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from strangler.etl import FeatureStore, Progress, QualityFailed, run_view
from tests.etl.legacy import BASE, LegacyDb, expected, legacy_db, order_rows, spec_data, spec_for
from tests.etl.stores import fresh_database

ROOT = Path(__file__).parents[2]
VIEW: dict[str, Any] = {
    "source": {"from": "erp.orders", "chunk_rows": 64},
    "entity": "orderNumber",
    "timestamp": "orderDate",
    "watermark": "updatedAt",
}


@pytest.fixture(params=["postgresql", "mariadb-odbc", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LegacyDb]:
    with legacy_db(request.param, tmp_path) as made:
        yield made


def _history(store: str, table: str = "orders") -> list[dict[str, Any]]:
    """Every history row but its ingestion time, in key order."""
    engine = sa.create_engine(store, poolclass=sa.NullPool)
    try:
        t = sa.Table(table, sa.MetaData(), autoload_with=engine)
        columns = [c for c in t.c if c.name != "ingested_at"]
        key = [t.c[c] for c in ("orderNumber", "orderDate") if c in t.c]
        with engine.connect() as connection:
            return [
                dict(r._mapping) for r in connection.execute(sa.select(*columns).order_by(*key))
            ]
    finally:
        engine.dispose()


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC)


def test_incremental_loads_read_from_the_watermark(db: LegacyDb, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'features.sqlite'}"
    spec = spec_for(db, {"orders": VIEW}, store=store)
    db.insert(order_rows(1, 200))
    seen: list[Progress] = []
    first = run_view(spec, "orders", progress=seen.append)
    assert (first.rows, first.written, first.backfill, first.resumed) == (200, 200, False, False)
    assert first.watermark == _utc(BASE + dt.timedelta(minutes=200))
    assert seen[0].rows == 0 and seen[-1].rows == 200 and seen[-1].total == 200
    assert [p.rows for p in seen[1:]] == [64, 128, 192, 200]

    db.insert(order_rows(201, 50))
    db.update(10, TOTAL_CENTS=99999, UPDATED_AT=BASE + dt.timedelta(minutes=300))
    second = run_view(spec, "orders")
    # row 200 (at the watermark itself), 201..250 and the updated row 10: nothing else read
    assert second.rows == 52
    assert second.written == 51
    assert second.watermark == _utc(BASE + dt.timedelta(minutes=300))
    history = _history(store)
    assert len(history) == 250
    by_number = {r["orderNumber"]: r for r in history}
    assert by_number[10]["total"] == decimal.Decimal("999.99")
    want = expected(order_rows(250, 1)[0])
    assert by_number[250]["customerNumber"] == want["customerNumber"]
    assert by_number[250]["createdOn"] == want["createdOn"]

    third = run_view(spec, "orders")  # nothing new: the row at the watermark, unchanged
    assert (third.rows, third.written) == (1, 0)
    feature_store = FeatureStore(store)
    try:
        latest = feature_store.latest("orders", [{"orderNumber": 10}, {"orderNumber": 251}])
        assert latest[0] is not None and latest[0]["total"] == decimal.Decimal("999.99")
        assert latest[1] is None
    finally:
        feature_store.close()


def test_a_late_row_inside_the_lookback_is_loaded_and_one_outside_is_not(
    db: LegacyDb, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'features.sqlite'}"
    spec = spec_for(db, {"orders": {**VIEW, "lookback_s": 600}}, store=store)
    db.insert(order_rows(1, 100))
    assert run_view(spec, "orders").watermark == _utc(BASE + dt.timedelta(minutes=100))
    inside, outside = order_rows(1001, 2)
    inside["UPDATED_AT"] = BASE + dt.timedelta(minutes=95)  # 5 minutes before the watermark
    outside["UPDATED_AT"] = BASE + dt.timedelta(minutes=70)  # 30 minutes before it
    db.insert([inside, outside])
    report = run_view(spec, "orders")
    assert report.rows == 12  # from minute 90: rows 90..100 and the late row of minute 95
    numbers = {r["orderNumber"] for r in _history(store)}
    assert 1001 in numbers
    assert 1002 not in numbers
    assert report.watermark == _utc(BASE + dt.timedelta(minutes=100))  # never moved back


def test_a_backfill_reloads_a_date_range_and_leaves_the_watermark(
    db: LegacyDb, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'features.sqlite'}"
    spec = spec_for(db, {"orders": VIEW}, store=store)
    db.insert(order_rows(1, 200))
    run_view(spec, "orders")
    before = {r["orderNumber"]: r for r in _history(store)}
    # a correction written straight into the legacy table: the watermark does not see it
    q = '"' if db.name == "postgresql" else ""
    db.execute(
        f"UPDATE {q}ORDERS_X{q} SET {q}TOTAL_CENTS{q} = {q}TOTAL_CENTS{q} + 1 "
        f"WHERE {q}ORDER_NO{q} < 200"  # row 200 is at the watermark: the next run reads it
    )
    assert run_view(spec, "orders").written == 0
    report = run_view(spec, "orders", since=dt.date(2024, 1, 10), until=dt.date(2024, 1, 20))
    assert report.backfill
    assert report.watermark == _utc(BASE + dt.timedelta(minutes=200))
    after = {r["orderNumber"]: r for r in _history(store)}
    changed = {n for n in after if after[n]["total"] != before[n]["total"]}
    in_range = {
        n
        for n, r in before.items()
        if dt.date(2024, 1, 10) <= r["orderDate"].date() < dt.date(2024, 1, 20)
    }
    assert changed == in_range and len(in_range) == report.rows == report.written
    assert all(after[n]["total"] == before[n]["total"] + decimal.Decimal("0.01") for n in changed)
    feature_store = FeatureStore(store)
    try:
        assert feature_store.watermark("orders") == _utc(BASE + dt.timedelta(minutes=200))
    finally:
        feature_store.close()


def test_a_transform_reshapes_each_chunk(tmp_path: Path) -> None:
    with legacy_db("sqlite", tmp_path) as db:
        db.insert(order_rows(1, 150))
        store = f"sqlite:///{tmp_path / 'features.sqlite'}"
        view = {**VIEW, "transform": "tests.etl.transforms:with_tax"}
        report = run_view(spec_for(db, {"orders": view}, store=store), "orders")
    assert report.rows == 150
    rows = _history(store)
    assert "createdOn" not in rows[0]
    assert rows[0]["gross"] == (rows[0]["total"] * decimal.Decimal("1.19")).quantize(
        decimal.Decimal("0.01")
    )


def test_a_failed_check_loads_nothing(tmp_path: Path) -> None:
    with legacy_db("sqlite", tmp_path) as db:
        db.insert(order_rows(1, 100))
        store = f"sqlite:///{tmp_path / 'features.sqlite'}"
        view = {**VIEW, "checks": [{"column": "total", "max": 20}]}
        spec = spec_for(db, {"orders": view}, store=store)
        with pytest.raises(QualityFailed) as failed:
            run_view(spec, "orders")
    assert "total" in str(failed.value)
    feature_store = FeatureStore(store)
    try:
        assert feature_store.watermark("orders") is None
        (status,) = feature_store.status()
        assert status.last_status == "failed" and status.history_rows == 0
    finally:
        feature_store.close()


def test_the_store_defaults_to_sqlite_in_the_cache_dir(tmp_path: Path) -> None:
    with legacy_db("sqlite", tmp_path) as db:
        db.insert(order_rows(1, 30))
        report = run_view(spec_for(db, {"orders": VIEW}), "orders", cache_dir=tmp_path / "cache")
    assert report.rows == 30
    assert len(_history(f"sqlite:///{tmp_path / 'cache' / 'features.sqlite'}")) == 30


# -- kill -9 ---------------------------------------------------------------------


def _start(job: dict[str, Any], folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    path = folder / f"job-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(job))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.etl.child", str(path)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition: Any, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {process.stderr.read()!r}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"no {what} within 120 s")
        time.sleep(0.005)


def _staged_rows(store: str) -> int:
    feature_store = FeatureStore(store)
    try:
        runs = feature_store.status()
    finally:
        feature_store.close()
    return next((s.last_rows or 0 for s in runs if s.last_status == "staging"), 0)


@pytest.mark.parametrize(
    ("source", "store_dialect", "how"),
    [
        ("mariadb-odbc", "postgresql", "holding a chunk"),
        ("postgresql", "postgresql", "while streaming"),
        ("sqlite", "sqlite", "holding a chunk"),
        ("sqlite", "mariadb", "while streaming"),
    ],
)
def test_a_run_killed_midway_and_run_again_leaves_what_a_clean_run_leaves(
    tmp_path: Path, source: str, store_dialect: str, how: str
) -> None:
    rows = 20_000
    with (
        legacy_db(source, tmp_path) as db,
        fresh_database(store_dialect, tmp_path) as killed_store,
        fresh_database(store_dialect, tmp_path) as clean_store,
    ):
        db.insert(order_rows(1, rows))
        view = {**VIEW, "source": {"from": "erp.orders", "chunk_rows": 100}}
        env: dict[str, str] = {}
        if how == "holding a chunk":
            view["transform"] = "tests.etl.transforms:pause_at"
            marker = tmp_path / "paused"
            env = {"ETL_PAUSE_AT": "6", "ETL_PAUSE_MARKER": str(marker)}  # 1 + 4 chunks staged
        views = {"orders": view}
        job = {"spec": spec_data(db, views), "view": "orders", "store": killed_store}
        process = _start(job, tmp_path, env)
        try:
            if how == "holding a chunk":
                _wait_for(marker.exists, process, "the pause")
            else:
                _wait_for(lambda: _staged_rows(killed_store) > 0, process, "staged rows")
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
        staged = _staged_rows(killed_store)
        assert 0 < staged < rows, "killed before the end, after some rows were staged"
        if how == "holding a chunk":  # the fourth chunk may still have been in flight
            assert staged in (300, 400)
        assert _history(killed_store) == []  # nothing committed

        spec = spec_for(db, views)
        resumed = run_view(spec, "orders", store=killed_store)
        assert resumed.resumed and resumed.rows == rows
        clean = run_view(spec, "orders", store=clean_store)
        assert not clean.resumed and clean.rows == rows
        after_kill, after_clean = _history(killed_store), _history(clean_store)
        assert len(after_kill) == rows
        assert after_kill == after_clean
        assert _history(killed_store, "orders_latest") == _history(clean_store, "orders_latest")
        assert resumed.watermark == clean.watermark
