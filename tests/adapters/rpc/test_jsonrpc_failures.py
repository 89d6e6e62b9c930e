"""A JSON-RPC system that errs or is confused: each case a precise problem.

Down, reset, slow, bare 5xx, too big, retries and the breaker are the contract
suite's (``tests/adapters/test_legacy_contract.py``), for every kind.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.adapters.rpc.conftest import jsonrpc_adapter, serve
from tests.adapters.rpc.jsonrpc_server import LegacyJsonRpcServer, start_jsonrpc_server
from tests.servers import canned_server, unused_address

BASE = "/jsonrpc/shop"
JSON = "application/json"
QUOTE = {"sku": "SKU-1", "qty": 1}


def _fault(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["type"] == "urn:strangler:problem:legacy-fault"
    return problem


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (-32700, 502),  # parse error: the gateway's request, not the caller's
        (-32600, 502),  # invalid request: likewise
        (-32601, 502),  # method not found: the spec names a method the system lacks
        (-32602, 400),  # invalid params: the caller's values
        (-32603, 502),  # internal error
        (-32000, 502),  # server errors -32000..-32099
        (-32099, 502),
        (-32768, 502),  # the rest of the reserved range
        (-32100, 502),
        (4, 400),  # application errors: the legacy system refused the request
        (0, 400),
        (-1, 400),
        (-40000, 400),
    ],
)
def test_each_error_code_is_a_problem_with_the_code(
    jsonrpc_legacy: LegacyJsonRpcServer, code: int, status: int
) -> None:
    with serve(jsonrpc_adapter(jsonrpc_legacy.url)) as http:
        response = http.post(f"{BASE}/fail", json={"code": code})
    assert response.status_code == status, response.text
    problem = _fault(response)
    assert problem["faultcode"] == str(code)
    assert problem["faultstring"] == f"failure {code}"
    assert problem["faultdetail"] == {"asked": code}
    assert problem["operation"] == "fail"


def test_errors_the_server_itself_raises(jsonrpc_legacy: LegacyJsonRpcServer) -> None:
    with serve(jsonrpc_adapter(jsonrpc_legacy.url)) as http:
        missing = http.post(f"{BASE}/missing.method")
        crash = http.post(f"{BASE}/crash")
    assert (missing.status_code, _fault(missing)["faultcode"]) == (502, "-32601")
    assert (crash.status_code, _fault(crash)["faultcode"]) == (502, "-32603")
    methods = {"pricing.quote": {"params": {"sku": "string"}}}  # the server also wants qty
    with serve(jsonrpc_adapter(jsonrpc_legacy.url, methods=methods)) as http:
        invalid = http.post(f"{BASE}/pricing.quote", json={"sku": "SKU-1"})
    assert (invalid.status_code, _fault(invalid)["faultcode"]) == (400, "-32602")


def test_spec_overrides_which_codes_blame_whom(jsonrpc_legacy: LegacyJsonRpcServer) -> None:
    adapter = jsonrpc_adapter(
        jsonrpc_legacy.url, server_fault_codes=[4], client_fault_codes=[-32601]
    )
    with serve(adapter) as http:
        assert http.post(f"{BASE}/orders.cancel", json={"order_id": 1}).status_code == 502
        assert http.post(f"{BASE}/missing.method").status_code == 400


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, b'{"jsonrpc": "2.0", "result": 1, "id": "not-mine"}', "legacy-protocol"),
        (200, b'{"jsonrpc": "2.0", "result": 1, "id": true}', "legacy-protocol"),
        (200, b'{"jsonrpc": "2.0", "result": 1}', "legacy-protocol"),
        (200, b'{"jsonrpc": "2.0", "res', "legacy-protocol"),
        (200, b'{"result": 1, "id": 1}', "legacy-protocol"),
        (200, b'{"jsonrpc": "2.0", "result": 1, "error": {}, "id": 1}', "legacy-protocol"),
        (200, b'{"jsonrpc": "2.0", "error": {"code": "x"}, "id": null}', "legacy-protocol"),
        (200, b'[{"jsonrpc": "2.0", "result": 1, "id": 1}]', "legacy-protocol"),
        (200, b"", "legacy-protocol"),
        (404, b"<html>gone</html>", "legacy-protocol"),
        (
            200,
            b'{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}',
            "legacy-fault",
        ),
        (
            500,
            b'{"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal"}, "id": null}',
            "legacy-fault",
        ),
    ],
    ids=[
        "id-mismatch",
        "id-of-another-type",
        "no-id",
        "malformed-json",
        "not-2.0",
        "result-and-error",
        "malformed-error",
        "batch-answer-to-one-call",
        "empty",
        "404-html",
        "error-with-null-id",
        "error-with-http-500",
    ],
)
def test_confused_answers(status: int, body: bytes, kind: str) -> None:
    with (
        canned_server(status, body, JSON) as address,
        serve(jsonrpc_adapter(address, retry={"attempts": 1})) as http,
    ):
        response = http.post(f"{BASE}/orders.cancel", json={"order_id": 1})
    assert response.status_code == 502, response.text
    assert response.json()["type"] == f"urn:strangler:problem:{kind}"


@pytest.mark.parametrize(
    ("body", "statuses"),
    [
        (b"[]", [502, 502]),  # no answer to either call
        (
            b'[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "x"}, "id": null}]',
            [502, 502],
        ),
    ],
    ids=["no-answers", "one-unmatchable-error"],
)
def test_batch_answers_missing_calls(body: bytes, statuses: list[int]) -> None:
    calls = [{"method": "orders.cancel", "params": {"order_id": n}} for n in (1, 2)]
    with canned_server(200, body, JSON) as address, serve(jsonrpc_adapter(address)) as http:
        items = http.post(f"{BASE}/_batch", json=calls).json()
    assert [i["status"] for i in items] == statuses
    kinds = [i["problem"]["type"].rsplit(":", 1)[1] for i in items]
    assert kinds[1] == "legacy-protocol"
    assert kinds[0] == ("legacy-protocol" if body == b"[]" else "legacy-fault")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"jsonrpc": "2.0", "error": {"code": -32600, "message": "x"}, "id": null}', "fault"),
        (b'{"jsonrpc": "2.0", "result": 1, "id": 1}', "protocol"),
        (b'[{"jsonrpc": "2.0", "result": 1, "id": 123456789}]', "protocol"),
        (b"not json", "protocol"),
    ],
    ids=["one-error-for-all", "not-a-list", "unknown-id", "malformed"],
)
def test_batch_failing_as_a_whole_is_one_problem(body: bytes, kind: str) -> None:
    calls = [{"method": "echo"}, {"method": "orders.cancel", "params": {"order_id": 1}}]
    with canned_server(200, body, JSON) as address, serve(jsonrpc_adapter(address)) as http:
        response = http.post(f"{BASE}/_batch", json=calls)
    assert response.status_code == 502
    assert response.json()["type"] == f"urn:strangler:problem:legacy-{kind}"


def test_connection_refused_is_a_502_for_calls_notifications_and_batches() -> None:
    with serve(jsonrpc_adapter(unused_address(), retry={"attempts": 1})) as http:
        answers = [
            http.post(f"{BASE}/orders.cancel", json={"order_id": 1}),
            http.post(f"{BASE}/audit.log", json={"message": "m"}),
            http.post(f"{BASE}/_batch", json=[{"method": "echo"}]),
        ]
    for response in answers:
        assert response.status_code == 502
        assert response.json()["type"] == "urn:strangler:problem:legacy-unavailable"


def test_notification_answered_with_an_error_is_a_problem() -> None:
    body = b'{"jsonrpc": "2.0", "error": {"code": -32601, "message": "no"}, "id": null}'
    with canned_server(200, body, JSON) as address, serve(jsonrpc_adapter(address)) as http:
        response = http.post(f"{BASE}/audit.log", json={"message": "m"})
    assert response.status_code == 502
    assert _fault(response)["faultcode"] == "-32601"


def test_batch_is_retried_only_when_every_call_is_safe() -> None:
    retry = {"attempts": 2, "wait_initial_s": 0.01, "wait_max_s": 0.01}
    safe = [{"method": "slow.safe", "params": {"seconds": 1.0}}, {"method": "echo"}]
    mixed = [{"method": "slow", "params": {"seconds": 1.0}}, {"method": "echo"}]
    with start_jsonrpc_server() as legacy:
        with serve(jsonrpc_adapter(legacy.url, timeout_s=0.3, retry=retry)) as http:
            assert http.post(f"{BASE}/_batch", json=safe).status_code == 504
            assert http.post(f"{BASE}/_batch", json=mixed).status_code == 504
        time.sleep(0.2)
        assert (legacy.calls["slow.safe"], legacy.calls["slow"]) == (2, 1)


def test_faults_do_not_open_the_circuit(jsonrpc_legacy: LegacyJsonRpcServer) -> None:
    adapter = jsonrpc_adapter(jsonrpc_legacy.url, breaker={"failures": 2, "reset_s": 30})
    with serve(adapter) as http:
        for _ in range(4):
            assert http.post(f"{BASE}/orders.cancel", json={"order_id": 1}).status_code == 400
        assert http.post(f"{BASE}/pricing.quote", json=QUOTE).status_code == 200
