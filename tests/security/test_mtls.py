"""mTLS: strangler serves HTTPS itself, and a verified client certificate is the caller.

A real uvicorn server over TLS (client certificates optional) with the closed demo,
a real HTTPS client (httpx) with and without a client certificate. Certificates are
made here: one CA the server trusts, one it does not. Run with both HTTP parsers
uvicorn has (httptools and h11): each carries the certificate into the scope.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from strangler.demo.estate import Estate
from strangler.rest.app import create_app
from strangler.serve import server_config
from strangler.serve.protocols import ProblemH11Protocol
from strangler.spec.models import ServerTlsSpec
from tests.security.conftest import KEYS_SECTION, Keys, secured_spec, sqlite_url
from tests.security.pki import Authority, Issued
from tests.security.test_auth import assert_problem
from tests.servers import free_port, run_config


@dataclass(frozen=True)
class Pki:
    ca: Authority
    server: Issued
    reader: Issued  # matched by subject
    batch: Issued  # matched by a DNS subjectAltName
    pinned: Issued  # matched by fingerprint
    stranger: Issued  # verified, but no caller
    outsider: Issued  # from a CA the server does not trust


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("mtls-pki")
    ca = Authority(folder, "clients-ca")
    other = Authority(folder, "other-ca")
    return Pki(
        ca,
        ca.issue("server", "CN=strangler.test", ip=("127.0.0.1",)),
        ca.issue("reader", "CN=reader.client,O=Retail"),
        ca.issue("batch", "CN=nightly", dns=("batch.internal",)),
        ca.issue("pinned", "CN=pinned"),
        ca.issue("stranger", "CN=stranger"),
        other.issue("outsider", "CN=reader.client,O=Retail"),  # same subject, wrong CA
    )


@dataclass(frozen=True)
class Served:
    url: str
    audit: Path
    pki: Pki

    def client(self, cert: Issued | None = None) -> httpx.Client:
        context = ssl.create_default_context(cafile=self.pki.ca.pem)
        if cert is not None:
            context.load_cert_chain(cert.cert, cert.key)
        return httpx.Client(base_url=self.url, verify=context, timeout=30)


@pytest.fixture(scope="module", params=["httptools", "h11"])
def served(
    request: pytest.FixtureRequest,
    estate: Estate,
    api_keys: Keys,
    pki: Pki,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("mtls")
    section = (
        KEYS_SECTION
        + f"""
  certificates:
    reader: {{subject: "CN=reader.client,O=Retail", scopes: ["db:*:*:read"]}}
    batch: {{san: "dns:batch.internal", scopes: ["db:erp:stock:*"]}}
    pinned: {{sha256: "{pki.pinned.sha256}", scopes: ["db:erp:customers:read"]}}
  audit:
    database: {sqlite_url(folder, "audit.sqlite")}
"""
    )
    spec = secured_spec(estate, section, api_keys.env)
    tls = ServerTlsSpec(
        certfile=str(pki.server.cert),
        keyfile=str(pki.server.key),
        client_ca=str(pki.ca.pem),
        client_certs="optional",
    )
    app = create_app(spec, cache_dir=folder / "cache")
    config = server_config(app, host="127.0.0.1", port=free_port(), tls=tls)
    if request.param == "h11":
        config.http = ProblemH11Protocol
    with run_config(config) as url:
        yield Served(url.replace("http://", "https://"), folder / "audit.sqlite", pki)


def test_a_certificate_matched_by_subject_is_the_caller_with_its_scopes(served: Served) -> None:
    with served.client(served.pki.reader) as http:
        assert http.get("/database/erp/orders").status_code == 200
        write = http.post("/database/erp/orders", json={})
        body = assert_problem(write, 403, "forbidden")
        assert body["required_scope"] == "db:erp:orders:insert"
        assert "cert:reader" in body["detail"]


def test_certificates_matched_by_san_and_by_fingerprint(served: Served) -> None:
    with served.client(served.pki.batch) as http:
        assert http.get("/database/erp/stock").status_code == 200
        assert http.get("/database/erp/orders").status_code == 403  # not its scope
    with served.client(served.pki.pinned) as http:
        assert http.get("/database/erp/customers").status_code == 200
        assert http.get("/database/erp/stock").status_code == 403


def test_without_a_certificate_credentials_are_needed(served: Served, api_keys: Keys) -> None:
    with served.client() as http:
        assert_problem(http.get("/database/erp/orders"), 401, "unauthenticated")
        assert http.get("/healthz").status_code == 200
        answer = http.get("/database/erp/orders", headers={"X-API-Key": api_keys.clear["reader"]})
        assert answer.status_code == 200


def test_a_verified_certificate_that_names_no_caller_is_refused(served: Served) -> None:
    with served.client(served.pki.stranger) as http:
        body = assert_problem(http.get("/database/erp/orders"), 403, "forbidden")
        assert "CN=stranger" in body["detail"]
        assert body["required_scope"] == "db:erp:orders:read"


def test_an_api_key_beside_a_certificate_is_the_caller(served: Served, api_keys: Keys) -> None:
    with served.client(served.pki.stranger) as http:
        answer = http.get("/database/erp/orders", headers={"X-API-Key": api_keys.clear["reader"]})
        assert answer.status_code == 200
        wrong = http.get("/database/erp/orders", headers={"X-API-Key": "sk_not-a-key"})
        assert_problem(wrong, 401, "unauthenticated")  # no fall back to the certificate


def test_a_certificate_of_another_ca_is_refused_in_the_handshake(served: Served) -> None:
    with served.client(served.pki.outsider) as http, pytest.raises(httpx.TransportError):
        http.get("/healthz")


def test_writes_by_a_certificate_are_audited_with_its_actor(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="strangler.audit")
    sku = f"MTLS-{secrets.token_hex(3)}"
    row = {"sku": sku, "warehouse": "W9", "onHand": 3, "reorderPoint": 1}
    with served.client(served.pki.batch) as http:
        made = http.post("/database/erp/stock", json=row)
    assert made.status_code in (200, 201), made.text
    expected = ("write", "cert:batch", "POST", "/database/erp/stock", "db:erp:stock:insert")
    engine = sa.create_engine(f"sqlite:///{served.audit}")
    deadline = time.monotonic() + 20
    rows: list[dict[str, Any]] = []
    try:
        while time.monotonic() < deadline:  # rows are written after the answer
            with engine.connect() as connection:
                query = sa.text("SELECT * FROM strangler_audit ORDER BY id")
                rows = [dict(r._mapping) for r in connection.execute(query)]
            if any(
                (r["action"], r["actor"], r["method"], r["path"], r["scope"]) == expected
                for r in rows
            ):
                break
            time.sleep(0.05)
    finally:
        engine.dispose()
    assert any(
        (r["action"], r["actor"], r["method"], r["path"], r["scope"]) == expected for r in rows
    ), rows
    loaded = [r for r in rows if r["action"] == "security.loaded"]
    assert loaded and "certificates=batch,pinned,reader" in loaded[0]["detail"]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "strangler.audit"]
    assert any(line["actor"] == "cert:batch" for line in lines)


def test_the_openapi_document_declares_mutual_tls(served: Served, api_keys: Keys) -> None:
    with served.client(served.pki.reader) as http:
        document = http.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["MutualTLS"]["type"] == "mutualTLS"
    operation = document["paths"]["/database/erp/orders"]["get"]
    assert {"MutualTLS": ["db:erp:orders:read"]} in operation["security"]
