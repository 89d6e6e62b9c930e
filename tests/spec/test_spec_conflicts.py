"""Specs that validate field by field but could never work are refused at load, with the line."""

from __future__ import annotations

import pytest

from strangler.errors import SpecError
from strangler.spec import parse_spec

BASIC = "auth: {kind: basic, username: app, password: pw}"


@pytest.mark.parametrize(
    ("system", "message"),
    [
        (f"kind: xmlrpc\n    url: http://u:secret@legacy/rpc\n    {BASIC}", "'url' carries"),
        (
            f"kind: jsonrpc\n    url: https://u:secret@legacy/rpc\n    {BASIC}\n"
            "    methods: {m: {}}",
            "'url' carries",
        ),
        (f"kind: soap\n    wsdl: x.wsdl\n    address: http://u:p@legacy\n    {BASIC}", "'address'"),
        (f"kind: soap\n    wsdl: http://u:p@legacy/x?wsdl\n    {BASIC}", "'wsdl' carries"),
        ("kind: soap\n    wsdl: x.wsdl\n    address: legacy:8080", "http://"),
        (
            "kind: xmlrpc\n    url: http://legacy/rpc\n    client_fault_codes: [4, 5]\n"
            "    server_fault_codes: [5]",
            "[5]",
        ),
    ],
    ids=["xmlrpc-url", "jsonrpc-url", "soap-address", "soap-wsdl", "address-no-scheme", "faults"],
)
def test_conflicting_system_is_refused_with_its_line(system: str, message: str) -> None:
    text = f"version: 1\nsystems:\n  s:\n    {system}\n"
    with pytest.raises(SpecError) as caught:
        parse_spec(text, filename="s.yaml")
    problem = caught.value.problems[0]
    assert problem.file == "s.yaml" and problem.line is not None and problem.line >= 3
    assert problem.field.startswith("systems.s")
    assert message in problem.message
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://u:secret@legacy/rpc", "http://legacy/rpc"], ids=["url-only", "auth-only"]
)
def test_credentials_in_one_place_load(url: str) -> None:
    auth = f"\n    {BASIC}" if "@" not in url else ""
    spec = parse_spec(f"systems:\n  s:\n    kind: xmlrpc\n    url: {url}{auth}\n")
    assert spec.systems["s"].url == url


@pytest.mark.parametrize(
    "schema",
    [
        "{type: integer, minimum: 5, maximum: 1}",
        "{type: integer, exclusiveMinimum: 1, maximum: 1}",
        "{type: string, minLength: 3, maxLength: 2}",
        "{type: array, minItems: 2, maxItems: 1}",
    ],
    ids=["min-max", "exclusive", "length", "items"],
)
def test_bounds_no_value_meets_are_refused(schema: str) -> None:
    text = (
        "systems:\n  s:\n    kind: jsonrpc\n    url: http://legacy/rpc\n"
        f"    methods:\n      m: {{params: {{a: {schema}}}}}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text, filename="s.yaml")
    assert "s.yaml:6" in str(caught.value)
    assert "no value" in str(caught.value)
