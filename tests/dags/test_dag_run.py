"""``dag.test()`` of a generated DAG, end to end: a legacy MariaDB table read through
raw ODBC into feature tables in PostgreSQL, with Airflow connections standing in
for the spec's addresses; a second run loads incrementally."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.dags.conftest import DAGS, Airflow
from tests.etl.legacy import BASE, FIELDS, LegacyDb, expected, legacy_db, order_rows
from tests.etl.stores import fresh_database

DAG_ID = "strangler_features_orders"
# The spec's own address names a database that does not exist: the rows can only
# come through the Airflow connection strangler_erp.
SPEC = {
    "systems": {
        "erp": {
            "kind": "database",
            "odbc": "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;"
            "DATABASE=strangler_no_such_db;UID=root;PWD=",
            "tables": {"ORDERS_X": {"as": "orders", "fields": FIELDS}},
        }
    },
    "features": {
        "views": {
            "orders": {
                "source": {"from": "erp.orders", "chunk_rows": 7},
                "entity": "orderNumber",
                "timestamp": "updatedAt",
                "retries": 0,
                "checks": [{"column": "total", "min": 0, "max_null_rate": 0}],
            }
        }
    },
}


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[LegacyDb]:
    with legacy_db("mariadb-odbc", tmp_path) as db:
        yield db


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[sa.Engine]:
    with fresh_database("postgresql", tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        yield engine
        engine.dispose()


def _connections(db: LegacyDb, store: sa.Engine) -> dict[str, dict[str, Any]]:
    return {
        "strangler_erp": {
            "conn_type": "odbc",
            "host": "127.0.0.1",
            "port": 3306,
            "login": "root",
            "schema": sa.make_url(db.url).database,
            "extra": {"driver": "MariaDB Unicode"},
        },
        "strangler_features": {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": 5432,
            "login": "postgres",
            "schema": store.url.database,
        },
    }


def _rows(store: sa.Engine, table: str) -> list[dict[str, Any]]:
    """A feature table's rows but ``ingested_at``, by order number and time (naive UTC)."""
    with store.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(sa.text(f'SELECT * FROM "{table}"'))]
    for row in rows:
        assert isinstance(row.pop("ingested_at"), dt.datetime)
        stamp = row["updatedAt"]
        if stamp.tzinfo is not None:
            row["updatedAt"] = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return sorted(rows, key=lambda r: (r["orderNumber"], r["updatedAt"]))


def _utc(naive: dt.datetime) -> str:
    """A naive source time as the store keeps it: taken as UTC."""
    return naive.replace(tzinfo=dt.UTC).isoformat()


def _run(
    airflow: Airflow,
    spec: Path,
    connections: dict[str, Any],
    executor: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One ``dag.test()``: in the probe's process, or by the executor (``executor``: the
    environment that reaches the API server) with the connections in the metadata
    database, as a deployment's workers get them."""
    args = ("test", str(DAGS), DAG_ID, *(["--executor"] if executor else []))
    answer = airflow.probe(
        *args, spec=spec, connections=connections, env=executor, stored=executor is not None
    )
    assert answer.get("state") == "success", answer.get("log", answer)[-8000:]
    assert answer["tasks"] == {"load": ["success", 1]}
    return answer


@pytest.mark.parametrize("where", ["in-process", "local-executor"])
def test_dag_test_loads_mariadb_over_odbc_into_postgresql_then_incrementally(
    airflow: Airflow,
    mariadb: LegacyDb,
    postgres: sa.Engine,
    tmp_path: Path,
    where: str,
    request: pytest.FixtureRequest,
) -> None:
    # local-executor: each run's task is a new process of Airflow's LocalExecutor that
    # parses the DAG file again and reads its connections through the API server, as a
    # Celery worker or a Kubernetes pod does; nothing passes between the two runs but
    # the feature store's database.
    executor = request.getfixturevalue("api_server") if where == "local-executor" else None
    spec = tmp_path / "strangler.yaml"
    spec.write_text(json.dumps(SPEC))  # JSON is YAML
    connections = _connections(mariadb, postgres)
    first = order_rows(0, 40)
    mariadb.insert(first)

    one = _run(airflow, spec, connections, executor)
    assert one["result"]["rows"] == 40
    assert one["result"]["watermark"] == _utc(BASE + dt.timedelta(minutes=39))
    assert one["result"]["backfill"] is False
    assert [e["asset"] for e in one["events"]] == ["strangler_features.orders"]
    assert one["events"][0]["extra"]["rows"] == 40
    assert _rows(postgres, "orders") == [expected(r) for r in first]

    # Behind the watermark: not read again, so not loaded (a full reload would).
    mariadb.update(3, TOTAL_CENTS=1)
    # Past it: order 5 changed (a new event) and 15 new orders.
    changed = {**first[5], "TOTAL_CENTS": 12345, "UPDATED_AT": BASE + dt.timedelta(minutes=100)}
    mariadb.update(5, TOTAL_CENTS=12345, UPDATED_AT=changed["UPDATED_AT"])
    later = order_rows(40, 15)
    mariadb.insert(later)

    two = _run(airflow, spec, connections, executor)
    # The new and changed rows, and the one at the last watermark (the bound is inclusive).
    assert two["result"]["rows"] == 15 + 1 + 1
    assert two["result"]["watermark"] == _utc(changed["UPDATED_AT"])
    assert two["events"][0]["extra"]["rows"] == 17
    history = [expected(r) for r in [*first, changed, *later]]
    assert _rows(postgres, "orders") == sorted(
        history, key=lambda r: (r["orderNumber"], r["updatedAt"])
    )
    latest = {r["orderNumber"]: r for r in _rows(postgres, "orders_latest")}
    assert len(latest) == 55
    assert latest[5] == expected(changed)
    assert latest[3] == expected(first[3])


def _spec_with(tmp_path: Path, **view: Any) -> Path:
    data = json.loads(json.dumps(SPEC))
    data["features"]["views"]["orders"].update(view)
    spec = tmp_path / "strangler.yaml"
    spec.write_text(json.dumps(data))
    return spec


def test_a_failed_check_fails_the_task_at_once_with_its_report(
    airflow: Airflow, mariadb: LegacyDb, postgres: sa.Engine, tmp_path: Path
) -> None:
    # Retries an hour apart: a retry would outlast the probe's time limit.
    spec = _spec_with(
        tmp_path, retries=3, retry_delay_s=3600, checks=[{"column": "total", "min": 100}]
    )
    mariadb.insert(order_rows(0, 40))
    answer = airflow.probe(
        "test", str(DAGS), DAG_ID, spec=spec, connections=_connections(mariadb, postgres),
        timeout=240,
    )  # fmt: skip
    assert answer["state"] == "failed"
    assert answer["tasks"] == {"load": ["failed", 1]}  # no retry: the data will not mend
    assert "Data-quality checks of orders (40 staged rows): 1 of" in answer["log"]
    assert answer["events"] == []
    if sa.inspect(postgres).has_table("orders"):
        with postgres.connect() as connection:
            assert connection.execute(sa.text('SELECT COUNT(*) FROM "orders"')).scalar() == 0


def test_a_run_with_since_and_until_backfills_its_range_and_keeps_the_watermark(
    airflow: Airflow, mariadb: LegacyDb, postgres: sa.Engine, tmp_path: Path
) -> None:
    from strangler.etl import FeatureStore

    spec = _spec_with(tmp_path)
    connections = _connections(mariadb, postgres)
    # A store of any type, given by the URL in its extra.
    url = postgres.url.render_as_string(hide_password=False)
    connections["strangler_features"] = {"conn_type": "generic", "extra": {"url": url}}
    first = order_rows(0, 40)
    mariadb.insert(first)
    _run(airflow, spec, connections)
    # Corrections behind the watermark: only a backfill over their range reads them.
    mariadb.update(12, TOTAL_CENTS=7)
    mariadb.update(25, TOTAL_CENTS=9)
    conf = {
        "since": (BASE + dt.timedelta(minutes=10)).isoformat(),
        "until": (BASE + dt.timedelta(minutes=20)).isoformat(),
    }
    answer = airflow.probe(
        "test", str(DAGS), DAG_ID, json.dumps(conf), spec=spec, connections=connections
    )
    assert answer["state"] == "success", answer["log"][-8000:]
    assert answer["result"]["backfill"] is True
    assert answer["result"]["rows"] == 10  # minutes 10 to 19: until is excluded
    totals = {r["orderNumber"]: r["total"] for r in _rows(postgres, "orders")}
    assert totals[12] == expected({**first[12], "TOTAL_CENTS": 7})["total"]
    assert totals[25] == expected(first[25])["total"]  # outside the range
    store = FeatureStore(postgres.url.render_as_string(hide_password=False))
    try:
        assert store.watermark("orders") == (BASE + dt.timedelta(minutes=39)).replace(tzinfo=dt.UTC)
    finally:
        store.close()


CRASHING = '''
"""A transform that loses its source on the third chunk, once."""
from pathlib import Path

HERE = Path(__file__).parent


def rows(chunk):
    calls = HERE / "calls"
    calls.write_text(str(int(calls.read_text() or 0) + 1) if calls.exists() else "1")
    armed = HERE / "armed"
    if armed.exists() and int(calls.read_text()) == 4:  # the first call samples the columns
        armed.unlink()
        raise ConnectionError("the source went away")
    return chunk
'''


def test_a_retry_carries_on_the_run_its_failed_try_staged(
    airflow: Airflow, mariadb: LegacyDb, postgres: sa.Engine, tmp_path: Path
) -> None:
    (tmp_path / "crashing.py").write_text(CRASHING)
    (tmp_path / "armed").touch()
    spec = _spec_with(tmp_path, transform="crashing:rows", retries=1, retry_delay_s=1)
    first = order_rows(0, 40)
    mariadb.insert(first)
    answer = airflow.probe(
        "test", str(DAGS), DAG_ID, spec=spec, connections=_connections(mariadb, postgres),
        env={"PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    assert "ConnectionError: the source went away" in answer["log"]
    assert not (tmp_path / "armed").exists()
    assert answer["state"] == "success", answer["log"][-8000:]
    assert answer["tasks"] == {"load": ["success", 2]}
    # The second try read on from the two chunks (14 rows) the first one staged.
    assert answer["result"]["resumed"] is True
    assert answer["result"]["rows"] == 40
    assert (tmp_path / "calls").read_text() == str(1 + 3 + 1 + 4)
    assert _rows(postgres, "orders") == [expected(r) for r in first]


DOWNSTREAM = '''
"""A model refresh that runs when the orders feature table changes."""
from airflow.sdk import Asset, dag, task


@dag(schedule=Asset.ref(name="strangler_features.orders"))
def refresh_model():
    @task
    def train():
        return "trained"

    train()


refresh_model()
'''


def test_a_run_queues_the_dags_scheduled_on_its_feature_table(
    airflow: Airflow, mariadb: LegacyDb, postgres: sa.Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    shutil.copy(DAGS / "strangler_features.py", folder)
    (folder / "refresh_model.py").write_text(DOWNSTREAM)
    mariadb.insert(order_rows(0, 10))
    answer = airflow.probe(
        "test", str(folder), DAG_ID, spec=_spec_with(tmp_path),
        connections=_connections(mariadb, postgres),
        env={
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        },
    )  # fmt: skip
    assert answer["state"] == "success", answer["log"][-8000:]
    # The scheduler starts a run of each DAG in this queue (an unpaused one).
    assert answer["queued"] == ["refresh_model"]


def test_a_connection_that_gives_no_address_fails_the_task_at_once(
    airflow: Airflow, mariadb: LegacyDb, postgres: sa.Engine, tmp_path: Path
) -> None:
    spec = _spec_with(tmp_path, retries=3, retry_delay_s=3600)
    connections = _connections(mariadb, postgres)
    connections["strangler_features"] = {"conn_type": "generic", "host": "features-db"}
    answer = airflow.probe(
        "test", str(DAGS), DAG_ID, spec=spec, connections=connections, timeout=240
    )
    assert answer["state"] == "failed"
    assert answer["tasks"] == {"load": ["failed", 1]}
    assert (
        "connection 'strangler_features' of type 'generic' gives no SQLAlchemy URL" in answer["log"]
    )
