"""The prediction log on real databases: rows written in batches, kept while the table
cannot be written and written once it can, dropped (and counted) only past the bound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from strangler.inference.prediction_log import PREDICTIONS, PredictionLog
from tests.etl.stores import fresh_database


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as made:
        yield made


def _row(i: int) -> dict[str, object]:
    return {
        "request_id": f"r{i}",
        "model": "reorder",
        "version": "1",
        "entity": {"sku": f"SKU-{i}"},
        "features": {"onHand": i},
        "prediction": {"label": "yes"},
    }


def _count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(PREDICTIONS)).scalar_one()
            )
    finally:
        engine.dispose()


def test_rows_are_written_in_batches(url: str) -> None:
    log = PredictionLog(url, max_batch=200)
    log.open()
    statements: list[int] = []
    assert log._engine is not None
    sa.event.listen(
        log._engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, params, context, many: (
            statements.append(len(params) if many else 1)
            if statement.lstrip().upper().startswith("INSERT")
            else None
        ),
    )
    try:
        for i in range(1000):
            log.record(_row(i))
        assert log.flush(30)
        assert _count(url) == 1000
        assert log.status().written == 1000 and log.status().pending == 0
        assert len(statements) < 100, statements  # batches, not a statement per row
        assert max(statements) <= 200
    finally:
        log.close()


def test_rows_wait_while_the_table_cannot_be_written(url: str) -> None:
    log = PredictionLog(url, max_batch=50)
    log.open()
    engine = sa.create_engine(url)
    try:
        log.record(_row(0))
        assert log.flush(10) and _count(url) == 1
        with engine.begin() as connection:  # the table is gone for a while
            connection.execute(sa.text("ALTER TABLE strangler_predictions RENAME TO parked"))
        for i in range(1, 120):
            log.record(_row(i))
        assert not log.flush(0.5)  # not written, not lost
        status = log.status()
        assert status.pending == 119 and status.error is not None and status.dropped == 0
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE parked RENAME TO strangler_predictions"))
        assert log.flush(15)
        assert _count(url) == 120
        assert log.status().error is None
        with engine.connect() as connection:
            ids = {r for (r,) in connection.execute(sa.select(PREDICTIONS.c.request_id))}
        assert ids == {f"r{i}" for i in range(120)}
    finally:
        log.close()
        engine.dispose()


def test_close_writes_what_is_queued(url: str) -> None:
    log = PredictionLog(url, max_batch=10, max_delay_s=0.5)
    log.open()
    for i in range(35):
        log.record(_row(i))
    log.close()
    assert _count(url) == 35


def test_past_the_bound_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    log = PredictionLog(url, max_batch=10, max_pending=20)
    log.open()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE strangler_predictions RENAME TO parked"))
        for i in range(100):
            log.record(_row(i))
        deadline_ok = log.flush(0.3)
        assert not deadline_ok
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE parked RENAME TO strangler_predictions"))
        assert log.flush(15)
        status = log.status()
        assert status.dropped > 0 and status.written + status.dropped == 100
        assert _count(url) == status.written >= 20
    finally:
        log.close()
        engine.dispose()
