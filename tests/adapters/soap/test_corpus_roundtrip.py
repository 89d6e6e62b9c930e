"""Real round trips through the REST API to hand-written SOAP servers for corpus WSDLs.

Each server (tests/adapters/soap/legacy_servers) parses the envelope zeep built and
computes its answer from it, so a value in the JSON answer proves the request went
out in the shape the WSDL prescribes and the reply came back in the shape we promise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.adapters.soap.legacy_servers import (
    cxf_calculator_soap12,
    cxf_doc_lit_bare,
    cxf_hello_world_soap12,
    cxf_soapheader_rpc,
    ibm_rpc_literal,
    soapbuilders,
)
from tests.adapters.soap.legacy_servers.plumbing import SOAP12, LegacyServer, is_nil
from tests.conftest import SpecRunner

CORPUS_DIR = Path(__file__).parents[2] / "data" / "wsdl"


@contextmanager
def rest_for(api: SpecRunner, wsdl: str, server: LegacyServer) -> Iterator[httpx.Client]:
    """The REST API for corpus ``wsdl`` with its port addresses pointing at ``server``."""
    spec = (
        "systems:\n"
        "  corpus:\n"
        "    kind: soap\n"
        f"    wsdl: {CORPUS_DIR / wsdl}\n"
        f"    address: {server.url}\n"
        "    timeout_s: 5\n"
    )
    with api(spec) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("legacy-fault"), body
    return body


# -- rpc/literal with a soap:header part ---------------------------------------------


def test_rpc_literal_header_part_travels_as_soap_header(api: SpecRunner) -> None:
    with (
        cxf_soapheader_rpc.running() as server,
        rest_for(api, cxf_soapheader_rpc.WSDL, server) as http,
    ):
        path = "/soap/corpus/SOAPRPCHeaderService/SoapRPCHeaderPort/testHeader1"
        body = {"in": "hello", "soapHeader": {"inHeader": {"headerVal": "tenant-7"}}}
        assert ok(http.post(path, json=body)) == {"out": "tenant-7:HELLO"}
        inout = {"in": "abc", "soapHeader": {"inOutHeader": {"headerVal": "h"}}}
        assert ok(http.post("/soap/corpus/testInOutHeader", json=inout)) == {"out": "abc (3)"}
        fault = problem(http.post(path, json={"in": "no header"}), 400)
        assert "headerMessage" in fault["faultstring"]
        assert fault["faultcode"].endswith("Client")


def test_rpc_literal_wrappers_in_each_operations_namespace(api: SpecRunner) -> None:
    with ibm_rpc_literal.running() as server, rest_for(api, ibm_rpc_literal.WSDL, server) as http:
        pair = {"in": {"data1": 6, "data2": 7}}
        assert ok(http.post("/soap/corpus/op1", json=pair)) == {
            "op1Return": {"data1": 13, "data2": 42}
        }
        assert ok(http.post("/soap/corpus/SampleService/Sample/op2", json=pair)) == {
            "op2Return": {"data1": 7, "data2": 6}
        }
        op3 = {"DataElem": {"data1": 1, "data2": 2}, "in2": {"RefDataElem": 40}}
        assert ok(http.post("/soap/corpus/op3", json=op3)) == {"op3Return": {"RefDataElem": 43}}
        big = {"in": {"data1": 2**30, "data2": 4}}
        fault = problem(http.post("/soap/corpus/op1", json=big), 502)
        assert fault["faultcode"].endswith("Server")
        assert "overflows" in fault["faultstring"]


# -- rpc/encoded, SOAP-ENC arrays --------------------------------------------------------


def test_rpc_encoded_round2_scalars_struct_and_arrays(api: SpecRunner) -> None:
    with soapbuilders.running() as server, rest_for(api, soapbuilders.R2_WSDL, server) as http:
        assert ok(http.post("/soap/corpus/echoString", json={"inputString": "grüße <&>"})) == {
            "outputString": "grüße <&>"
        }
        assert ok(http.post("/soap/corpus/echoInteger", json={"inputInteger": -42})) == {
            "outputInteger": -42
        }
        assert ok(http.post("/soap/corpus/echoString", json={"inputString": ""})) == {
            "outputString": ""
        }
        strings = ["a", "", "b c", "ü"]
        answer = ok(http.post("/soap/corpus/echoStringArray", json={"inputStringArray": strings}))
        assert answer == {"outputStringArray": strings}
        assert ok(http.post("/soap/corpus/echoFloat", json={"inputFloat": 1.25})) == {
            "outputFloat": 1.25
        }
        assert ok(http.post("/soap/corpus/echoBoolean", json={"inputBoolean": False})) == {
            "outputBoolean": False
        }
        assert ok(http.post("/soap/corpus/echoBase64", json={"inputBase64": "aGk="})) == {
            "outputBase64": "aGk="
        }
        ints = {"inputIntegerArray": [3, 1, 2]}
        assert ok(http.post("/soap/corpus/echoIntegerArray", json=ints)) == {
            "outputIntegerArray": [3, 1, 2]
        }
        struct = {"varString": "s", "varInt": 7, "varFloat": 0.5}
        assert ok(http.post("/soap/corpus/echoStruct", json={"inputStruct": struct})) == {
            "outputStruct": struct
        }
        structs = {"inputStructArray": [struct, {**struct, "varInt": 8}]}
        assert ok(http.post("/soap/corpus/echoStructArray", json=structs)) == {
            "outputStructArray": structs["inputStructArray"]
        }
        assert ok(http.post("/soap/corpus/echoVoid", json={})) == {}
        negative = {"inputStruct": {**struct, "varInt": -1}}
        fault = problem(http.post("/soap/corpus/echoStruct", json=negative), 400)
        assert fault["faultstring"] == "varInt must not be negative"
        assert fault["faultdetail"] == {"StructRejected": {"varInt": "-1"}}


def test_rpc_encoded_round3_struct_through_wsdl_import(api: SpecRunner) -> None:
    with soapbuilders.running() as server, rest_for(api, soapbuilders.R3_WSDL, server) as http:
        struct = {"varString": "r3", "varInt": 3, "varFloat": 2.25}
        assert ok(http.post("/soap/corpus/echoStruct", json={"inputStruct": struct})) == {
            "Result": struct
        }
        fault = problem(
            http.post("/soap/corpus/echoStruct", json={"inputStruct": {**struct, "varInt": -3}}),
            400,
        )
        assert fault["faultcode"].endswith("Client")


# -- document/literal bare ----------------------------------------------------------------


def test_doc_literal_bare_parts_and_empty_bodies(api: SpecRunner) -> None:
    with cxf_doc_lit_bare.running() as server, rest_for(api, cxf_doc_lit_bare.WSDL, server) as http:
        assert ok(http.post("/soap/corpus/bareNoParam", json={})) == {"stringRespType": "no trades"}
        trade = {"tickerSymbol": "IBM", "tickerPrice": 190.5}
        assert ok(http.post("/soap/corpus/PutLastTradedPrice", json=trade)) == {}
        asked = {"tickerSymbol": "IBM", "tickerPrice": 1.0}
        assert ok(http.post("/soap/corpus/SayHi", json=asked)) == trade
        assert ok(http.post("/soap/corpus/bareNoParam", json={})) == {
            "stringRespType": "1 symbols, last IBM at 190.5"
        }
        rounded = ok(http.post("/soap/corpus/nillableParameter", json={"inDecimal": "12.345"}))
        assert rounded == {"outString": "12.34"}
        fault = problem(
            http.post("/soap/corpus/PutLastTradedPrice", json={**trade, "tickerPrice": -1}), 400
        )
        assert fault["faultstring"] == "tickerPrice must be positive"
        assert fault["faultdetail"] == {"outString": "IBM: -1.0"}


def test_null_for_a_nillable_bare_part_is_sent_as_xsi_nil(api: SpecRunner) -> None:
    """zeep renders None for a bare simple body part as the text "None"; the adapter
    sends xsi:nil instead, and a nil bare reply comes back as null, not as {}."""
    with cxf_doc_lit_bare.running() as server, rest_for(api, cxf_doc_lit_bare.WSDL, server) as http:
        answer = ok(http.post("/soap/corpus/nillableParameter", json={"inDecimal": None}))
        assert answer == {"outString": None}
        sent = server.requests[-1].operation
        assert sent is not None and is_nil(sent) and sent.text is None


# -- SOAP 1.2 ---------------------------------------------------------------------------------


def test_soap12_calculator_and_its_sender_and_receiver_faults(api: SpecRunner) -> None:
    with (
        cxf_calculator_soap12.running() as server,
        rest_for(api, cxf_calculator_soap12.WSDL, server) as http,
    ):
        path = "/soap/corpus/CalculatorService/CalculatorPort/add"
        assert ok(http.post(path, json={"arg0": 40, "arg1": 2})) == {"return": 42}
        sent = server.requests[-1]
        assert sent.soap == SOAP12
        assert sent.content_type.startswith("application/soap+xml")
        sender = problem(http.post(path, json={"arg0": -1, "arg1": 2}), 400)
        assert sender["faultcode"].endswith("Sender")
        assert sender["subcodes"] == [cxf_calculator_soap12.NEGATIVE]
        assert sender["faultdetail"] == {
            "CalculatorFault": {
                "faultInfo": "negative operand",
                "message": "Negative number cant be added: -1, 2",
            }
        }
        receiver = problem(http.post(path, json={"arg0": 2**31 - 1, "arg1": 1}), 502)
        assert receiver["faultcode"].endswith("Receiver")


def test_soap12_actions_and_a_receiver_fault_with_detail(api: SpecRunner) -> None:
    greeter = cxf_hello_world_soap12.Greeter()
    with (
        cxf_hello_world_soap12.running(greeter) as server,
        rest_for(api, cxf_hello_world_soap12.WSDL, server) as http,
    ):
        assert ok(http.post("/soap/corpus/sayHi", json={})) == {"responseType": "Bonjour #1"}
        assert ok(http.post("/soap/corpus/sayHi", json={})) == {"responseType": "Bonjour #2"}
        assert server.requests[-1].action == "sayHiAction"
        # pingMe has no soapAction: the content type must not say action="None".
        assert ok(http.post("/soap/corpus/pingMe", json={})) == {}
        assert server.requests[-1].action is None
        greeter.maintenance = True
        fault = problem(http.post("/soap/corpus/pingMe", json={}), 502)
        assert fault["faultcode"].endswith("Receiver")
        assert fault["faultstring"] == "PingMe is down for maintenance"
        assert fault["faultdetail"] == {"faultDetail": {"minor": "1", "major": "2"}}


def test_the_legacy_servers_refuse_dtds() -> None:
    """The hand-written servers parse envelopes safely: a DTD is a Client fault."""
    envelope = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "boom">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body><op3>&x;</op3></soap:Body></soap:Envelope>"
    )
    with ibm_rpc_literal.running() as server:
        reply = httpx.post(server.url, content=envelope, headers={"content-type": "text/xml"})
    assert reply.status_code == 500
    assert b"DTDs are not accepted" in reply.content
    assert server.requests == []
