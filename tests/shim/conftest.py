"""Servers of the shim's tests, started once per session.

Fixture names are stable: the suds and node-soap tests use them as well.

``demo_shim`` (:class:`DemoShim`)
    The demo estate (its legacy InventoryService, ERP, pricing; the feature
    tables loaded, so the reorder model can answer) and the app of the demo spec,
    whose ``shim:`` serves InventoryService at ``/InventoryService`` with
    ``GetReorderAdvice`` going through the ``reorder-advice`` route. ``.wsdl`` is
    the shim's ``?wsdl``; ``.legacy`` the legacy server's address per SOAP
    version (``{"1.1": .../soap11, "1.2": .../soap12}``); ``.admin`` an httpx
    client on the app (``PUT /admin/routes/reorder-advice`` sets mode and weight; the
    route's rollout is paused at the start, so only tests move it).

``corpus_shim`` (:class:`CorpusShim`)
    The hand-written legacy servers of ``tests/adapters/soap/legacy_servers``
    for eight corpus WSDLs (:data:`CORPUS`), and one app whose ``shim:`` serves
    each at ``/corpus/{name}`` (and the systems of :data:`MAPPED`, a corpus WSDL
    again with a modern shape declared). ``.services[name]`` is a :class:`CorpusService`:
    ``.wsdl`` (the shim's ``?wsdl``), ``.legacy`` (the legacy server's URL, any
    path), ``.wsdl_file`` (the original WSDL).

``demo_shim_url`` / ``corpus_shim_url``
    Only the base URL of each app, for clients in other languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from strangler.demo.estate import running_estate
from strangler.demo.features import load_features
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.adapters.soap.legacy_servers import (
    cxf_calculator_soap12,
    cxf_doc_lit_bare,
    cxf_hello_world_soap12,
    cxf_soapheader_rpc,
    ibm_rpc_literal,
    soapbuilders,
    soapbuilders_r4_xsd,
)
from tests.servers import run_app

CORPUS_DIR = Path(__file__).parents[1] / "data" / "wsdl"

CORPUS: dict[str, str] = {
    "calculator": cxf_calculator_soap12.WSDL,  # SOAP 1.2, doc/literal wrapped, declared fault
    "bare": cxf_doc_lit_bare.WSDL,  # doc/literal bare, empty bodies, a nillable part
    "hello12": cxf_hello_world_soap12.WSDL,  # SOAP 1.2 actions, declared fault
    "rpcheader": cxf_soapheader_rpc.WSDL,  # rpc/literal with soap:header parts
    "rpclit": ibm_rpc_literal.WSDL,  # rpc/literal across namespaces
    "round2": soapbuilders.R2_WSDL,  # rpc/encoded scalars, structs, SOAP-ENC arrays
    "round3": soapbuilders.R3_WSDL,  # rpc/encoded through a wsdl:import chain
    "round4": soapbuilders_r4_xsd.WSDL,  # doc/literal wrapped, .NET shapes, SOAP 1.1 and 1.2
}
"""Corpus WSDLs with a legacy server, by the name of their shimmed system."""

MAPPED = {
    "round4mapped": (
        "round4",
        """    naming: snake_case
    unwrap: true
    operations:
      echoNestedMultiOccurs:
        as: tags
        request: {inputComplexType.varMultiOccurs: tags}
        response: {return.varMultiOccurs: tags}
      echoNestedComplexType:
        as: nested
        request:
          fields:
            inputComplexType.varComplexType:
              fields:
                varString: inner_string
                varInt: {as: inner_amount, minor_units: 2}
                varFloat: inner_float
          flatten: [inputComplexType.varComplexType]
        response:
          fields:
            return.varComplexType:
              fields:
                varString: inner_string
                varInt: {as: inner_amount, minor_units: 2}
                varFloat: inner_float
          flatten: [return.varComplexType]
      echoChoice:
        as: choice
        request: {inputChoice.name0: given_name, inputChoice.name1: nickname}
        response: {return.name0: given_name, return.name1: nickname}
""",
    )
}
"""Corpus systems shimmed a second time with a modern shape declared (renames, unwrapped
wrappers, a flattened group, minor units): the shim maps each call to the modern shape
and each answer back. Name → (the corpus system it repeats, its mapping in the spec)."""


@dataclass(frozen=True)
class DemoShim:
    url: str
    wsdl: str
    legacy: dict[str, str]
    admin: httpx.Client


@dataclass(frozen=True)
class CorpusService:
    name: str
    wsdl_file: Path
    legacy: str
    wsdl: str


@dataclass
class CorpusShim:
    url: str
    services: dict[str, CorpusService] = field(default_factory=dict)
    greeter: cxf_hello_world_soap12.Greeter = field(default_factory=cxf_hello_world_soap12.Greeter)


@pytest.fixture(scope="session")
def demo_shim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoShim]:
    folder = Path(tmp_path_factory.mktemp("shim-demo"))
    with running_estate(state_dir=folder) as estate:
        load_features(estate.spec)
        with (
            run_app(create_app(estate.spec, cache_dir=folder)) as url,
            httpx.Client(base_url=url, timeout=30) as admin,
        ):
            paused = admin.post("/admin/canary/reorder-advice/pause", json={"reason": "tests"})
            assert paused.status_code == 200, paused.text  # tests set mode and weight
            yield DemoShim(
                url=url,
                wsdl=f"{url}/InventoryService?wsdl",
                legacy={
                    "1.1": f"{estate.inventory_url}/soap11",
                    "1.2": f"{estate.inventory_url}/soap12",
                },
                admin=admin,
            )


@pytest.fixture(scope="session")
def demo_shim_url(demo_shim: DemoShim) -> str:
    return demo_shim.url


@pytest.fixture(scope="session")
def corpus_shim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusShim]:
    folder = Path(tmp_path_factory.mktemp("shim-corpus"))
    shim = CorpusShim(url="")
    with ExitStack() as stack:
        servers = {
            "calculator": stack.enter_context(cxf_calculator_soap12.running()),
            "bare": stack.enter_context(cxf_doc_lit_bare.running()),
            "hello12": stack.enter_context(cxf_hello_world_soap12.running(shim.greeter)),
            "rpcheader": stack.enter_context(cxf_soapheader_rpc.running()),
            "rpclit": stack.enter_context(ibm_rpc_literal.running()),
            "round4": stack.enter_context(soapbuilders_r4_xsd.running()),
        }
        servers["round2"] = servers["round3"] = stack.enter_context(soapbuilders.running())
        lines = ["systems:"]
        for name, wsdl in CORPUS.items():
            lines += [
                f"  {name}:",
                "    kind: soap",
                f"    wsdl: {CORPUS_DIR / wsdl}",
                f"    address: {servers[name].url}",
                "    timeout_s: 5",
            ]
        for name, (plain, mapping) in MAPPED.items():
            lines += [
                f"  {name}:",
                "    kind: soap",
                f"    wsdl: {CORPUS_DIR / CORPUS[plain]}",
                f"    address: {servers[plain].url}",
                "    timeout_s: 5",
                mapping.rstrip("\n"),
            ]
        lines += ["shim:", "  services:"]
        lines += [f"    {name}: {{path: /corpus/{name}}}" for name in [*CORPUS, *MAPPED]]
        spec = parse_spec("\n".join(lines) + "\n", filename="shim.yaml", base_dir=folder, env={})
        url = stack.enter_context(run_app(create_app(spec, cache_dir=folder)))
        shim.url = url
        for name, wsdl in CORPUS.items():
            shim.services[name] = CorpusService(
                name=name,
                wsdl_file=CORPUS_DIR / wsdl,
                legacy=servers[name].url,
                wsdl=f"{url}/corpus/{name}?wsdl",
            )
        for name, (plain, _) in MAPPED.items():
            shim.services[name] = CorpusService(
                name=name,
                wsdl_file=CORPUS_DIR / CORPUS[plain],
                legacy=servers[plain].url,
                wsdl=f"{url}/corpus/{name}?wsdl",
            )
        yield shim


@pytest.fixture(scope="session")
def corpus_shim_url(corpus_shim: CorpusShim) -> str:
    return corpus_shim.url
