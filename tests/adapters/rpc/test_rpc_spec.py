"""The RPC parts of the spec: what loads, and what is refused with file, line and field."""

from __future__ import annotations

import pytest

from strangler.errors import SpecError
from strangler.spec import parse_spec
from strangler.spec.rpc import JsonRpcSystem, ParamSchema, XmlRpcSystem

GOOD = """\
systems:
  pricing:
    kind: xmlrpc
    url: http://legacy:8080/RPC2
    auth: {kind: basic, username: app, password: "${PASSWORD}"}
    client_fault_codes: [4]
    methods:
      pricing.quote:
        params: {sku: string, qty: {type: int, minimum: 1}}
        result: double
        safe: true
  shop:
    kind: jsonrpc
    url: https://legacy/rpc
    methods:
      math.subtract: {params: {minuend: number, subtrahend: number}, by_position: true}
      audit.log: {params: {message: string}, notification: true}
      items.find:
        params:
          filter: {type: object, properties: {tags: {type: array, items: string}}}
          when: {type: [dateTime.iso8601, "null"], default: null}
"""


def test_good_rpc_spec_loads() -> None:
    spec = parse_spec(GOOD, env={"PASSWORD": "pw"})
    pricing, shop = spec.systems["pricing"], spec.systems["shop"]
    assert isinstance(pricing, XmlRpcSystem) and isinstance(shop, JsonRpcSystem)
    quote = pricing.methods["pricing.quote"]
    assert quote.params is not None and list(quote.params) == ["sku", "qty"]
    qty = quote.params["qty"]
    assert isinstance(qty, ParamSchema) and qty.minimum == 1
    assert pricing.client_fault_codes == frozenset({4})
    assert shop.methods["audit.log"].notification
    assert shop.methods["math.subtract"].by_position
    assert "pw" not in repr(spec)


@pytest.mark.parametrize(
    ("method", "field", "message"),
    [
        ("{params: {a: integr}}", "params.a", "Input should be 'any', 'string'"),
        ("{params: {a: {type: integer, pattern: x}}}", "params.a", "string keywords"),
        ("{params: {a: {minimum: 1, maxLength: 2}}}", "params.a", "need a 'type'"),
        ("{params: {a: {type: string, colour: red}}}", "colour", "Extra inputs"),
        ("{params: {a: {type: string, pattern: '(x'}}}", "pattern", "not a regular expression"),
        ("{notification: yes, unknown: 1}", "unknown", "Extra inputs"),
    ],
    ids=[
        "unknown-type",
        "keyword-of-another-type",
        "ambiguous",
        "unknown-keyword",
        "bad-regex",
        "unknown",
    ],
)
def test_bad_method_is_refused_with_its_line(method: str, field: str, message: str) -> None:
    text = (
        "systems:\n"
        "  shop:\n"
        "    kind: jsonrpc\n"
        "    url: http://legacy/rpc\n"
        "    methods:\n"
        f"      m: {method}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text, filename="s.yaml")
    text = str(caught.value)
    assert "s.yaml:6" in text
    assert field in text
    assert message in text


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ("kind: jsonrpc\n    url: http://x\n    methods: {rpc.ping: {}}", "reserved"),
        ("kind: jsonrpc\n    url: http://x\n    methods: {_batch: {}}", "start with '_'"),
        ("kind: jsonrpc\n    url: http://x\n    methods: {a/b: {}}", "must not"),
        ("kind: jsonrpc\n    url: http://x\n    methods: {}", "at least 1"),
        ("kind: xmlrpc\n    url: ftp://x", "http://"),
        ("kind: xmlrpc\n    url: http://x\n    introspect: false", "declare the methods"),
        ("kind: xmlrpc\n    url: http://x\n    methods: {m: {notification: true}}", "Extra"),
    ],
    ids=["rpc-prefix", "batch-name", "slash", "no-methods", "not-http", "nothing", "xml-note"],
)
def test_bad_system_is_refused(system: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(f"systems:\n  s:\n    {system}\n", filename="s.yaml")
    assert message in str(caught.value)
