"""Mapping between the public shape and a side's, and sticky keys inside SOAP bodies."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import GatewayRunner, route_spec
from tests.gateway.test_split import set_state, within_binomial

MAPPED = """
      request:
        modern:
          fields:
            order.customer: customerId
            order.placed: {as: placedOn, date: YYYYMMDD}
            order.express: {as: express, flag: {"true": [J], "false": [N]}}
      response:
        modern:
          fields:
            side: side
            got.order.placed: {as: placedOn, date: YYYYMMDD}
            got.order.express: {as: express, flag: {"true": [J], "false": [N]}}
        legacy: {callable: "tests.gateway.conftest:tag_answer"}
"""


def test_fields_map_the_request_and_the_answer(
    gateway: GatewayRunner, services: dict[str, str]
) -> None:
    spec = route_spec(services, mode="modern").rstrip() + MAPPED
    body = {"customerId": "C-1", "placedOn": "2024-05-16", "express": True, "other": 1}
    with gateway(spec) as url, httpx.Client(base_url=url) as client:
        modern = client.post("/api/echo", json=body)
        assert modern.status_code == 200, modern.text
        assert modern.json() == {"side": "modern", "placedOn": "2024-05-16", "express": True}
        set_state(client, mode="legacy")
        legacy = client.post("/api/echo", json=body)
        assert legacy.json() == {"side": "legacy", "tagged": True}
        set_state(client, mode="modern")
        bad = client.post("/api/echo", json={**body, "placedOn": "16.05.2024"})
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.headers["x-strangler-side"] == "modern"
        assert [e["path"] for e in bad.json()["errors"]] == ["/placedOn"]


def test_the_side_receives_the_mapped_request(
    gateway: GatewayRunner, services: dict[str, str]
) -> None:
    # without a response mapping the side's own answer shows what it was sent
    spec = route_spec(services, mode="modern").rstrip() + MAPPED.split("      response:")[0]
    with gateway(spec) as url:
        body = {"customerId": "C-1", "placedOn": "2024-05-16", "express": False}
        got = httpx.post(f"{url}/api/echo", json=body).json()["got"]
    assert got == {"order": {"customer": "C-1", "placed": "20240516", "express": "N"}}


ENVELOPE = """<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
               xmlns:c="urn:example:customers">
  <soap:Body><c:GetAdvice><c:customerId>{key}</c:customerId><c:sku>S-1</c:sku></c:GetAdvice>
  </soap:Body>
</soap:Envelope>"""


def test_an_xpath_key_in_a_soap_body_stays_on_modern_as_the_weight_grows(
    gateway: GatewayRunner, services: dict[str, str]
) -> None:
    sticky = "{xpath: \"//*[local-name()='customerId']\"}"
    keys = range(200)
    xml = {"content-type": "text/xml; charset=utf-8"}
    spec = route_spec(services, weight=0.1, sticky=sticky)
    with gateway(spec) as url, httpx.Client(base_url=url) as client:
        before: set[int] = set()
        for weight in (0.1, 0.4, 0.7):
            set_state(client, weight=weight)
            answers = {
                k: client.post("/api/echo", content=ENVELOPE.format(key=k), headers=xml)
                for k in keys
            }
            now = {k for k, r in answers.items() if r.headers["x-strangler-side"] == "modern"}
            assert before <= now
            assert within_binomial(len(now), len(keys), weight)
            before = now
        echoed = answers[0].json()["got"]
        assert "<c:customerId>0</c:customerId>" in echoed  # the body went as it came
        broken = client.post("/api/echo", content="<soap:Envelope><unclosed>", headers=xml)
        assert broken.status_code == 422
        assert broken.headers["content-type"] == "application/problem+json"
