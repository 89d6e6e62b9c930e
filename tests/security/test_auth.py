"""A closed demo estate over real HTTP: nothing but health answers without credentials;
API keys and JWTs (signed here with real RSA, EC and Ed25519 keys, published by a
real JWKS server) are checked; scopes decide; writes and changes are audited."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from strangler.demo.estate import Estate
from strangler.rest.app import create_app
from strangler.rest.problems import MEDIA_TYPE
from tests.rest.conftest import serving
from tests.security.conftest import (
    AUDIENCE,
    ISSUER,
    KEYS_SECTION,
    JwksServer,
    Keys,
    Signer,
    secured_spec,
    sqlite_url,
)


@pytest.fixture(scope="module")
def secured(
    estate: Estate,
    api_keys: Keys,
    jwks: JwksServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("secured")
    section = (
        KEYS_SECTION
        + f"""
  jwt:
    issuer: {ISSUER}
    audience: {AUDIENCE}
    jwks_url: {jwks.url}
    leeway_s: 30
    refetch_min_s: 0.2
  audit:
    database: {sqlite_url(folder, "audit.sqlite")}
"""
    )
    spec = secured_spec(estate, section, api_keys.env)
    with serving(create_app(spec, cache_dir=folder / "cache")) as url:
        yield url, folder / "audit.sqlite"


@pytest.fixture(scope="module")
def client(secured: tuple[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=secured[0], timeout=30) as http:
        yield http


def key(api_keys: Keys, name: str) -> dict[str, str]:
    return {"X-API-Key": api_keys.clear[name]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].split(";")[0] == MEDIA_TYPE
    body: dict[str, Any] = answer.json()
    assert body["status"] == status and body["type"] == f"urn:strangler:problem:{kind}"
    return body


def _example(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template)


# -- authentication everywhere but health -------------------------------------


def test_health_answers_without_credentials(client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)


def test_every_operation_refuses_without_credentials(client: httpx.Client, api_keys: Keys) -> None:
    document = client.get("/openapi.json", headers=key(api_keys, "reader")).json()
    tried = 0
    for template, item in document["paths"].items():
        for method in item:
            if template in ("/healthz", "/readyz"):
                continue
            answer = client.request(method.upper(), _example(template))
            body = assert_problem(answer, 401, "unauthenticated")
            assert "X-API-Key" in answer.headers["www-authenticate"]
            assert "Bearer" in answer.headers["www-authenticate"]
            assert "credentials are needed" in body["detail"]
            tried += 1
    for path in ("/openapi.json", "/docs", "/metrics", "/no/such/path"):
        assert_problem(client.get(path), 401, "unauthenticated")
        tried += 1
    print(f"\nunauthenticated probes: {tried}, all 401")
    assert tried > 90


def test_an_unknown_api_key_is_refused(client: httpx.Client) -> None:
    answer = client.get("/database/erp/orders", headers={"X-API-Key": "sk_not-a-key"})
    body = assert_problem(answer, 401, "unauthenticated")
    assert body["detail"] == "the API key is not valid"
    assert "sk_not-a-key" not in answer.text


def test_an_api_key_opens_what_its_scopes_grant(client: httpx.Client, api_keys: Keys) -> None:
    assert client.get("/database/erp/orders", headers=key(api_keys, "reader")).status_code == 200
    assert (
        client.get("/database/erp_legacy/STOCK", headers=key(api_keys, "reader")).status_code == 200
    )
    answer = client.post(
        "/soap/inventory/GetStock", json={"sku": "SKU-1001"}, headers=key(api_keys, "reader")
    )
    assert answer.status_code in (200, 400), answer.text  # the legacy system's own answer
    refused = client.post("/soap/inventory/AdjustStock", json={}, headers=key(api_keys, "reader"))
    body = assert_problem(refused, 403, "forbidden")
    assert body["required_scope"] == "soap:inventory:AdjustStock"
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    write = client.post("/database/erp/orders", json={}, headers=key(api_keys, "reader"))
    assert assert_problem(write, 403, "forbidden")["required_scope"] == "db:erp:orders:insert"


def test_admin_needs_the_admin_scope(client: httpx.Client, api_keys: Keys) -> None:
    for name in ("reader", "writer"):
        answer = client.get("/admin/routes", headers=key(api_keys, name))
        assert assert_problem(answer, 403, "forbidden")["required_scope"] == "admin"
    assert client.get("/admin/routes", headers=key(api_keys, "ops")).status_code == 200  # scrypt
    load = client.post("/v2/repository/models/reorder/load", headers=key(api_keys, "writer"))
    assert assert_problem(load, 403, "forbidden")["required_scope"] == "admin"


def test_scopes_with_path_parameters(client: httpx.Client, signers: dict[str, Signer]) -> None:
    token = signers["rsa"].token({"scope": "model:reorder:read"})
    assert client.get("/v2/models/reorder", headers=bearer(token)).status_code == 200
    other = client.get("/v2/models/other", headers=bearer(token))
    assert assert_problem(other, 403, "forbidden")["required_scope"] == "model:other:read"
    odd = client.get("/v2/models/a:b*c", headers=bearer(token))
    assert assert_problem(odd, 403, "forbidden")["required_scope"] == "model:a%3Ab%2Ac:read"


# -- bearer tokens ------------------------------------------------------------


@pytest.mark.parametrize("name", ["rsa", "ec", "ed"])
def test_tokens_signed_by_each_key_type_are_taken(
    client: httpx.Client, signers: dict[str, Signer], name: str
) -> None:
    answer = client.get("/database/erp/orders", headers=bearer(signers[name].token()))
    assert answer.status_code == 200, answer.text


def _none_token() -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 300, "scope": "*"}
    return f"{part({'alg': 'none', 'kid': 'rsa-1'})}.{part(claims)}."


def _hs256_with_public_key(signer: Signer) -> str:
    public = signer.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 300, "scope": "*"}
    header = {"alg": "HS256", "kid": signer.kid, "typ": "JWT"}
    signing = ".".join(
        base64.urlsafe_b64encode(json.dumps(x).encode()).decode().rstrip("=")
        for x in (header, claims)
    )
    import hashlib
    import hmac

    mac = hmac.new(public, signing.encode(), hashlib.sha256).digest()
    return signing + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _refused_tokens(signers: dict[str, Signer]) -> dict[str, tuple[str, str]]:
    rsa, ec = signers["rsa"], signers["ec"]
    now = int(time.time())
    return {
        "expired": (rsa.token({"exp": now - 120, "iat": now - 600}), "the token has expired"),
        "not yet valid": (rsa.token({"nbf": now + 600}), "the token is not valid yet"),
        "issued in the future": (rsa.token({"iat": now + 600, "exp": now + 900}), "not valid yet"),
        "wrong audience": (rsa.token({"aud": "someone-else"}), "not meant for this audience"),
        "wrong issuer": (rsa.token({"iss": "https://evil.test/"}), "from another issuer"),
        "no exp": (
            jwt.encode(
                {"iss": ISSUER, "aud": AUDIENCE, "sub": "x"},
                rsa.private,
                algorithm="RS256",
                headers={"kid": rsa.kid},
            ),
            "no 'exp' claim",
        ),
        "alg none": (_none_token(), "'none' are not accepted"),
        "HS256 with the public key": (_hs256_with_public_key(rsa), "'HS256' are not accepted"),
        "wrong key type": (
            jwt.encode(
                {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 300},
                ec.private,
                algorithm="ES256",
                headers={"kid": rsa.kid},
            ),
            "does not fit the type of its key",
        ),
        "another key, same kid": (signers["stranger"].token(), "signature does not verify"),
        "unknown kid": (rsa.token(kid="nobody"), "unknown key"),
        "not a JWT": ("abc.def", "not a JWT"),
    }


def test_bad_tokens_are_refused_with_the_reason(
    client: httpx.Client, signers: dict[str, Signer]
) -> None:
    for case, (token, reason) in _refused_tokens(signers).items():
        answer = client.get("/database/erp/orders", headers=bearer(token))
        body = assert_problem(answer, 401, "unauthenticated")
        assert reason in body["detail"], (case, body["detail"])
        assert 'error="invalid_token"' in answer.headers["www-authenticate"], case
        assert token not in answer.text


def test_clock_skew_within_the_leeway_is_taken(
    client: httpx.Client, signers: dict[str, Signer]
) -> None:
    now = int(time.time())
    token = signers["rsa"].token({"exp": now - 5, "nbf": now + 5, "iat": now + 5})
    assert client.get("/database/erp/orders", headers=bearer(token)).status_code == 200


def test_a_scheme_other_than_bearer_is_refused(client: httpx.Client) -> None:
    answer = client.get("/database/erp/orders", headers={"Authorization": "Basic YTpi"})
    assert "'Basic'" in assert_problem(answer, 401, "unauthenticated")["detail"]


def test_rotated_keys_are_fetched_when_a_token_names_them(
    client: httpx.Client, signers: dict[str, Signer], jwks: JwksServer
) -> None:
    rotated = signers["rotated"]
    before = jwks.fetches
    jwks.keys = [rotated.jwk(), signers["ec"].jwk(), signers["ed"].jwk()]
    deadline = time.monotonic() + 20
    answer = client.get("/database/erp/orders", headers=bearer(rotated.token()))
    while answer.status_code == 401 and time.monotonic() < deadline:  # refetches are rate-limited
        time.sleep(0.05)
        answer = client.get("/database/erp/orders", headers=bearer(rotated.token()))
    assert answer.status_code == 200, answer.text
    assert jwks.fetches > before
    # The retired key is gone once the set was fetched again.
    old = client.get("/database/erp/orders", headers=bearer(signers["rsa"].token()))
    assert "unknown key" in assert_problem(old, 401, "unauthenticated")["detail"]


# -- the OpenAPI document ------------------------------------------------------


def test_the_document_declares_schemes_and_scopes(client: httpx.Client, api_keys: Keys) -> None:
    document = client.get("/openapi.json", headers=key(api_keys, "reader")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        **schemes["ApiKey"],
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes["Bearer"]["scheme"] == "bearer"
    paths = document["paths"]
    expected = {
        ("get", "/database/erp/orders"): "db:erp:orders:read",
        ("delete", "/database/erp/orders/{key}"): "db:erp:orders:delete",
        ("post", "/soap/inventory/GetStock"): "soap:inventory:GetStock",
        ("post", "/soap/inventory/InventoryService/InventorySoap12/AdjustStock"): (
            "soap:inventory:AdjustStock"
        ),
        ("post", "/xmlrpc/pricing/pricing.quote"): "xmlrpc:pricing:pricing.quote",
        ("get", "/events/orders"): "stream:orders:read",
        ("post", "/v2/models/{name}/infer"): "model:{name}:infer",
        ("post", "/predict/{model}"): "model:{model}:predict",
        ("post", "/api/reorder-advice"): "gateway:reorder-advice",
        ("put", "/admin/routes/{route}"): "admin",
        ("post", "/features/item_features/latest"): "features:item_features:read",
    }
    for (method, path), scope in expected.items():
        operation = paths[path][method]
        assert operation["security"] == [{"ApiKey": [scope]}, {"Bearer": [scope]}], path
        assert {"401", "403"} <= set(operation["responses"]), path
    assert paths["/healthz"]["get"]["security"] == []
    assert paths["/readyz"]["get"]["security"] == []


# -- the audit trail ----------------------------------------------------------


def test_writes_and_changes_are_audited_with_the_actor(
    client: httpx.Client,
    api_keys: Keys,
    signers: dict[str, Signer],
    secured: tuple[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import sqlalchemy as sa

    caplog.set_level(logging.INFO, logger="strangler.audit")
    row = {"sku": "AUDIT-1", "warehouse": "W9", "onHand": 3, "reorderPoint": 1}
    made = client.post("/database/erp/stock", json=row, headers=key(api_keys, "writer"))
    assert made.status_code in (200, 201), made.text
    client.get("/database/erp/stock", headers=key(api_keys, "writer"))  # a read: not audited
    route = client.get("/admin/routes/reorder-advice", headers=key(api_keys, "ops")).json()
    change = client.put(
        "/admin/routes/reorder-advice",
        json={"mode": route.get("mode", "shadow"), "weight": route.get("weight", 0.1)},
        headers=key(api_keys, "ops"),
    )
    assert change.status_code < 500, change.text
    refused = client.delete("/database/erp/stock/AUDIT-1,W9", headers=key(api_keys, "reader"))
    assert refused.status_code == 403
    expected = {
        (
            "write",
            "key:writer",
            "POST",
            "/database/erp/stock",
            "db:erp:stock:insert",
            made.status_code,
        ),
        (
            "config.change",
            "key:ops",
            "PUT",
            "/admin/routes/reorder-advice",
            "admin",
            change.status_code,
        ),
        (
            "write",
            "key:reader",
            "DELETE",
            "/database/erp/stock/AUDIT-1,W9",
            "db:erp:stock:delete",
            403,
        ),
    }
    engine = sa.create_engine(f"sqlite:///{secured[1]}")
    deadline = time.monotonic() + 20
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    while not expected <= seen and time.monotonic() < deadline:  # rows are written after answers
        time.sleep(0.05)
        with engine.connect() as connection:
            query = sa.text("SELECT * FROM strangler_audit ORDER BY id")
            rows = [dict(r._mapping) for r in connection.execute(query)]
        seen = {
            (r["action"], r["actor"], r["method"], r["path"], r["scope"], r["status"]) for r in rows
        }
    engine.dispose()
    assert expected <= seen
    assert not any(r["method"] == "GET" for r in rows)
    loaded = [r for r in rows if r["action"] == "security.loaded"]
    assert loaded and "keys=all,ops,reader,writer" in loaded[0]["detail"]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "strangler.audit"]
    assert any(line["actor"] == "key:writer" and line["audit"] == "write" for line in lines)
