"""The outbox: writes through the database adapter and operation calls become events.

Table streams on a SQLite legacy file, with the state database the same file
(the event is written inside the write's transaction) or a file of its own
(appended after the commit); the snapshot shared with polling capture; an
operation stream on the demo's InventoryService (a real SOAP server).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from strangler.demo.inventory import InventoryServer
from strangler.errors import StranglerError
from strangler.events.capture import Capture
from strangler.events.outbox import same_database
from strangler.events.part import EventHub
from strangler.events.rows import data_hash
from strangler.events.store import SNAPSHOT, OutboxRow
from strangler.platform.core import Platform
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.adapters.soap.test_rest_calls import spec_for
from tests.servers import run_app


def legacy_db(folder: Path) -> str:
    """A SQLite "legacy" file with a writable table ``items``; its URL."""
    path = folder / f"legacy_{secrets.token_hex(4)}.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL, "
            "qty INTEGER, changed_at INTEGER NOT NULL DEFAULT 0)"
        )
        c.exec_driver_sql("INSERT INTO items (id, name, qty, changed_at) VALUES (1, 'bolt', 5, 1)")
    engine.dispose()
    return f"sqlite:///{path}"


def spec_text(legacy: str, state: str, stream: str = "{from: legacy.items}") -> str:
    return (
        "systems:\n"
        "  legacy:\n"
        "    kind: database\n"
        f"    url: {legacy}\n"
        "    tables: {items: {writes: true}}\n"
        "events:\n"
        f"  state: {state}\n"
        "  streams:\n"
        f"    items: {stream}\n"
    )


@contextmanager
def serve(text: str, folder: Path) -> Iterator[tuple[httpx.Client, EventHub, Platform]]:
    """The app of the spec ``text`` over HTTP: a client, the events hub, the platform."""
    spec = parse_spec(text, filename="test.yaml", base_dir=folder, env={})
    app = create_app(spec, cache_dir=folder)
    hub = app.state.platform.component("events")
    assert isinstance(hub, EventHub)
    with run_app(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http, hub, app.state.platform


def events(hub: EventHub, stream: str = "items") -> list[dict[str, Any]]:
    rows: list[OutboxRow] = hub.store.read(stream, 0, 1000)
    return [orjson.loads(r.event) for r in rows]


def snapshot(hub: EventHub, stream: str = "items") -> dict[str, str]:
    with hub.store.engine.connect() as c:
        query = sa.select(SNAPSHOT.c.row_key, SNAPSHOT.c.row_hash).where(
            SNAPSHOT.c.stream == stream
        )
        return {k: h for k, h in c.execute(query)}


def write_each_verb(http: httpx.Client, hub: EventHub) -> None:
    """POST, PATCH, DELETE: one event each, with the row as answered."""
    created = http.post("/database/legacy/items", json={"id": 2, "name": "nut", "qty": 7})
    assert created.status_code == 201, created.text
    changed = http.patch("/database/legacy/items/2", json={"qty": 8})
    assert changed.status_code == 200, changed.text
    assert http.delete("/database/legacy/items/2").status_code == 204
    got = events(hub)
    assert [e["type"] for e in got] == [
        "strangler.legacy.items.created",
        "strangler.legacy.items.updated",
        "strangler.legacy.items.deleted",
    ]
    assert [e["subject"] for e in got] == ["2", "2", "2"]
    assert got[0]["data"] == created.json()
    assert got[1]["data"] == changed.json() == {"id": 2, "name": "nut", "qty": 8, "changed_at": 0}
    assert got[2]["data"] == {"id": 2}
    assert len({e["id"] for e in got}) == 3
    assert all(e["source"] == "/strangler/legacy/items" for e in got)
    assert "2" not in snapshot(hub)  # deleted: gone from the snapshot too


def test_same_database_writes_events_in_the_write_transaction(tmp_path: Path) -> None:
    legacy = legacy_db(tmp_path)
    assert same_database(legacy, legacy)
    with serve(spec_text(legacy, legacy), tmp_path) as (http, hub, _):
        write_each_verb(http, hub)
        # the events are in the legacy file itself, beside the table
        engine = sa.create_engine(legacy)
        with engine.connect() as c:
            assert c.exec_driver_sql("SELECT count(*) FROM strangler_outbox").scalar() == 3
            # a trigger that refuses one event: the write fails and leaves nothing
            c.exec_driver_sql(
                "CREATE TRIGGER refuse AFTER INSERT ON strangler_outbox "
                "WHEN NEW.msg_key = '666' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
            c.commit()
        refused = http.post("/database/legacy/items", json={"id": 666, "name": "x", "qty": 1})
        assert refused.status_code >= 400, refused.text
        assert http.get("/database/legacy/items/666").status_code == 404  # rolled back
        assert len(events(hub)) == 3
        assert "666" not in snapshot(hub)
        # a legacy write that fails: no event either
        bad = http.post("/database/legacy/items", json={"id": 1, "name": "dup", "qty": 1})
        assert bad.status_code >= 400
        assert len(events(hub)) == 3
        engine.dispose()


def test_separate_state_database_appends_after_the_commit(tmp_path: Path) -> None:
    legacy = legacy_db(tmp_path)
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    assert not same_database(state, legacy)
    with serve(spec_text(legacy, state), tmp_path) as (http, hub, _):
        write_each_verb(http, hub)
        legacy_engine = sa.create_engine(legacy)
        with legacy_engine.connect() as c:  # nothing of the events in the legacy file
            tables = sa.inspect(c).get_table_names()
        legacy_engine.dispose()
        assert "strangler_outbox" not in tables
        # a write the legacy database refuses records nothing
        bad = http.post("/database/legacy/items", json={"id": 1, "name": "dup", "qty": 1})
        assert bad.status_code >= 400
        missing = http.patch("/database/legacy/items/404", json={"qty": 1})
        assert missing.status_code == 404
        assert http.delete("/database/legacy/items/404").status_code == 404
        assert len(events(hub)) == 3


@pytest.mark.parametrize("shared", [True, False], ids=["same-db", "separate-db"])
def test_outbox_and_capture_share_the_snapshot(tmp_path: Path, shared: bool) -> None:
    """One change, one event: whichever of the outbox and capture sees it first."""
    legacy = legacy_db(tmp_path)
    state = legacy if shared else f"sqlite:///{tmp_path / 'state.sqlite'}"
    polling = "watermark: changed_at, interval_s: 3600, deletes_every_s: 3600"
    stream = "{from: legacy.items, poll: {" + polling + "}}"
    with serve(spec_text(legacy, state, stream), tmp_path) as (http, hub, platform):
        # the app's own capture: its loop has run its first cycle and waits an hour;
        # the test runs the next cycles itself
        capture = platform.component("events.items.capture")
        assert isinstance(capture, Capture)

        def poll() -> None:
            assert asyncio.run(capture.poll_once(full=True)).held

        poll()  # capture first: the existing row
        assert [e["type"] for e in events(hub)] == ["strangler.legacy.items.created"]
        # the outbox first: capture does not emit the written row again
        created = http.post(
            "/database/legacy/items", json={"id": 3, "name": "washer", "qty": 1, "changed_at": 2}
        )
        assert created.status_code == 201, created.text
        assert snapshot(hub)["3"] == data_hash(created.json())
        poll()
        assert len(events(hub)) == 2
        # capture first again: a change made behind the adapter's back, then the same
        # version written through the adapter, gives one event
        answered = {"id": 3, "name": "washer", "qty": 9, "changed_at": 3}
        engine = sa.create_engine(legacy)
        with engine.begin() as c:
            c.exec_driver_sql("UPDATE items SET qty = 9, changed_at = 3 WHERE id = 3")
        engine.dispose()
        poll()
        assert len(events(hub)) == 3
        assert snapshot(hub)["3"] == data_hash(answered)
        same = http.patch("/database/legacy/items/3", json={"qty": 9})
        assert same.json() == answered
        assert len(events(hub)) == 3  # the snapshot already held this version
        # a snapshot row written beforehand (as capture writes it): no event for it
        expected = {"id": 1, "name": "bolt", "qty": 6, "changed_at": 1}
        with hub.store.transaction() as c:
            c.execute(
                SNAPSHOT.update()
                .where(SNAPSHOT.c.stream == "items", SNAPSHOT.c.row_key == "1")
                .values(row_hash=data_hash(expected))
            )
        assert http.patch("/database/legacy/items/1", json={"qty": 6}).json() == expected
        assert len(events(hub)) == 3
        # and a real change still is one event
        http.patch("/database/legacy/items/1", json={"qty": 7})
        poll()
        types = [e["type"].rsplit(".", 1)[1] for e in events(hub)]
        assert types == ["created", "created", "updated", "updated"]


def inventory_spec(address: str, state: str) -> str:
    return spec_for(
        address,
        "events:\n"
        f"  state: {state}\n"
        "  streams:\n"
        "    adjustments: {from: inventory.AdjustStock, key: sku}\n",
    )


def test_operation_stream_records_rest_and_in_process_calls(
    tmp_path: Path, inventory: InventoryServer
) -> None:
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    text = inventory_spec(inventory.base_url, state)
    app = create_app(parse_spec(text, filename="t.yaml", base_dir=tmp_path, env={}))
    platform: Platform = app.state.platform
    hub = platform.component("events")
    assert isinstance(hub, EventHub)
    body = {"sku": "SKU-3003", "delta": 2, "reason": "delivery"}

    async def main() -> tuple[Any, Any]:
        transport = httpx.ASGITransport(app=app)
        async with (
            platform.running(),
            httpx.AsyncClient(transport=transport, base_url="http://edge") as http,
        ):
            answer = await http.post("/soap/inventory/AdjustStock", json=body)
            assert answer.status_code == 200, answer.text
            # a read is no event, nor a call that failed (REST or in-process)
            read = await http.post("/soap/inventory/GetStock", json={"sku": "SKU-3003"})
            assert read.status_code == 200
            unknown = {"sku": "SKU-0000", "delta": 1, "reason": "x"}
            failed = await http.post("/soap/inventory/AdjustStock", json=unknown)
            assert failed.status_code >= 400
            with pytest.raises(StranglerError):
                await platform.invoke("inventory.AdjustStock", unknown)
            assert len(events(hub, "adjustments")) == 1
            # in-process, as command topics call it
            again = {"sku": "SKU-3003", "delta": -2, "reason": "r"}
            return answer.json(), await platform.invoke("inventory.AdjustStock", again)

    rest, in_process = asyncio.run(main())
    got = events(hub, "adjustments")
    assert [e["type"] for e in got] == ["strangler.inventory.AdjustStock.invoked"] * 2
    assert [e["subject"] for e in got] == ["SKU-3003", "SKU-3003"]
    assert got[0]["data"] == {"input": body, "output": rest}
    assert got[1]["data"] == {
        "input": {"sku": "SKU-3003", "delta": -2, "reason": "r"},
        "output": orjson.loads(orjson.dumps(in_process)),  # dates as JSON text
    }
    quantity = [e["data"]["output"]["AdjustStockResult"]["quantity"] for e in got]
    assert quantity[0] - 2 == quantity[1]
