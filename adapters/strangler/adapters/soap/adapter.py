"""The SOAP adapter: a WSDL's operations as async calls with JSON in and out.

Calls go through a pooled keep-alive ``httpx`` client and a circuit breaker per
port; operations the spec declares safe are retried on transport failures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import stamina
from lxml import etree
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from pydantic import BaseModel
from zeep.exceptions import Error as ZeepError

from strangler.adapters.base import Operation
from strangler.adapters.soap import zeep_api
from strangler.adapters.soap.catalog import HEADER_FIELD, SoapTarget, build_operations
from strangler.adapters.soap.exchange import build_request, post, read_reply, to_json_ready
from strangler.adapters.soap.loading import http_client, open_wsdl, override_address
from strangler.errors import (
    LegacyProtocolError,
    LegacyTimeout,
    LegacyUnavailable,
    SystemLoadError,
    UnknownOperation,
)
from strangler.spec.models import SoapSystem

__all__ = ["SoapAdapter"]

_RETRYABLE = (LegacyUnavailable, LegacyTimeout)


class SoapAdapter:
    """A legacy SOAP service, from its WSDL."""

    kind = "soap"

    def __init__(self, system: str, spec: SoapSystem, *, cache_dir: Path | None = None) -> None:
        self.system = system
        self.spec = spec
        started = time.perf_counter()
        zeep_api.install_fixes()  # in force only while this adapter parses a reply
        try:
            self.client, schema, self.from_cache = open_wsdl(spec, cache_dir)
            self._operations = build_operations(
                system, self.client, schema, safe=spec.safe_operations
            )
        except (OSError, ZeepError, etree.LxmlError, ValueError, TypeError, KeyError) as exc:
            raise SystemLoadError(system, spec.wsdl, str(exc) or type(exc).__name__) from exc
        self.load_seconds = time.perf_counter() - started
        self._by_route = {op.route: op for op in self._operations}
        self._http: aiohttp.ClientSession | None = None
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=spec.breaker.failures,
            default_ttl=spec.breaker.reset_s,
            exclude=[LegacyProtocolError],
        )

    def operations(self) -> Sequence[Operation]:
        return self._operations

    def operation(self, service: str, port: str, name: str) -> Operation:
        """Look an operation up by its route; unknown ones raise ``UnknownOperation``."""
        try:
            return self._by_route[(service, port, name)]
        except KeyError:
            raise UnknownOperation(self.system, f"{service}/{port}/{name}") from None

    async def start(self) -> None:
        if self._http is None:
            self._http = http_client(self.spec)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def health(self) -> dict[str, Any]:
        """Fetch nothing: report the breakers' states and what was loaded."""
        states = {}
        for op in self._operations:
            target: SoapTarget = op.extra["soap"]
            breaker = await self._breakers.get_breaker(target.port)
            states[target.port] = breaker.context.state
        return {"kind": self.kind, "operations": len(self._operations), "breakers": states}

    async def invoke(self, operation: Operation, payload: BaseModel) -> Any:
        target: SoapTarget = operation.extra["soap"]
        data = payload.model_dump(by_alias=True, exclude_unset=True)
        header = data.pop(HEADER_FIELD, None) if target.has_header else None
        address = override_address(target.address or "", self.spec.address)
        if not address:
            raise LegacyUnavailable(
                f"{self.system}: port {target.port} has no address; set 'address' in the spec",
                system=self.system,
                operation=target.operation,
            )
        envelope, headers = build_request(self.client, target, data, header, address, self.system)
        if operation.safe:
            async for attempt in stamina.retry_context(
                on=_RETRYABLE,
                attempts=self.spec.retry.attempts,
                timeout=self.spec.retry.timeout_s,
                wait_initial=self.spec.retry.wait_initial_s,
                wait_max=self.spec.retry.wait_max_s,
            ):
                with attempt:
                    reply = await self._exchange(target, address, envelope, headers)
        else:
            reply = await self._exchange(target, address, envelope, headers)
        body, _ = read_reply(self.client, target, reply, system=self.system)
        return to_json_ready(body, target.simple_reply)

    async def _exchange(
        self, target: SoapTarget, address: str, envelope: bytes, headers: dict[str, str]
    ) -> Any:
        if self._http is None:
            await self.start()
        assert self._http is not None
        breaker = await self._breakers.get_breaker(target.port)
        try:
            async with breaker:
                return await post(
                    self._http,
                    address,
                    envelope,
                    headers,
                    system=self.system,
                    operation=target.operation,
                    max_bytes=self.spec.max_response_bytes,
                )
        except OpenedState as exc:
            raise LegacyUnavailable(
                f"{self.system} is failing; calls to {target.port} are paused (circuit open)",
                system=self.system,
                operation=target.operation,
                retry_after_s=max(0.0, exc.opened_at + self.spec.breaker.reset_s - time.time()),
                circuit_open=True,
            ) from exc
