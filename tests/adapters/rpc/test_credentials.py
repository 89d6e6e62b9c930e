"""A legacy URL with credentials: they work, and the password never shows."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.adapters.rpc.conftest import jsonrpc_adapter, serve, xmlrpc_adapter
from tests.adapters.rpc.xmlrpc_server import LegacyXmlRpcServer
from tests.servers import free_port

SECRET = "s3cr3t-pw"


def test_down_system_with_credentials_in_its_url_never_shows_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://app:{SECRET}@127.0.0.1:{free_port()}/rpc"
    caplog.set_level(logging.DEBUG)
    xml = xmlrpc_adapter(url, tmp_path, methods={"ping": {"params": {}}})  # introspection fails
    with serve(xml, jsonrpc_adapter(url)) as http:
        answers = [
            http.post("/xmlrpc/pricing/ping", json={}),
            http.post("/jsonrpc/shop/pricing.quote", json={"sku": "a", "qty": 1}),
        ]
        readyz = http.get("/readyz").text
    for answer in answers:
        assert answer.status_code in (502, 503)
        assert answer.headers["content-type"] == "application/problem+json"
        assert SECRET not in answer.text
        assert answer.json()["detail"].endswith("connection refused")
        assert "127.0.0.1" not in answer.json()["detail"]  # the address is for the log only
    assert SECRET not in readyz
    assert "app:***@127.0.0.1" in caplog.text
    assert "introspection failed" in caplog.text
    assert SECRET not in caplog.text
    assert not any(SECRET in path.read_text() for path in tmp_path.rglob("*") if path.is_file())


def test_introspection_sends_url_credentials_as_basic_auth(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    url = xmlrpc_legacy.url.replace("http://", f"http://app:{SECRET}@")
    adapter = xmlrpc_adapter(url, tmp_path)
    assert adapter.introspected  # urllib alone would take "app:…@127.0.0.1" for the host
    with serve(adapter) as http:
        response = http.post("/xmlrpc/pricing/pricing.quote", json={"params": ["SKU-1", 2]})
    assert response.json() == {"result": 19.98}
    cached = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert "app:***@" in cached and SECRET not in cached
