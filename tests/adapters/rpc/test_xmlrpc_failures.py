"""An XML-RPC system that faults or answers XML-RPC badly: precise problems.

Down, reset, slow, bare 5xx, DTDs, too big, retries and the breaker are the
contract suite's (``tests/adapters/test_legacy_contract.py``), for every kind.
"""

from __future__ import annotations

import contextlib
import threading
import xmlrpc.client
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.rpc.conftest import serve, xmlrpc_adapter
from tests.adapters.rpc.xmlrpc_server import LegacyXmlRpcServer
from tests.servers import canned_server

QUOTE = "/xmlrpc/pricing/pricing.quote"
DECLARED: dict[str, Any] = {
    "introspect": False,
    "methods": {
        "pricing.quote": {"params": {"sku": "string", "qty": "int"}, "safe": True},
        "orders.cancel": {"params": {"order_id": "int"}},
    },
}
ORDER = {"order_id": 7}


def test_fault_is_a_problem_with_the_fault_code(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    with serve(xmlrpc_adapter(xmlrpc_legacy.url, tmp_path)) as http:
        response = http.post("/xmlrpc/pricing/orders.cancel", json={"params": [7]})
        crash = http.post("/xmlrpc/pricing/debug.crash")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:strangler:problem:legacy-fault"
    assert problem["faultcode"] == "4"
    assert problem["faultstring"] == "order 7 is already shipped"
    assert problem["operation"] == "orders.cancel"
    assert crash.status_code == 502
    assert crash.json()["faultcode"] == "1"  # the stdlib's code for an exception


def test_fault_codes_the_spec_names_as_client_faults_are_a_400(
    xmlrpc_legacy: LegacyXmlRpcServer, tmp_path: Path
) -> None:
    adapter = xmlrpc_adapter(xmlrpc_legacy.url, tmp_path, client_fault_codes=[4])
    with serve(adapter) as http:
        response = http.post("/xmlrpc/pricing/orders.cancel", json={"params": [7]})
    assert response.status_code == 400
    assert response.json()["faultcode"] == "4"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<methodResponse><params><param><value><string>&lol2;</string></value></param></params>
</methodResponse>"""
UTF16_ENTITY = (
    '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE r [<!ENTITY x "INJECTED">]>\n'
    "<methodResponse><params><param><value><string>&x;</string></value></param></params>"
    "</methodResponse>"
).encode("utf-16")
TWO_VALUES = (
    b"<methodResponse><params><param><value><int>1</int></value></param>"
    b"<param><value><int>2</int></value></param></params></methodResponse>"
)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, BILLION_LAUGHS, "legacy-protocol"),
        (200, UTF16_ENTITY, "legacy-protocol"),
        (200, b"<methodResponse><params><unclosed>", "legacy-protocol"),
        (200, b"<html>not xml-rpc</html>", "legacy-protocol"),
        (200, TWO_VALUES, "legacy-protocol"),
        (200, b"", "legacy-protocol"),
        (404, b"<html>gone</html>", "legacy-protocol"),
    ],
    ids=[
        "entity-expansion",
        "entity-in-utf16",
        "malformed",
        "not-xmlrpc",
        "two-values",
        "empty",
        "404",
    ],
)
def test_hostile_or_broken_replies_are_a_502(
    tmp_path: Path, status: int, body: bytes, kind: str
) -> None:
    spec = {**DECLARED, "retry": {"attempts": 1}}
    with (
        canned_server(status, body) as address,
        serve(xmlrpc_adapter(address, tmp_path, **spec)) as http,
    ):
        response = http.post("/xmlrpc/pricing/orders.cancel", json=ORDER)
    assert response.status_code == 502, response.text
    assert response.json()["type"] == f"urn:strangler:problem:{kind}"
    assert "INJECTED" not in response.text
    assert "root:" not in response.text


def test_fault_sent_with_http_500_is_still_a_fault(tmp_path: Path) -> None:
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(-32602, "bad qty"), methodresponse=True)
    with (
        canned_server(500, body.encode()) as address,
        serve(xmlrpc_adapter(address, tmp_path, **DECLARED)) as http,
    ):
        response = http.post("/xmlrpc/pricing/orders.cancel", json=ORDER)
    assert response.status_code == 400  # -32602: the interop code for invalid parameters
    assert response.json()["faultcode"] == "-32602"


@contextlib.contextmanager
def streaming_server(body: bytes, seen: list[str]) -> Iterator[str]:
    """Answers ``body`` without a Content-Length (the end of the body is the close),
    in small writes; records each request's Authorization header."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers.get("authorization", ""))
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "text/xml")
            self.end_headers()
            for start in range(0, len(body), 8192):
                self.wfile.write(body[start : start + 8192])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_basic_auth_is_sent(tmp_path: Path) -> None:
    spec = {**DECLARED, "auth": {"kind": "basic", "username": "app", "password": "pw"}}
    seen: list[str] = []
    body = xmlrpc.client.dumps((True,), methodresponse=True).encode()
    with (
        streaming_server(body, seen) as address,
        serve(xmlrpc_adapter(address, tmp_path, **spec)) as http,
    ):
        answer = http.post("/xmlrpc/pricing/orders.cancel", json=ORDER).json()
    assert answer == {"result": True}
    assert seen == ["Basic YXBwOnB3"]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "streamed"])
def test_an_answer_beyond_max_response_bytes_is_refused(tmp_path: Path, streamed: bool) -> None:
    big = xmlrpc.client.dumps(("x" * 200_000,), methodresponse=True).encode()
    server = streaming_server(big, []) if streamed else canned_server(200, big)
    with server as address:
        small = xmlrpc_adapter(address, tmp_path, max_response_bytes=100_000, **DECLARED)
        large = xmlrpc_adapter(address, tmp_path, max_response_bytes=300_000, **DECLARED)
        with serve(small) as http:
            response = http.post("/xmlrpc/pricing/orders.cancel", json=ORDER)
        with serve(large) as http:
            whole = http.post("/xmlrpc/pricing/orders.cancel", json=ORDER)
    assert response.status_code == 502
    assert response.json()["type"] == "urn:strangler:problem:legacy-protocol"
    assert "100000 bytes" in response.json()["detail"]
    assert whole.json() == {"result": "x" * 200_000}  # read whole, chunk after chunk
