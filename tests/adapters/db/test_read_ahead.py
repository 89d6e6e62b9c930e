"""Read-ahead of the next page for clients paging with a cursor.

Against every backend: a walk answers the same pages with read-ahead on and
off, every page after the second comes from read-ahead, and two pages are read
ahead of the client; a write through
the adapter between two pages is read by the next page even though that page
was read before the write. Then :class:`ReadAhead` alone, with a clock the test
moves: pages too old, dropped by a write, failed, or beyond the bounds.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from strangler.adapters.db import DatabaseAdapter
from strangler.adapters.db.read_ahead import ReadAhead
from strangler.adapters.db.rows import READ_AHEAD_PAGES
from strangler.rest.app import build_app
from tests.adapters.db.conftest import Backend
from tests.servers import run_app


def _count(system: str, outcome: str) -> float:
    labels = {"system": system, "outcome": outcome}
    return REGISTRY.get_sample_value("strangler_db_read_ahead_pages_total", labels) or 0.0


def _walk(client: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    pages, cursor = [], None
    while True:
        answer = client.get(path, params=params | ({"cursor": cursor} if cursor else {}))
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


def test_a_walk_answers_the_same_pages_read_ahead(backend: Backend) -> None:
    system = f"ahead {backend.name}"
    ahead = DatabaseAdapter(system, backend.spec(read_ahead_s=600))
    plain = DatabaseAdapter(f"plain {backend.name}", backend.spec(read_ahead_s=0))
    invoice = backend.n("Invoice")
    with run_app(build_app([ahead, plain])) as url, httpx.Client(base_url=url) as client:
        for sort in (backend.n("InvoiceId"), f"-{backend.n('Total')},{backend.n('InvoiceId')}"):
            used = _count(system, "used")
            read = _walk(client, f"/database/{system}/{invoice}", limit="37", sort=sort)
            plain_path = f"/database/plain {backend.name}/{invoice}"
            again = _walk(client, plain_path, limit="37", sort=sort)
            assert read == again
            assert sum(len(p["items"]) for p in read) == backend.scalar(
                f"SELECT count(*) FROM {backend.quote('Invoice')}"
            )
            # page 1 has no cursor, page 2 starts page 3's read, ... the last starts none
            assert _count(system, "used") - used == len(read) - 2
        assert _count(f"plain {backend.name}", "used") == 0


def _settled(adapter: DatabaseAdapter) -> None:
    """Until no page is being read ahead (each read is one short query)."""
    deadline = time.monotonic() + 30
    while adapter.rows.read_ahead.reading():
        assert time.monotonic() < deadline, "a page read ahead never finished"
        time.sleep(0.01)


def test_a_write_between_pages_is_read_by_the_next_page(backend: Backend) -> None:
    system = f"writes {backend.name}"
    adapter = DatabaseAdapter(
        system, backend.spec({"scratch_note": {"writes": True}}, read_ahead_s=600)
    )
    base = f"/database/{system}/scratch_note"
    title = f"ahead-{uuid.uuid4().hex[:12]}"
    with run_app(build_app([adapter])) as url, httpx.Client(base_url=url) as client:
        ids = []
        for i in range(9):
            made = client.post(base, json={"title": title, "amount": f"{i}.00"})
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
        try:
            query = {"title": f"eq.{title}", "limit": "3", "sort": "id"}
            first = client.get(base, params=query).json()
            second = client.get(base, params=query | {"cursor": first["next_cursor"]}).json()
            _settled(adapter)  # the third page has been read, before the write below
            stale = _count(system, "stale")
            changed = client.patch(f"{base}/{ids[7]}", json={"amount": "77.00"})
            assert changed.status_code == 200, changed.text
            third = client.get(base, params=query | {"cursor": second["next_cursor"]}).json()
            assert [row["id"] for row in third["items"]] == ids[6:9]
            assert third["items"][1]["amount"] == "77.00"
            assert _count(system, "stale") - stale == 1
        finally:
            for key in ids:
                assert client.delete(f"{base}/{key}").status_code == 204


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _reader(answer: str, calls: list[str]) -> Callable[[], Coroutine[Any, Any, str]]:
    async def read() -> str:
        calls.append(answer)
        return answer

    return read


def test_read_ahead_answers_only_fresh_unwritten_pages() -> None:
    clock, calls = _Clock(), []
    ahead: ReadAhead[str] = ReadAhead("unit fresh", max_age_s=2.0, max_running=2, clock=clock)

    async def scenario() -> None:
        ahead.start("p2", _reader("two", calls))
        assert await ahead.take("p2") == "two"
        assert await ahead.take("p2") is None  # answered once only
        ahead.start("p3", _reader("three", calls))
        await asyncio.sleep(0)
        clock.now += 2.5
        assert await ahead.take("p3") is None  # older than max_age_s
        ahead.start("p4", _reader("four", calls))
        await asyncio.sleep(0)  # let it run: it has read before the write
        ahead.written()
        assert await ahead.take("p4") is None
        assert await ahead.take("unknown") is None

    asyncio.run(scenario())
    assert calls == ["two", "three", "four"]
    assert _count("unit fresh", "used") == 1
    assert _count("unit fresh", "stale") == 2


def test_read_ahead_bounds_and_failures() -> None:
    clock = _Clock()
    ahead: ReadAhead[str] = ReadAhead(
        "unit bounds", max_age_s=2.0, max_running=1, max_pages=2, clock=clock
    )
    off: ReadAhead[str] = ReadAhead("unit off", max_age_s=0, max_running=1)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "slow"

    async def broken() -> str:
        raise RuntimeError("the database went away")

    async def scenario() -> None:
        nonlocal release
        release = asyncio.Event()
        ahead.start("a", slow)
        ahead.start("b", slow)  # one read at a time: not started
        assert ahead.reading() == 1
        assert await ahead.take("b") is None
        release.set()
        assert await ahead.take("a") == "slow"
        ahead.start("c", broken)
        assert await ahead.take("c") is None  # the request reads the page itself
        for key in ("d", "e", "f"):  # at most two kept: the oldest goes
            ahead.start(key, _reader(key, []))
            await asyncio.sleep(0)
        assert await ahead.take("d") is None
        assert await ahead.take("f") == "f"
        off.start("x", _reader("x", []))
        assert await off.take("x") is None

    asyncio.run(scenario())
    assert _count("unit bounds", "failed") == 1
    assert _count("unit bounds", "unused") == 1
    assert _count("unit bounds", "used") == 2
    assert _count("unit off", "used") == 0


def test_a_walk_is_read_two_pages_ahead(backend: Backend) -> None:
    """The second page of a walk starts reading the third, and once that is read, the
    fourth: both are held (a write drops them as stale), and nothing further."""
    system = f"two {backend.name}"
    adapter = DatabaseAdapter(system, backend.spec(read_ahead_s=600))
    track = backend.n("Track")
    with run_app(build_app([adapter])) as url, httpx.Client(base_url=url) as client:
        path = f"/database/{system}/{track}"
        query = {"limit": "100", "sort": backend.n("TrackId")}
        first = client.get(path, params=query).json()
        client.get(path, params=query | {"cursor": first["next_cursor"]})
        _settled(adapter)
        stale = _count(system, "stale")
        adapter.rows.read_ahead.written()
        assert _count(system, "stale") - stale == READ_AHEAD_PAGES == 2


def test_a_page_read_ahead_is_the_page_read_now(backend: Backend) -> None:
    """A page read ahead and the same page read on demand are the same answer, whichever
    way it is written (database JSON or the Python encoder)."""
    system = f"same {backend.name}"
    adapter = DatabaseAdapter(system, backend.spec(read_ahead_s=600))
    track = backend.n("Track")
    with run_app(build_app([adapter])) as url, httpx.Client(base_url=url) as client:
        path = f"/database/{system}/{track}"
        query = {"limit": "200", "sort": f"-{backend.n('UnitPrice')},{backend.n('TrackId')}"}
        first = client.get(path, params=query).json()
        second = client.get(path, params=query | {"cursor": first["next_cursor"]})
        _settled(adapter)
        used = _count(system, "used")
        third = client.get(path, params=query | {"cursor": second.json()["next_cursor"]})
        assert _count(system, "used") - used == 1
        adapter.rows.read_ahead.written()  # nothing read ahead: read now
        fresh = client.get(path, params=query | {"cursor": second.json()["next_cursor"]})
        assert third.content == fresh.content
        assert third.headers["content-type"] == fresh.headers["content-type"]


def test_pages_read_ahead_under_another_event_loop_are_not_used() -> None:
    """A test client runs each request in an event loop of its own, closed after it:
    a page read ahead under one is read again under the next, never awaited there."""
    ahead: ReadAhead[str] = ReadAhead("unit loops", max_age_s=60.0, max_running=2)
    gate: list[asyncio.Event] = []

    async def first() -> None:
        gate.append(asyncio.Event())

        async def never() -> str:
            await gate[0].wait()
            return "never"

        ahead.start("p", never)

    async def second() -> str | None:
        return await ahead.take("p")

    asyncio.run(first())  # the loop closes with the read pending (cancelled)
    assert asyncio.run(second()) is None
    assert _count("unit loops", "unused") == 1
    assert ahead.reading() == 0


def test_a_cancelled_read_ahead_is_read_again() -> None:
    ahead: ReadAhead[str] = ReadAhead("unit cancelled", max_age_s=60.0, max_running=2)

    async def scenario() -> str | None:
        async def slow() -> str:
            await asyncio.Event().wait()
            return "slow"

        ahead.start("p", slow)
        await asyncio.sleep(0)
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()  # as a shutdown would
        return await ahead.take("p")

    assert asyncio.run(scenario()) is None
    assert _count("unit cancelled", "failed") == 1


def test_a_pool_of_one_reads_nothing_ahead(backend: Backend) -> None:
    """Read-ahead takes at most half the pool: with one connection, requests keep it."""
    system = f"one {backend.name}"
    adapter = DatabaseAdapter(system, backend.spec(read_ahead_s=600, pool_size=1))
    invoice = backend.n("Invoice")
    with run_app(build_app([adapter])) as url, httpx.Client(base_url=url) as client:
        pages = _walk(client, f"/database/{system}/{invoice}", limit="100")
        assert len(pages) == 5
        assert adapter.rows.read_ahead.reading() == 0
    assert _count(system, "used") == 0


def test_a_page_begun_earlier_keeps_its_start_and_writes() -> None:
    """A page whose read began with another page's (the second of a pair) is as old
    as that read, and stale if a write came after it began, though it is held later."""
    clock = _Clock()
    ahead: ReadAhead[str] = ReadAhead("unit begun", max_age_s=2.0, max_running=2, clock=clock)

    async def scenario() -> None:
        began, version = clock.now, ahead.version
        clock.now += 1.5
        ahead.start("p", _reader("p", []), started=began, version=version)
        clock.now += 1.0  # 2.5 s since its read began, 1 s since it was held
        assert await ahead.take("p") is None
        began, version = clock.now, ahead.version
        ahead.written()  # a write while its read ran, before it is held
        ahead.start("q", _reader("q", []), started=began, version=version)
        assert await ahead.take("q") is None
        ahead.start("r", _reader("r", []), started=clock.now - 1.0, version=ahead.version)
        assert await ahead.take("r") == "r"

    asyncio.run(scenario())
    assert _count("unit begun", "stale") == 2
    assert _count("unit begun", "used") == 1


def _pair_adapter(backend: Backend, system: str) -> tuple[DatabaseAdapter, Any]:
    adapter = DatabaseAdapter(system, backend.spec(read_ahead_s=600))
    return adapter, adapter.tables[backend.n("Track")]


@pytest.mark.needs("json-pages")
def test_a_pair_is_two_pages_in_a_row(backend: Backend) -> None:
    """Walked in pairs, the pages are the pages read one by one (the second of each
    made right after the first); after the last page, none."""
    adapter, table = _pair_adapter(backend, f"pair {backend.name}")
    rows = adapter.rows
    after = functools.partial(rows._after, table)
    total = backend.scalar(f"SELECT count(*) FROM {backend.quote('Track')}")
    sort = f"-{backend.n('Milliseconds')},{backend.n('TrackId')}"

    async def scenario() -> int:
        query: Any = rows._query(table, [("limit", "300"), ("sort", sort)])
        seen, pairs = 0, 0
        while True:
            pair = await rows.json_pages.answer_pair(table, query, after)
            assert pair is not None
            assert pair.answer == await rows.json_pages.answer(table, query)
            second = await pair.following
            seen += len(orjson.loads(pair.answer[0])["items"])
            if pair.answer[1] is None:
                assert second is None
                return seen
            pairs += 1
            query = after(query, pair.answer[1])
            assert second is not None and second == await rows.json_pages.answer(table, query)
            seen += len(orjson.loads(second[0])["items"])
            if second[1] is None:
                assert pairs > 1
                return seen
            query = after(query, second[1])

    try:
        assert asyncio.run(scenario()) == total
    finally:
        adapter.runner.dispose()


@pytest.mark.needs("json-pages")
def test_a_pair_whose_second_page_fails_still_answers_the_first(backend: Backend) -> None:
    """An error making the second page is that page's: the first is answered, and the
    request for the second reads it itself (counted as a failed read-ahead)."""
    adapter, table = _pair_adapter(backend, f"pair fails {backend.name}")
    rows = adapter.rows
    query = rows._query(table, [("limit", "100")])

    def broken(query: Any, cursor: str) -> Any:
        raise RuntimeError("the cursor could not be read")

    async def scenario() -> None:
        pair = await rows.json_pages.answer_pair(table, query, broken)
        assert pair is not None and pair.answer == await rows.json_pages.answer(table, query)
        with pytest.raises(Exception, match="cursor could not be read"):
            await pair.following

    try:
        asyncio.run(scenario())
    finally:
        adapter.runner.dispose()


@pytest.mark.needs("sqlite-json")
def test_a_page_the_database_cannot_write_is_asked_of_it_once(backend: Backend) -> None:
    """A page read ahead that holds a value SQLite cannot write exactly (a real with
    three decimals in a NUMERIC(10,2) column) is answered by Python, whether it is
    the first or the second page of a pair; its database statement runs once, not
    again before Python's."""
    name = f"odd_{uuid.uuid4().hex[:10]}"
    table = sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("amount", sa.Numeric(10, 2)),
    )
    table.create(backend.admin)
    try:
        with backend.admin.begin() as connection:
            connection.execute(table.insert(), [{"id": i, "amount": i} for i in range(1, 31)])
            # the first of a pair read ahead (ids 11-15), and the second (ids 26-30)
            connection.execute(sa.text(f"UPDATE {name} SET amount = id + 0.345 WHERE id = 12"))
            connection.execute(sa.text(f"UPDATE {name} SET amount = id + 0.345 WHERE id = 27"))
        system = f"odd {backend.name}"
        adapter = DatabaseAdapter(system, backend.spec({name: {}}, read_ahead_s=600))
        written: Counter[Any] = Counter()
        python: Counter[Any] = Counter()

        def seen(*args: Any) -> None:
            statement, context = args[2], args[4]
            after = context.compiled_parameters[0].get("after_0")
            if "group_concat" in statement:
                written[after] += 1
            elif after is None and "amount" in statement and "12.345" not in statement:
                python[statement.count("?")] += 1  # one kind of Python page statement

        sa.event.listen(adapter.runner._reads, "before_cursor_execute", seen)
        with run_app(build_app([adapter])) as url, httpx.Client(base_url=url) as client:
            pages = _walk(client, f"/database/{system}/{name}", limit="5", sort="id")
        items = [item for page in pages for item in page["items"]]
        assert [item["id"] for item in items] == list(range(1, 31))
        assert items[11]["amount"] == "12.345"  # Python answers the stored value
        assert items[26]["amount"] == "27.345"
        # one database statement per page (the first without a cursor), each once
        assert sorted(written, key=lambda a: -1 if a is None else a) == [None, 5, 10, 15, 20, 25]
        assert set(written.values()) == {1}, written
        assert sum(python.values()) == 2  # the pages of ids 12 and 27 only
    finally:
        table.drop(backend.admin)
