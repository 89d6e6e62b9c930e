"""Free-form XML (``xsd:any``) in a request, through the real REST app to a legacy
endpoint that records what it receives: hostile XML is a 422 naming the field and
never reaches it; well-formed elements arrive in a well-formed envelope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from strangler.adapters.soap.xml_content import parse_xml_content
from tests.adapters.soap.recording import SOAP11, Recorder, recording_server
from tests.conftest import SpecRunner

TNS = "urn:strangler:test:any"
WSDL = f"""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="{TNS}" targetNamespace="{TNS}">
  <wsdl:types>
    <xsd:schema targetNamespace="{TNS}" elementFormDefault="qualified">
      <xsd:element name="Submit"><xsd:complexType><xsd:sequence>
        <xsd:element name="ref" type="xsd:string"/>
        <xsd:any namespace="##other" processContents="lax"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="SubmitResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="accepted" type="xsd:boolean"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="SubmitIn"><wsdl:part name="p" element="tns:Submit"/></wsdl:message>
  <wsdl:message name="SubmitOut"><wsdl:part name="p" element="tns:SubmitResponse"/></wsdl:message>
  <wsdl:portType name="Documents"><wsdl:operation name="Submit">
    <wsdl:input message="tns:SubmitIn"/><wsdl:output message="tns:SubmitOut"/>
  </wsdl:operation></wsdl:portType>
  <wsdl:binding name="DocumentsSoap" type="tns:Documents">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Submit"><soap:operation soapAction="urn:submit"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="DocumentService"><wsdl:port name="DocumentsSoap" binding="tns:DocumentsSoap">
    <soap:address location="http://legacy.invalid/documents"/>
  </wsdl:port></wsdl:service>
</wsdl:definitions>
"""
ACCEPTED = f'<SubmitResponse xmlns="{TNS}"><accepted>true</accepted></SubmitResponse>'
FIELD = "_value_1"
XXE = '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'


def _utf16_units(text: str) -> str:
    """``text`` as the characters whose UTF-8 bytes a UTF-16LE reader sees as ``text``."""
    return "".join(c + "\x00" for c in text)


#: name → a fragment a REST caller might send as the xsd:any value.
HOSTILE = {
    "utf7-doctype": (
        '<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE a +AFs-+ADw-!ENTITY e SYSTEM'
        " +ACI-file:///etc/passwd+ACI-+AD4-+AF0-+AD4-+ADw-a+AD4-+ACY-e+ADs-+ADw-/a+AD4-"
    ),
    "utf7-undeclared": "+ADw-!DOCTYPE a+AD4-+ADw-a+AD4-+ADw-/a+AD4-",
    "utf16-doctype": _utf16_units(f'<?xml version="1.0" encoding="UTF-16"?>{XXE}'),
    "utf16-declared": f'<?xml version="1.0" encoding="UTF-16"?>{XXE}',
    "external-entity": XXE,
    "external-dtd": '<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
    "parameter-entity": '<!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><a/>',
    "billion-laughs": (
        '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">'
        "]><x>&d;</x>"
    ),
    "lowercase-doctype": '<!doctype a [<!entity e "x">]><a>&e;</a>',
    "undeclared-entity": "<a>&e;</a>",
    "xinclude": (
        '<a xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<xi:include href="file:///etc/passwd" parse="text"/></a>'
    ),
    "processing-instruction": "<a><?php system('id'); ?></a>",
    "stylesheet-pi": '<?xml-stylesheet type="text/xsl" href="http://127.0.0.1:9/x.xsl"?><a/>',
    "two-roots": "<a/><b/>",
    "text-only": "hello",
    "not-a-string": 42,
}


@pytest.fixture
def legacy() -> Iterator[Recorder]:
    with recording_server(ACCEPTED) as recorder:
        yield recorder


@pytest.fixture
def client(api: SpecRunner, legacy: Recorder, tmp_path: Path) -> Iterator[httpx.Client]:
    wsdl = tmp_path / "documents.wsdl"
    wsdl.write_text(WSDL, encoding="utf-8")
    spec = (
        "systems:\n  docs:\n    kind: soap\n"
        f"    wsdl: {wsdl}\n    address: {legacy.url}\n    timeout_s: 5\n"
    )
    with api(spec) as url, httpx.Client(base_url=url) as http:
        yield http


def _submit(client: httpx.Client, content: object) -> httpx.Response:
    return client.post("/soap/docs/Submit", json={"ref": "r-1", FIELD: content})


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_xml_is_a_422_naming_the_field_and_reaches_nothing(
    name: str, client: httpx.Client, legacy: Recorder
) -> None:
    response = _submit(client, HOSTILE[name])
    assert response.status_code == 422, response.text
    assert FIELD in response.text
    assert legacy.received == []


def test_well_formed_elements_reach_the_legacy_system_in_a_well_formed_envelope(
    client: httpx.Client, legacy: Recorder
) -> None:
    fragment = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<x:note xmlns:x="urn:other" lang="nb">bl\u00e5b\u00e6r &amp; <x:b>fl\u00f8te</x:b>'
        "<!-- kept --><![CDATA[<not-markup>]]></x:note>"
    )
    response = _submit(client, fragment)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": True}
    (sent,) = legacy.received
    strict = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    envelope = etree.fromstring(sent, strict)  # well-formed, or this raises
    assert envelope.getroottree().docinfo.doctype == ""
    submit = envelope.find(f"{{{SOAP11}}}Body/{{{TNS}}}Submit")
    assert submit is not None
    note = submit.find("{urn:other}note")
    assert note is not None and note.get("lang") == "nb"
    assert note.text == "bl\u00e5b\u00e6r & "
    assert note.findtext("{urn:other}b") == "fl\u00f8te"
    assert "<not-markup>" in "".join(note.itertext())


@pytest.mark.parametrize("name", [n for n in HOSTILE if n != "not-a-string"])
def test_the_guard_refuses_by_the_parsed_tree_not_the_spelling(name: str) -> None:
    with pytest.raises(ValueError):
        parse_xml_content(HOSTILE[name])
