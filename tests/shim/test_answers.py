"""The shim's own reply writer and request reader (:mod:`strangler.shim.answers`) agree
with zeep.

For every operation of the demo WSDL and of every corpus WSDL whose output a plan
can write, answers made from the output's schema (every value present and lists
of two; optional values left out and lists empty) are written both ways, by zeep's
message classes and by the plan, and compared as canonical XML; requests written
by zeep are read both ways and compared as the values the shim checks. Operations whose
output the plan declines are counted, so a change that makes the plan decline
everything fails too.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from zeep.xsd.types import builtins

from strangler.adapters.soap import zeep_api
from strangler.adapters.soap.adapter import SoapAdapter
from strangler.adapters.soap.exchange import to_json_ready
from strangler.shim.answers import Declined, Plan, _Child, read_plainly
from strangler.shim.catalog import ShimOperation
from strangler.spec.soap import SoapSystem

DATA = Path(__file__).parents[1] / "data" / "wsdl"
DEMO = Path(__file__).parents[2] / "core" / "strangler" / "demo" / "inventory" / "inventory.wsdl"
WSDLS = {"demo": DEMO} | {
    entry["name"]: DATA / entry["wsdl"] for entry in json.loads((DATA / "corpus.json").read_text())
}

# a value of each simple type (checked in order: subclasses first)
_VALUES: list[tuple[type, Any]] = [
    (builtins.Boolean, True),
    (builtins.DateTime, dt.datetime(2024, 5, 16, 10, 0, 30, tzinfo=dt.UTC)),
    (builtins.Date, dt.date(2024, 5, 16)),
    (builtins.Time, dt.time(10, 0, 30)),
    (builtins.Integer, 7),
    (builtins.Decimal, Decimal("12.50")),
    (builtins.Float, 0.5),
    (builtins.Double, -1.25),
    (builtins.Base64Binary, b"b64 \x00\xff"),  # written as base64
    (builtins.HexBinary, "01AB"),  # zeep writes the value as given
    (builtins.AnyURI, "http://example.com/a?b=c&d"),
    (builtins.String, "text <&> \u00fc"),
]


def _simple(xsd_type: Any) -> Any:
    for kind, value in _VALUES:
        if isinstance(xsd_type, kind):
            return value
    raise LookupError(type(xsd_type).__name__)


def _answer(child: _Child, full: bool) -> Any:
    """An answer for ``child``'s members: all present (``full``), or only the required."""
    out: dict[str, Any] = {}
    for member in child.members or ():
        if not full and member.optional:
            continue
        value = _simple(member.simple) if member.simple is not None else _answer(member, full)
        if member.max_occurs != 1:
            value = [value, value] if full or member.min_occurs > 1 else [value] * member.min_occurs
        out[member.name] = value
    return out


def _operations(name: str, folder: Path) -> list[ShimOperation]:
    adapter = SoapAdapter(name, SoapSystem(kind="soap", wsdl=str(WSDLS[name])), cache_dir=folder)
    forms = adapter.legacy_forms()
    return [ShimOperation(old, served, shape, None) for old, served, shape in forms]


def _c14n(element: Any) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


@pytest.mark.parametrize("name", sorted(WSDLS))
def test_the_plan_writes_what_zeep_writes(name: str, tmp_path: Path) -> None:
    planned = 0
    for op in _operations(name, tmp_path):
        plan: Plan | None = op.answer_plan
        if plan is None:
            continue
        for full in (True, False):
            try:
                answer = _answer(plan.root, full)
            except LookupError:  # a simple type the test has no value for
                continue
            zeep_envelope = op.binding_operation.output.serialize(**answer).content
            try:
                ours = plan.render(answer, op.version)
            except Declined:
                pytest.fail(f"{name} {op.name}: the plan declined its own answer {answer}")
            assert _c14n(ours) == _c14n(zeep_envelope), (name, op.name, full)
            planned += 1
    if name in ("demo", "blz_service", "global_weather", "soapbuilders_r4_complex_doclit_faults"):
        assert planned, f"{name}: no operation's answer was written by a plan"


def test_an_answer_the_plan_does_not_expect_is_declined(tmp_path: Path) -> None:
    (op,) = [op for op in _operations("demo", tmp_path) if op.name == "GetStock"][:1]
    plan = op.answer_plan
    assert plan is not None
    good = _answer(plan.root, True)
    plan.render(good, "1.1")
    result = dict(good["GetStockResult"])
    for bad in (
        {**good, "unknown": 1},  # a key the schema lacks
        {"GetStockResult": {**result, "quantity": None}},  # a required value missing
        {"GetStockResult": [result, result]},  # a list where one value goes
        {"GetStockResult": {**result, "sku": {"nested": "x"}}},  # a structure for a value
    ):
        with pytest.raises(Declined):
            plan.render(bad, "1.1")


@pytest.mark.parametrize("name", sorted(WSDLS))
def test_a_plain_request_reads_as_zeep_reads_it(name: str, tmp_path: Path) -> None:
    """Requests written by zeep from made-up values read the same both ways."""
    read = 0
    for op in _operations(name, tmp_path):
        plan: Plan | None = op.request_plan
        if plan is None:
            continue
        message = op.binding_operation.input
        for full in (True, False):
            try:
                values = _answer(plan.root, full)
            except LookupError:
                continue
            envelope = message.serialize(**values).content
            body = envelope.find(f"{{{envelope.nsmap['soap-env']}}}Body")
            with zeep_api.adapter_parsing():
                theirs = to_json_ready(zeep_api.deserialize_body(message, body))
                try:
                    ours = read_plainly(plan, body)
                except Declined:  # left to zeep (an empty structure inside, say)
                    continue
            assert ours == theirs, (name, op.name, full)
            read += 1
    if name in ("demo", "blz_service", "global_weather"):
        assert read, f"{name}: no operation's request was read by a plan"


def test_a_request_the_plan_does_not_expect_is_left_to_zeep(tmp_path: Path) -> None:
    (op,) = [op for op in _operations("demo", tmp_path) if op.name == "GetReorderAdvice"][:1]
    plan = op.request_plan
    assert plan is not None
    tns = "urn:strangler:demo:inventory"
    good = "<t:customerId>C-1</t:customerId><t:sku>S</t:sku><t:quantityOnHand>3</t:quantityOnHand>"
    rest = "<t:averageDailySales>4.5</t:averageDailySales><t:leadTimeDays>7</t:leadTimeDays>"

    def body(inner: str, attributes: str = "") -> Any:
        return etree.fromstring(
            f'<b xmlns:t="{tns}"><t:GetReorderAdvice{attributes}>{inner}</t:GetReorderAdvice></b>'
        )

    assert read_plainly(plan, body(good + rest))["leadTimeDays"] == 7
    for bad in (
        body(rest + good),  # out of order
        body(good),  # required values missing
        body(good + rest + "<t:extra>1</t:extra>"),  # an element the schema lacks
        body(good + rest, ' xmlns:x="urn:x" x:a="1"'),  # an attribute
        body(good.replace("<t:sku>S</t:sku>", "<t:sku/>") + rest),  # an empty value
        body("text" + good + rest),  # stray text
    ):
        with pytest.raises(Declined):
            read_plainly(plan, bad)
