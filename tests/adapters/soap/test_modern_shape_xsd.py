"""Modern shapes of .NET-style XSD against a real SOAP server on loopback.

The SOAPBuilders round 4 group I service (``round4_groupI_xsd.wsdl``, served
by tests/adapters/soap/legacy_servers/soapbuilders_r4_xsd.py): an
``ArrayOfString`` inside a struct becomes a plain JSON array both ways, a
struct inside a struct is flattened into its parent, a ``choice`` keeps its
``oneOf`` over the renamed branches. Answers validate against the served
OpenAPI document; requests that fail the legacy check name the modern field.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.adapters.soap.legacy_servers import soapbuilders_r4_xsd
from tests.adapters.soap.legacy_servers.plumbing import LegacyServer
from tests.conftest import SpecRunner

WSDL = Path(__file__).parents[2] / "data" / "wsdl" / soapbuilders_r4_xsd.WSDL
XSD_NS = soapbuilders_r4_xsd.XSD_NS

SPEC = """
systems:
  r4:
    kind: soap
    wsdl: {wsdl}
    address: {address}
    timeout_s: 5
    naming: snake_case
    unwrap: true
    operations:
      echoNestedMultiOccurs:
        as: tags
        request: {{inputComplexType.varMultiOccurs: tags}}
        response: {{return.varMultiOccurs: tags}}
      echoNestedComplexType:
        as: nested
        request:
          fields:
            inputComplexType.varComplexType:
              fields:
                varString: inner_string
                varInt: {{as: inner_amount, minor_units: 2}}
                varFloat: inner_float
          flatten: [inputComplexType.varComplexType]
        response:
          fields:
            return.varComplexType:
              fields:
                varString: inner_string
                varInt: {{as: inner_amount, minor_units: 2}}
                varFloat: inner_float
          flatten: [return.varComplexType]
      echoChoice:
        as: choice
        request: {{inputChoice.name0: given_name, inputChoice.name1: nickname}}
        response: {{return.name0: given_name, return.name1: nickname}}
"""


@pytest.fixture
def server() -> Iterator[LegacyServer]:
    with soapbuilders_r4_xsd.running() as running:
        yield running


@pytest.fixture
def client(api: SpecRunner, server: LegacyServer) -> Iterator[httpx.Client]:
    spec = SPEC.format(wsdl=WSDL, address=server.url)
    with api(spec) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def documented(client: httpx.Client, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body's schema of ``path`` and its 200 answer's, both resolvable."""
    document = client.get("/openapi.json").json()
    post = document["paths"][path]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    answer = post["responses"]["200"]["content"]["application/json"]["schema"]
    components = {"components": document["components"]}
    return {**body, **components}, {**answer, **components}


def model(schema: dict[str, Any]) -> dict[str, Any]:
    """The component a schema refers to (through a nullable ``anyOf`` too)."""
    ref = schema.get("$ref") or next(s["$ref"] for s in schema["anyOf"] if "$ref" in s)
    found: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_array_of_string_is_a_plain_array_both_ways(
    client: httpx.Client, server: LegacyServer
) -> None:
    body = {"var_string": "s", "var_int": 7, "var_float": 1.5, "tags": ["a", "b", "c"]}
    response = client.post("/soap/r4/tags", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {**body, "tags": ["c", "b", "a"]}  # reversed by the server
    sent = server.requests[-1].operation
    assert sent is not None
    strings = sent.findall(f".//{{{XSD_NS}}}varMultiOccurs/{{{XSD_NS}}}string")
    assert [s.text for s in strings] == ["a", "b", "c"]  # the legacy ArrayOfString
    request, answer = documented(client, "/soap/r4/tags")
    jsonschema.validate(response.json(), answer)
    jsonschema.validate(body, request)
    tags = model(answer)["properties"]["tags"]
    assert {"type": "array", "items": {"type": "string"}} in tags.get("anyOf", [tags])
    assert "return.varMultiOccurs.string" in tags["description"]


def test_a_group_is_flattened_into_its_parent_both_ways(client: httpx.Client) -> None:
    body = {
        "var_string": "outer",
        "var_int": 1,
        "var_float": 0.5,
        "inner_string": "inner",
        "inner_amount": "12.34",  # 1234 in the legacy varInt
        "inner_float": 2.5,
    }
    response = client.post("/soap/r4/nested", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == body
    request, answer = documented(client, "/soap/r4/nested")
    jsonschema.validate(response.json(), answer)
    assert set(model(answer)["properties"]) == set(body)
    assert set(model(request)["properties"]) == set(body)


def test_flattened_fields_that_collide_are_refused_at_load(
    api: SpecRunner, server: LegacyServer
) -> None:
    from strangler.errors import SystemLoadError

    spec = SPEC.format(wsdl=WSDL, address=server.url)
    spec = spec.replace("varString: inner_string", "varString: var_string")
    with pytest.raises(SystemLoadError, match=r"varComplexType\.varString.*var_string"), api(spec):
        pass


def test_a_request_failing_the_legacy_check_names_the_modern_field(client: httpx.Client) -> None:
    body = {
        "var_string": "outer",
        "var_int": 1,
        "var_float": 0.5,
        "inner_string": "inner",
        "inner_amount": "30000000.00",  # 3e9 cents: more than the legacy xsd:int holds
        "inner_float": 2.5,
    }
    response = client.post("/soap/r4/nested", json=body)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["errors"]
    assert problem["path"] == "inner_amount"
    assert "2147483647" in problem["message"]
