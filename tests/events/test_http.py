"""Streams over HTTP, on the demo estate: pages from the outbox, Server-Sent Events, problems.

The state database is SQLite (the embedded default) or PostgreSQL; events come
from the demo's polling capture of ``erp.orders`` and from the legacy activity
writing into the ERP directly, as the legacy application does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from strangler.demo.activity import LegacyActivity
from strangler.demo.erp.generate import generate_rows
from strangler.demo.estate import running_estate
from strangler.events.http import ReadSettings
from strangler.events.part import EventHub
from strangler.platform import build_platform
from strangler.rest.app import build_app
from tests.events.contract import assert_asyncapi_valid, assert_event_matches
from tests.events.sse import open_sse
from tests.servers import run_app

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres"
ORDERS = len(generate_rows(200, 2000, 7).orders)


@dataclass
class Demo:
    url: str
    client: httpx.Client
    activity: LegacyActivity
    asyncapi: dict[str, Any]


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    folder = Path(tmp_path_factory.mktemp("events-http"))
    database = f"strangler_test_{secrets.token_hex(4)}"
    if request.param == "postgresql":
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
    try:
        with running_estate(state_dir=folder) as estate:
            spec = estate.spec
            if request.param == "postgresql":
                events = spec.section("events").model_copy(
                    update={"state": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"}
                )
                spec = spec.model_copy(update={"events": events})
            platform = build_platform(spec, cache_dir=folder)
            hub = next(c for c in platform if isinstance(c, EventHub))
            hub.read = ReadSettings(default_limit=50, max_limit=400, poll_s=0.1, ping_s=0.5)
            assert estate.erp_path is not None
            with (
                run_app(build_app(platform, limits=spec.limits)) as url,
                httpx.Client(base_url=url, timeout=30) as client,
            ):
                yield Demo(url, client, LegacyActivity(estate.erp_path, seed=11),
                           client.get("/asyncapi.json").json())  # fmt: skip
    finally:
        if request.param == "postgresql":
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _all_events(demo: Demo, stream: str, at_least: int) -> list[dict[str, Any]]:
    """Page through a stream until at least ``at_least`` events were read (waiting on capture)."""
    import time

    deadline = time.monotonic() + 60
    items: list[dict[str, Any]] = []
    after = 0
    while len(items) < at_least:
        assert time.monotonic() < deadline, f"only {len(items)} events"
        page = demo.client.get(f"/events/{stream}", params={"after": after}).json()
        assert page["stream"] == stream
        items += page["items"]
        if not page["items"]:
            assert page["next_after"] == after
            time.sleep(0.1)  # capture is still on its first pass; poll again
        after = page["next_after"]
    return items


def test_the_streams_are_listed(demo: Demo) -> None:
    body = demo.client.get("/events").json()
    orders = next(s for s in body["streams"] if s["name"] == "orders")
    assert orders["topic"] == "erp.orders" and orders["kind"] == "table"
    assert orders["types"] == [
        f"strangler.erp.orders.{a}" for a in ("created", "updated", "deleted")
    ]
    assert orders["dataschema"] == "/asyncapi.json#/components/schemas/erp.OrdersRow"
    assert body["asyncapi"] == "/asyncapi.json"


def test_pages_hold_every_captured_row_once_and_fit_the_contract(demo: Demo) -> None:
    items = _all_events(demo, "orders", ORDERS)
    created = [e for e in items if e["type"] == "strangler.erp.orders.created"]
    subjects = [e["subject"] for e in created]
    assert len(set(subjects)) == len(subjects)
    assert len(set(subjects)) >= ORDERS
    assert len({e["id"] for e in items}) == len(items)
    assert_asyncapi_valid(demo.asyncapi)
    for event in items[:200]:
        assert_event_matches(demo.asyncapi, "orders", event)
    page = demo.client.get("/events/orders", params={"after": 0}).json()
    assert len(page["items"]) == 50  # the default limit
    assert demo.client.get("/events/orders", params={"limit": 400}).json()["next_after"] > 0


@pytest.mark.parametrize(
    ("params", "headers", "name"),
    [
        ({"after": "x"}, {}, "after"),
        ({"after": "-1"}, {}, "after"),
        ({"limit": "0"}, {}, "limit"),
        ({"limit": "401"}, {}, "limit"),
        ({"limit": "ten"}, {}, "limit"),
    ],
)
def test_a_bad_parameter_is_a_400_problem_naming_it(
    demo: Demo, params: dict[str, str], headers: dict[str, str], name: str
) -> None:
    answer = demo.client.get("/events/orders", params=params, headers=headers)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["path"] == name


def test_a_bad_last_event_id_is_a_400_problem(demo: Demo) -> None:
    answer = demo.client.get("/events/orders/sse", headers={"Last-Event-ID": "abc"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["path"] == "Last-Event-ID"


@pytest.mark.parametrize("path", ["/events/nope", "/events/nope/sse"])
def test_an_unknown_stream_is_a_404_problem(demo: Demo, path: str) -> None:
    answer = demo.client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert "nope" in answer.json()["detail"]


def test_sse_carries_the_legacy_insert_update_and_delete(demo: Demo) -> None:
    _all_events(demo, "orders", ORDERS)  # the first pass is done
    latest = demo.client.get("/events/orders", params={"after": 0, "limit": 400}).json()
    after = latest["next_after"]
    while latest["items"]:
        latest = demo.client.get("/events/orders", params={"after": after, "limit": 400}).json()
        after = latest["next_after"]
    with open_sse(f"{demo.url}/events/orders/sse?after={after}") as sse:
        inserted = demo.activity.insert_order().key
        sse.until(lambda es: any(e["cloudevent"]["subject"] == inserted for e in es))

        def seen(*actions: str) -> Callable[[list[dict[str, Any]]], bool]:
            wanted = {f"strangler.erp.orders.{a}" for a in actions}

            def check(events: list[dict[str, Any]]) -> bool:
                mine = {e["event"] for e in events if e["cloudevent"]["subject"] == inserted}
                return wanted <= mine

            return check

        # the update is seen before the delete is made: one poll could see both at once
        demo.activity.update_order(int(inserted))
        sse.until(seen("created", "updated"), timeout_s=60)
        demo.activity.delete_order(int(inserted))
        events = sse.until(seen("created", "updated", "deleted"), timeout_s=60)
    mine = [e for e in events if e["cloudevent"]["subject"] == inserted]
    assert [e["event"] for e in mine] == [
        f"strangler.erp.orders.{a}" for a in ("created", "updated", "deleted")
    ]
    assert mine[1]["cloudevent"]["data"]["orderNumber"] == int(inserted)
    assert mine[-1]["cloudevent"]["data"] == {"orderNumber": int(inserted)}
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and ids[0] > after and len(set(ids)) == len(ids)
    for event in events:
        assert event["event"] == event["cloudevent"]["type"]
        assert_event_matches(demo.asyncapi, "orders", event["cloudevent"])


def test_sse_resumes_after_last_event_id_and_pings(demo: Demo) -> None:
    _all_events(demo, "orders", 10)
    page = demo.client.get("/events/orders", params={"after": 0, "limit": 10}).json()
    fifth_seq = page["next_after"] - 5 if len(page["items"]) == 10 else None
    assert fifth_seq is not None
    with open_sse(
        f"{demo.url}/events/orders/sse?after=0", {"Last-Event-ID": str(fifth_seq)}
    ) as sse:
        sse.until(lambda es: len(es) >= 3)
        assert [e["cloudevent"]["id"] for e in sse.events[:3]] == [
            e["id"] for e in page["items"][5:8]
        ]
        assert int(sse.events[0]["id"]) > fifth_seq
    # a quiet stream still pings: the stock stream has no event until a write through REST
    with open_sse(f"{demo.url}/events/stock/sse") as quiet:
        import time

        deadline = time.monotonic() + 20
        for _line in quiet.lines:
            if _line.startswith(":"):
                break
            assert time.monotonic() < deadline
