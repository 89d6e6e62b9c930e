"""Every WSDL of the real-world corpus becomes a valid OpenAPI 3.1 document with a route
per SOAP operation (corpus and sources: tests/data/wsdl/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zeep
from openapi_spec_validator import validate
from zeep.exceptions import ExternalReferenceForbidden
from zeep.wsdl.bindings.soap import SoapBinding
from zeep.xsd import Element

from strangler.adapters.soap.facets import FacetReader
from strangler.adapters.soap.loading import open_wsdl, xml_settings
from strangler.adapters.soap.models import ModelBuilder
from strangler.adapters.soap.openapi import wsdl_to_openapi
from strangler.adapters.soap.wellknown import GuardedTransport, loading_settings
from strangler.spec.soap import SoapSystem
from tests.servers import free_port

CORPUS_DIR = Path(__file__).parents[2] / "data" / "wsdl"
CORPUS: list[dict[str, Any]] = json.loads((CORPUS_DIR / "corpus.json").read_text())


def test_corpus_covers_what_the_adapter_must_handle() -> None:
    assert len(CORPUS) >= 15
    features = {f for entry in CORPUS for f in entry["features"]}
    styles = {s for entry in CORPUS for s in entry["styles"]}
    versions = {v for entry in CORPUS for v in entry["soap_versions"]}
    assert {"1.1", "1.2"} <= versions
    assert any("rpc" in s and "encoded" in s for s in styles), styles
    assert any("rpc" in s and "literal" in s for s in styles), styles
    assert any("bare" in s for s in styles), styles
    assert any("wrapped" in s for s in styles), styles
    for needed in (
        "soap-header",
        "fault",
        "import",
        "include",
        "choice",
        "enumeration",
        "nillable",
        "attributes",
        "extension",
        "xsd-any",
        "array",
    ):
        assert any(needed in f for f in features), needed


def _operations(wsdl: Path) -> dict[tuple[str, str, str], bool]:
    """(service, port, operation) → is it SOAP, for every port, read with a plain zeep client
    (offline: well-known schemas such as SOAP-ENC come from strangler's bundle)."""
    transport = GuardedTransport(str(wsdl))
    client = zeep.Client(str(wsdl), transport=transport, settings=loading_settings(xml_settings()))
    found = {}
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            for name in port.binding._operations:
                found[(service.name, port.name, name)] = isinstance(port.binding, SoapBinding)
    return found


@pytest.mark.parametrize("entry", CORPUS, ids=[e["name"] for e in CORPUS])
def test_wsdl_becomes_valid_openapi_with_every_operation(
    entry: dict[str, Any], tmp_path: Path
) -> None:
    wsdl = CORPUS_DIR / entry["wsdl"]
    document = wsdl_to_openapi(str(wsdl), system="corpus", cache_dir=tmp_path)
    validate(document)
    assert document["openapi"].startswith("3.1")
    operations = _operations(wsdl)
    # The corpus records how many operations a plain zeep client sees, on every binding
    # (an entry with a broken portType has none: it must still give a valid document).
    assert len(operations) == entry["operations"]
    expected = [triple for triple, is_soap in operations.items() if is_soap]
    assert len(expected) == len(operations) or "http-binding" in entry["features"]
    for service, port, operation in expected:
        path = f"/soap/corpus/{service}/{port}/{operation}"
        assert "post" in document["paths"].get(path, {}), path
        post = document["paths"][path]["post"]
        assert "application/json" in post["responses"]["200"]["content"]
        assert "application/problem+json" in post["responses"]["502"]["content"]


# -- SOAP-ENC arrays and the bundled well-known schemas ----------------------------------

R2_BASE = CORPUS_DIR / "soapbuilders_r2_base_rpcenc" / "round2_base.wsdl"


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An rpc/encoded part may be null (SOAP 1.1 section 5.1): its non-null branch."""
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    assert len(branches) == 1, schema
    return branches[0]


def test_soap_enc_arrays_are_json_arrays_of_their_item_type(tmp_path: Path) -> None:
    document = wsdl_to_openapi(str(R2_BASE), system="corpus", cache_dir=tmp_path)
    schemas = document["components"]["schemas"]
    request = schemas["EchoStringArrayRequest"]
    strings = _not_null(request["properties"]["inputStringArray"])
    assert strings["type"] == "array" and strings["items"] == {"type": "string"}
    assert not request.get("required")  # every encoded part may be left out
    ints = _not_null(schemas["EchoIntegerArrayResponse"]["properties"]["outputIntegerArray"])
    assert ints["type"] == "array" and ints["items"]["type"] == "integer"
    structs = _not_null(schemas["EchoStructArrayRequest"]["properties"]["inputStructArray"])
    item = schemas[structs["items"]["$ref"].rsplit("/", 1)[-1]]
    assert set(item["properties"]) == {"varString", "varInt", "varFloat"}


def test_any_attribute_gets_no_field(tmp_path: Path) -> None:
    """SOAP-ENC's types carry xsd:anyAttribute (commonAttributes): no field, no crash."""
    client, _, _ = open_wsdl(SoapSystem(kind="soap", wsdl=str(R2_BASE)), tmp_path)
    string = client.wsdl.types.get_type("{http://schemas.xmlsoap.org/soap/encoding/}string")
    model = ModelBuilder("t", FacetReader(None)).message_model(
        "S", Element("x", string), output=False
    )
    assert set(model.model_json_schema()["properties"]) == {"_value_1", "id", "href"}


def test_soap_encoding_schema_is_bundled_and_other_remote_imports_are_refused(
    tmp_path: Path,
) -> None:
    soap_enc = "http://schemas.xmlsoap.org/soap/encoding/"
    transport = GuardedTransport(str(R2_BASE))
    assert b'targetNamespace="http://schemas.xmlsoap.org/soap/encoding/"' in transport.load(
        soap_enc
    )
    with pytest.raises(ExternalReferenceForbidden):
        transport.load(f"http://127.0.0.1:{free_port()}/types.xsd")
    remote_import = R2_BASE.read_text().replace(
        '<xsd:import namespace="http://schemas.xmlsoap.org/wsdl/" />',
        f'<xsd:import namespace="urn:x" schemaLocation="http://127.0.0.1:{free_port()}/x.xsd"/>',
    )
    wsdl = tmp_path / "remote_import.wsdl"
    wsdl.write_text(remote_import)
    with pytest.raises(ExternalReferenceForbidden):
        open_wsdl(SoapSystem(kind="soap", wsdl=str(wsdl)), tmp_path / "cache")
