"""Hostile input at the closed edge, over real HTTP as ``strangler serve`` serves it.

Each case is refused with its own status and a problem+json answer naming what was
wrong; none is a 5xx. Refused credentials (malformed, oversized, odd schemes) are
401; with a valid key, oversized and deeply nested bodies, broken encodings and SQL
injection in filters, sort keys, field lists and cursors are refused before anything
reaches a legacy system.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from strangler.demo.estate import Estate
from strangler.rest.app import create_app
from strangler.rest.problems import MEDIA_TYPE
from tests.rest.conftest import serving
from tests.security.conftest import AUDIENCE, ISSUER, KEYS_SECTION, JwksServer, Keys, secured_spec

ORDERS = "/database/erp/orders"
TALLY: Counter[str] = Counter()
"""Hostile inputs tried and 5xx answers seen (for docs/security.md)."""

MALFORMED_CREDENTIALS: list[dict[str, str | bytes]] = [
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer a.b.c"},
    {"Authorization": "Bearer " + "A" * 6000},
    {"Authorization": "Bearer e30.e30.e30"},  # {}.{}.{}
    {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig"},  # no kid
    {"Authorization": "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.sig"},  # kid: [1]
    {"Authorization": "bearer \u00e9\u00e9".encode("latin-1")},
    {"Authorization": "Digest username=x"},
    {"Authorization": "ApiKey sk_x"},
    {"X-API-Key": ""},
    {"X-API-Key": "x" * 5000},
    {"X-API-Key": "' OR 1=1 --"},
]

BAD_QUERIES = [
    "orderNumber=eq.1 OR 1=1",
    "orderNumber=in.1,2);DROP TABLE ORDERS;--",
    "orderDate=eq.2024-01-01' OR '1'='1",
    "sort=orderNumber;DROP TABLE ORDERS",
    "sort=(SELECT 1)",
    "fields=orderNumber,1 AS x",
    "fields=*",
    "cursor=abc'--",
    'cursor={"s":"ORDER_NO; DROP TABLE x","k":[1]}',
    "limit=100000",
    "limit=-1",
    "nosuchfield=eq.1",
]


@pytest.fixture(scope="module")
def url(
    estate: Estate, api_keys: Keys, jwks: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("hostile")
    section = KEYS_SECTION + (
        f"  jwt: {{issuer: '{ISSUER}', audience: {AUDIENCE}, jwks_url: '{jwks.url}'}}\n"
        f"  audit: {{database: 'sqlite:///{folder / 'audit.sqlite'}'}}\n"
    )
    spec = secured_spec(estate, section, api_keys.env)
    with serving(create_app(spec, cache_dir=folder / "cache")) as served:
        yield served


def refused(answer: httpx.Response, status: int) -> dict[str, object]:
    TALLY["tried"] += 1
    TALLY["5xx"] += answer.status_code >= 500
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].split(";")[0] == MEDIA_TYPE
    body: dict[str, object] = answer.json()
    assert body["detail"]
    return body


def test_malformed_credentials_are_401(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        for headers in MALFORMED_CREDENTIALS:
            refused(http.get(ORDERS, headers=headers), 401)


def test_hostile_bodies_are_refused(url: str, api_keys: Keys) -> None:
    key = {"X-API-Key": api_keys.clear["all"]}
    json_key = {**key, "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=60) as http:
        refused(http.post(f"{ORDERS}", content=b"[" * 12_000_000, headers=json_key), 413)
        deep = refused(
            http.post(ORDERS, content=b"[" * 100_000 + b"]" * 100_000, headers=json_key), 422
        )
        assert "nested too deeply" in str(deep["detail"])
        refused(http.post(ORDERS, content=b'{"a": "\xff\xfe"}', headers=json_key), 422)
        refused(http.post(ORDERS, content=b"{not json", headers=json_key), 422)
        refused(http.post(ORDERS, json={"orderNumber": {"$ne": 1}}, headers=key), 422)
        refused(http.post("/soap/inventory/GetStock", json={"sku": ["x"] * 10}, headers=key), 422)
        huge_header = {**key, "X-Padding": "x" * 200_000}
        answer = http.get(ORDERS, headers=huge_header)
        TALLY["tried"] += 1
        TALLY["5xx"] += answer.status_code >= 500
        assert answer.status_code == 431


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_injection_in_queries_is_400(url: str, api_keys: Keys, query: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        answer = http.get(f"{ORDERS}?{query}", headers={"X-API-Key": api_keys.clear["all"]})
        refused(answer, 400)


def test_the_hostile_figures_add_up() -> None:
    """The figures of the tests of this run (each checked its own answers), for
    docs/security.md: the whole file tries every hostile input listed."""
    print(f"\nhostile inputs: {json.dumps(dict(TALLY))}")
    assert TALLY["5xx"] == 0
