"""Every WSDL of the real-world corpus becomes a valid OpenAPI 3.1 document with a route
per SOAP operation (corpus and sources: tests/data/wsdl/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zeep
from openapi_spec_validator import validate
from zeep.wsdl.bindings.soap import SoapBinding

from strangler.adapters.soap.loading import xml_settings
from strangler.adapters.soap.openapi import wsdl_to_openapi

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
    """(service, port, operation) → is it SOAP, for every port, read with a plain zeep client."""
    client = zeep.Client(str(wsdl), settings=xml_settings())
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
