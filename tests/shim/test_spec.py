"""The ``shim:`` section: what it accepts, and each mistake refused with where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler.demo.inventory import WSDL_PATH
from strangler.errors import SpecError
from strangler.platform.build import build_platform
from strangler.spec import parse_spec
from strangler.spec.shim import ShimSpec

SYSTEMS = f"""
systems:
  inventory:
    kind: soap
    wsdl: {WSDL_PATH}
    address: http://127.0.0.1:9
  pricing:
    kind: xmlrpc
    url: http://127.0.0.1:9/RPC2
    methods:
      pricing.list_price: {{params: {{sku: string}}, result: double}}
"""


def build(shim: str, tmp_path: Path) -> None:
    spec = parse_spec(SYSTEMS + shim, filename="s.yaml", base_dir=tmp_path, env={})
    build_platform(spec, cache_dir=tmp_path)


def test_a_service_gets_its_defaults_and_its_path_from_the_wsdl(tmp_path: Path) -> None:
    spec = parse_spec(
        SYSTEMS + "shim:\n  services:\n    inventory: {}\n",
        filename="s.yaml",
        base_dir=tmp_path,
        env={},
    )
    section: ShimSpec = spec.section("shim")
    service = section.services["inventory"]
    assert service.validate_messages and service.routes == {} and service.security is None
    platform = build_platform(spec, cache_dir=tmp_path)
    shim = platform.component("shim")
    assert [route.path for route in shim.fast_routes()] == ["/soap11"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("shim", "message"),
    [
        ("shim:\n  services: {}\n", "at least 1"),
        (
            "shim:\n  services:\n    inventory: {path: /a}\n    pricing: {path: /a}\n",
            "share /a",
        ),
        ("shim:\n  services:\n    inventory: {path: no-slash}\n", "pattern"),
        ("shim:\n  services:\n    inventory: {validate: maybe}\n", "bool"),
        ("shim:\n  services:\n    inventory: {colour: red}\n", "colour"),
        ("shim:\n  services:\n    inventory: {security: {}}\n", "username_token, basic"),
    ],
)
def test_mistakes_in_the_section_are_refused_at_load(
    tmp_path: Path, shim: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(SYSTEMS + shim, filename="s.yaml", base_dir=tmp_path, env={})
    assert message in str(caught.value)
    assert "shim" in str(caught.value)


@pytest.mark.parametrize(
    ("shim", "message"),
    [
        ("shim:\n  services:\n    pricing: {}\n", "'pricing' is not a soap system"),
        ("shim:\n  services:\n    nothing: {}\n", "'nothing' is not a soap system"),
        (
            "shim:\n  services:\n    inventory: {routes: {GetStock: no-such-route}}\n",
            "no route 'no-such-route'",
        ),
    ],
)
def test_what_the_section_names_must_exist_when_the_app_is_built(
    tmp_path: Path, shim: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        build(shim, tmp_path)
    assert message in str(caught.value)
    assert "shim.services" in str(caught.value)
