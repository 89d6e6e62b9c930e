"""Sticky keys read from a request, and the points they hash to."""

from __future__ import annotations

import pytest

from strangler.errors import InvalidInput
from strangler.gateway.split import StickyKey, point, pointer_tokens
from strangler.spec.gateway import StickySpec


def key(
    sticky: dict[str, str], headers: list[tuple[bytes, bytes]], doc: object, body: bytes = b""
) -> bytes | None:
    return StickyKey(StickySpec.model_validate(sticky))(headers, doc, body)


def test_a_point_is_stable_per_route_and_spread_evenly() -> None:
    points = [point(b"route-a", f"cust-{i}".encode()) for i in range(20_000)]
    assert points == [point(b"route-a", f"cust-{i}".encode()) for i in range(20_000)]
    assert all(0 <= p < 1 for p in points)
    for low in (0.0, 0.25, 0.5, 0.75):  # each quarter holds about a quarter of the keys
        share = sum(low <= p < low + 0.25 for p in points) / len(points)
        assert abs(share - 0.25) < 0.02
    other = [point(b"route-b", f"cust-{i}".encode()) for i in range(20_000)]
    both = sum(a < 0.1 and b < 0.1 for a, b in zip(points, other, strict=True)) / len(points)
    assert abs(both - 0.01) < 0.005  # another route splits the same customers independently


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        (b"cust=C-1", b"C-1"),
        (b"theme=dark; cust=C-2; x=1", b"C-2"),
        (b'a=1;cust="C-3"', b"C-3"),
        (b"customer=C-4; xcust=C-5", None),
        (b"cust=", None),
    ],
)
def test_a_cookie_key(cookie: bytes, expected: bytes | None) -> None:
    assert key({"cookie": "cust"}, [(b"cookie", cookie)], None) == expected


def test_a_header_key_and_a_missing_one() -> None:
    headers = [(b"content-type", b"application/json"), (b"x-customer", b"C-9")]
    assert key({"header": "X-Customer"}, headers, None) == b"C-9"
    assert key({"header": "X-Other"}, headers, None) is None


@pytest.mark.parametrize(
    ("pointer", "document", "expected"),
    [
        ("/customerId", {"customerId": "C-1"}, b"C-1"),
        ("/order/customer/id", {"order": {"customer": {"id": 42}}}, b"42"),
        ("/lines/1/sku", {"lines": [{"sku": "A"}, {"sku": "B"}]}, b"B"),
        ("/a~1b/c~0d", {"a/b": {"c~d": "x"}}, b"x"),
        ("/lines/5/sku", {"lines": []}, None),
        ("/customerId", {"customerId": None}, None),
        ("/customerId", {"customerId": {"nested": 1}}, None),
        ("/customerId", ["not", "an", "object"], None),
    ],
)
def test_a_json_pointer_key(pointer: str, document: object, expected: bytes | None) -> None:
    assert key({"body": pointer}, [], document) == expected


def test_pointer_tokens_unescape() -> None:
    assert pointer_tokens("") == ()
    assert pointer_tokens("/a~1b/~0c/") == ("a/b", "~c", "")


def test_an_xpath_key_and_unreadable_xml() -> None:
    body = b"<e:Env xmlns:e='urn:e'><e:Body><c>C-7</c></e:Body></e:Env>"
    assert key({"xpath": "//*[local-name()='c']"}, [], None, body) == b"C-7"
    assert key({"xpath": "string(//*[local-name()='c'])"}, [], None, body) == b"C-7"
    assert key({"xpath": "//missing"}, [], None, body) is None
    with pytest.raises(InvalidInput):
        key({"xpath": "//c"}, [], None, b"<not-closed>")
    entity = b'<!DOCTYPE d [<!ENTITY x "C-8">]><d><c>&x;</c></d>'
    assert key({"xpath": "//c"}, [], None, entity) != b"C-8"  # entities are not expanded
