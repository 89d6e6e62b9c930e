"""The database adapter's contract, run over real HTTP against every backend."""

from __future__ import annotations

import base64
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from openapi_spec_validator import validate

from strangler.adapters.db import DatabaseAdapter
from strangler.platform.naming import pascal
from strangler.rest.app import build_app
from tests.adapters.db.conftest import Api, Backend
from tests.adapters.db.proxy import TcpProxy
from tests.servers import run_app

PROBLEM = "application/problem+json"
DECIMAL = re.compile(r"^-?\d+\.\d{2}$")


def _walk(api: Api, table: str, params: dict[str, str]) -> tuple[list[dict[str, object]], int]:
    """Every item of a listing, page by page through next_cursor; and the page count."""
    items: list[dict[str, object]] = []
    pages = 0
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        answer = api.client.get(api.path(table), params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100


def test_list_with_filter_sort_and_fields(api: Api, backend: Backend) -> None:
    n = backend.n
    answer = api.client.get(
        api.path("Invoice"),
        params={
            n("BillingCountry"): "eq.Germany",
            n("Total"): "gt.5",
            "sort": f"-{n('Total')}",
            "fields": f"{n('InvoiceId')},{n('Total')},{n('InvoiceDate')}",
        },
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    expected = backend.scalar(
        f"SELECT COUNT(*) FROM {backend.quote('Invoice')} WHERE {backend.quote('BillingCountry')}"
        f" = 'Germany' AND {backend.quote('Total')} > 5"
    )
    assert len(items) == expected > 0
    assert all(set(item) == {n("InvoiceId"), n("Total"), n("InvoiceDate")} for item in items)
    totals = [item[n("Total")] for item in items]
    assert all(isinstance(t, str) and DECIMAL.match(t) for t in totals)
    assert [float(t) for t in totals] == sorted((float(t) for t in totals), reverse=True)


@pytest.mark.parametrize("sort", ["-Total", "BillingState,-InvoiceDate"])
def test_cursor_walks_every_row_once(api: Api, backend: Backend, sort: str) -> None:
    order = ",".join(
        ("-" if s[0] == "-" else "") + backend.n(s.lstrip("-")) for s in sort.split(",")
    )
    items, pages = _walk(api, "Invoice", {"sort": order, "limit": "37"})
    ids = [item[backend.n("InvoiceId")] for item in items]
    count = backend.scalar(f"SELECT COUNT(*) FROM {backend.quote('Invoice')}")
    assert len(ids) == len(set(ids)) == count  # no duplicates, no gaps
    assert pages == -(-count // 37)


def test_cursor_with_a_filter_matches_count(api: Api, backend: Backend) -> None:
    n = backend.n
    params = {n("UnitPrice"): "ge.0.99", n("Quantity"): "eq.1", "sort": f"-{n('InvoiceId')}"}
    items, _ = _walk(api, "InvoiceLine", params | {"limit": "200"})
    count = backend.scalar(
        f"SELECT COUNT(*) FROM {backend.quote('InvoiceLine')} WHERE {backend.quote('UnitPrice')}"
        f" >= 0.99 AND {backend.quote('Quantity')} = 1"
    )
    assert len({item[n("InvoiceLineId")] for item in items}) == len(items) == count


def test_offset_pages_match_cursor_pages(api: Api, backend: Backend) -> None:
    n = backend.n
    base = {"sort": n("InvoiceDate"), "limit": "10", "fields": n("InvoiceId")}
    first = api.client.get(api.path("Invoice"), params=base).json()
    by_cursor = api.client.get(
        api.path("Invoice"), params=base | {"cursor": first["next_cursor"]}
    ).json()
    by_offset = api.client.get(api.path("Invoice"), params=base | {"offset": "10"}).json()
    assert by_cursor["items"] == by_offset["items"]
    assert len(by_offset["items"]) == 10


def test_other_filters(api: Api, backend: Backend) -> None:
    n, q = backend.n, backend.quote
    cases = [
        ("BillingState", "is.null", "IS NULL"),
        ("BillingState", "is.notnull", "IS NOT NULL"),
        ("BillingCountry", "in.Germany,France", "IN ('Germany', 'France')"),
        ("BillingCity", "like.B%", "LIKE 'B%'"),
        ("BillingCountry", "ne.USA", "<> 'USA'"),
        ("InvoiceId", "le.10", "<= 10"),
        ("InvoiceId", "lt.10", "< 10"),
        ("InvoiceDate", "ge.2025-01-01T00:00:00", ">= '2025-01-01'"),
        ("InvoiceDate", "eq.2021-01-01T00:00:00", "= '2021-01-01 00:00:00'"),
        ("Total", "eq.1.98", "= 1.98"),
        ("InvoiceId", "in.1,2,3,999", "IN (1, 2, 3)"),
    ]
    for column, value, where in cases:
        items, _ = _walk(api, "Invoice", {n(column): value, "limit": "200"})
        expected = backend.scalar(f"SELECT COUNT(*) FROM {q('Invoice')} WHERE {q(column)} {where}")
        assert len(items) == expected, (column, value)


def test_get_by_key_and_types(api: Api, backend: Backend) -> None:
    n = backend.n
    row = api.client.get(api.path("Invoice", "1")).json()
    assert row[n("Total")] == "1.98"  # a decimal, as a string
    assert row[n("InvoiceDate")] == "2021-01-01T00:00:00"  # ISO 8601, no zone
    assert row[n("BillingState")] is None  # NULL
    assert row[n("BillingCountry")] == "Germany"
    employee = api.client.get(api.path("Employee", "1")).json()
    assert employee[n("ReportsTo")] is None
    assert employee[n("BirthDate")].startswith("1962-02-18T00:00:00")


def test_composite_key(api: Api, backend: Backend) -> None:
    n = backend.n
    answer = api.client.get(api.path("PlaylistTrack", "1,3402"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {n("PlaylistId"): 1, n("TrackId"): 3402}
    missing = api.client.get(api.path("PlaylistTrack", "1,999999"))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM


def test_openapi_shows_table_schemas(api: Api, backend: Backend) -> None:
    document = api.client.get("/openapi.json").json()
    validate(document)
    paths = document["paths"]
    invoice = api.path("Invoice")
    assert set(paths[invoice]) == {"get"}  # read-only: no write routes
    assert set(paths[f"{invoice}/{{key}}"]) == {"get"}
    assert set(paths["/database/chinook/scratch_note"]) == {"get", "post"}
    row = document["components"]["schemas"][pascal(backend.n("Invoice"), "Row")]
    total = row["properties"][backend.n("Total")]
    assert total["format"] == "decimal" and total["type"] == "string"
    date = row["properties"][backend.n("InvoiceDate")]
    assert date["format"] == "date-time" and "no time zone" in date["description"]
    filters = {p["name"] for p in paths[invoice]["get"]["parameters"]}
    assert {backend.n("BillingCountry"), "sort", "fields", "limit", "cursor"} <= filters


def test_writes_refused_on_read_only_table(api: Api, backend: Backend) -> None:
    n = backend.n
    attempts = [
        api.client.post(api.path("Invoice"), json={n("InvoiceId"): 9999}),
        api.client.patch(api.path("Invoice", "1"), json={n("Total"): "0.01"}),
        api.client.put(api.path("Invoice", "1"), json={n("Total"): "0.01"}),
        api.client.delete(api.path("Invoice", "1")),
    ]
    for answer in attempts:
        assert answer.status_code == 405, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert "read-only" in answer.json()["detail"]
        assert answer.headers["allow"] == "GET, HEAD"  # RFC 9110: a 405 says what is allowed
    assert api.client.get(api.path("Invoice", "1")).json()[n("Total")] == "1.98"


def test_insert_update_delete_on_writable_table(api: Api, backend: Backend) -> None:
    base = "/database/chinook/scratch_note"
    payload = base64.b64encode(b"\x00\x01binary\xff").decode()
    body = {"title": "first", "amount": "12.50", "code": "ab", "payload": payload}
    created = api.client.post(base, json=body | {"noted_at": "2024-05-06T07:08:09"})
    assert created.status_code == 201, created.text
    row = created.json()
    assert row["title"] == "first" and row["amount"] == "12.50" and row["code"] == "ab"
    assert row["noted_at"] == "2024-05-06T07:08:09" and row["payload"] == payload
    location = created.headers["location"]
    assert location == f"{base}/{row['id']}"
    assert api.client.get(location).json() == row
    changed = api.client.patch(location, json={"amount": None, "title": "second"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["amount"] is None and changed.json()["title"] == "second"
    assert api.client.patch(location, json={"id": 5}).status_code == 422  # keys cannot change
    assert api.client.patch(f"{base}/999999", json={"title": "x"}).status_code == 404
    assert api.client.delete(location).status_code == 204
    assert api.client.get(location).status_code == 404
    assert api.client.delete(location).status_code == 404
    bad = api.client.post(base, json={"title": "x" * 41})  # longer than VARCHAR(40)
    assert bad.status_code == 422


def _cursor(signature: str, values: list[object]) -> str:
    """A hand-made cursor (``{Name}`` in the signature and values are backend names)."""
    return "cursor=" + json.dumps({"s": signature, "k": values})


BAD_QUERIES = [
    # (query string, the parameter the problem must name)
    ("Nope=eq.1", "Nope"),
    ("{Total}=gtx.5", "{Total}"),
    ("{BillingCountry}=Germany", "{BillingCountry}"),
    ("{Total}=gt.5 OR 1=1", "{Total}"),
    ("{InvoiceId}=in.1,2);DROP TABLE {Invoice};--", "{InvoiceId}"),
    ("{InvoiceDate}=eq.2021-01-01' OR '1'='1", "{InvoiceDate}"),
    ("{Total}=like.1%25", "{Total}"),
    ("{BillingState}=is.maybe", "{BillingState}"),
    ("sort={Total};DROP TABLE {Invoice}", "sort"),
    ("sort=(SELECT 1)", "sort"),
    ("sort={Total},{Total}", "sort"),
    ("fields={InvoiceId},1 AS x", "fields"),
    ("fields={InvoiceId},*", "fields"),
    ("cursor=abc'--", "cursor"),
    (_cursor("{InvoiceId}", ["1 OR 1=1"]), "cursor"),
    (_cursor("{InvoiceId}", [1.5]), "cursor"),
    (_cursor("{InvoiceId}; DROP TABLE x", [1]), "cursor"),
    (_cursor("-{Total},{InvoiceId}", ["1.98", 5]), "cursor"),  # made for another sort
    ("limit=100000", "limit"),
    ("limit=0", "limit"),
    ("limit=abc", "limit"),
    ("offset=-1", "offset"),
    ("offset=5&" + _cursor("{InvoiceId}", [5]), "cursor"),
]


@pytest.mark.parametrize(("query", "field"), BAD_QUERIES)
def test_bad_queries_are_400_naming_the_field(
    api: Api, backend: Backend, query: str, field: str
) -> None:
    names = {w: backend.n(w) for w in ("Total", "BillingCountry", "InvoiceId", "Invoice",
                                       "InvoiceDate", "BillingState")}  # fmt: skip
    field = field.format(**names)
    params = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "cursor" and value.startswith("{"):  # encode a hand-made cursor
            document = json.loads(value)
            document["s"] = document["s"].format(**names)
            value = base64.urlsafe_b64encode(json.dumps(document).encode()).decode()
            params.append(f"cursor={value.rstrip('=')}")
        else:
            params.append(part.format(**names))
    answer = api.client.get(f"{api.path('Invoice')}?{'&'.join(params)}")
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["type"] == "urn:strangler:problem:bad-query"
    assert field in [e["path"] for e in problem["errors"]]


@pytest.mark.parametrize(
    ("table", "key", "field"),
    [
        ("Invoice", "1 OR 1=1", "InvoiceId"),
        ("Invoice", "1;DELETE FROM Invoice", "InvoiceId"),
        ("Invoice", "1,2", "key"),
        ("PlaylistTrack", "1", "key"),
        ("PlaylistTrack", "1,x'--", "TrackId"),
    ],
)
def test_bad_keys_are_400(api: Api, backend: Backend, table: str, key: str, field: str) -> None:
    answer = api.client.get(api.path(table, key))
    assert answer.status_code == 400, answer.text
    assert backend.n(field) in [e["path"] for e in answer.json()["errors"]]
    assert backend.scalar(f"SELECT COUNT(*) FROM {backend.quote('Invoice')}") == 412


def test_text_that_looks_like_sql_is_only_a_value(api: Api, backend: Backend) -> None:
    n = backend.n
    for value in ["eq.Germany' OR '1'='1", "like.%' OR 1=1 --", "in.x',y'); DROP TABLE z;--"]:
        answer = api.client.get(api.path("Invoice"), params={n("BillingCountry"): value})
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"] == []
    assert backend.scalar(f"SELECT COUNT(*) FROM {backend.quote('Invoice')}") == 412


def test_page_size_cap(api: Api, backend: Backend) -> None:
    default = api.client.get(api.path("Track")).json()
    assert len(default["items"]) == 50 and default["next_cursor"]
    full = api.client.get(api.path("Track"), params={"limit": "200"}).json()
    assert len(full["items"]) == 200
    over = api.client.get(api.path("Track"), params={"limit": "201"})
    assert over.status_code == 400 and over.json()["errors"][0]["path"] == "limit"


@pytest.mark.needs("timeout")
def test_statement_timeout_is_504(backend: Backend) -> None:
    adapter = DatabaseAdapter(
        "slow", backend.spec({"slow_view": {"key": ["id"]}}, statement_timeout_s=0.5)
    )
    with run_app(build_app([adapter])) as url:
        started = time.monotonic()
        answer = httpx.get(f"{url}/database/slow/slow_view", timeout=30)
        elapsed = time.monotonic() - started
        assert answer.status_code == 504, answer.text
        assert answer.json()["type"] == "urn:strangler:problem:legacy-timeout"
        assert elapsed < 5
        assert httpx.get(f"{url}/readyz").json()["components"]["slow"]["status"] == "ok"


@pytest.mark.needs("procedures")
def test_stored_procedure(api: Api, backend: Backend) -> None:
    answer = api.client.post("/database/chinook/invoices_by_country", json={"country": "Germany"})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    expected = backend.scalar(
        f"SELECT COUNT(*) FROM {backend.quote('Invoice')} "
        f"WHERE {backend.quote('BillingCountry')} = 'Germany'"
    )
    assert len(rows) == expected
    assert DECIMAL.match(rows[0][backend.n("Total")])
    assert api.client.post("/database/chinook/invoices_by_country", json={}).status_code == 422


@pytest.mark.needs("server")
def test_database_down_is_503_then_recovers(backend: Backend) -> None:
    assert backend.server_port is not None
    with TcpProxy(backend.server_port) as proxy:
        spec = backend.spec(
            {backend.n("Invoice"): {}}, port=proxy.port, retry_after_s=2, pool_size=2
        )
        adapter = DatabaseAdapter("flaky", spec)
        with run_app(build_app([adapter])) as url, httpx.Client(base_url=url) as client:
            path = f"/database/flaky/{backend.n('Invoice')}/1"
            assert client.get(path).status_code == 200
            proxy.stop()
            for _ in range(2):
                down = client.get(path)
                assert down.status_code == 503, down.text
                assert down.headers["content-type"] == PROBLEM
                assert down.headers["retry-after"] == "2"
                assert str(proxy.port) not in down.text  # the address is for the log only
            assert client.get("/readyz").json()["components"]["flaky"]["status"] == "down"
            proxy.start()
            assert client.get(path).status_code == 200
            assert client.get("/readyz").json()["components"]["flaky"]["status"] == "ok"
            proxy.stop()  # down and back while idle: pooled connections are checked first
            proxy.start()
            time.sleep(1.1)
            assert client.get(path).status_code == 200


@pytest.mark.needs("server")
def test_connection_pool_is_bounded_and_reused(backend: Backend) -> None:
    assert backend.server_port is not None
    with TcpProxy(backend.server_port) as proxy:
        adapter = DatabaseAdapter("pooled", backend.spec({backend.n("Invoice"): {}},
                                                        port=proxy.port, pool_size=2))  # fmt: skip
        with run_app(build_app([adapter])) as url, httpx.Client(base_url=url) as client:
            path = f"/database/pooled/{backend.n('Invoice')}"

            def fetch(i: int) -> int:
                return client.get(path, params={"offset": str(i), "limit": "5"}).status_code

            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(fetch, range(24)))
            assert statuses == [200] * 24
            assert 1 <= proxy.accepted <= 2


@pytest.mark.needs("char-padding")
def test_char_padding_kept_when_the_spec_says_so(api: Api, backend: Backend) -> None:
    created = api.client.post("/database/chinook/scratch_note", json={"title": "pad", "code": "ab"})
    key = created.json()["id"]
    assert created.json()["code"] == "ab"  # stripped by default
    spec = backend.spec({"scratch_note": {"char_padding": "keep"}})
    with run_app(build_app([DatabaseAdapter("padded", spec)])) as url:
        row = httpx.get(f"{url}/database/padded/scratch_note/{key}").json()
    assert row["code"] == "ab   "  # CHAR(5) as the database pads it
