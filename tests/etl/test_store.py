"""The feature store on real PostgreSQL, MariaDB and SQLite: upserts, latest, resume."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from strangler.etl.stage import Stage, StageFailed, StageLost
from strangler.etl.store import FeatureStore, RunKey
from strangler.etl.tables import FeatureTable, FeatureTableMismatch
from strangler.etl.types import Batch, Schema
from strangler.etl.upsert import merge_sql, newest_per_key
from strangler.spec.features import FeatureViewSpec
from tests.etl.stores import DIALECTS, fresh_database

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
SCHEMA: Schema = {
    "sku": "string",
    "day": "datetime",
    "qty": "integer",
    "price": "decimal",
    "name": "string",
    "updated": "datetime",
}
COLUMNS = tuple(SCHEMA)


@pytest.fixture(scope="module", params=DIALECTS)
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[FeatureStore]:
    made = FeatureStore(store_url)
    try:
        yield made
    finally:
        made.close()


def view_spec(**extra: Any) -> FeatureViewSpec:
    data = {"source": {"from": "erp.items"}, "entity": "sku", "timestamp": "day", **extra}
    return FeatureViewSpec.model_validate(data)


def new_view() -> str:
    return f"items_{secrets.token_hex(3)}"


def row(sku: str, days: int, qty: int, price: str, name: str = "x") -> tuple[Any, ...]:
    moment = T0 + timedelta(days=days)
    return (sku, moment, qty, Decimal(price), name, moment + timedelta(hours=1))


def run(store: FeatureStore, table: FeatureTable, *batches: list[tuple[Any, ...]]) -> Any:
    stage = store.begin(table, run=RunKey(table.view))
    for i, rows in enumerate(batches):
        stage.append(Batch(COLUMNS, rows, {"batch": i}))
    return stage.commit(watermark_column="updated", advance=True)


def history(store: FeatureStore, table: FeatureTable) -> list[dict[str, Any]]:
    """The history table, ``ingested_at`` included, ordered by key."""
    with store.engine.connect() as connection:
        query = sa.select(table.history).order_by(*[table.history.c[k] for k in table.key])
        return [dict(r._mapping) for r in connection.execute(query)]


def latest(store: FeatureStore, table: FeatureTable) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as connection:
        return {r.sku: dict(r._mapping) for r in connection.execute(sa.select(table.latest))}


def without_load_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "ingested_at"} for r in rows]


def test_changed_rows_are_updated_unchanged_rows_kept_new_rows_added(store: FeatureStore) -> None:
    table = store.table_for(new_view(), view_spec(), SCHEMA)
    run(store, table, [row("A", 0, 1, "1.50"), row("A", 1, 2, "2.00"), row("B", 0, 3, "3.25")])
    first = {(r["sku"], r["day"]): r for r in history(store, table)}
    second = run(
        store, table, [row("A", 1, 2, "2.10"), row("B", 0, 3, "3.25"), row("C", 0, 7, "0.99")]
    )
    after = {(r["sku"], r["day"]): r for r in history(store, table)}
    day0, day1 = T0, T0 + timedelta(days=1)
    assert sorted(after) == [("A", day0), ("A", day1), ("B", day0), ("C", day0)]
    assert after[("A", day1)]["price"] == Decimal("2.10")
    assert after[("A", day1)]["ingested_at"] > first[("A", day1)]["ingested_at"]
    assert after[("B", day0)] == first[("B", day0)]  # unchanged: not even its load time moved
    assert after[("A", day0)] == first[("A", day0)]
    assert after[("A", day0)]["day"].tzinfo is not None
    if not store.engine.dialect.name.startswith(("mysql", "mariadb")):
        assert second.written == 2  # A's change and C; B arrived unchanged
    newest = latest(store, table)
    assert sorted(newest) == ["A", "B", "C"]
    assert (newest["A"]["day"], newest["A"]["price"]) == (day1, Decimal("2.10"))
    assert newest["A"]["ingested_at"] == after[("A", day1)]["ingested_at"]
    assert newest["C"]["qty"] == 7


def test_latest_does_not_regress_when_an_older_event_arrives_late(store: FeatureStore) -> None:
    table = store.table_for(new_view(), view_spec(), SCHEMA)
    run(store, table, [row("A", 5, 50, "5.00")])
    run(store, table, [row("A", 2, 20, "2.00"), row("B", 1, 10, "1.00")])  # late, older
    newest = latest(store, table)
    assert (newest["A"]["day"], newest["A"]["qty"]) == (T0 + timedelta(days=5), 50)
    assert len(history(store, table)) == 3
    run(store, table, [row("A", 5, 51, "5.00")])  # the newest event itself corrected
    assert latest(store, table)["A"]["qty"] == 51
    assert store.latest(table.view, [{"sku": "A"}, {"sku": "B"}, {"sku": "Z"}]) == [
        {
            "sku": "A",
            "day": T0 + timedelta(days=5),
            "qty": 51,
            "price": Decimal("5.00"),
            "name": "x",
            "updated": T0 + timedelta(days=5, hours=1),
        },
        {
            "sku": "B",
            "day": T0 + timedelta(days=1),
            "qty": 10,
            "price": Decimal("1.00"),
            "name": "x",
            "updated": T0 + timedelta(days=1, hours=1),
        },
        None,
    ]


def test_a_key_staged_twice_in_one_run_keeps_the_last_staged_row(store: FeatureStore) -> None:
    table = store.table_for(new_view(), view_spec(), SCHEMA)
    run(
        store,
        table,
        [row("A", 0, 1, "1.00"), row("B", 0, 1, "1.00")],
        [row("A", 0, 2, "1.00")],
        [row("A", 0, 3, "1.00")],
    )
    assert [(r["sku"], r["qty"]) for r in history(store, table)] == [("A", 3), ("B", 1)]
    assert latest(store, table)["A"]["qty"] == 3


def test_a_resumed_stage_gives_the_table_of_one_clean_pass(store_url: str) -> None:
    batches = [[row(f"S{i:03}", d, i * d, f"{i}.{d}") for i in range(40)] for d in range(5)]
    view, clean_view = new_view(), new_view()

    first = FeatureStore(store_url)
    table = first.table_for(view, view_spec(), SCHEMA)
    stage = first.begin(table, run=RunKey(view, "2024-03-01", "2024-03-09"))
    for i, rows in enumerate(batches[:3]):
        stage.append(Batch(COLUMNS, rows, {"after": i}))
    stage.flush()  # the last batch staged (append writes in the background)
    first.close()  # the process dies here; nothing was committed

    second = FeatureStore(store_url)
    table = second.table_for(view, view_spec(), SCHEMA)
    assert history(second, table) == []
    stage = second.begin(table, run=RunKey(view, "2024-03-01", "2024-03-09"))
    assert (stage.checkpoint, stage.rows, stage.resumed) == ({"after": 2}, 120, True)
    for i, rows in enumerate(batches[3:], start=3):
        stage.append(Batch(COLUMNS, rows, {"after": i}))
    result = stage.commit(watermark_column="updated", advance=False)
    assert result.rows == 200

    clean_table = second.table_for(clean_view, view_spec(), SCHEMA)
    run(second, clean_table, *batches)
    assert without_load_time(history(second, table)) == without_load_time(
        history(second, clean_table)
    )
    assert len(history(second, table)) == 200
    assert without_load_time(list(latest(second, table).values())) == without_load_time(
        list(latest(second, clean_table).values())
    )
    # after the commit there is nothing to resume
    assert second.begin(table, run=RunKey(view, "2024-03-01", "2024-03-09")).checkpoint is None
    second.close()


def test_a_stage_that_lost_its_rows_starts_the_run_again(store: FeatureStore) -> None:
    """PostgreSQL's staging table is unlogged: a crash of the server empties it (its
    recovery resets such a table to empty), while the run's checkpoint survives. Emptied
    here as the recovery would (the shared server is not crashed); the run must not
    resume after rows it no longer has."""
    batches = [[row(f"S{i:03}", d, i + d, f"{i}.{d}") for i in range(30)] for d in range(4)]
    table = store.table_for(new_view(), view_spec(), SCHEMA)
    stage = store.begin(table, run=RunKey(table.view))
    for i, rows in enumerate(batches[:2]):
        stage.append(Batch(COLUMNS, rows, {"after": i}))
    stage.close()
    with store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            persistence = connection.execute(
                sa.text("SELECT relpersistence FROM pg_class WHERE relname = :name"),
                {"name": table.stage.name},
            ).scalar()
            assert persistence == "u"  # unlogged
        connection.execute(table.stage.delete())

    again = store.begin(table, run=RunKey(table.view))
    assert (again.checkpoint, again.rows, again.resumed) == (None, 0, False)
    for i, rows in enumerate(batches):
        again.append(Batch(COLUMNS, rows, {"after": i}))
    result = again.commit(watermark_column="updated", advance=True)
    assert result.rows == 120
    assert len(history(store, table)) == 120
    assert {s.view: s for s in store.status()}[table.view].latest_rows == 30


def test_a_run_of_another_key_abandons_the_unfinished_stage(store: FeatureStore) -> None:
    table = store.table_for(new_view(), view_spec(), SCHEMA)
    old = store.begin(table, run=RunKey(table.view, "2024-01-01", "2024-02-01"))
    old.append(Batch(COLUMNS, [row("A", 0, 1, "1.00")], {"page": 1}))
    stage = store.begin(table, run=RunKey(table.view))
    assert (stage.checkpoint, stage.rows) == (None, 0)
    stage.append(Batch(COLUMNS, [row("B", 0, 1, "1.00")], {"page": 1}))
    stage.commit(watermark_column="updated")
    assert [r["sku"] for r in history(store, table)] == ["B"]
    status = {s.view: s for s in store.status()}[table.view]
    assert (status.last_status, status.history_rows, status.latest_rows) == ("succeeded", 1, 1)


def test_a_stage_taken_over_by_another_run_refuses_more_rows(store: FeatureStore) -> None:
    table = store.table_for(new_view(), view_spec(), SCHEMA)
    first = store.begin(table, run=RunKey(table.view))
    first.append(Batch(COLUMNS, [row("A", 0, 1, "1.00")], {"page": 1}))
    second = store.begin(table, run=RunKey(table.view, "2024-01-01", "2024-02-01"))
    with pytest.raises(StageLost, match="no longer staging"):  # at the latest when flushed
        first.append(Batch(COLUMNS, [row("B", 0, 1, "1.00")], {"page": 2}))
        first.flush()
    with pytest.raises(StageLost):
        first.commit(watermark_column="updated")
    second.append(Batch(COLUMNS, [row("C", 0, 1, "1.00")], {"page": 1}))
    second.commit(watermark_column="updated", advance=False)
    assert [r["sku"] for r in history(store, table)] == ["C"]


def test_a_batch_the_database_refuses_is_reported_and_not_kept(store: FeatureStore) -> None:
    table = store.table_for(new_view(), view_spec(), SCHEMA)
    stage = store.begin(table, run=RunKey(table.view))
    stage.append(Batch(COLUMNS, [row("A", 0, 1, "1.00")], {"page": 1}))
    bad = (*row("B", 0, 1, "1.00")[:5], "not a time")
    stage.append(Batch(COLUMNS, [row("C", 0, 1, "1.00"), bad], {"page": 2}))
    with pytest.raises(StageFailed, match="a batch of 2 rows could not be staged"):
        stage.check([])
    assert (stage.rows, stage.checkpoint) == (1, {"page": 1})
    again = store.begin(table, run=RunKey(table.view))
    assert (again.rows, again.checkpoint) == (1, {"page": 1})
    again.append(Batch(COLUMNS, [row("C", 0, 1, "1.00")], {"page": 2}))
    again.commit(watermark_column="updated")
    assert [r["sku"] for r in history(store, table)] == ["A", "C"]


def test_the_watermark_advances_never_back_and_a_backfill_leaves_it(store: FeatureStore) -> None:
    table = store.table_for(new_view(), view_spec(), SCHEMA)
    assert store.watermark(table.view) is None
    run(store, table, [row("A", 3, 1, "1.00"), row("B", 1, 1, "1.00")])
    assert store.watermark(table.view) == T0 + timedelta(days=3, hours=1)
    run(store, table, [row("A", 0, 1, "1.00")])  # a lookback re-read of older rows
    assert store.watermark(table.view) == T0 + timedelta(days=3, hours=1)
    stage = store.begin(table, run=RunKey(table.view, "2024-04-01", "2024-05-01"))
    stage.append(Batch(COLUMNS, [row("A", 60, 1, "1.00")], {}))
    stage.commit(watermark_column="updated", advance=False)
    assert store.watermark(table.view) == T0 + timedelta(days=3, hours=1)
    run(store, table, [row("C", 9, 1, "1.00")])
    assert store.watermark(table.view) == T0 + timedelta(days=9, hours=1)


def test_a_snapshot_view_stamps_each_run_with_its_start(store: FeatureStore) -> None:
    schema: Schema = {"sku": "string", "on_hand": "integer", "counted": "date"}
    spec = FeatureViewSpec.model_validate({"source": {"from": "erp.stock"}, "entity": "sku"})
    table = store.table_for(new_view(), spec, schema)
    stage: Stage = store.begin(table, run=RunKey(table.view))
    stage.append(Batch(("sku", "on_hand", "counted"), [("A", 5, date(2024, 3, 1))], {}))
    stage.commit(watermark_column=None)
    rows = history(store, table)
    assert [(r["sku"], r["on_hand"], r["counted"]) for r in rows] == [("A", 5, date(2024, 3, 1))]
    assert rows[0]["event_time"] == stage.started_at


def test_a_date_timestamp_becomes_its_midnight_in_utc(store: FeatureStore) -> None:
    schema: Schema = {"sku": "string", "day": "date", "qty": "integer"}
    table = store.table_for(new_view(), view_spec(), schema)
    stage = store.begin(table, run=RunKey(table.view))
    stage.append(Batch(("sku", "day", "qty"), [("A", date(2024, 3, 2), 4)], {}))
    stage.commit(watermark_column="day")
    assert history(store, table)[0]["day"] == datetime(2024, 3, 2, tzinfo=UTC)
    assert store.watermark(table.view) == date(2024, 3, 2)  # the watermark keeps its kind


def test_a_table_that_does_not_fit_the_view_is_refused_naming_the_column(
    store: FeatureStore,
) -> None:
    view = new_view()
    store.table_for(view, view_spec(), SCHEMA)
    with pytest.raises(FeatureTableMismatch, match=r"'qty'.*was integer, now string"):
        store.table_for(view, view_spec(), {**SCHEMA, "qty": "string"})
    with pytest.raises(FeatureTableMismatch, match=r"'updated'.*not a column of the source"):
        store.table_for(
            view,
            view_spec(features=["qty", "updated"]),
            {k: v for k, v in SCHEMA.items() if k != "updated"},
        )
    with pytest.raises(FeatureTableMismatch, match=r"'store'.*missing from the existing table"):
        other = view_spec(table=view, entity=["store", "sku"])  # another view, same table
        store.table_for(new_view(), other, {"store": "string", **SCHEMA})
    with pytest.raises(FeatureTableMismatch, match=r"'name'.*the entity was sku"):
        store.table_for(view, view_spec(entity="name"), SCHEMA)
    with pytest.raises(FeatureTableMismatch, match=r"'when'.*not a column of the source"):
        store.table_for(new_view(), view_spec(timestamp="when"), SCHEMA)
    with pytest.raises(FeatureTableMismatch, match="longer than 56 characters"):
        store.table_for(new_view(), view_spec(table="t" * 57), SCHEMA)
    # a new version starts a new table, beside the old one
    assert (
        store.table_for(view, view_spec(version=2), {**SCHEMA, "colour": "string"}).history.name
        == f"{view}_v2"
    )


def test_a_new_feature_column_is_added_to_loaded_tables(store: FeatureStore) -> None:
    view = new_view()
    table = store.table_for(view, view_spec(), SCHEMA)
    run(store, table, [row("A", 0, 1, "1.00")])
    wider = store.table_for(view, view_spec(), {**SCHEMA, "colour": "string"})
    stage = store.begin(wider, run=RunKey(view))
    stage.append(Batch((*COLUMNS, "colour"), [(*row("A", 1, 2, "1.00"), "red")], {}))
    stage.commit(watermark_column="updated")
    assert [(r["qty"], r["colour"]) for r in history(store, wider)] == [(1, None), (2, "red")]
    assert latest(store, wider)["A"]["colour"] == "red"


def test_sql_server_gets_a_merge_statement() -> None:
    """No SQL Server runs here: the MERGE is compiled, not executed."""
    table = FeatureTable.build("items", view_spec(), SCHEMA)
    stage = table.stage
    source = sa.select(
        *[stage.c[c] for c in table.stored],
        sa.literal(T0, table.history.c.ingested_at.type).label("ingested_at"),
    )
    deduped = newest_per_key(source, key=table.key, order=stage.c["_row"])
    sql = str(
        merge_sql(mssql.dialect(), table.history, deduped, key=table.key, touch="ingested_at")
    )
    assert sql.startswith("MERGE INTO items WITH (HOLDLOCK) AS t USING (SELECT")
    assert (
        "row_number() OVER (PARTITION BY strangler_etl_stage_items.sku, "
        "strangler_etl_stage_items.day ORDER BY strangler_etl_stage_items._row DESC)"
    ) in sql
    assert "ON t.sku = s.sku AND t.day = s.day" in sql
    assert (
        "WHEN MATCHED AND EXISTS (SELECT t.qty, t.price, t.name, t.updated "
        "EXCEPT SELECT s.qty, s.price, s.name, s.updated) THEN UPDATE SET qty = s.qty"
    ) in sql
    assert "ingested_at = s.ingested_at WHEN NOT MATCHED THEN INSERT (sku, day, qty" in sql
    assert sql.endswith("VALUES (s.sku, s.day, s.qty, s.price, s.name, s.updated, s.ingested_at);")
    assert ":param_1" in sql  # the load time stays a typed parameter

    newest = sa.select(*[table.history.c[c.name] for c in table.latest.columns])
    sql = str(
        merge_sql(mssql.dialect(), table.latest, newest, key=table.entity, unless_older="day")
    )
    assert "ON t.sku = s.sku WHEN MATCHED AND s.day >= t.day AND EXISTS (SELECT t.day" in sql


def test_times_keep_their_instant_and_microseconds(store: FeatureStore) -> None:
    schema: Schema = {"sku": "string", "day": "datetime", "seen": "datetime"}
    table = store.table_for(new_view(), view_spec(), schema)
    stage = store.begin(table, run=RunKey(table.view))
    cest = timezone(timedelta(hours=2))
    stage.append(
        Batch(
            ("sku", "day", "seen"),
            [
                (
                    "A",
                    datetime(2024, 1, 1, 1, 2, 3, 456789, tzinfo=cest),
                    datetime(2024, 1, 1, 1, 2, 3, 7),
                )
            ],
            {},
        )
    )
    stage.commit(watermark_column="day")
    instant = datetime(2023, 12, 31, 23, 2, 3, 456789, tzinfo=UTC)
    assert store.latest(table.view, [{"sku": "A"}]) == [
        {"sku": "A", "day": instant, "seen": datetime(2024, 1, 1, 1, 2, 3, 7, tzinfo=UTC)}
    ]
    assert store.watermark(table.view) == instant


def test_sql_server_gets_tables_of_its_own_types() -> None:
    """Compiled, not executed (no SQL Server runs here)."""
    table = FeatureTable.build("items", view_spec(), {**SCHEMA, "tags": "json", "raw": "bytes"})
    dialect = mssql.dialect()
    history = str(sa.schema.CreateTable(table.history).compile(dialect=dialect))
    assert "day DATETIME2(6) NOT NULL" in history
    assert "sku VARCHAR(200) NOT NULL" in history
    assert "price NUMERIC(38, 10)" in history
    assert "tags NVARCHAR(max)" in history
    assert "PRIMARY KEY (sku, day)" in history
    stage = str(sa.schema.CreateTable(table.stage).compile(dialect=dialect))
    assert "_row BIGINT NOT NULL IDENTITY" in stage
