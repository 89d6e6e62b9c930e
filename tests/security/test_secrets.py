"""Planted secrets never come back out.

The spec gets secrets from the environment: a password towards the legacy SOAP
system, a password in the audit database's URL (PostgreSQL, trust auth: taken
and ignored), a password in the Redis URL (Redis has none, so it takes any) and
a token in the JWKS URL's query. Clients send API keys and JWTs. Then the app is
asked everything, right and wrong. Every answer (body and headers), the OpenAPI
and AsyncAPI documents, readiness, metrics, every log record, everything written
to stdout and stderr, and the audit rows are searched for each secret: none may
appear.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from strangler.demo.estate import Estate
from strangler.rest.app import create_app
from tests.rest.conftest import serving
from tests.security.conftest import (
    AUDIENCE,
    ISSUER,
    KEYS_SECTION,
    PLANTED,
    JwksServer,
    Keys,
    Signer,
    secured_spec,
)
from tests.servers import postgres_database

JWKS_TOKEN = "Pl4nted-jwks-" + uuid.uuid4().hex
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture
def audit_database() -> Iterator[str]:
    with postgres_database("audit") as url:
        yield url.rsplit("/", 1)[1]


def test_planted_secrets_never_leak(
    estate: Estate,
    api_keys: Keys,
    jwks: JwksServer,
    signers: dict[str, Signer],
    audit_database: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    jwks.keys = [signers[n].jwk() for n in ("rsa", "ec", "ed")]
    section = (
        KEYS_SECTION
        + f"""
  jwt:
    issuer: {ISSUER}
    audience: {AUDIENCE}
    jwks_url: "{jwks.url}?token=${{PLANTED_JWKS_TOKEN}}"
  rate_limits:
    redis: "redis://:${{PLANTED_REDIS_PASSWORD}}@127.0.0.1:6379/0"
    client: {{rate: 1000, per_s: 1}}
  audit:
    database: "postgresql+psycopg://postgres:${{PLANTED_AUDIT_PASSWORD}}@127.0.0.1:5432/{audit_database}"
"""
    )
    spec = secured_spec(estate, section, {**api_keys.env, "PLANTED_JWKS_TOKEN": JWKS_TOKEN}, True)
    token = signers["rsa"].token({"scope": "*"})
    expired = signers["rsa"].token({"exp": 1, "iat": 0})
    secrets = {
        **PLANTED,
        "PLANTED_JWKS_TOKEN": JWKS_TOKEN,
        **{f"key {n}": k for n, k in api_keys.clear.items()},
        **{f"hash {n}": h.split(":")[-1] for n, h in api_keys.env.items()},
        "token": token.split(".")[2],
        "expired token": expired.split(".")[2],
    }
    seen: list[str] = []
    with (
        serving(create_app(spec, cache_dir=tmp_path / "cache")) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        good = {"X-API-Key": api_keys.clear["all"]}
        asks: list[tuple[str, str, dict[str, str], object]] = [
            ("GET", "/openapi.json", good, None),
            ("GET", "/asyncapi.json", good, None),
            ("GET", "/readyz", {}, None),
            ("GET", "/metrics", good, None),
            ("GET", "/docs", good, None),
            ("POST", "/soap/inventory/GetStock", good, {"sku": "SKU-1001"}),
            ("POST", "/soap/inventory/GetStock", good, {"sku": "NO-SUCH-SKU"}),
            ("POST", "/soap/inventory/AdjustStock", good, {"bad": "input"}),
            ("POST", "/xmlrpc/pricing/pricing.quote", good, {"sku": "x", "quantity": -1}),
            ("GET", "/database/erp/orders?filter=bogus", good, None),
            ("GET", "/database/erp/orders", {"Authorization": f"Bearer {token}"}, None),
            ("GET", "/database/erp/orders", {"Authorization": f"Bearer {expired}"}, None),
            ("GET", "/database/erp/orders", {"X-API-Key": api_keys.clear["all"] + "x"}, None),
            ("GET", "/database/erp/orders", {"X-API-Key": api_keys.clear["reader"]}, None),
            ("DELETE", "/database/erp/orders/1", {"X-API-Key": api_keys.clear["reader"]}, None),
            ("POST", "/database/erp/stock", good, {"sku": "LEAK-1", "warehouse": "W1"}),
            ("PUT", "/admin/routes/reorder-advice", good, {"mode": "nonsense"}),
            ("GET", "/admin/routes", good, None),
            ("GET", "/healthz", {}, None),
        ]
        for method, path, headers, body in asks:
            answer = http.request(method, path, headers=headers, json=body)
            assert answer.status_code < 500, (path, answer.text)
            seen.append(answer.text)
            seen.extend(f"{k}: {v}" for k, v in answer.headers.items())
        readiness = http.get("/readyz").json()
    assert readiness["components"]["security"]["status"] == "ok"
    engine = sa.create_engine(f"{POSTGRES}/{audit_database}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM strangler_audit")).all()
    engine.dispose()
    assert any("key:all" in str(row) for row in rows)
    seen.extend(str(row) for row in rows)
    seen.extend(record.getMessage() for record in caplog.records)
    seen.extend(str(record.exc_info) for record in caplog.records if record.exc_info)
    out, err = capfd.readouterr()
    seen.extend([out, err])
    text = "\n".join(seen)
    leaked = sorted(name for name, secret in secrets.items() if secret in text)
    assert leaked == []
