"""One POST to an RPC endpoint, through a circuit breaker, retried when safe.

Shared by both RPC adapters. Connection trouble is translated here into the
project's errors: refused or reset → ``LegacyUnavailable``, too slow →
``LegacyTimeout``, too big → ``LegacyProtocolError``. A 502/503/504 answer whose
body the protocol cannot use (a proxy's error page) is ``LegacyUnavailable``
too, so it counts towards the breaker and is retried for safe methods.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import stamina
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from strangler.errors import LegacyProtocolError, LegacyTimeout, LegacyUnavailable
from strangler.spec.rpc import RpcSystemBase

__all__ = ["Reply", "RpcTransport", "TransportOwner", "fault_is_client"]


@dataclass(frozen=True)
class Reply:
    """The raw HTTP answer of the legacy system."""

    status: int
    content_type: str
    content: bytes
    retry_after: str | None = None


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, LegacyUnavailable):
        return not exc.circuit_open
    return isinstance(exc, LegacyTimeout)


class RpcTransport:
    """A pooled keep-alive session to one endpoint and its circuit breaker.

    ``usable(reply)`` says whether a 502/503/504 answer still carries a protocol
    answer (an XML-RPC fault, a JSON-RPC error) worth reading.
    """

    def __init__(
        self, system: str, spec: RpcSystemBase, content_type: str, usable: Callable[[Reply], bool]
    ) -> None:
        self.system, self.spec, self.usable = system, spec, usable
        self.headers = {"Content-Type": content_type, "Accept": content_type}
        if spec.auth is not None:
            token = f"{spec.auth.username}:{spec.auth.password.get_secret_value()}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        self._http: aiohttp.ClientSession | None = None
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=spec.breaker.failures,
            default_ttl=spec.breaker.reset_s,
            exclude=[LegacyProtocolError],
        )

    async def start(self) -> None:
        if self._http is None:
            connector = aiohttp.TCPConnector(limit=self.spec.max_connections, keepalive_timeout=30)
            self._http = aiohttp.ClientSession(
                headers=self.headers,
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.spec.timeout_s),
                skip_auto_headers=("User-Agent",),
            )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def breaker_state(self) -> str:
        breaker = await self._breakers.get_breaker(self.system)
        return str(breaker.context.state)

    async def call(self, body: bytes, *, operation: str, safe: bool) -> Reply:
        """POST ``body``; retried on unavailability and timeouts only when ``safe``."""
        if not safe:
            return await self._guarded(body, operation)
        retry = self.spec.retry
        async for attempt in stamina.retry_context(
            on=_retryable,
            attempts=retry.attempts,
            timeout=retry.timeout_s,
            wait_initial=retry.wait_initial_s,
            wait_max=retry.wait_max_s,
        ):
            with attempt:
                reply = await self._guarded(body, operation)
        return reply

    async def _guarded(self, body: bytes, operation: str) -> Reply:
        breaker = await self._breakers.get_breaker(self.system)
        try:
            async with breaker:
                reply = await self._post(body, operation)
                if reply.status in (502, 503, 504) and not self.usable(reply):
                    raise LegacyUnavailable(
                        f"{self.system} answered HTTP {reply.status}",
                        system=self.system,
                        operation=operation,
                        retry_after_s=_seconds(reply.retry_after),
                    )
                return reply
        except OpenedState as exc:
            raise LegacyUnavailable(
                f"{self.system} is failing; calls are paused (circuit open)",
                system=self.system,
                operation=operation,
                retry_after_s=max(0.0, exc.opened_at + self.spec.breaker.reset_s - time.time()),
                circuit_open=True,
            ) from exc

    async def _post(self, body: bytes, operation: str) -> Reply:
        await self.start()
        assert self._http is not None
        limit = self.spec.max_response_bytes
        try:
            async with self._http.post(self.spec.url, data=body, allow_redirects=False) as resp:
                if (resp.content_length or 0) > limit:
                    raise self._too_big(operation)
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > limit:
                        raise self._too_big(operation)
                    chunks.append(chunk)
                return Reply(
                    resp.status,
                    resp.headers.get("Content-Type", ""),
                    b"".join(chunks),
                    resp.headers.get("Retry-After"),
                )
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutError subclasses
            raise LegacyTimeout(
                f"{self.system} did not answer {operation} within {self.spec.timeout_s} s",
                system=self.system,
                operation=operation,
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise LegacyUnavailable(
                f"cannot reach {self.system} at {self.spec.url}: {exc or type(exc).__name__}",
                system=self.system,
                operation=operation,
            ) from exc

    def _too_big(self, operation: str) -> LegacyProtocolError:
        return LegacyProtocolError(
            f"{self.system} answered more than {self.spec.max_response_bytes} bytes",
            system=self.system,
            operation=operation,
        )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def fault_is_client(code: Any, spec: RpcSystemBase, default: bool) -> bool:
    """Whether a fault code blames the caller, after the spec's overrides."""
    if code in spec.client_fault_codes:
        return True
    if code in spec.server_fault_codes:
        return False
    return default


class TransportOwner:
    """The lifecycle of an adapter whose calls all go through one :class:`RpcTransport`."""

    kind: str
    transport: RpcTransport

    async def start(self) -> None:
        await self.transport.start()

    async def close(self) -> None:
        await self.transport.close()

    async def health(self) -> dict[str, Any]:
        """Fetch nothing: report the breaker's state and the adapter's own details."""
        breaker = await self.transport.breaker_state()
        return {"kind": self.kind, **self._health_details(), "breaker": breaker}

    def _health_details(self) -> dict[str, Any]:
        raise NotImplementedError
