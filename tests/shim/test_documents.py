"""The WSDL and its schemas as old clients fetch them from the shim: ``?wsdl`` with the
addresses pointing at the shim, every imported or included document at ``?xsd=N`` /
``?wsdl=N``, and ``?singleWsdl`` with all of it inlined; zeep reads each the same."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree

from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.servers import run_app, unused_address
from tests.shim.conftest import CORPUS_DIR, DemoShim

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
ADDRESSES = (
    "{http://schemas.xmlsoap.org/wsdl/soap/}address",
    "{http://schemas.xmlsoap.org/wsdl/soap12/}address",
)
SERVED = {  # WSDLs whose documents import, include or chain others
    "import2": "soapbuilders_r3_import2_rpcenc/round3_groupD_import2.wsdl",
    "chameleon": "gap_chameleon_include/crm.wsdl",
    "chain": "gap_chameleon_chain/hr.wsdl",
    "imports": "gap_import_chain/orders.wsdl",
    "external": "wasabi_external_schemas_include/wsdl_with_external_schemas.xml",
    "recursive": "zeep_recursive_wsdl_import/hello_world_recursive.wsdl",
    "encoded": "soapbuilders_r2_base_rpcenc/round2_base.wsdl",
}


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = Path(tmp_path_factory.mktemp("shim-documents"))
    lines = ["systems:"]
    for name, wsdl in SERVED.items():
        lines += [f"  {name}:", "    kind: soap", f"    wsdl: {CORPUS_DIR / wsdl}"]
        lines += [f"    address: {unused_address()}"]
    lines += ["shim:", "  services:"]
    lines += [f"    {name}: {{path: /docs/{name}}}" for name in SERVED]
    spec = parse_spec("\n".join(lines) + "\n", filename="docs.yaml", base_dir=folder, env={})
    with run_app(create_app(spec, cache_dir=folder)) as url:
        yield url


def references(root: etree._Element) -> list[str]:
    found = [e.get("location", "") for e in root.iter(f"{{{WSDL}}}import")]
    for tag in ("import", "include", "redefine"):
        found += [e.get("schemaLocation", "") for e in root.iter(f"{{{XS}}}{tag}")]
    return [f for f in found if f]


def signatures(client: zeep.Client) -> dict[str, str]:
    """Each operation's input signature, zeep's own prefixes (``ns0``...) left out."""
    return {
        f"{port.name}.{name}": re.sub(r"\bns\d+:", "", str(operation.input.signature()))
        for service in client.wsdl.services.values()
        for port in service.ports.values()
        for name, operation in port.binding.all().items()
    }


@pytest.mark.parametrize("name", sorted(SERVED))
def test_every_document_is_served_with_references_to_the_shim(shim: str, name: str) -> None:
    base = f"{shim}/docs/{name}"
    seen: set[str] = set()
    pending = [f"{base}?wsdl"]
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        response = httpx.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/xml")
        root = etree.fromstring(response.content)
        for address in root.iter(*ADDRESSES):
            assert address.get("location") == base
        for reference in references(root):
            assert reference.startswith(f"{base}?"), (url, reference)
            pending.append(reference)
    # the WSDL, and each document it names once (the encoding schema from the bundle)
    assert len(seen) >= 2 or name == "chameleon"


@pytest.mark.parametrize("name", ["import2", "external", "recursive"])
def test_zeep_reads_the_wsdl_and_the_single_wsdl_alike(shim: str, name: str) -> None:
    base = f"{shim}/docs/{name}"
    split = signatures(zeep.Client(f"{base}?wsdl"))
    single_root = etree.fromstring(httpx.get(f"{base}?singleWsdl").content)
    assert not list(single_root.iter(f"{{{XS}}}include"))
    assert all(not r.startswith(f"{base}?xsd") for r in references(single_root))
    assert signatures(zeep.Client(f"{base}?singleWsdl")) == split
    assert split


@pytest.mark.parametrize("name", ["chain", "chameleon", "imports"])
def test_the_single_wsdl_reads_where_plain_zeep_cannot_follow_the_imports(
    shim: str, name: str
) -> None:
    """Chameleon includes, and a portType two same-namespace imports away: plain zeep
    refuses the split documents, the single WSDL has every operation of the original."""
    base = f"{shim}/docs/{name}"
    with pytest.raises((KeyError, LookupError, zeep.exceptions.Error)):
        signatures(zeep.Client(f"{base}?wsdl"))
    original = etree.parse(str(CORPUS_DIR / SERVED[name])).getroot()
    names = {o.get("name") for o in original.iterfind(f"{{{WSDL}}}binding/{{{WSDL}}}operation")}
    single = signatures(zeep.Client(f"{base}?singleWsdl"))
    assert {key.split(".", 1)[1] for key in single} == names
    assert all(single.values())


def test_schemas_by_number_by_dotnet_name_and_by_file_name(shim: str) -> None:
    base = f"{shim}/docs/external"
    root = etree.fromstring(httpx.get(f"{base}?wsdl").content)
    first = next(r for r in references(root) if "?xsd=" in r)
    number = first.rsplit("=", 1)[1]
    by_number = httpx.get(first).content
    assert httpx.get(f"{base}?xsd=xsd{number}").content == by_number
    assert etree.fromstring(by_number).tag == f"{{{XS}}}schema"
    names = [p.name for p in (CORPUS_DIR / SERVED["external"]).parent.rglob("*.xsd")]
    assert any(httpx.get(f"{base}?xsd={n}").status_code == 200 for n in names)
    assert httpx.get(f"{base}?xsd=nothing.xsd").status_code == 404
    assert httpx.get(base).status_code == 404


def test_the_address_is_the_one_the_client_used(demo_shim: DemoShim) -> None:
    forwarded = httpx.get(
        demo_shim.wsdl,
        headers={"x-forwarded-host": "soap.example.com", "x-forwarded-proto": "https"},
    )
    root = etree.fromstring(forwarded.content)
    locations = {a.get("location") for a in root.iter(*ADDRESSES)}
    assert locations == {"https://soap.example.com/InventoryService"}
    direct = etree.fromstring(httpx.get(demo_shim.wsdl).content)
    assert {a.get("location") for a in direct.iter(*ADDRESSES)} == {
        f"{demo_shim.url}/InventoryService"
    }
