"""Data-quality checks over staged rows, in SQL, on PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from strangler.errors import SpecError
from strangler.etl.quality import QualityFailed
from strangler.etl.store import FeatureStore, RunKey
from strangler.etl.tables import RUNS, FeatureTable
from strangler.etl.types import Batch, Schema
from strangler.spec.features import CheckSpec, FeatureViewSpec
from tests.etl.stores import DIALECTS, fresh_database

T0 = datetime(2024, 3, 1, tzinfo=UTC)
SCHEMA: Schema = {"customer": "integer", "day": "datetime", "total": "float", "city": "string"}
COLUMNS = tuple(SCHEMA)


@pytest.fixture(scope="module", params=DIALECTS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FeatureStore]:
    with fresh_database(request.param, tmp_path_factory.mktemp("quality")) as url:
        made = FeatureStore(url)
        try:
            yield made
        finally:
            made.close()


def checks(*items: dict[str, Any]) -> list[CheckSpec]:
    return [CheckSpec.model_validate(i) for i in items]


def new_table(store: FeatureStore, *items: dict[str, Any]) -> tuple[FeatureTable, list[CheckSpec]]:
    spec = FeatureViewSpec.model_validate(
        {
            "source": {"from": "erp.orders"},
            "entity": "customer",
            "timestamp": "day",
            "checks": list(items),
        }
    )
    return store.table_for(f"orders_{secrets.token_hex(3)}", spec, SCHEMA), spec.checks


def rows(count: int, *, start: int = 0) -> list[tuple[Any, ...]]:
    return [(start + i, T0 + timedelta(days=i % 7), 10.0 + i, "Bonn") for i in range(count)]


def loaded(store: FeatureStore, table: FeatureTable) -> int:
    with store.engine.connect() as connection:
        history = connection.execute(sa.select(sa.func.count()).select_from(table.history))
        return int(history.scalar() or 0)


def test_a_failing_run_reports_each_check_and_loads_nothing(store: FeatureStore) -> None:
    table, view_checks = new_table(
        store,
        {"column": "total", "max_null_rate": 0.1, "min": 0, "max": 1000},
        {"column": "city", "max_null_rate": 0.5},
        {"unique": ["customer", "day"]},
    )
    stage = store.begin(table, run=RunKey(table.view))
    bad = [
        (1, T0, None, "Bonn"),
        (2, T0, -5.0, None),
        (2, T0, 12.5, "Köln"),
        (3, T0, None, "Bonn"),
        (4, T0 + timedelta(days=1), 2500.0, "Bonn"),
    ]
    stage.append(Batch(COLUMNS, bad, {"page": 1}))
    report = stage.check(view_checks)
    assert not report.ok
    assert str(report).splitlines() == [
        f"Data-quality checks of {table.view} (5 staged rows): 4 of 6 failed",
        "  ok    key (customer, day): never empty",
        "  FAIL  total: null rate: 40.00% of 5 rows (at most 10.00%)",
        "  FAIL  total: minimum: -5.0 (at least 0)",
        "  FAIL  total: maximum: 2500.0 (at most 1000)",
        "  ok    city: null rate: 20.00% of 5 rows (at most 50.00%)",
        "  FAIL  unique (customer, day): 1 values repeated, e.g. 2, "
        "2024-03-01 00:00:00+00:00 (2 times)",
    ]
    stage.abandon(report)
    failure = QualityFailed(report)
    assert str(failure) == str(report)
    assert failure.report is report

    assert loaded(store, table) == 0
    assert store.latest(table.view, [{"customer": 1}]) == [None]
    with store.engine.connect() as connection:
        run = connection.execute(sa.select(RUNS).where(RUNS.c.view == table.view)).one()
        staged = connection.execute(sa.select(sa.func.count()).select_from(table.stage)).scalar()
    assert (run.status, run.report, staged) == ("failed", str(report), 0)
    assert store.watermark(table.view) is None
    status = {s.view: s for s in store.status()}[table.view]
    assert (status.last_status, status.last_report) == ("failed", str(report))
    # the next run starts afresh rather than resuming the failed one
    assert store.begin(table, run=RunKey(table.view)).checkpoint is None


def test_a_row_without_its_key_fails_the_check(store: FeatureStore) -> None:
    table, _ = new_table(store)
    stage = store.begin(table, run=RunKey(table.view))
    stage.append(Batch(COLUMNS, [(1, None, 1.0, "Bonn"), (None, T0, 1.0, "Bonn")], {}))
    report = stage.check([])
    assert report.failures[0].detail == "2 rows with an empty key value"


def test_the_row_count_is_compared_with_the_last_successful_run(store: FeatureStore) -> None:
    table, view_checks = new_table(store, {"max_row_change": 0.5})

    def stage_rows(count: int) -> Any:
        stage = store.begin(table, run=RunKey(table.view))
        stage.append(Batch(COLUMNS, rows(count), {}))
        return stage, stage.check(view_checks)

    stage, report = stage_rows(100)
    assert report.ok
    assert report.results[-1].detail == "100 (no earlier successful run to compare)"
    stage.commit(watermark_column="day")

    stage, report = stage_rows(40)
    assert not report.ok
    assert report.failures[0].detail == "40 vs 100 in the last run: -60.0% (at most ±50%)"
    stage.abandon(report)  # a failed run is not what the next one is compared with

    stage, report = stage_rows(149)
    assert report.ok, str(report)
    assert report.results[-1].detail == "149 vs 100 in the last run: +49.0% (at most ±50%)"
    stage.commit(watermark_column="day")

    _, report = stage_rows(20)
    assert report.failures[0].detail == "20 vs 149 in the last run: -86.6% (at most ±50%)"


def test_passing_checks_read_as_passed(store: FeatureStore) -> None:
    table, view_checks = new_table(
        store, {"column": "total", "max_null_rate": 0, "min": 10}, {"unique": ["customer"]}
    )
    stage = store.begin(table, run=RunKey(table.view))
    stage.append(Batch(COLUMNS, rows(30), {}))
    report = stage.check(view_checks)
    assert report.ok
    assert str(report).splitlines()[0].endswith("(30 staged rows): all passed")
    assert "no repeated values" in str(report)


def test_a_check_on_an_unknown_or_unfit_column_is_a_spec_error(store: FeatureStore) -> None:
    table, _ = new_table(store)
    stage = store.begin(table, run=RunKey(table.view))
    with pytest.raises(SpecError) as caught:
        stage.check(checks({"column": "totl", "max_null_rate": 0.1}, {"column": "city", "min": 1}))
    assert [p.message for p in caught.value.problems] == [
        "no column 'totl'",
        "min/max need a number column, not string",
    ]
    assert caught.value.problems[0].field == f"features.views.{table.view}.checks[0]"
