"""Credentials towards the legacy side: WS-Security UsernameToken and HTTP basic."""

from __future__ import annotations

import httpx
import pytest

from strangler.demo.inventory import InventoryServer
from tests.adapters.soap.test_rest_calls import spec_for
from tests.conftest import DEMO_PASSWORD, DEMO_USER, SpecRunner

GET_STOCK = "/soap/inventory/GetStock"


def _auth(kind: str, password: str, digest: bool = False) -> str:
    extra = f", digest: {str(digest).lower()}" if kind == "wsse" else ""
    return f"    auth: {{kind: {kind}, username: {DEMO_USER}, password: '{password}'{extra}}}\n"


@pytest.mark.parametrize("digest", [False, True], ids=["text", "digest"])
def test_ws_security_username_token(
    api: SpecRunner, inventory: InventoryServer, digest: bool
) -> None:
    address = inventory.base_url + "/wsse"
    with api(spec_for(address, _auth("wsse", DEMO_PASSWORD, digest))) as url:
        response = httpx.post(url + GET_STOCK, json={"sku": "SKU-1001"})
    assert response.status_code == 200, response.text
    assert response.json()["GetStockResult"]["sku"] == "SKU-1001"


def test_ws_security_wrong_password_is_refused(api: SpecRunner, inventory: InventoryServer) -> None:
    address = inventory.base_url + "/wsse"
    with api(spec_for(address, _auth("wsse", "wrong", True))) as url:
        response = httpx.post(url + GET_STOCK, json={"sku": "SKU-1001"})
    assert response.status_code == 400
    assert "authentication" in response.json()["faultstring"].lower()


def test_ws_security_missing_token_is_refused(api: SpecRunner, inventory: InventoryServer) -> None:
    with api(spec_for(inventory.base_url + "/wsse")) as url:
        response = httpx.post(url + GET_STOCK, json={"sku": "SKU-1001"})
    assert response.status_code == 400


def test_basic_auth(api: SpecRunner, inventory: InventoryServer) -> None:
    address = inventory.base_url + "/basic"
    with api(spec_for(address, _auth("basic", DEMO_PASSWORD))) as url:
        ok = httpx.post(url + GET_STOCK, json={"sku": "SKU-1001"})
    assert ok.status_code == 200, ok.text
    with api(spec_for(address, _auth("basic", "wrong"))) as url:
        refused = httpx.post(url + GET_STOCK, json={"sku": "SKU-1001"})
    assert refused.status_code == 502
    assert "credentials" in refused.json()["detail"]
