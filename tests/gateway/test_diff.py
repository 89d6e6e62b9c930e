"""The protocol-aware diff: what counts as the same answer, and the paths that differ."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from strangler.gateway.diff import Difference, canonical_json, diff
from strangler.gateway.noise import NoiseEstimate
from strangler.gateway.paths import PathPatterns, generalise
from strangler.gateway.xml_tree import canonical_xml


def paths(legacy: Any, modern: Any, **options: Any) -> list[str]:
    return [d.path for d in diff(legacy, modern, **options)]


JSON_SAME = [
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ({"n": 1}, {"n": 1.0}),
    (b'{"n": 1e2, "s": "x"}', {"s": "x", "n": 100}),
    ({"l": [1, {"x": None}]}, {"l": [1.0, {"x": None}]}),
    ({"d": {"e": {}}}, {"d": {"e": {}}}),
]


@pytest.mark.parametrize(("legacy", "modern"), JSON_SAME)
def test_json_answers_that_mean_the_same_agree(legacy: Any, modern: Any) -> None:
    assert diff(legacy, modern) == []


JSON_DIFFERENT = [
    ({"a": 1}, {"a": 2}, ["/a"]),
    ({"a": True}, {"a": 1}, ["/a"]),  # a boolean is not a number
    ({"a": "1"}, {"a": 1}, ["/a"]),  # nor is a string
    ({"a": None}, {"a": 0}, ["/a"]),
    ({"a": {"b": [1, 2, 3]}}, {"a": {"b": [1, 2]}}, ["/a/b/2"]),
    ({"a": [1]}, {"a": [1, {"c": 1}]}, ["/a/1"]),
    ({"a": 1}, {"a": 1, "b": 2}, ["/b"]),
    ({"a/b": 1, "m~n": 1}, {"a/b": 2, "m~n": 2}, ["/a~1b", "/m~0n"]),
    ({"a": [1]}, {"a": {"0": 1}}, ["/a"]),
    (1, 2, ["/"]),
]


@pytest.mark.parametrize(("legacy", "modern", "expected"), JSON_DIFFERENT)
def test_json_differences_are_json_pointers(legacy: Any, modern: Any, expected: list[str]) -> None:
    assert paths(legacy, modern) == expected


def test_a_difference_carries_both_values_and_its_kind() -> None:
    found = diff({"q": 3, "gone": 1}, {"q": 4, "new": [1]})
    assert found == [
        Difference("/q", 3, 4, "changed"),
        Difference("/gone", 1, None, "removed"),
        Difference("/new", None, [1], "added"),
    ]


def test_numbers_within_the_tolerance_agree() -> None:
    assert paths({"p": 0.1 + 0.2}, {"p": 0.3}) == ["/p"]
    assert paths({"p": 0.1 + 0.2}, {"p": 0.3}, tolerance=1e-9) == []
    assert paths({"p": 100.0}, {"p": 100.5}, tolerance=1e-3) == ["/p"]
    assert paths({"p": 100.0}, {"p": 100.05}, tolerance=1e-3) == []


def test_pydantic_models_compare_as_their_json() -> None:
    class Advice(BaseModel):
        sku: str
        qty: int

    assert diff(Advice(sku="A", qty=2), {"qty": 2, "sku": "A"}) == []
    assert paths(Advice(sku="A", qty=2), {"qty": 3, "sku": "A"}) == ["/qty"]


IGNORED = [
    (["/reason"], {"reason": "r1", "q": 1}, {"reason": "r2", "q": 1}),
    (["/meta"], {"meta": {"a": 1}, "q": 1}, {"meta": {"a": 2, "b": 3}, "q": 1}),
    (["/items/*/ts"], {"items": [{"ts": 1}, {"ts": 2}]}, {"items": [{"ts": 5}, {"ts": 6}]}),
    (["//ts"], {"a": {"b": {"ts": 1}}}, {"a": {"b": {"ts": 2}}}),
    (["ts"], {"a": [{"ts": 1}]}, {"a": [{"ts": 2}]}),
    (["/extra"], {"q": 1}, {"q": 1, "extra": 9}),
]


@pytest.mark.parametrize(("ignore", "legacy", "modern"), IGNORED)
def test_ignored_paths_do_not_count(ignore: list[str], legacy: Any, modern: Any) -> None:
    assert paths(legacy, modern) != []  # they do differ...
    assert paths(legacy, modern, ignore=ignore) == []  # ...only where the spec ignores


def test_ignoring_one_path_keeps_the_others() -> None:
    legacy = {"items": [{"ts": 1, "q": 1}], "reason": "a"}
    modern = {"items": [{"ts": 2, "q": 2}], "reason": "b"}
    assert paths(legacy, modern, ignore=["/items/*/ts", "/reason"]) == ["/items/0/q"]
    assert paths(legacy, modern, ignore=["/item"]) == ["/items/0/ts", "/items/0/q", "/reason"]


def test_an_empty_or_unsupported_ignore_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="ignore everything"):
        PathPatterns(["/"])
    with pytest.raises(ValueError, match="is not a name"):
        PathPatterns(["//line[@code='x']"])
    with pytest.raises(ValueError, match="is not a name"):
        PathPatterns(["/a/b[last()]"])


LEGACY_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <tns:AdviceResponse xmlns:tns="urn:inventory" version="2" kind="advice">
      <!-- computed by rule 7 -->
      <tns:reorder>true</tns:reorder>
      <tns:quantity>12.0</tns:quantity>
      <tns:line><tns:sku>A-1</tns:sku></tns:line>
      <tns:line><tns:sku>B-2</tns:sku></tns:line>
    </tns:AdviceResponse>
  </soap:Body>
</soap:Envelope>"""

SAME_XML_OTHER_PREFIXES = (
    '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
    '<AdviceResponse xmlns="urn:inventory" kind="advice" version="2">'
    "<reorder>true</reorder><quantity>12</quantity>"
    "<line><sku>A-1</sku></line><line><sku>B-2</sku></line>"
    "</AdviceResponse></e:Body></e:Envelope>"
)


def test_xml_that_differs_only_in_prefixes_attribute_order_and_layout_agrees() -> None:
    assert diff(LEGACY_XML, SAME_XML_OTHER_PREFIXES) == []
    same_text = SAME_XML_OTHER_PREFIXES.replace(">12<", ">12.0<")  # C14N keeps number forms
    assert canonical_xml(same_text, like=LEGACY_XML) == canonical_xml(LEGACY_XML)
    assert canonical_xml(SAME_XML_OTHER_PREFIXES, like=LEGACY_XML) != canonical_xml(LEGACY_XML)


def test_xml_differences_are_xpaths_with_the_legacy_prefixes() -> None:
    modern = (
        SAME_XML_OTHER_PREFIXES.replace("<sku>B-2", "<sku>B-3")
        .replace('version="2"', 'version="3"')
        .replace("<reorder>true", "<reorder>false")
    )
    body = "/soap:Envelope/soap:Body/tns:AdviceResponse"
    assert diff(LEGACY_XML, modern) == [
        Difference(f"{body}/@version", "2", "3"),
        Difference(f"{body}/tns:reorder", "true", "false"),
        Difference(f"{body}/tns:line[2]/tns:sku", "B-2", "B-3"),
    ]
    assert paths(LEGACY_XML, modern, ignore=["//line", "@version"]) == [f"{body}/tns:reorder"]


def test_a_namespace_change_is_a_difference_even_with_the_same_prefix() -> None:
    modern = SAME_XML_OTHER_PREFIXES.replace('xmlns="urn:inventory"', 'xmlns="urn:other"')
    assert paths(LEGACY_XML, modern) != []


def test_xml_numbers_compare_as_numbers_within_the_tolerance() -> None:
    modern = SAME_XML_OTHER_PREFIXES.replace("<quantity>12<", "<quantity>12.0004<")
    assert len(diff(LEGACY_XML, modern)) == 1
    assert diff(LEGACY_XML, modern, tolerance=1e-3) == []


HOSTILE_XML = [
    pytest.param(b'<!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>', id="entity declaration"),
    pytest.param(
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<r>&b;&b;&b;&b;&b;&b;</r>",
        id="billion laughs",
    ),
    pytest.param(b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>', id="external DTD"),
    pytest.param(b"<?xml-stylesheet href='x'?><r/>", id="processing instruction"),
    pytest.param(b"<r>" + b"<a>" * 150 + b"</a>" * 150 + b"</r>", id="too deep"),
    pytest.param(b"<r><unclosed></r>", id="not well-formed"),
]


@pytest.mark.parametrize("hostile", HOSTILE_XML)
def test_hostile_xml_is_refused_on_either_side(hostile: bytes) -> None:
    with pytest.raises(ValueError, match="legacy answer is not acceptable XML"):
        diff(hostile, LEGACY_XML)
    with pytest.raises(ValueError, match="modern answer is not acceptable XML"):
        diff(LEGACY_XML, hostile)


def test_canonical_json_is_one_text_per_meaning() -> None:
    one = canonical_json({"b": [1.0, {"y": 2, "x": 1}], "a": "é"})
    other = canonical_json(b'{"a": "\\u00e9", "b": [1, {"x": 1.0, "y": 2e0}]}')
    assert one == other == '{"a":"\\u00e9","b":[1,{"x":1,"y":2}]}'


PATTERNS = [
    ("/a/b", "/a/b", True),
    ("/a/b", "/a/b/c/d", True),
    ("/a/b", "/a/bc", False),
    ("/a/*/c", "/a/7/c", True),
    ("/a/*/c", "/a/7/d", False),
    ("//c", "/x/y/c", True),
    ("c", "/c", True),
    ("/a//d", "/a/b/c/d", True),
    ("/a//d", "/b/a/d", False),
    ("//line", "/soap:Envelope/tns:line[2]/tns:sku", True),
    ("//tns:line[1]", "/soap:Envelope/tns:line[2]", False),
    ("//tns:line[2]", "/soap:Envelope/tns:line[2]", True),
    ("//x:line", "/soap:Envelope/tns:line", False),
    ("@code", "/r/@tns:code", True),
    ("//*[local-name()='line']", "/soap:Envelope/tns:line[2]/tns:sku", True),
    ('//*[local-name()="asOf"]', "/soap:Envelope/tns:asOf", True),
    ("//*[local-name()='asOf']", "/soap:Envelope/tns:asOfDate", False),
    ("/r/@*[local-name()='code']", "/r/@tns:code", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), PATTERNS)
def test_path_patterns(pattern: str, path: str, expected: bool) -> None:
    assert PathPatterns([pattern]).matches(path) is expected


def test_noise_is_learnt_over_list_positions() -> None:
    assert generalise("/items/3/ts") == "/items/*/ts"
    assert generalise("/s:E/tns:line[2]/tns:ts") == "/s:E/tns:line/tns:ts"
    noise = NoiseEstimate(0.5, warmup=0)
    assert not noise.covers("/items/0/ts")
    first = {"id": "a", "items": [{"ts": 1, "q": 1}], "q": 2}
    second = {"id": "b", "items": [{"ts": 2, "q": 1}], "q": 2}
    assert noise.learn(diff(first, second)) == ["/id", "/items/*/ts"]
    assert noise.covers("/items/5/ts") and noise.covers("/id")
    assert not noise.covers("/items/5/q") and not noise.covers("/q")
    assert noise.learn(diff(first, second)) == []  # nothing new the second time


def test_noise_sampling_starts_with_a_warmup_and_can_be_switched_off() -> None:
    warm = NoiseEstimate(0.0001, warmup=3)
    assert [warm.due() for _ in range(3)] == [True, True, True]
    assert sum(warm.due() for _ in range(1000)) < 20
    off = NoiseEstimate(0.0, warmup=3)
    assert not any(off.due() for _ in range(100))
