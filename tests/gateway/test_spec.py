"""The ``routes:`` section: what it accepts, and each mistake named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler.errors import SpecError
from strangler.spec import parse_spec
from strangler.spec.gateway import (
    CallableMap,
    FieldsMap,
    ModelTarget,
    OperationTarget,
    RoutesSpec,
    UrlTarget,
)

GOOD = """
routes:
  state: ${GATEWAY_STATE:-}
  items:
    reorder-advice:
      path: /api/reorder-advice
      legacy: inventory.GetReorderAdvice
      modern: {model: reorder}
      request:
        modern: {fields: {entity.sku: sku, features.onHand: quantityOnHand}}
      response:
        modern: {fields: {prediction.label: {as: reorder, flag: {"true": [yes], "false": [no]}}}}
        legacy: {callable: "json:loads"}
      mode: shadow
      weight: 0.25
      sticky: {body: /customerId}
      shadow: {ignore: [/quantity]}
    soap-stock:
      path: /soap/stock
      legacy: {url: "http://127.0.0.1:1/soap"}
      modern: {url: "http://127.0.0.1:2/stock"}
      sticky: {xpath: "//*[local-name()='sku']"}
"""


def test_a_route_file_reads_into_the_section() -> None:
    routes = parse_spec(GOOD, env={}).section("routes")
    assert isinstance(routes, RoutesSpec)
    assert routes.state is None
    route = routes.items["reorder-advice"]
    assert route.legacy == OperationTarget(operation="inventory.GetReorderAdvice")
    assert route.modern == ModelTarget(model="reorder")
    assert isinstance(route.request.modern, FieldsMap)
    assert route.request.modern.fields["entity.sku"].name == "sku"
    assert isinstance(route.response.legacy, CallableMap)
    assert route.request.legacy is None
    assert (route.mode, route.weight, route.sticky and route.sticky.body) == (
        "shadow",
        0.25,
        "/customerId",
    )
    assert isinstance(routes.items["soap-stock"].legacy, UrlTarget)
    assert routes.items["soap-stock"].mode == "legacy"


def test_the_state_url_comes_from_the_environment() -> None:
    routes = parse_spec(GOOD, env={"GATEWAY_STATE": "postgresql+psycopg://h/db"}).section("routes")
    assert routes.state == "postgresql+psycopg://h/db"


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("mode: shadow", "mode: sideways", "mode", "'legacy', 'shadow', 'canary' or 'modern'"),
        ("weight: 0.25", "weight: 1.5", "weight", "less than or equal to 1"),
        ("sticky: {body: /customerId}", "sticky: {body: customerId}", "sticky", "JSON pointer"),
        (
            "sticky: {body: /customerId}",
            "sticky: {body: /c, header: X-C}",
            "sticky",
            "exactly one",
        ),
        ("legacy: inventory.GetReorderAdvice", "legacy: GetReorderAdvice", "legacy", "system."),
        ("modern: {model: reorder}", "modern: {lambda: reorder}", "modern", "a side is"),
        ('"json:loads"', '"json.loads"', "callable", "module:function"),
        ("path: /soap/stock", "path: /api/reorder-advice", "items", "share the path"),
        ("reorder-advice:", "Reorder Advice:", "items", "route name"),
        ("//*[local-name()='sku']", "//*[", "sticky", "does not parse"),
    ],
)
def test_mistakes_are_named_with_their_place(old: str, new: str, field: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(SpecError) as caught:
        parse_spec(GOOD.replace(old, new, 1), env={})
    problems = caught.value.problems
    assert any(field in p.field and message in p.message for p in problems), problems
    assert all(p.line is not None for p in problems), problems


def test_an_xml_route_maps_with_a_callable_only() -> None:
    bad = GOOD + "      request: {legacy: {fields: {a: b}}}\n"
    with pytest.raises(SpecError, match="callable"):
        parse_spec(bad, env={})


def test_the_example_route_files_load_and_build(tmp_path: Path) -> None:
    from strangler.platform import build_platform
    from strangler.spec import load_spec

    examples = sorted((Path(__file__).parents[2] / "gateway_config").glob("*.yaml"))
    assert examples
    for example in examples:
        spec = load_spec(example, env={"GATEWAY_STATE": f"sqlite:///{tmp_path / 'state.db'}"})
        routes = spec.section("routes")
        assert routes.items, example
        gateway = build_platform(spec, cache_dir=tmp_path).component("gateway")
        assert gateway.kind == "gateway"
