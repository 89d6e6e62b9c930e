"""zeep, built from the shim's own ``?wsdl``, gets from the shim what it gets from the
legacy server, for every operation of eight corpus WSDLs.

The same client calls both: ``client.bind(...)`` goes to the shim (the address
in the WSDL it was served), ``client.create_service(binding, legacy_url)`` to
the legacy server. Answers are compared as zeep parsed them; faults by code,
message, subcodes and detail. Covered: document/literal wrapped (SOAP 1.1 and
1.2) and bare, rpc/literal, rpc/encoded, SOAP headers, declared faults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import zeep
from lxml import etree
from zeep.helpers import serialize_object

from tests.shim.conftest import CORPUS, CorpusShim

STRUCT = {"varString": "s <&> ü", "varInt": 7, "varFloat": 0.5}


@dataclass(frozen=True)
class Typed:
    """A value of a named type of the WSDL (zeep sends SOAP-ENC arrays only so)."""

    type: str
    value: Any


def typed(name: str, value: Any) -> tuple[Typed]:
    return (Typed(f"{{http://soapinterop.org/xsd}}{name}", value),)


@dataclass(frozen=True)
class Call:
    operation: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None
    port: str | None = None  # None: the first port


CALLS: dict[str, list[Call]] = {
    "calculator": [
        Call("add", kwargs={"arg0": 40, "arg1": 2}),
        Call("add", kwargs={"arg0": -1, "arg1": 2}),  # Sender, subcode, declared detail
        Call("add", kwargs={"arg0": 2**31 - 1, "arg1": 1}),  # Receiver
    ],
    "bare": [
        Call("bareNoParam"),
        Call("PutLastTradedPrice", kwargs={"tickerSymbol": "ACME", "tickerPrice": 12.5}),
        Call("SayHi", kwargs={"tickerSymbol": "ACME", "tickerPrice": 0.0}),
        Call("bareNoParam"),
        Call("nillableParameter", (Decimal("12.345"),)),
        Call("PutLastTradedPrice", kwargs={"tickerSymbol": "ACME", "tickerPrice": -1.0}),
    ],
    "hello12": [],  # stateful or refused by zeep's own bug: test_soap12_actions
    "rpcheader": [
        Call(
            "testHeader1",
            kwargs={"in": "hello", "_soapheaders": {"inHeader": {"headerVal": "tenant-7"}}},
        ),
        Call(
            "testInOutHeader",
            kwargs={"in": "abc", "_soapheaders": {"inOutHeader": {"headerVal": "h"}}},
        ),  # the reply's header part comes back too
        Call("testHeader1", kwargs={"in": "no header"}),  # a Client fault
    ],
    "rpclit": [
        Call("op1", kwargs={"in": {"data1": 6, "data2": 7}}),
        Call("op2", kwargs={"in": {"data1": 6, "data2": 7}}),
        Call("op3", kwargs={"DataElem": {"data1": 1, "data2": 2}, "in2": {"RefDataElem": 40}}),
        Call("op1", kwargs={"in": {"data1": 2**30, "data2": 4}}),  # a Server fault
    ],
    "round2": [
        Call("echoString", ("grüße <&>",)),
        Call("echoString", ("",)),
        Call("echoInteger", (-42,)),
        Call("echoFloat", (1.25,)),
        Call("echoBoolean", (False,)),
        Call("echoBase64", (b"hi",)),
        Call("echoStringArray", typed("ArrayOfstring", ["a", "b", "c"])),
        Call("echoIntegerArray", typed("ArrayOfint", [3, 1, 2])),
        Call("echoFloatArray", typed("ArrayOffloat", [0.5, -1.25])),
        Call("echoStruct", (STRUCT,)),
        Call("echoStructArray", typed("ArrayOfSOAPStruct", [STRUCT, {**STRUCT, "varInt": 8}])),
        # zeep declares its prefixes again on every item: more items than namespaces allowed
        Call(
            "echoStructArray",
            typed("ArrayOfSOAPStruct", [{**STRUCT, "varInt": i} for i in range(150)]),
        ),
        Call("echoStringArray", typed("ArrayOfstring", [f"s{i}" for i in range(150)])),
        Call("echoIntegerArray", typed("ArrayOfint", list(range(150)))),
        Call("echoVoid"),
        Call("echoStruct", ({**STRUCT, "varInt": -1},)),  # a Client fault with detail
        # not implemented by this legacy server: its fault, through the shim as it is
        Call("echoDate", (datetime(2024, 5, 16, 12, 30, tzinfo=UTC),)),
        Call("echoDecimal", (Decimal("12.50"),)),
        Call("echoHexBinary", ("01FF",)),  # zeep writes hexBinary as given
    ],
    "round3": [
        Call("echoStruct", (STRUCT,)),
        Call("echoStruct", ({**STRUCT, "varInt": -3},)),
    ],
    "round4": [
        *(
            call
            for port in ("Round4XSDTestSoap", "Round4XSDTestSoap12")
            for call in (
                Call(
                    "echoNestedMultiOccurs",
                    (
                        {
                            "varString": "s",
                            "varInt": 1,
                            "varFloat": 1.5,
                            "varMultiOccurs": {"string": ["a", "b", "c"]},
                        },
                    ),
                    port=port,
                ),
                Call(
                    "echoNestedComplexType",
                    (
                        {
                            "varString": "o",
                            "varInt": 1,
                            "varFloat": 0.5,
                            "varComplexType": {"varInt": 2, "varString": "i", "varFloat": 2.5},
                        },
                    ),
                    port=port,
                ),
                Call("echoChoice", ({"name1": "nick"},), port=port),
                # the others are not served by this legacy server: its Client fault
                Call("echoVoid", port=port),
                Call("echoString", ("s",), port=port),
                Call("echoInteger", (1,), port=port),
                Call("echoDecimal", (Decimal("1.5"),), port=port),
                Call("echoEnum", ("BitTwo",), port=port),
                Call("echoStringMultiOccurs", ({"string": ["a", "b"]},), port=port),
                Call(
                    "echoVoidSoapHeader",
                    kwargs={
                        "_soapheaders": {
                            "echoMeStringRequest": "hi",
                            "echoMeComplexTypeRequest": {
                                "varInt": 1,
                                "varString": "s",
                                "varFloat": 0.5,
                            },
                        }
                    },
                    port=port,
                ),
            )
        )
    ],
}


def outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What a call gave: its answer as plain data, or its fault's parts (the detail's
    elements canonicalised; a fault without detail has ``[]``)."""
    try:
        return ("answer", serialize_object(call(*args, **kwargs), target_cls=dict))
    except zeep.exceptions.Fault as fault:
        detail = []
        if fault.detail is not None:
            detail = [etree.tostring(c, method="c14n", exclusive=True) for c in fault.detail]
        code = str(fault.code).rsplit(":", 1)[-1].rsplit("}", 1)[-1]
        subcodes = [getattr(s, "text", s) for s in fault.subcodes or []]
        return ("fault", code, fault.message, subcodes, detail)


def same(shim: Any, legacy: Any) -> bool:
    """The shim's outcome is the legacy one: a legacy fault is passed on with its own
    detail as it was, and without one when it had none."""
    return bool(shim == legacy)


@contextmanager
def both(shim: CorpusShim, name: str, port: str | None) -> Iterator[tuple[Any, Any]]:
    """The shim's service and the legacy server's, of one zeep client of the shim's WSDL."""
    service = shim.services[name]
    client = zeep.Client(service.wsdl)
    wsdl_service = next(iter(client.wsdl.services.values()))
    port_name = port or next(iter(wsdl_service.ports))
    via_shim = client.bind(wsdl_service.name, port_name)
    binding = wsdl_service.ports[port_name].binding
    via_legacy = client.create_service(binding.name.text, service.legacy)
    yield via_shim, via_legacy


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_operation_answers_as_the_legacy_server_does(
    corpus_shim: CorpusShim, name: str
) -> None:
    assert set(CALLS) == set(CORPUS)
    for call in CALLS[name]:
        with both(corpus_shim, name, call.port) as (via_shim, via_legacy):
            kwargs = call.kwargs or {}
            client = via_shim._binding.wsdl  # the WSDL both services were made from
            args = tuple(
                client.types.get_type(a.type)(a.value) if isinstance(a, Typed) else a
                for a in call.args
            )
            expected = outcome(getattr(via_legacy, call.operation), *args, **kwargs)
            got = outcome(getattr(via_shim, call.operation), *args, **kwargs)
            assert same(got, expected), (name, call, got, expected)


def test_a_declared_modern_shape_is_undone_on_the_way_back(corpus_shim: CorpusShim) -> None:
    """round4mapped serves round4 in a modern shape (renamed, unwrapped, a group
    flattened, an int as minor units): the shim maps each call there and each answer
    back, and old clients see the legacy shape the legacy server gives."""
    for call in CALLS["round4"][:3]:
        with both(corpus_shim, "round4mapped", None) as (via_shim, via_legacy):
            expected = outcome(getattr(via_legacy, call.operation), *call.args)
            assert expected[0] == "answer"
            assert outcome(getattr(via_shim, call.operation), *call.args) == expected, call


def test_a_large_envelope_is_read_off_the_event_loop_and_answered_alike(
    corpus_shim: CorpusShim,
) -> None:
    """A 300 kB string (its envelope read in a worker thread), both ways."""
    text = "grüße <&> " * 30_000
    with both(corpus_shim, "round2", None) as (via_shim, via_legacy):
        expected = outcome(via_legacy.echoString, text)
        assert expected == ("answer", text)
        assert outcome(via_shim.echoString, text) == expected


def test_soap12_actions(corpus_shim: CorpusShim) -> None:
    """sayHi counts greetings: the shim's answer is the legacy server's next one.

    pingMe has no soapAction; zeep sends ``action="None"`` for it, which the legacy
    server refuses: through the shim (whose calls leave the action out) it is answered,
    and in maintenance it is the legacy server's declared faultDetail.
    """
    with both(corpus_shim, "hello12", None) as (via_shim, via_legacy):
        first = via_legacy.sayHi()
        assert via_shim.sayHi() == f"Bonjour #{int(first.split('#')[1]) + 1}"
        assert outcome(via_legacy.pingMe)[2] == "unexpected action 'None'"
        assert outcome(via_shim.pingMe) == ("answer", None)
        corpus_shim.greeter.maintenance = True
        try:
            fault = outcome(via_shim.pingMe)
        finally:
            corpus_shim.greeter.maintenance = False
    namespace = "http://apache.org/hello_world_soap12_http/types"
    detail = (
        f'<ns0:faultDetail xmlns:ns0="{namespace}"><ns0:minor>1</ns0:minor>'
        "<ns0:major>2</ns0:major></ns0:faultDetail>"
    )
    assert fault[:4] == ("fault", "Receiver", "PingMe is down for maintenance", [])
    assert fault[4] == [etree.tostring(etree.fromstring(detail), method="c14n", exclusive=True)]


def test_every_operation_was_called(corpus_shim: CorpusShim) -> None:
    """Each corpus WSDL's operations the legacy servers implement appear in CALLS."""
    called = {(name, c.operation) for name, calls in CALLS.items() for c in calls}
    called |= {("hello12", "sayHi"), ("hello12", "pingMe")}
    for name in ("calculator", "bare", "hello12", "rpcheader", "rpclit", "round2", "round3"):
        # round4: the three operations its legacy server implements, and a few others
        client = zeep.Client(corpus_shim.services[name].wsdl)
        for service in client.wsdl.services.values():
            for port in service.ports.values():
                for operation in port.binding.all():
                    assert (name, operation) in called, (name, operation)
