"""The spec loader: valid specs load; bad ones name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler.errors import SpecError
from strangler.spec import load_spec, parse_spec
from strangler.spec.soap import SoapSystem

GOOD = """\
version: 1
server: {host: 0.0.0.0, port: 9000}
systems:
  inventory:
    kind: soap
    wsdl: legacy/inventory.wsdl
    address: ${INVENTORY_URL}
    auth: {kind: wsse, username: app, password: "${INVENTORY_PASSWORD}", digest: true}
    safe_operations: [GetStock]
"""


def test_good_spec_loads_with_env_and_relative_paths(tmp_path: Path) -> None:
    file = tmp_path / "strangler.yaml"
    file.write_text(GOOD)
    spec = load_spec(file, env={"INVENTORY_URL": "http://legacy:8080", "INVENTORY_PASSWORD": "s3"})
    system = spec.systems["inventory"]
    assert isinstance(system, SoapSystem)
    assert system.wsdl == str(tmp_path / "legacy/inventory.wsdl")
    assert system.address == "http://legacy:8080"
    assert system.auth is not None and system.auth.password.get_secret_value() == "s3"
    assert "s3" not in repr(spec)  # secrets stay out of logs
    assert system.safe_operations == frozenset({"GetStock"})
    assert spec.server.port == 9000


def test_spec_is_frozen() -> None:
    spec = parse_spec("systems: {}\n")
    with pytest.raises(Exception, match="frozen"):
        spec.server.port = 1  # type: ignore[misc]


def test_default_from_variable() -> None:
    spec = parse_spec(
        "systems:\n  s: {kind: soap, wsdl: 'http://x/w?wsdl', address: '${NOPE:-http://a:1}'}\n",
        env={},
    )
    assert spec.systems["s"].address == "http://a:1"


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            "systems:\n  inv:\n    kind: soap\n    wsdl: x\n    timeout_s: -1\n",
            5,
            "systems.inv.timeout_s",
            "greater than 0",
        ),
        ("systems:\n  inv: {kind: soapy, wsdl: a}\n", 2, "systems.inv", "soap"),
        (
            "systems:\n  inv:\n    kind: soap\n    wsdl: ${MISSING}\n",
            4,
            "systems.inv.wsdl",
            "MISSING is not set",
        ),
        (
            "systems:\n  inv:\n    kind: soap\n    wsdl: x\n    auth: {kind: basic, username: u}\n",
            5,
            "systems.inv.auth.password",
            "Field required",
        ),
        (
            "systems:\n  inv:\n    kind: soap\n    wsdl: x\n    colour: blue\n",
            5,
            "systems.inv.colour",
            "Extra inputs",
        ),
        ("version: 2\n", 1, "version", "1"),
        ("systems: [\n", 2, "", "not valid YAML"),
        ("- a\n- b\n", 1, "", "mapping"),
    ],
)
def test_bad_spec_names_file_line_and_field(text: str, line: int, field: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text, filename="strangler.yaml", env={})
    problem = info.value.problems[0]
    assert problem.file == "strangler.yaml"
    assert problem.line == line
    assert problem.field.startswith(field)
    assert message in problem.message
    assert str(problem).startswith(f"strangler.yaml:{line}")


def test_missing_file() -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec("/nonexistent/strangler.yaml")
