"""What legacy schemas bring: the audit's defect classes, each over every backend it touches.

Values that do not fit a column are the caller's mistake (4xx naming the field,
never a 502); values leave exactly as stored (no rounding, no padding, no lost
row while paging); names and keys of any spelling round-trip through URLs.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from strangler.adapters.db import DatabaseAdapter
from strangler.spec.database import DatabaseSystem
from tests.adapters.db import chinook
from tests.adapters.db.conftest import Api, Backend

PROBLEM = "application/problem+json"
BIG = 2**63
HUGE = "99999999999999999999"


def _cursor(signature: str, values: list[Any]) -> str:
    document = json.dumps({"s": signature, "k": values}).encode()
    return base64.urlsafe_b64encode(document).decode().rstrip("=")


def _paths(answer: Any) -> list[str]:
    assert answer.headers["content-type"] == PROBLEM, answer.text
    return [str(e["path"]) for e in answer.json()["errors"]]


def _walk(api: Api, table: str, params: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        answer = api.client.get(api.path(table), params=query)
        assert answer.status_code == 200, answer.text
        items.extend(answer.json()["items"])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


# 1. integers beyond the column's type


def test_integers_beyond_the_column_are_refused_naming_the_field(legacy: Api) -> None:
    table = "legacy_ranges"
    bad_queries = [
        ({"id": f"eq.{HUGE}"}, "id"),
        ({"big": f"eq.{BIG}"}, "big"),
        ({"big": f"in.1,{-BIG - 1}"}, "big"),
        ({"sort": "big", "cursor": _cursor("big,id", [BIG, 1])}, "cursor"),
        ({"sort": "small", "cursor": _cursor("small,id", [1, int(HUGE)])}, "cursor"),
    ]
    for params, field in bad_queries:
        answer = legacy.client.get(legacy.path(table), params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert field in _paths(answer)
    answer = legacy.client.get(legacy.path(table, HUGE))
    assert answer.status_code == 400 and "id" in _paths(answer)
    for body, field in [({"id": 1, "big": BIG}, "big"), ({"id": BIG}, "id")]:
        answer = legacy.client.post(legacy.path(table), json=body)
        assert answer.status_code == 422, answer.text
        assert any(field in path for path in _paths(answer))
    created = legacy.client.post(legacy.path(table), json={"id": 7, "big": BIG - 1})
    assert created.status_code == 201, created.text
    patched = legacy.client.patch(created.headers["location"], json={"big": -BIG - 1})
    assert patched.status_code == 422 and any("big" in p for p in _paths(patched))
    assert legacy.client.get(legacy.path(table), params={"big": f"eq.{BIG - 1}"}).json()[
        "items"
    ] == [{"id": 7, "small": None, "big": BIG - 1} | _unsigned(legacy)]
    assert legacy.client.delete(created.headers["location"]).status_code == 204
    schema = legacy.client.get("/openapi.json").json()["components"]["schemas"]
    row = schema["LegacyRangesRow"]["properties"]
    big = next(s for s in row["big"]["anyOf"] if s.get("type") == "integer")
    # (FastAPI's OpenAPI models hold minimum/maximum as floats: 2**63 - 1 shows as 2**63)
    assert (big["minimum"], big["maximum"]) == pytest.approx((-BIG, BIG - 1))


def _unsigned(api: Api) -> dict[str, Any]:
    return {"tiny_u": None} if api.backend.name.startswith("mariadb") else {}


@pytest.mark.needs("server")
def test_server_integer_types_have_their_widths(legacy: Api) -> None:
    """SMALLINT, INTEGER and unsigned types on the servers (SQLite stores 64 bits in any)."""
    table = "legacy_ranges"
    small = legacy.client.get(legacy.path(table), params={"small": "gt.40000"})
    assert small.status_code == 400 and "small" in _paths(small)
    body = legacy.client.post(legacy.path(table), json={"id": 1, "small": 40000})
    assert body.status_code == 422 and any("small" in p for p in _paths(body))
    schema = legacy.client.get("/openapi.json").json()["components"]["schemas"]
    insert = schema["LegacyRangesInsert"]["properties"]
    bounds = next(s for s in insert["small"]["anyOf"] if s.get("type") == "integer")
    assert (bounds["minimum"], bounds["maximum"]) == (-32768, 32767)
    name = legacy.backend.name
    if name.startswith("mariadb"):  # TINYINT UNSIGNED: 0..255
        assert legacy.client.get(
            legacy.path("legacy_ranges"), params={"tiny_u": "eq.255"}
        ).is_success
        low = legacy.client.get(legacy.path("legacy_ranges"), params={"tiny_u": "eq.-1"})
        assert low.status_code == 400 and "tiny_u" in _paths(low)
    # an INTEGER is 32 bits on the servers
    over = legacy.client.get(legacy.path("legacy_ranges"), params={"id": f"eq.{2**31}"})
    assert over.status_code == 400 and "id" in _paths(over)


@pytest.mark.needs("sqlite")
def test_sqlite_integers_hold_64_bits(legacy: Api) -> None:
    answer = legacy.client.get(legacy.path("legacy_ranges"), params={"id": f"eq.{2**40}"})
    assert answer.status_code == 200 and answer.json()["items"] == []
    answer = legacy.client.get(legacy.path("legacy_ranges"), params={"id": f"eq.{BIG}"})
    assert answer.status_code == 400 and "id" in _paths(answer)


# 2. caps on filters and sort keys, small problem bodies


def test_filter_and_sort_counts_are_capped_with_small_problems(legacy: Api) -> None:
    path = legacy.path("legacy_times")
    many = legacy.client.get(f"{path}?" + "&".join(["id=gt.0"] * 3500))
    assert many.status_code == 400, many.text[:300]  # the edge's limits.max_query_params
    assert len(many.content) < 2000 and many.json()["type"].endswith("bad-query")
    sixty = legacy.client.get(f"{path}?" + "&".join(["id=gt.0"] * 60))
    assert sixty.status_code == 400, sixty.text[:300]  # the table's max_filters
    assert len(sixty.content) < 2000 and "at most 50" in sixty.json()["detail"]
    unknown = legacy.client.get(f"{path}?" + "&".join(f"c{i}=eq.1" for i in range(2500)))
    assert unknown.status_code == 400 and len(unknown.content) < 2000
    some = legacy.client.get(f"{path}?" + "&".join(f"c{i}=eq.1" for i in range(30)))
    assert some.status_code == 400
    problem = some.json()
    assert len(problem["errors"]) == 20 and "and 10 more" in problem["detail"]
    assert problem["detail"].count("columns: id, at") == 1  # the known columns, once
    assert all("columns:" not in e["message"] for e in problem["errors"])
    fields = legacy.client.get(path, params={"fields": ",".join(f"x{i}" for i in range(500))})
    assert fields.status_code == 400 and len(fields.content) < 3000
    sort = legacy.client.get(path, params={"sort": ",".join(["id"] * 11)})
    assert sort.status_code == 400 and "sort" in _paths(sort)
    values = legacy.client.get(
        path, params=[("id", "in." + ",".join(str(i) for i in range(900)))] * 2
    )
    assert values.status_code == 400 and "1800 values" in values.json()["detail"]
    ok = legacy.client.get(f"{path}?" + "&".join(["id=gt.0"] * 50) + "&limit=1")
    assert ok.status_code == 200, ok.text


def test_filter_caps_are_spec_settings(backend: Backend) -> None:
    spec = backend.spec({"legacy_times": {}}, max_filters=2, max_sort_keys=1)
    adapter = DatabaseAdapter("capped", spec)
    try:
        assert (adapter.spec.max_filters, adapter.spec.max_sort_keys) == (2, 1)
        with pytest.raises(ValidationError):
            backend.spec({"legacy_times": {}}, max_filters=0)
    finally:
        adapter.runner.dispose()


# 3. ASCII digits only


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=٣", "limit"),
        ("offset=٣", "offset"),
        ("id=eq.٣", "id"),
        ("id=in.1,٣", "id"),
        ("at=eq.١٩٩٦-07-04T00:00:00", "at"),
        ("at=eq.1996-07-04T00:00:0٣", "at"),
    ],
)
def test_numbers_in_the_query_are_ascii_digits(legacy: Api, query: str, field: str) -> None:
    answer = legacy.client.get(f"{legacy.path('legacy_times')}?{query}")
    assert answer.status_code == 400, answer.text
    assert field in _paths(answer)


def test_keys_and_cursors_are_ascii_digits(legacy: Api) -> None:
    answer = legacy.client.get(legacy.path("legacy_times", "٣"))
    assert answer.status_code == 400 and "id" in _paths(answer)
    cursor = _cursor("id", ["٣"])
    answer = legacy.client.get(legacy.path("legacy_times"), params={"cursor": cursor})
    assert answer.status_code == 400 and "cursor" in _paths(answer)


# 4. decimals as stored


def test_decimals_are_answered_as_stored(legacy: Api, backend: Backend) -> None:
    expected = {1: "0.0000000000", 2: "0.0000001234", 3: "12.5000000000"}
    listed = legacy.client.get(legacy.path("legacy_amounts"), params={"sort": "id"})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {i["id"]: i["fine"] for i in items} == expected
    for item in items:
        assert legacy.client.get(legacy.path("legacy_amounts", str(item["id"]))).json() == item
    walked = _walk(legacy, "legacy_amounts", {"sort": "-fine", "limit": "1"})
    assert [i["id"] for i in walked] == [3, 2, 1]


@pytest.mark.needs("sqlite")
def test_sqlite_numeric_is_neither_padded_nor_rounded(legacy: Api) -> None:
    listed = legacy.client.get(legacy.path("legacy_amounts"), params={"sort": "id"})
    assert listed.status_code == 200, listed.text
    rows = {i["id"]: (i["loose"], i["priced"]) for i in listed.json()["items"]}
    # NUMERIC keeps 14.0 as the integer 14; NUMERIC(10,2) pads to its scale, never rounds
    # (SQLite's ODBC driver hands NUMERIC over as a double: 14 arrives as 14.0)
    assert rows[1] in {("14", "2.50"), ("14.0", "2.50")}
    assert {k: rows[k] for k in (2, 3)} == {2: ("32.38", "1.985"), 3: ("0.1", "7.00")}
    one = legacy.client.get(legacy.path("legacy_amounts", "2")).json()
    assert (one["loose"], one["priced"]) == ("32.38", "1.985")
    found = legacy.client.get(legacy.path("legacy_amounts"), params={"loose": "eq.32.38"})
    assert [i["id"] for i in found.json()["items"]] == [2]


# 5-7. PostgreSQL: money, domains, booleans (psycopg and psqlODBC with its defaults)

postgres = pytest.mark.needs("pg-types")


@postgres
def test_money_is_an_exact_decimal_and_filters(legacy: Api) -> None:
    listed = legacy.client.get(legacy.path("legacy_pg"), params={"sort": "id"})
    assert listed.status_code == 200, listed.text
    assert [i["price"] for i in listed.json()["items"]] == ["19.99", "0.01", "25.00"]
    assert legacy.client.get(legacy.path("legacy_pg", "A2")).json()["price"] == "0.01"
    for query, ids in [("gt.20", ["B3"]), ("eq.0.01", ["A2"]), ("le.19.99", ["A1", "A2"]),
                       ("in.19.99,25", ["A1", "B3"])]:  # fmt: skip
        answer = legacy.client.get(legacy.path("legacy_pg"), params={"price": query, "sort": "id"})
        assert answer.status_code == 200, answer.text
        assert [i["id"] for i in answer.json()["items"]] == ids, query
    walked = _walk(legacy, "legacy_pg", {"sort": "-price", "limit": "1"})
    assert [i["id"] for i in walked] == ["B3", "A1", "A2"]


@postgres
def test_domains_are_typed_by_their_base_type(legacy: Api) -> None:
    schema = legacy.client.get("/openapi.json").json()["components"]["schemas"]
    row = schema["LegacyPgRow"]["properties"]
    assert row["id"]["type"] == "string"
    qty = next(s for s in row["qty"]["anyOf"] if s.get("type") == "integer")
    assert qty["maximum"] == 32767
    found = legacy.client.get(legacy.path("legacy_pg"), params={"id": "like.A%"})
    assert [i["id"] for i in found.json()["items"]] == ["A1", "A2"]
    ordered = legacy.client.get(legacy.path("legacy_pg"), params={"sort": "-qty"})
    assert ordered.status_code == 200, ordered.text
    assert [i["qty"] for i in ordered.json()["items"]] == [7, 6, 5]
    walked = _walk(legacy, "legacy_pg", {"sort": "-id", "limit": "1"})
    assert [i["id"] for i in walked] == ["B3", "A2", "A1"]
    over = legacy.client.get(legacy.path("legacy_pg"), params={"qty": "eq.40000"})
    assert over.status_code == 400 and "qty" in _paths(over)


@postgres
def test_booleans_are_json_booleans(legacy: Api) -> None:
    listed = legacy.client.get(legacy.path("legacy_pg"), params={"sort": "id"}).json()
    assert [i["flag"] for i in listed["items"]] == [True, False, True]
    assert legacy.client.get(legacy.path("legacy_pg", "A2")).json()["flag"] is False
    for value, ids in [("true", ["A1", "B3"]), ("false", ["A2"])]:
        answer = legacy.client.get(legacy.path("legacy_pg"), params={"flag": f"eq.{value}",
                                                                    "sort": "id"})  # fmt: skip
        assert [i["id"] for i in answer.json()["items"]] == ids
    schema = legacy.client.get("/openapi.json").json()["components"]["schemas"]
    flag = schema["LegacyPgRow"]["properties"]["flag"]
    assert {"type": "boolean"} in flag["anyOf"]


@postgres
def test_unconstrained_numeric_is_not_padded(legacy: Api) -> None:
    listed = legacy.client.get(legacy.path("legacy_pg"), params={"sort": "id"}).json()
    assert [i["loose"] for i in listed["items"]] == ["3", "2.5", "100"]


# 8. paging over tied timestamps, whatever their storage


@pytest.mark.parametrize("order", ["at", "-at"])
def test_paging_over_tied_timestamps_never_loses_or_repeats(legacy: Api, order: str) -> None:
    for limit in ("7", "200"):
        items = _walk(legacy, "legacy_times", {"sort": order, "limit": limit})
        ids = [i["id"] for i in items]
        assert len(ids) == len(set(ids)) == 830, limit
        stamps = [i["at"] for i in items]
        assert stamps == sorted(stamps, reverse=order.startswith("-"))
        assert stamps[0].startswith("1996-07-04T00:0")


def test_timestamp_filters_find_rows_stored_with_milliseconds(legacy: Api) -> None:
    stored = chinook.legacy_time(1)  # "1996-07-04 00:00:07.000"
    for given in (stored.replace(" ", "T"), stored.replace(" ", "T")[:19]):
        answer = legacy.client.get(legacy.path("legacy_times"), params={"at": f"eq.{given}",
                                                                       "limit": "50"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == chinook.LEGACY_TIES, given
        assert answer.json()["items"][0]["at"] == "1996-07-04T00:00:07"
    later = legacy.client.get(
        legacy.path("legacy_times"), params={"at": "gt.1996-07-04T00:01:20", "limit": "200"}
    )
    assert len(later.json()["items"]) == 2 * chinook.LEGACY_TIES  # :21 and :22


# 9. reflection stays in the connected database and schema


@pytest.mark.needs("server")
def test_reflection_stays_in_the_connected_database(backend: Backend) -> None:
    data = {"kind": "database", **backend.connection(None)}
    adapter = DatabaseAdapter("everything", DatabaseSystem.model_validate(data))
    try:
        names = {name.lower() for name in adapter.tables}
    finally:
        adapter.runner.dispose()
    assert backend.n("Invoice").lower() in names and "legacy_times" in names
    assert "other_thing" not in names  # another MariaDB database, another PostgreSQL schema
    assert not names & {"global_priv", "user", "db", "columns_priv", "pg_class"}
    here = "DATABASE()" if backend.name.startswith("mariadb") else "current_schema()"
    expected = backend.scalar(
        "SELECT COUNT(*) FROM information_schema.tables"
        f" WHERE table_type = 'BASE TABLE' AND table_schema = {here}"
    )
    assert len(names) == expected


# 10. Location: percent-encoded, and it leads back to the same row

KEYS = ["a b/c?d", "€uro", "tab\there", "bell\x07", 'quote"comma,', "100%", "#frag", ""]


def test_location_leads_back_to_the_row(legacy: Api) -> None:
    table = "Odd Keys"
    for code in KEYS:
        created = legacy.client.post(legacy.path(table), json={"code": code, "note": "n"})
        assert created.status_code == 201, (code, created.text)
        location = created.headers["location"]
        assert location.isascii() and " " not in location and "?" not in location
        assert location.startswith("/database/legacy%20estate/Odd%20Keys/")
        assert legacy.client.get(location).json() == {"code": code, "note": "n"}
        changed = legacy.client.patch(location, json={"note": "m"})
        assert changed.status_code == 200 and changed.json()["code"] == code
        assert legacy.client.delete(location).status_code == 204
        assert legacy.client.get(location).status_code == 404
    again = legacy.client.post(legacy.path(table), json={"code": "€uro", "note": "n"})
    assert again.status_code == 201  # the earlier one was deleted: no half-done write left
    assert legacy.client.delete(again.headers["location"]).status_code == 204
