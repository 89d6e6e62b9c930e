"""An HTTP side that hangs, one that drops its keep-alive connections, and a state
database that goes away: the gateway answers what it can and says what failed."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg

from tests.gateway.conftest import POSTGRES_ADMIN, GatewayRunner, route_spec
from tests.servers import silent_server


def test_a_side_that_does_not_answer_is_a_timeout_within_its_limit(
    gateway: GatewayRunner,
) -> None:
    with silent_server() as hung:
        spec = route_spec({"legacy": hung, "modern": hung}, mode="legacy").replace(
            '/legacy"}', '/legacy", timeout_s: 0.3}'
        )
        with gateway(spec) as url:
            began = time.monotonic()
            response = httpx.post(f"{url}/api/echo", json={}, timeout=10)
            took = time.monotonic() - began
            metrics = httpx.get(f"{url}/metrics").text
    assert response.status_code == 504, response.text
    assert response.json()["type"] == "urn:strangler:problem:upstream-timeout"
    assert response.headers["x-strangler-side"] == "legacy"
    assert 0.3 <= took < 3
    assert 'type="upstream-timeout"' in metrics


@contextlib.contextmanager
def answer_once_then_close() -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server that answers one request per connection as if keeping it alive,
    then closes it (as a server dropping idle connections does)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    accepted = [0]
    stop = threading.Event()
    answer = b'{"side": "legacy", "got": null}'
    reply = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(answer)}\r\n\r\n".encode()
        + answer
    )

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = listener.accept()
                accepted[0] += 1
                with conn:
                    conn.settimeout(5)
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536)
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(body) < length:
                        body += conn.recv(65536)
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_kept_connection_the_service_closed_is_not_an_error(gateway: GatewayRunner) -> None:
    with answer_once_then_close() as (server, accepted):
        spec = route_spec({"legacy": server, "modern": server}, mode="legacy").replace(
            '/legacy"}', '/legacy", safe: true}'
        )
        with gateway(spec) as url, httpx.Client(base_url=url) as client:
            statuses = [client.post("/api/echo", json={"i": i}).status_code for i in range(40)]
    assert statuses == [200] * 40
    assert accepted[0] == 40  # each on a fresh connection, none answered with an error


def test_the_last_state_holds_while_the_state_database_is_gone(
    gateway: GatewayRunner, services: dict[str, str], postgres_state: str
) -> None:
    spec = route_spec(services, mode="modern", state=postgres_state, refresh_s=0.05)
    database = postgres_state.rsplit("/", 1)[1]
    with gateway(spec) as url, httpx.Client(base_url=url) as client:
        assert client.post("/api/echo", json={}).headers["x-strangler-side"] == "modern"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        deadline = time.monotonic() + 10
        while True:
            gateway_health = client.get("/readyz").json()["components"]["gateway"]
            if gateway_health["status"] == "degraded":
                break
            assert time.monotonic() < deadline, gateway_health
            time.sleep(0.02)
        assert "state_error" in gateway_health
        assert gateway_health["routes"]["echo"]["mode"] == "modern"
        sides = {client.post("/api/echo", json={}).headers["x-strangler-side"] for _ in range(10)}
        assert sides == {"modern"}
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')  # for the fixture to drop again
