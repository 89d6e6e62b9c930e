"""Point-in-time and latest lookups on PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from strangler.errors import InvalidInput, NotFound
from strangler.etl.store import FeatureStore, RunKey
from strangler.etl.tables import FeatureTable
from strangler.etl.types import Batch, Schema
from strangler.spec.features import FeatureViewSpec
from tests.etl.stores import DIALECTS, fresh_database

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SCHEMA: Schema = {"store": "string", "sku": "integer", "at": "datetime", "price": "integer"}
COLUMNS = tuple(SCHEMA)


@pytest.fixture(scope="module", params=DIALECTS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FeatureStore]:
    with fresh_database(request.param, tmp_path_factory.mktemp("lookup")) as url:
        made = FeatureStore(url)
        try:
            yield made
        finally:
            made.close()


def load(store: FeatureStore, rows: list[tuple[Any, ...]], **extra: Any) -> FeatureTable:
    spec = FeatureViewSpec.model_validate(
        {"source": {"from": "erp.prices"}, "entity": ["store", "sku"], "timestamp": "at", **extra}
    )
    table = store.table_for(f"prices_{secrets.token_hex(3)}", spec, SCHEMA)
    stage = store.begin(table, run=RunKey(table.view))
    for start in range(0, len(rows), 1000):
        stage.append(Batch(COLUMNS, rows[start : start + 1000], {"at": start}))
    stage.commit(watermark_column="at")
    return table


def test_no_value_from_after_the_time_asked_leaks(store: FeatureStore) -> None:
    """Random histories against a brute-force answer: the newest event at or before."""
    chance = random.Random(7)
    events: dict[tuple[str, int], list[tuple[datetime, int]]] = {}
    rows = []
    for shop in ("north", "south"):
        for sku in range(25):
            moments = sorted(
                {T0 + timedelta(minutes=chance.randrange(0, 10_000)) for _ in range(8)}
            )
            events[(shop, sku)] = [(m, chance.randrange(1, 10_000)) for m in moments]
            rows += [(shop, sku, m, p) for m, p in events[(shop, sku)]]
    table = load(store, rows)

    keys, times, expected = [], [], []
    for (shop, sku), history in events.items():
        for moment, _ in history:  # exactly at, just before, just after each event
            for asked in (
                moment,
                moment - timedelta(microseconds=1),
                moment + timedelta(seconds=1),
            ):
                keys.append({"store": shop, "sku": sku})
                times.append(asked)
                earlier = [(m, p) for m, p in history if m <= asked]
                expected.append(
                    {"store": shop, "sku": sku, "at": earlier[-1][0], "price": earlier[-1][1]}
                    if earlier
                    else None
                )
    keys.append({"store": "north", "sku": 999})  # never loaded
    times.append(T0 + timedelta(days=30))
    expected.append(None)

    got = store.features_as_of(table.view, keys, times)
    assert got == expected
    assert all(r is None or r["at"] <= t for r, t in zip(got, times, strict=True))
    assert sum(r is None for r in got) > 50  # the "just before the first event" cases


def test_the_equal_time_is_included_and_the_ttl_is_honoured(store: FeatureStore) -> None:
    table = load(
        store, [("north", 1, T0, 10), ("north", 1, T0 + timedelta(hours=5), 20)], ttl_s=3600
    )
    north = {"store": "north", "sku": 1}

    def price(asked: datetime) -> int | None:
        found = store.features_as_of(table.view, [north], asked)[0]
        return None if found is None else int(found["price"])

    assert price(T0 - timedelta(microseconds=1)) is None
    assert price(T0) == 10  # an event at the very time asked is known at that time
    assert price(T0 + timedelta(minutes=59)) == 10
    assert price(T0 + timedelta(hours=1)) is None  # exactly the ttl old: expired
    assert price(T0 + timedelta(hours=4)) is None  # the older value is not served instead
    assert price(T0 + timedelta(hours=5)) == 20
    # a time in another zone is the same instant
    berlin = timezone(timedelta(hours=1))
    assert price((T0 + timedelta(minutes=30)).astimezone(berlin)) == 10
    # naive times are UTC
    assert price((T0 + timedelta(minutes=30)).replace(tzinfo=None)) == 10
    # latest honours the ttl against the present: these events are long past
    assert store.latest(table.view, [north]) == [None]


def test_many_pairs_take_a_few_statements_not_one_per_pair(store: FeatureStore) -> None:
    rows = [
        ("north", sku, T0 + timedelta(hours=h), sku * 100 + h)
        for sku in range(200)
        for h in range(5)
    ]
    table = load(store, rows)
    keys = [{"store": "north", "sku": sku} for sku in range(200) for _ in range(20)]
    times = [T0 + timedelta(minutes=15 * i) for _ in range(200) for i in range(20)]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        got = store.features_as_of(table.view, keys, times)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert len(got) == 4000
    assert sum(s.lstrip().upper().startswith("SELECT") for s in statements) <= 4
    assert len(statements) < 20
    for key, moment, found in zip(keys, times, got, strict=True):
        hour = min(int((moment - T0).total_seconds() // 3600), 4)
        assert found is not None and found["price"] == key["sku"] * 100 + hour


def test_latest_reads_the_latest_table(store: FeatureStore) -> None:
    now = datetime.now(UTC)
    table = load(
        store,
        [
            ("north", 1, now - timedelta(hours=3), 1),
            ("north", 1, now - timedelta(hours=1), 2),
            ("south", 1, now - timedelta(hours=2), 3),
            ("south", 2, now - timedelta(days=3), 4),
        ],
        ttl_s=86400,
    )
    asked = [
        {"store": "north", "sku": 1},
        {"store": "south", "sku": 2},
        {"store": "south", "sku": 1},
        {"store": "east", "sku": 1},
    ]
    got = store.latest(table.view, asked)
    assert [None if g is None else g["price"] for g in got] == [2, None, 3, None]
    assert set(got[0] or {}) == {"store", "sku", "at", "price"}


def test_bad_lookups_are_refused_clearly(store: FeatureStore) -> None:
    table = load(store, [("north", 1, T0, 1)])
    with pytest.raises(InvalidInput) as caught:
        store.latest(table.view, [{"store": "north", "sku": 1}, {"store": "north"}])
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("entities[1]", "no value for sku")
    ]
    with pytest.raises(InvalidInput, match="2 entities but 1 times"):
        store.features_as_of(table.view, [{"store": "a", "sku": 1}] * 2, [T0])
    with pytest.raises(NotFound, match="no feature view 'nothing'"):
        store.latest("nothing", [])
