"""The parsed-WSDL cache: a restart reads it, a changed file or a broken entry does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from strangler.adapters.soap.adapter import SoapAdapter
from strangler.demo.inventory import WSDL_PATH, InventoryServer
from strangler.rest.app import build_app
from strangler.spec.soap import SoapSystem
from tests.servers import run_app


def _adapter(wsdl: Path, cache: Path, address: str | None = None) -> SoapAdapter:
    return SoapAdapter(
        "inventory", SoapSystem(kind="soap", wsdl=str(wsdl), address=address), cache_dir=cache
    )


def test_second_load_comes_from_the_cache_and_still_calls(
    tmp_path: Path, inventory: InventoryServer
) -> None:
    first = _adapter(WSDL_PATH, tmp_path)
    assert not first.from_cache
    second = _adapter(WSDL_PATH, tmp_path, inventory.base_url)
    assert second.from_cache
    assert [o.operation_id for o in second.operations()] == [
        o.operation_id for o in first.operations()
    ]
    with run_app(build_app([second])) as url:
        ok = httpx.post(url + "/soap/inventory/GetStock", json={"sku": "SKU-1001"})
        fault = httpx.post(url + "/soap/inventory/GetStock", json={"sku": "NOPE"})
    assert ok.status_code == 200 and ok.json()["GetStockResult"]["sku"] == "SKU-1001"
    assert fault.status_code == 400 and fault.json()["faultdetail"]["StockFault"]["sku"] == "NOPE"


def test_changed_wsdl_is_parsed_again(tmp_path: Path) -> None:
    wsdl = tmp_path / "inventory.wsdl"
    shutil.copy(WSDL_PATH, wsdl)
    cache = tmp_path / "cache"
    assert not _adapter(wsdl, cache).from_cache
    assert _adapter(wsdl, cache).from_cache
    wsdl.write_text(wsdl.read_text().replace("GetReorderAdvice", "GetReorderHint"))
    changed = _adapter(wsdl, cache)
    assert not changed.from_cache
    assert "GetReorderHint" in {o.name for o in changed.operations()}


def test_broken_entry_is_a_miss(tmp_path: Path) -> None:
    _adapter(WSDL_PATH, tmp_path)
    for entry in tmp_path.glob("wsdl-*.pickle"):
        entry.write_bytes(b"not a pickle")
    again = _adapter(WSDL_PATH, tmp_path)
    assert not again.from_cache
    assert len(again.operations()) == 8
