"""Everything that goes wrong is a SOAP Fault of the request's version, with the problem
in its detail: an unknown operation, input the WSDL does not allow, a legacy system
that is down, a header that must be understood, a body that is no envelope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zeep
from lxml import etree

from strangler.demo.inventory import WSDL_PATH
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.servers import run_app, unused_address
from tests.shim.conftest import DemoShim

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
PROBLEM = "urn:ietf:rfc:7807"
NS = "urn:strangler:demo:inventory"
MEDIA = {SOAP11: "text/xml; charset=utf-8", SOAP12: "application/soap+xml; charset=utf-8"}


def envelope(soap: str, body: str, header: str = "") -> bytes:
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return (
        f'<s:Envelope xmlns:s="{soap}" xmlns:i="{NS}">{head}<s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def post(url: str, soap: str, data: bytes, action: str = "") -> httpx.Response:
    headers = {"content-type": MEDIA[soap]}
    if soap == SOAP11:
        headers["soapaction"] = f'"{action}"'
    return httpx.post(url, content=data, headers=headers, timeout=30)


def fault(response: httpx.Response, soap: str) -> tuple[str, str, dict[str, Any]]:
    """(code, reason, problem) of a Fault of version ``soap``; checks status and media."""
    assert response.headers["content-type"].startswith(MEDIA[soap].split(";")[0])
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{soap}}}Envelope"
    found = root.find(f"{{{soap}}}Body/{{{soap}}}Fault")
    assert found is not None, response.text
    if soap == SOAP11:
        code = found.findtext("faultcode") or ""
        reason = found.findtext("faultstring") or ""
        detail = found.find("detail")
    else:
        code = found.findtext(f"{{{soap}}}Code/{{{soap}}}Value") or ""
        reason = found.findtext(f"{{{soap}}}Reason/{{{soap}}}Text") or ""
        detail = found.find(f"{{{soap}}}Detail")
    assert detail is not None
    problem = detail.find(f"{{{PROBLEM}}}problem")
    fields = {} if problem is None else {etree.QName(c).localname: c for c in problem}
    code = code.rsplit(":", 1)[-1]
    client = code in ("Client", "Sender", "VersionMismatch", "MustUnderstand")
    assert response.status_code == (400 if soap == SOAP12 and code == "Sender" else 500) or (
        soap == SOAP12 and not client and response.status_code == 500
    )
    return code, reason, fields


def text(fields: dict[str, Any], name: str) -> str:
    return str(fields[name].text)


@pytest.fixture(scope="module")
def shim(demo_shim: DemoShim) -> str:
    return f"{demo_shim.url}/InventoryService"


@pytest.mark.parametrize("soap", [SOAP11, SOAP12])
def test_an_unknown_operation(shim: str, soap: str) -> None:
    code, reason, problem = fault(post(shim, soap, envelope(soap, "<i:Steal/>"), "Steal"), soap)
    assert code == ("Client" if soap == SOAP11 else "Sender")
    assert f"{{{NS}}}Steal" in reason
    assert text(problem, "status") == "404"
    assert text(problem, "type").endswith("not-found")


@pytest.mark.parametrize("soap", [SOAP11, SOAP12])
def test_input_the_wsdl_does_not_allow(shim: str, soap: str) -> None:
    bad_type = envelope(
        soap,
        "<i:GetReorderAdvice><i:customerId>C</i:customerId><i:sku>S</i:sku>"
        "<i:quantityOnHand>many</i:quantityOnHand><i:averageDailySales>1</i:averageDailySales>"
        "<i:leadTimeDays>1</i:leadTimeDays></i:GetReorderAdvice>",
    )
    code, reason, problem = fault(post(shim, soap, bad_type, "GetReorderAdvice"), soap)
    assert code == ("Client" if soap == SOAP11 else "Sender")
    assert "GetReorderAdvice" in reason
    assert text(problem, "status") == "422"
    missing = envelope(soap, "<i:GetStock/>")
    code, reason, problem = fault(post(shim, soap, missing, "GetStock"), soap)
    assert code in ("Client", "Sender")
    errors = problem["errors"]
    assert [e.findtext(f"{{{PROBLEM}}}path") for e in errors] == ["sku"]
    unknown = envelope(soap, "<i:GetStock><i:sku>S</i:sku><i:extra>1</i:extra></i:GetStock>")
    code, _, _ = fault(post(shim, soap, unknown, "GetStock"), soap)
    assert code in ("Client", "Sender")


@pytest.mark.parametrize("soap", [SOAP11, SOAP12])
def test_no_envelope_and_a_header_that_must_be_understood(shim: str, soap: str) -> None:
    code, _, _ = fault(post(shim, soap, b"<not-soap/>"), soap)
    assert code == "VersionMismatch"
    code, reason, _ = fault(post(shim, soap, b"<s:Envelope xmlns:s='" + soap.encode()), soap)
    assert code in ("Client", "Sender")
    assert "well-formed" in reason
    secret = '<x:Secret xmlns:x="urn:x" s:mustUnderstand="1">1</x:Secret>'
    data = envelope(soap, "<i:GetStock><i:sku>SKU-1001</i:sku></i:GetStock>", secret)
    code, _, _ = fault(post(shim, soap, data, "GetStock"), soap)
    assert code == "MustUnderstand"
    ignored = secret.replace(' s:mustUnderstand="1"', "")
    data = envelope(soap, "<i:GetStock><i:sku>SKU-1001</i:sku></i:GetStock>", ignored)
    answered = post(shim, soap, data, "GetStock")
    assert answered.status_code == 200, answered.text


def test_a_soap11_envelope_sent_as_soap12_is_refused(shim: str) -> None:
    data = envelope(SOAP11, "<i:GetStock><i:sku>SKU-1001</i:sku></i:GetStock>")
    response = httpx.post(shim, content=data, headers={"content-type": MEDIA[SOAP12]})
    code, reason, _ = fault(response, SOAP11)
    assert code == "Client"
    assert "text/xml" in reason


@pytest.fixture(scope="module")
def legacy_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = Path(tmp_path_factory.mktemp("shim-down"))
    text = (
        "systems:\n"
        "  inventory:\n"
        "    kind: soap\n"
        f"    wsdl: {WSDL_PATH}\n"
        f"    address: {unused_address()}\n"
        "    timeout_s: 2\n"
        "shim:\n"
        "  services:\n"
        "    inventory: {path: /InventoryService}\n"
    )
    spec = parse_spec(text, filename="down.yaml", base_dir=folder, env={})
    with run_app(create_app(spec, cache_dir=folder)) as url:
        yield f"{url}/InventoryService"


@pytest.mark.parametrize("port", ["InventorySoap11", "InventorySoap12"])
def test_a_legacy_system_that_is_down_is_a_server_fault(legacy_down: str, port: str) -> None:
    client = zeep.Client(f"{legacy_down}?wsdl")
    service = client.bind("InventoryService", port)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        service.GetStock(sku="SKU-1001")
    assert str(caught.value.code).endswith("Server" if port.endswith("11") else "Receiver")
    detail = caught.value.detail
    assert detail is not None
    problem = detail.find(f"{{{PROBLEM}}}problem")
    assert problem is not None
    assert problem.findtext(f"{{{PROBLEM}}}type", "").endswith("legacy-unavailable")
    assert problem.findtext(f"{{{PROBLEM}}}system") == "inventory"
