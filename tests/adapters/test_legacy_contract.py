"""One contract for every HTTP-based legacy kind (SOAP, XML-RPC, JSON-RPC).

Each case runs against real servers on free loopback ports and asks through
the real REST app: a legacy system that is down, resets, hangs, fails with a
bare 5xx, answers something hostile or too big, or keeps failing until its
breaker opens, is answered with the same problem+json for every kind. The
cases each protocol has of its own (faults, codes, ids) stay in
``tests/adapters/soap`` and ``tests/adapters/rpc``.

No case asserts a duration: retries are counted on the server and through
stamina's retry hooks, breaker rejections by the requests that never arrive,
memory by the process's resident size.
"""

from __future__ import annotations

import contextlib
import json
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from stamina.instrumentation import RetryDetails, get_on_retry_hooks, set_on_retry_hooks

from strangler.demo.inventory import WSDL_PATH, start_inventory_server
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.adapters.rpc.conftest import JSONRPC_METHODS
from tests.adapters.rpc.jsonrpc_server import start_jsonrpc_server
from tests.adapters.rpc.xmlrpc_server import start_xmlrpc_server
from tests.servers import (
    ClosingServer,
    canned_server,
    free_port,
    run_app,
    serve_http,
    silent_server,
    unused_address,
)

PROBLEM = "application/problem+json"
Call = tuple[str, dict[str, Any]]
QUICK_RETRIES = {"attempts": 3, "wait_initial_s": 0.01, "wait_max_s": 0.01}


@dataclass(frozen=True)
class Kind:
    """How one kind of legacy system is declared, called and served healthy."""

    name: str
    system: str
    content_type: str
    declare: Callable[[str], dict[str, Any]]  # base URL → the system's spec section
    safe: Call
    unsafe: Call
    big: Callable[[int], Call]  # size → an unsafe call carrying that many bytes
    healthy: Callable[[int], contextlib.AbstractContextManager[Any]]  # port → a real server
    hostile: bytes
    oversized: Callable[[int], bytes]  # size → a well-formed answer of about that size


def _soap(base: str) -> dict[str, Any]:
    return {
        "kind": "soap",
        "wsdl": str(WSDL_PATH),
        "address": base,
        "safe_operations": ["GetStock"],
    }


def _xmlrpc(base: str) -> dict[str, Any]:
    return {
        "kind": "xmlrpc",
        "url": base + "/RPC2",
        "introspect": False,
        "methods": {
            "pricing.quote": {"params": {"sku": "string", "qty": "int"}, "safe": True},
            "orders.cancel": {"params": {"order_id": "int"}},
            "untyped.echo": {"params": {"text": "string"}},
        },
    }


def _jsonrpc(base: str) -> dict[str, Any]:
    return {"kind": "jsonrpc", "url": base + "/rpc", "methods": JSONRPC_METHODS}


_DTD = (
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">'
    b'<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">]>\n'
)

KINDS = [
    Kind(
        name="soap",
        system="inventory",
        content_type="text/xml",
        declare=_soap,
        safe=("/soap/inventory/GetStock", {"sku": "SKU-1001"}),
        unsafe=("/soap/inventory/AdjustStock", {"sku": "SKU-1001", "delta": 1, "reason": "r"}),
        big=lambda n: (
            "/soap/inventory/AdjustStock",
            {"sku": "SKU-1001", "delta": 1, "reason": "x" * n},
        ),
        healthy=lambda port: start_inventory_server(port=port),
        hostile=_DTD + b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body>&x;&l2;</soap:Body></soap:Envelope>",
        oversized=lambda n: (
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            + b"<a>"
            + b"x" * n
            + b"</a></soap:Body></soap:Envelope>"
        ),
    ),
    Kind(
        name="xmlrpc",
        system="pricing",
        content_type="text/xml",
        declare=_xmlrpc,
        safe=("/xmlrpc/pricing/pricing.quote", {"sku": "SKU-1", "qty": 1}),
        unsafe=("/xmlrpc/pricing/orders.cancel", {"order_id": 7}),
        big=lambda n: ("/xmlrpc/pricing/untyped.echo", {"text": "x" * n}),
        healthy=lambda port: start_xmlrpc_server(port),
        hostile=_DTD + b"<methodResponse><params><param><value><string>&x;&l2;</string></value>"
        b"</param></params></methodResponse>",
        oversized=lambda n: (
            b"<methodResponse><params><param><value><string>"
            + b"x" * n
            + b"</string></value></param></params></methodResponse>"
        ),
    ),
    Kind(
        name="jsonrpc",
        system="shop",
        content_type="application/json",
        declare=_jsonrpc,
        safe=("/jsonrpc/shop/pricing.quote", {"sku": "SKU-1", "qty": 1}),
        unsafe=("/jsonrpc/shop/orders.cancel", {"order_id": 1}),
        big=lambda n: ("/jsonrpc/shop/echo", {"params": ["x" * n]}),
        healthy=lambda port: start_jsonrpc_server(port),
        hostile=_DTD + b"<r>&x;&l2;</r>",
        oversized=lambda n: b'{"jsonrpc": "2.0", "id": 1, "result": "' + b"x" * n + b'"}',
    ),
]


@pytest.fixture(params=KINDS, ids=[k.name for k in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    found: Kind = request.param
    return found


@pytest.fixture
def legacy_api(
    kind: Kind, tmp_path: Path
) -> Callable[..., contextlib.AbstractContextManager[httpx.Client]]:
    """The REST app over one legacy system at ``base`` with the given call policy."""

    @contextlib.contextmanager
    def serve(base: str, **policy: Any) -> Iterator[httpx.Client]:
        section = {**kind.declare(base), **policy}
        text = json.dumps({"systems": {kind.system: section}})
        spec = parse_spec(text, filename="contract.yaml", base_dir=tmp_path, env={})
        app = create_app(spec, cache_dir=tmp_path / "cache")
        with run_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            yield client

    return serve


def post(client: httpx.Client, call: Call) -> httpx.Response:
    path, body = call
    return client.post(path, json=body)


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"urn:strangler:problem:{kind}"
    assert problem["status"] == status
    return problem


@contextlib.contextmanager
def counted_retries() -> Iterator[list[int]]:
    """Count the retries stamina schedules (one item per retry) while the block runs."""
    retries: list[int] = []

    def hook(details: RetryDetails) -> None:
        retries.append(details.retry_num)

    previous = get_on_retry_hooks()
    set_on_retry_hooks([hook])
    try:
        yield retries
    finally:
        set_on_retry_hooks(previous)


def breaker_states(readyz: dict[str, Any], system: str) -> list[str]:
    """Every breaker state ``/readyz`` reports for ``system`` (one per SOAP port)."""
    health = readyz["components"][system]
    if "breakers" in health:
        return list(health["breakers"].values())
    return [health["breaker"]]


# --- the legacy system cannot be reached, or does not answer -------------------------------


def test_connection_refused_is_legacy_unavailable(
    kind: Kind, legacy_api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    address = unused_address()
    with legacy_api(address, retry={"attempts": 1}) as client:
        response = post(client, kind.unsafe)
    problem = assert_problem(response, 502, "legacy-unavailable")
    assert problem["system"] == kind.system
    assert "connection refused" in problem["detail"]
    host_port = address.split("//")[1]
    assert host_port not in response.text  # an internal address is for the log only
    assert host_port in caplog.text


def test_connection_reset_is_legacy_unavailable(kind: Kind, legacy_api: Any) -> None:
    with ClosingServer() as flaky, legacy_api(flaky.url) as client:
        assert_problem(post(client, kind.unsafe), 502, "legacy-unavailable")


def test_an_answer_after_the_timeout_is_legacy_timeout(kind: Kind, legacy_api: Any) -> None:
    with silent_server() as address, legacy_api(address, timeout_s=0.3) as client:
        assert_problem(post(client, kind.unsafe), 504, "legacy-timeout")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_without_a_protocol_answer_is_legacy_unavailable(
    kind: Kind, legacy_api: Any, status: int
) -> None:
    page = b"<html><body>Service Temporarily Unavailable</body></html>"
    with (
        canned_server(status, page, "text/html") as address,
        legacy_api(address, retry={"attempts": 1}) as client,
    ):
        assert_problem(post(client, kind.unsafe), 502, "legacy-unavailable")


def test_credentials_refused_is_a_protocol_error_naming_them(kind: Kind, legacy_api: Any) -> None:
    with canned_server(401, b"denied", "text/plain") as address, legacy_api(address) as client:
        problem = assert_problem(post(client, kind.unsafe), 502, "legacy-protocol")
    assert "credentials" in problem["detail"]


# --- the legacy system answers something hostile or too big ---------------------------------


def test_a_reply_with_a_dtd_is_refused(kind: Kind, legacy_api: Any) -> None:
    with (
        canned_server(200, kind.hostile, kind.content_type) as address,
        legacy_api(address) as client,
    ):
        response = post(client, kind.unsafe)
    assert_problem(response, 502, "legacy-protocol")
    assert "root:" not in response.text  # nothing of the local file leaked


@contextlib.contextmanager
def streaming_server(body: bytes, content_type: str) -> Iterator[str]:
    """Answers ``body`` without a Content-Length (its end is the close), in small writes."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.end_headers()
            for start in range(0, len(body), 8192):
                self.wfile.write(body[start : start + 8192])

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_an_oversized_reply_is_refused(kind: Kind, legacy_api: Any, declared: bool) -> None:
    body = kind.oversized(300_000)
    server = (
        canned_server(200, body, kind.content_type)
        if declared
        else streaming_server(body, kind.content_type)
    )
    with server as address, legacy_api(address, max_response_bytes=100_000) as client:
        problem = assert_problem(post(client, kind.unsafe), 502, "legacy-protocol")
    assert "100000 bytes" in problem["detail"]


# --- retries: only for safe operations, never when the breaker is open -----------------------


def test_safe_operation_retried_unsafe_not(kind: Kind, legacy_api: Any) -> None:
    breaker = {"failures": 100, "reset_s": 30}
    with (
        ClosingServer() as flaky,
        legacy_api(flaky.url, retry=QUICK_RETRIES, breaker=breaker) as client,
        counted_retries() as retries,
    ):
        assert_problem(post(client, kind.safe), 502, "legacy-unavailable")
        safe = (flaky.connections, len(retries))
        assert_problem(post(client, kind.unsafe), 502, "legacy-unavailable")
        unsafe = (flaky.connections - safe[0], len(retries) - safe[1])
    assert safe == (3, 2)  # three attempts, two of them retries
    assert unsafe == (1, 0)  # a write is never sent twice


def test_open_breaker_answers_at_once_without_retrying(kind: Kind, legacy_api: Any) -> None:
    breaker = {"failures": 2, "reset_s": 600}
    with (
        ClosingServer() as flaky,
        legacy_api(flaky.url, retry=QUICK_RETRIES, breaker=breaker) as client,
        counted_retries() as retries,
    ):
        # Two failed calls (each tried three times, counted once) open the breaker.
        for _ in range(2):
            first = assert_problem(post(client, kind.safe), 502, "legacy-unavailable")
        assert (flaky.connections, len(retries)) == (6, 4)
        before = (flaky.connections, len(retries))
        for call in (kind.safe, kind.unsafe, kind.safe):
            problem = assert_problem(post(client, call), 503, "circuit-open")
            assert problem["system"] == kind.system
        after = (flaky.connections, len(retries))
        readyz = client.get("/readyz")
    assert after == before  # no request reached the server, no retry was scheduled
    assert first["system"] == kind.system
    assert "opened" in breaker_states(readyz.json(), kind.system)
    assert readyz.status_code == 503  # a breaker refusing calls makes the app not ready


# --- what a caller provokes does not count against the legacy system -------------------------


def test_a_call_counts_once_against_the_breaker_however_often_it_was_tried(
    kind: Kind, legacy_api: Any
) -> None:
    breaker = {"failures": 3, "reset_s": 600}
    with (
        ClosingServer() as flaky,
        legacy_api(flaky.url, retry=QUICK_RETRIES, breaker=breaker) as client,
    ):
        for _ in range(2):  # six attempts in all, two calls: the breaker stays closed
            assert_problem(post(client, kind.safe), 502, "legacy-unavailable")
        closed = client.get("/readyz")
        assert_problem(post(client, kind.safe), 502, "legacy-unavailable")
        assert_problem(post(client, kind.safe), 503, "circuit-open")
    assert flaky.connections == 9
    assert closed.status_code == 200
    assert set(breaker_states(closed.json(), kind.system)) == {"closed"}


def test_an_oversized_request_is_refused_before_it_is_sent(kind: Kind, legacy_api: Any) -> None:
    breaker = {"failures": 1, "reset_s": 600}
    with (
        ClosingServer() as flaky,
        legacy_api(flaky.url, max_request_bytes=10_000, breaker=breaker) as client,
    ):
        for _ in range(3):
            problem = assert_problem(post(client, kind.big(50_000)), 413, "too-large")
        readyz = client.get("/readyz")
    assert "10000" in problem["detail"]
    assert flaky.connections == 0  # nothing reached the legacy system
    assert readyz.status_code == 200  # and its breaker did not count it


# --- the breaker: open, half-open, closed against a server that comes back ------------------


def test_breaker_opens_probes_and_closes_when_the_system_is_back(
    kind: Kind, legacy_api: Any
) -> None:
    port = free_port()
    policy = {"retry": {"attempts": 1}, "breaker": {"failures": 2, "reset_s": 0.5}}
    with legacy_api(f"http://127.0.0.1:{port}", **policy) as client:
        for _ in range(2):
            assert_problem(post(client, kind.safe), 502, "legacy-unavailable")
        opened = post(client, kind.safe)
        assert_problem(opened, 503, "circuit-open")
        assert int(opened.headers["retry-after"]) >= 1
        # Half-open: after reset_s one probe goes through; it fails, so the breaker reopens.
        _wait_for_probe()
        assert_problem(post(client, kind.safe), 502, "legacy-unavailable")
        assert_problem(post(client, kind.safe), 503, "circuit-open")
        with kind.healthy(port):
            assert_problem(post(client, kind.safe), 503, "circuit-open")  # still paused
            _wait_for_probe()
            recovered = post(client, kind.safe)
            assert recovered.status_code == 200, recovered.text
            assert post(client, kind.safe).status_code == 200
            readyz = client.get("/readyz")
    assert readyz.status_code == 200
    assert set(breaker_states(readyz.json(), kind.system)) == {"closed"}


def _wait_for_probe() -> None:
    """Sleep past ``reset_s`` (0.5 s): the breaker then lets one probe through."""
    time.sleep(0.6)


# --- a refused call costs nothing that stays -------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize()


def test_calls_refused_by_an_open_breaker_do_not_pile_up_memory(
    kind: Kind, legacy_api: Any
) -> None:
    """Each refused call carries a 256 KiB body; 1,500 of them would hold ~400 MB if
    the frames of refused calls stayed alive. Memory must stay flat instead."""
    size, calls, bound = 256 * 1024, 1500, 48 * 1024 * 1024
    policy = {"retry": {"attempts": 1}, "breaker": {"failures": 1, "reset_s": 3600}}
    with legacy_api(unused_address(), **policy) as client:
        assert_problem(post(client, kind.unsafe), 502, "legacy-unavailable")
        big = kind.big(size)
        for _ in range(100):  # warm up pools, caches and allocator arenas
            assert post(client, big).status_code == 503
        start = _rss()
        for n in range(calls):
            response = post(client, big)
            assert response.status_code == 503, response.text
            if n % 100 == 99:
                growth = _rss() - start
                assert growth < bound, f"RSS grew {growth >> 20} MiB after {n + 1} refused calls"
        assert response.json()["type"] == "urn:strangler:problem:circuit-open"
