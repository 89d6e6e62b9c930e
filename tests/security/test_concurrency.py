"""Concurrency limits towards a legacy system: a burst waits in a bounded queue or is
refused at once (503, ``Retry-After``), and the refused calls never reach the server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from strangler.demo.estate import DEMO_SPEC
from strangler.errors import LegacyUnavailable
from strangler.platform.bulkhead import Bulkhead
from strangler.platform.invocations import invoke, limit
from strangler.platform.operations import Operation
from strangler.rest.app import create_app
from strangler.security.keys import hash_key, new_key
from strangler.spec import parse_spec
from tests.rest.conftest import serving


class Empty(BaseModel):
    pass


class Gated:
    """An operation source whose calls wait until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = 0
        self.op: Operation[None] = Operation("gated", "Call", ("Call",), Empty, Empty, None)

    def operations(self) -> list[Operation[Any]]:
        return [self.op]

    def lookup(self, name: str) -> Operation[Any]:
        return self.op

    async def invoke(self, operation: Operation[Any], payload: BaseModel) -> Any:
        self.entered += 1
        await self.gate.wait()
        return {}


def test_a_bulkhead_holds_in_flight_and_waiting_calls_and_refuses_the_rest() -> None:
    async def run() -> tuple[list[Any], int, Bulkhead]:
        source = Gated()
        bulkhead = Bulkhead("gated", max_in_flight=2, max_waiting=3)
        undo = limit(source, bulkhead)
        try:
            calls = [asyncio.ensure_future(invoke(source, source.op, Empty())) for _ in range(8)]
            while bulkhead.in_flight + bulkhead.waiting + bulkhead.refused < 8:
                await asyncio.sleep(0)
            entered_while_closed = source.entered
            source.gate.set()
            results = await asyncio.gather(*calls, return_exceptions=True)
        finally:
            undo()
        return results, entered_while_closed, bulkhead

    results, entered, bulkhead = asyncio.run(run())
    refused = [r for r in results if isinstance(r, LegacyUnavailable)]
    assert entered == 2
    assert len(refused) == 3 and all(r.retry_after_s == 1.0 for r in refused)
    assert results.count({}) == 5
    assert (bulkhead.in_flight, bulkhead.waiting, bulkhead.refused) == (0, 0, 3)


@contextlib.contextmanager
def hung_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A legacy server that accepts connections and never answers; they are counted."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/soap11", accepted
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_burst_towards_a_hung_legacy_system_is_bounded(tmp_path: Path) -> None:
    key = new_key()
    with hung_server() as (address, accepted):
        text = f"""
version: 1
systems:
  inventory:
    kind: soap
    wsdl: {DEMO_SPEC.parent / "inventory" / "inventory.wsdl"}
    address: {address}
    timeout_s: 3
security:
  keys: {{ci: {{hash: "{hash_key(key)}", scopes: ["*"]}}}}
  concurrency:
    inventory: {{max_in_flight: 2, max_waiting: 1}}
  audit: {{database: "sqlite:///{tmp_path / "audit.sqlite"}"}}
"""
        spec = parse_spec(text, filename="burst.yaml", env={})
        with serving(create_app(spec, cache_dir=tmp_path / "cache")) as url:

            async def burst() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                    body = {"sku": "SKU-1", "delta": 1, "reason": "burst"}
                    return await asyncio.gather(
                        *(
                            http.post(
                                "/soap/inventory/AdjustStock", json=body, headers={"X-API-Key": key}
                            )
                            for _ in range(6)
                        )
                    )

            answers = asyncio.run(burst())
            statuses = Counter(a.status_code for a in answers)
            assert statuses == {503: 3, 504: 3}, [a.text for a in answers]
            refused = [a for a in answers if a.status_code == 503]
            assert all(a.headers["retry-after"] == "1" for a in refused)
            assert all("concurrency" in a.json()["detail"] for a in refused)
            health = httpx.get(f"{url}/readyz").json()["components"]["security"]
            assert health["concurrency"]["inventory"]["refused"] == 3
        assert len(accepted) == 3  # the refused calls never reached the legacy server


def test_concurrency_must_name_a_legacy_system(tmp_path: Path) -> None:
    text = "version: 1\nsecurity:\n  concurrency: {nowhere: {max_in_flight: 1}}\n"
    with pytest.raises(ValueError, match="names no legacy system: nowhere"):
        create_app(parse_spec(text, filename="c.yaml", env={}), cache_dir=tmp_path)
