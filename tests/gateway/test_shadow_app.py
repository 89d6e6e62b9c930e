"""Shadow mode through the app over real HTTP: a non-safe SOAP operation, noise, a slow model."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from strangler.demo.inventory import WSDL_PATH, InventoryServer
from tests.gateway.conftest import GatewayRunner
from tests.servers import Answer, body_service, run_app

PLANTED = {"SKU-7", "SKU-19", "SKU-23"}


def json_service(answer: Callable[[dict[str, Any]], dict[str, Any]], delay_s: float = 0.0) -> Any:
    """A tiny ASGI service answering ``answer(request JSON)`` after ``delay_s``."""

    async def handle(body: bytes) -> Answer:
        if delay_s:
            await asyncio.sleep(delay_s)
        return 200, b"application/json", orjson.dumps(answer(orjson.loads(body)))

    return body_service(handle)


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s} s")
        time.sleep(0.05)
    return value


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    """A sample of the app's /metrics (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def adjust_spec(inventory: InventoryServer, modern: str, safe: list[str], route: str) -> str:
    return f"""
systems:
  inventory:
    kind: soap
    wsdl: {WSDL_PATH}
    address: {inventory.base_url}
    timeout_s: 5
    safe_operations: {safe}
routes:
  items:
    {route}:
      path: /api/adjust
      legacy: inventory.AdjustStock
      modern: {{url: "{modern}/adjust"}}
      mode: shadow
      shadow: {{noise_sample: 1.0}}
"""


def shadowed_adjustments(
    gateway: GatewayRunner, inventory: InventoryServer, safe: list[str], count: int
) -> int:
    """Send ``count`` adjustments of +1 through a shadowed route; how much the stock grew."""
    sku = "SKU-2002"
    modern = json_service(lambda body: {"AdjustStockResult": {"sku": body["sku"]}})
    route = f"adjust-{uuid.uuid4().hex[:8]}"  # the state database is the test's: a new route
    before = inventory.ledger.get(sku).quantity
    try:
        with (
            run_app(modern) as modern_url,
            gateway(adjust_spec(inventory, modern_url, safe, route)) as url,
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            for n in range(count):
                body = {"sku": sku, "delta": 1, "reason": f"shadow test {n}"}
                response = client.post("/api/adjust", json=body)
                assert response.status_code == 200, response.text
                assert response.headers["x-strangler-side"] == "legacy"
            wait_for(
                lambda: (
                    len(
                        client.get(
                            f"/admin/routes/{route}/disagreements", params={"limit": 500}
                        ).json()["items"]
                    )
                    == count
                ),
                "disagreement per request",
            )
        return inventory.ledger.get(sku).quantity - before
    finally:
        inventory.ledger.adjust(sku, before - inventory.ledger.get(sku).quantity)


def test_a_non_safe_legacy_operation_is_called_once_per_request(
    gateway: GatewayRunner, inventory: InventoryServer
) -> None:
    assert shadowed_adjustments(gateway, inventory, ["GetStock"], 15) == 15
    # the same route with AdjustStock declared safe: the noise estimate asks it again
    assert shadowed_adjustments(gateway, inventory, ["GetStock", "AdjustStock"], 15) > 15


def test_planted_disagreements_are_kept_and_noise_and_ignored_fields_are_not(
    gateway: GatewayRunner,
) -> None:
    counter = itertools.count()

    def legacy(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "sku": body["sku"],
            "reorder": True,
            "quantity": 10.0,
            "reason": "rule 4",
            "requestId": str(uuid.uuid4()),  # differs on every call
            "lines": [{"at": next(counter)}, {"at": next(counter)}],
        }

    def modern(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "sku": body["sku"],
            "reorder": body["sku"] not in PLANTED,
            "quantity": 10.0000000001,  # within the default tolerance
            "reason": "model",
            "requestId": "m",
            "lines": [{"at": -1}, {"at": -1}],
        }

    with (
        run_app(json_service(legacy)) as legacy_url,
        run_app(json_service(modern)) as modern_url,
    ):
        route = f"advice-{uuid.uuid4().hex[:8]}"  # its own metrics in this process
        spec = f"""
routes:
  items:
    {route}:
      path: /api/advice
      legacy: {{url: "{legacy_url}/advice", safe: true}}
      modern: {{url: "{modern_url}/advice"}}
      mode: shadow
      shadow: {{ignore: [/reason], noise_sample: 0.1}}
"""
        with gateway(spec) as url, httpx.Client(base_url=url, timeout=30) as client:
            skus = [f"SKU-{n}" for n in range(40)]
            for sku in skus:
                response = client.post("/api/advice", json={"sku": sku})
                assert response.status_code == 200, response.text
                assert response.json()["reason"] == "rule 4"
            wait_for(
                lambda: (
                    sum(
                        metric(
                            client, "strangler_gateway_shadow_calls_total", route=route, outcome=o
                        )
                        for o in ("agreed", "disagreed")
                    )
                    == len(skus)
                ),
                "finished shadow call per request",
            )
            page = client.get(f"/admin/routes/{route}/disagreements", params={"limit": 100}).json()
    assert set(page["noise"]) == {"/requestId", "/lines/*/at"}
    assert {item["request"]["sku"] for item in page["items"]} == PLANTED
    for item in page["items"]:
        assert [p["path"] for p in item["paths"]] == ["/reorder"]
        assert item["legacy"]["reason"] == "rule 4" and item["modern"]["reason"] == "model"


def test_a_slow_model_in_shadow_does_not_slow_the_answers(gateway: GatewayRunner) -> None:
    def answer(body: dict[str, Any]) -> dict[str, Any]:
        return {"sku": body["sku"], "reorder": True}

    def timings(client: httpx.Client, path: str, count: int) -> list[float]:
        times = []
        for n in range(count):
            start = time.perf_counter()
            response = client.post(path, json={"sku": f"SKU-{n}"})
            times.append(time.perf_counter() - start)
            assert response.status_code == 200 and response.headers["x-strangler-side"] == "legacy"
        return times

    with (
        run_app(json_service(answer)) as legacy_url,
        run_app(json_service(answer, delay_s=1.0)) as slow_url,
    ):
        route = f"shadowed-{uuid.uuid4().hex[:8]}"
        spec = f"""
routes:
  items:
    plain:
      path: /api/plain
      legacy: {{url: "{legacy_url}/advice"}}
      modern: {{url: "{slow_url}/advice", timeout_s: 30}}
      mode: legacy
    {route}:
      path: /api/shadowed
      legacy: {{url: "{legacy_url}/advice"}}
      modern: {{url: "{slow_url}/advice", timeout_s: 30}}
      mode: shadow
      shadow: {{max_inflight: 4, timeout_s: 0.3, noise_sample: 0}}
"""
        with gateway(spec) as url, httpx.Client(base_url=url, timeout=30) as client:
            timings(client, "/api/plain", 20)  # warm up both
            timings(client, "/api/shadowed", 20)
            plain = timings(client, "/api/plain", 200)
            shadowed = timings(client, "/api/shadowed", 200)
            shed = wait_for(
                lambda: metric(
                    client, "strangler_gateway_shadow_shed_total", route=route, reason="slow"
                ),
                "shadow call abandoned as slow",
            )
            busy = metric(client, "strangler_gateway_shadow_shed_total", route=route, reason="busy")
    # No answer waited for the model: each would have taken its whole second.
    assert max(shadowed) < 0.5, (max(shadowed), max(plain))
    assert shed >= 1 and busy >= 150, (shed, busy)


def xml_service(answer: Callable[[str], str]) -> Any:
    """A tiny ASGI service answering ``answer(the SKU in the request's XML)`` as text/xml."""

    async def handle(body: bytes) -> Answer:
        sku = body.decode().split("<sku>", 1)[1].split("</sku>", 1)[0]
        return 200, b"text/xml; charset=utf-8", answer(sku).encode()

    return body_service(handle)


def test_xml_answers_are_compared_as_xml(gateway: GatewayRunner) -> None:
    def legacy(sku: str) -> str:
        return (
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f'<tns:AdviceResponse xmlns:tns="urn:inventory" sku="{sku}">'
            "<!-- rules engine 4.2 --><tns:reorder>true</tns:reorder>"
            "<tns:quantity>12.0</tns:quantity>"
            f"<tns:reason>rule 4</tns:reason><tns:stamp>{uuid.uuid4()}</tns:stamp>"
            "</tns:AdviceResponse></soap:Body></soap:Envelope>"
        )

    def modern(sku: str) -> str:
        reorder = "false" if sku in PLANTED else "true"
        return (
            '<?xml version="1.0"?>\n<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">'
            f'<e:Body>\n  <AdviceResponse sku="{sku}" xmlns="urn:inventory">'
            f"<reorder>{reorder}</reorder><quantity>12</quantity><reason>model</reason>"
            "<stamp>0</stamp></AdviceResponse></e:Body></e:Envelope>"
        )

    with run_app(xml_service(legacy)) as legacy_url, run_app(xml_service(modern)) as modern_url:
        route = f"xml-{uuid.uuid4().hex[:8]}"
        spec = f"""
routes:
  items:
    {route}:
      path: /api/advice.xml
      legacy: {{url: "{legacy_url}/soap", safe: true}}
      modern: {{url: "{modern_url}/soap"}}
      mode: shadow
      shadow: {{ignore: ["//reason"], noise_sample: 0.1}}
"""
        with gateway(spec) as url, httpx.Client(base_url=url, timeout=30) as client:
            skus = [f"SKU-{n}" for n in range(30)]
            for sku in skus:
                response = client.post(
                    "/api/advice.xml",
                    content=f"<GetAdvice><sku>{sku}</sku></GetAdvice>",
                    headers={"content-type": "text/xml"},
                )
                assert response.status_code == 200, response.text
                assert b"<tns:reason>rule 4</tns:reason>" in response.content
            wait_for(
                lambda: (
                    sum(
                        metric(
                            client, "strangler_gateway_shadow_calls_total", route=route, outcome=o
                        )
                        for o in ("agreed", "disagreed")
                    )
                    == len(skus)
                ),
                "finished shadow call per request",
            )
            page = client.get(f"/admin/routes/{route}/disagreements", params={"limit": 100}).json()
    body = "/soap:Envelope/soap:Body/tns:AdviceResponse"
    assert page["noise"] == [f"{body}/tns:stamp"]
    asked = {item["request"].split("<sku>")[1].split("<")[0] for item in page["items"]}
    assert asked == PLANTED
    for item in page["items"]:
        assert item["paths"] == [
            {
                "path": f"{body}/tns:reorder",
                "change": "changed",
                "legacy": "true",
                "modern": "false",
            }
        ]
