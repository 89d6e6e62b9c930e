"""The command line, run as a user runs it: real processes, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from openapi_spec_validator import validate

from strangler.demo.estate import shim_lines
from tests.servers import free_port

STRANGLER = [sys.executable, "-m", "strangler.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STRANGLER, *args], capture_output=True, text=True, timeout=120)


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo", "serve", "validate", "wsdl2openapi"):
        assert command in result.stdout
    assert run("wsdl2openapi", "--help").returncode == 0


def test_validate_good_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("systems:\n  inv: {kind: soap, wsdl: x.wsdl}\n")
    ok = run("validate", str(good))
    assert ok.returncode == 0 and "valid" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("systems:\n  inv:\n    kind: soap\n    wsdl: x.wsdl\n    timeout_s: soon\n")
    refused = run("validate", str(bad))
    assert refused.returncode == 1
    assert f"{bad}:5: systems.inv.timeout_s" in refused.stderr.replace("\n", "")
    assert "Traceback" not in refused.stderr


def test_wsdl2openapi_writes_a_valid_document(tmp_path: Path) -> None:
    from strangler.demo.inventory import WSDL_PATH

    out = tmp_path / "openapi.json"
    result = run("wsdl2openapi", str(WSDL_PATH), "-o", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert "/soap/inventory/InventoryService/InventorySoap12/GetReorderAdvice" in document["paths"]


def test_wsdl2openapi_unreadable_wsdl_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wsdl"
    broken.write_text("<definitions")
    result = run("wsdl2openapi", str(broken))
    assert result.returncode == 1
    assert "cannot load" in result.stderr and "Traceback" not in result.stderr


def test_demo_starts_serves_and_stops() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    process = subprocess.Popen(
        [*STRANGLER, "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "demo did not start"
            time.sleep(0.2)
        response = httpx.post(base + "/soap/inventory/GetStock", json={"sku": "SKU-1001"})
        assert response.status_code == 200
        assert response.json()["quantity"] >= 0
        assert httpx.get(base + "/docs").status_code == 200
        orders = httpx.get(
            base + "/database/erp/orders?orderDate=ge.2024-06-01&sort=-total&limit=3"
        )
        assert orders.status_code == 200 and len(orders.json()["items"]) == 3
        assert min(o["orderDate"] for o in orders.json()["items"]) >= "2024-06-01"
        legacy = httpx.get(base + "/database/erp_legacy/ORDERS?TOTAL=gt.100&sort=-TOTAL&limit=3")
        assert legacy.status_code == 200 and len(legacy.json()["items"]) == 3
        quote = httpx.post(
            base + "/xmlrpc/pricing/pricing.quote",
            json={"sku": "SKU-1001", "quantity": 30, "customer_no": "K10001"},
        )
        assert quote.status_code == 200
        wsdl_line, client_line = shim_lines(base)  # both pasted as printed
        wsdl = subprocess.run(wsdl_line, shell=True, capture_output=True, text=True, timeout=30)
        assert f'location="{base}/InventoryService' in wsdl.stdout, wsdl.stdout[-500:]
        old_client = subprocess.run(
            client_line, shell=True, capture_output=True, text=True, timeout=60
        )
        assert old_client.returncode == 0, old_client.stderr[-2000:]
        assert "'reorder': True" in old_client.stdout, old_client.stdout
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGINT, 130)
    assert f"{base}/docs" in output
    assert f"dashboard:  {base}/_strangler/" in output
    assert f"strangler demo break reorder --errors 0.5 --url {base}" in output
    assert f"curl -s -X POST {base}/soap/inventory/GetStock" in output
    assert all(line in output for line in shim_lines(base))
    assert (
        f"curl -s '{base}/database/erp/orders?orderDate=ge.2024-06-01&sort=-total&limit=3'"
        in output
    )
    assert f"curl -s '{base}/database/erp_legacy/ORDERS?TOTAL=gt.100&sort=-TOTAL&limit=3'" in output


def test_demo_break_without_a_demo_is_a_clear_error() -> None:
    result = run("demo", "break", "reorder", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "is 'strangler demo' running?" in result.stderr and "Traceback" not in result.stderr


def test_serve_with_unreadable_wsdl_is_a_clear_error(tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text("systems:\n  inv: {kind: soap, wsdl: missing.wsdl}\n")
    result = run("serve", "-c", str(spec))
    assert result.returncode == 1
    assert "inv: cannot load" in result.stderr and "Traceback" not in result.stderr


def test_call_uses_the_one_lookup(tmp_path: Path) -> None:
    from strangler.demo.erp import build_erp_database, erp_url

    url = erp_url(build_erp_database(tmp_path / "erp.sqlite"))
    spec = tmp_path / "strangler.yaml"
    spec.write_text(
        f"systems:\n  erp:\n    kind: database\n    url: {url}\n    tables: {{ORDERS: {{}}}}\n"
    )
    listed = run("call", "erp.ORDERS", '{"limit": 2, "sort": ["-ORDER_NO"]}', "-c", str(spec))
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert len(page["items"]) == 2 and page["next_cursor"]
    number = page["items"][0]["ORDER_NO"]
    got = run("call", "erp.ORDERS.get", json.dumps({"ORDER_NO": number}), "-c", str(spec))
    assert got.returncode == 0 and json.loads(got.stdout)["ORDER_NO"] == number
    unknown = run("call", "erp.NOPE", "{}", "-c", str(spec))
    assert (
        unknown.returncode == 1 and "NOPE" in unknown.stderr and "Traceback" not in unknown.stderr
    )
    bad = run("call", "erp.ORDERS.get", '{"ORDER_NO": "x"}', "-c", str(spec))
    assert bad.returncode == 1 and "ORDER_NO" in bad.stderr and "Traceback" not in bad.stderr
