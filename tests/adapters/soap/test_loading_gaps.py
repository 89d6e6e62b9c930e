"""WSDLs real estates hold that plain zeep cannot load, loaded by the adapter, offline.

Each case (``tests/data/wsdl/gap_*``, written for these tests, see SOURCES.md) fails
with a plain zeep client and loads with the adapter, whose fixes
(:mod:`strangler.adapters.soap.zeep_api`) hold only while it loads: a plain client
in the same process still fails afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import zeep
from lxml import etree
from openapi_spec_validator import validate

from strangler.adapters.soap.adapter import SoapAdapter
from strangler.adapters.soap.loading import xml_settings
from strangler.adapters.soap.openapi import wsdl_to_openapi
from strangler.adapters.soap.wellknown import SOAP12_ENCODING, GuardedTransport, loading_settings
from strangler.spec.soap import SoapSystem
from tests.adapters.soap.recording import SOAP11, recording_server
from tests.conftest import SpecRunner

CORPUS_DIR = Path(__file__).parents[2] / "data" / "wsdl"
LEDGER = CORPUS_DIR / "gap_soap12_encoded" / "ledger.wsdl"
CRM = CORPUS_DIR / "gap_chameleon_include" / "crm.wsdl"
HR = CORPUS_DIR / "gap_chameleon_chain" / "hr.wsdl"
ORDERS = CORPUS_DIR / "gap_import_chain" / "orders.wsdl"

#: case → (entry WSDL, the (service, port, operation) it must expose).
GAPS = {
    "soap12-encoding": (LEDGER, ("Ledger", "LedgerSoap12", "Post")),
    "chameleon-include": (CRM, ("CrmService", "CrmSoap", "FindCustomer")),
    "chameleon-chain-keyerror": (HR, ("HrService", "HrSoap", "GetEmployee")),
    "porttype-two-imports-away": (ORDERS, ("OrdersService", "OrdersSoap", "PlaceOrder")),
}


def _plain_zeep(wsdl: Path) -> Any:
    """A plain zeep client, offline like the adapter (bundled schemas, no network)."""
    transport = GuardedTransport(str(wsdl))
    return zeep.Client(str(wsdl), transport=transport, settings=loading_settings(xml_settings()))


def _adapter(wsdl: Path, cache: Path) -> SoapAdapter:
    return SoapAdapter("gap", SoapSystem(kind="soap", wsdl=str(wsdl)), cache_dir=cache)


@pytest.mark.parametrize("case", GAPS)
def test_plain_zeep_cannot_load_it(case: str) -> None:
    wsdl, _ = GAPS[case]
    with pytest.raises((zeep.exceptions.Error, LookupError, AttributeError)):
        _plain_zeep(wsdl)


@pytest.mark.parametrize("case", GAPS)
def test_the_adapter_loads_it_and_plain_zeep_still_cannot(case: str, tmp_path: Path) -> None:
    wsdl, (service, port, operation) = GAPS[case]
    adapter = _adapter(wsdl, tmp_path)
    assert adapter.operation(service, port, operation).name == operation
    # From the on-disk cache too.
    assert _adapter(wsdl, tmp_path).from_cache
    # The fixes held only while the adapter loaded.
    with pytest.raises((zeep.exceptions.Error, LookupError, AttributeError)):
        _plain_zeep(wsdl)


@pytest.mark.parametrize("case", GAPS)
def test_it_becomes_valid_openapi(case: str, tmp_path: Path) -> None:
    wsdl, (service, port, operation) = GAPS[case]
    document = wsdl_to_openapi(str(wsdl), system="gap", cache_dir=tmp_path)
    validate(document)
    assert "post" in document["paths"][f"/soap/gap/{service}/{port}/{operation}"]


# -- SOAP 1.2 encoding: bundled, found by namespace, by W3C URL, or by no import at all --


@pytest.mark.parametrize(
    "import_",
    [
        f'<xsd:import namespace="{SOAP12_ENCODING}"/>',
        f'<xsd:import namespace="{SOAP12_ENCODING}" schemaLocation="{SOAP12_ENCODING}"/>',
        f'<xsd:import namespace="{SOAP12_ENCODING}"'
        ' schemaLocation="https://www.w3.org/2003/05/soap-encoding/soap-encoding.xsd"/>',
        "",
    ],
    ids=["namespace-only", "w3c-url", "other-remote-copy", "no-import"],
)
def test_soap12_encoding_loads_offline_however_it_is_referred_to(
    import_: str, tmp_path: Path
) -> None:
    text = LEDGER.read_text().replace(f'<xsd:import namespace="{SOAP12_ENCODING}"/>', import_)
    wsdl = tmp_path / "ledger.wsdl"
    wsdl.write_text(text)
    adapter = _adapter(wsdl, tmp_path / "cache")
    types = adapter.client.wsdl.types
    assert types.get_type(f"{{{SOAP12_ENCODING}}}string") is not None
    assert types.get_type(f"{{{SOAP12_ENCODING}}}arraySize") is not None
    entry = types.get_type("{urn:example:ledger}Entry")
    assert [name for name, _ in entry.elements] == ["account", "amount"]


def test_soap12_encoding_schema_is_answered_from_the_bundle() -> None:
    transport = GuardedTransport(str(LEDGER))
    schema = etree.fromstring(transport.load(SOAP12_ENCODING))
    assert schema.get("targetNamespace") == SOAP12_ENCODING


# -- sibling: a simple type restricting a list type ---------------------------------------

LIST_RESTRICTION = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="urn:example:tags" targetNamespace="urn:example:tags">
  <types>
    <xsd:schema targetNamespace="urn:example:tags" elementFormDefault="qualified">
      <xsd:simpleType name="TagList"><xsd:list itemType="xsd:int"/></xsd:simpleType>
      <xsd:simpleType name="ShortTagList">
        <xsd:restriction base="tns:TagList"><xsd:maxLength value="3"/></xsd:restriction>
      </xsd:simpleType>
      <xsd:element name="Tag"><xsd:complexType><xsd:sequence>
        <xsd:element name="tags" type="tns:ShortTagList"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="TagResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="count" type="xsd:int"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </types>
  <message name="TagIn"><part name="p" element="tns:Tag"/></message>
  <message name="TagOut"><part name="p" element="tns:TagResponse"/></message>
  <portType name="Tags"><operation name="Tag">
    <input message="tns:TagIn"/><output message="tns:TagOut"/>
  </operation></portType>
  <binding name="TagsSoap" type="tns:Tags">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Tag"><soap:operation soapAction="urn:tag"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <service name="TagService"><port name="TagsSoap" binding="tns:TagsSoap">
    <soap:address location="http://legacy.invalid/tags"/>
  </port></service>
</definitions>
"""


def test_a_restricted_list_type_keeps_its_items(tmp_path: Path) -> None:
    wsdl = tmp_path / "tags.wsdl"
    wsdl.write_text(LIST_RESTRICTION)
    plain = _plain_zeep(wsdl).wsdl.types.get_type("{urn:example:tags}ShortTagList")
    with pytest.raises(AttributeError):  # zeep took the type's own name for its item type
        plain.xmlvalue([1, 2])
    adapter = _adapter(wsdl, tmp_path / "cache")
    short = adapter.client.wsdl.types.get_type("{urn:example:tags}ShortTagList")
    assert short.xmlvalue([1, 2]) == "1 2"
    assert short.pythonvalue("4 5") == [4, 5]


# -- a chameleon's types, called: the envelope and the reply in the including namespace ----

CRM_NS = "urn:example:crm"
CUSTOMER = (
    f'<FindCustomerResponse xmlns="{CRM_NS}"><customer><name>Ada</name>'
    "<address><city>Oslo</city></address></customer></FindCustomerResponse>"
)


def test_a_chameleon_type_travels_in_the_including_namespace(
    api: SpecRunner, tmp_path: Path
) -> None:
    with recording_server(CUSTOMER) as legacy:
        spec = (
            "systems:\n  crm:\n    kind: soap\n"
            f"    wsdl: {CRM}\n    address: {legacy.url}\n    timeout_s: 5\n"
        )
        with api(spec) as url:
            response = httpx.post(f"{url}/soap/crm/FindCustomer", json={"id": "c-1"})
    assert response.status_code == 200, response.text
    assert response.json() == {"customer": {"name": "Ada", "address": {"city": "Oslo"}}}
    (sent,) = legacy.received
    body = etree.fromstring(sent).find(f"{{{SOAP11}}}Body")
    assert body is not None
    assert body[0].tag == f"{{{CRM_NS}}}FindCustomer"
    assert body[0].findtext(f"{{{CRM_NS}}}id") == "c-1"
