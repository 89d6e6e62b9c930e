"""One RPC endpoint under the shared legacy-call policy, for both RPC adapters.

Every call is POSTed to the spec's ``url`` through one circuit breaker for the
whole system; retries, the size cap and the translation of transport errors
are the policy's (:mod:`strangler.adapters.calls`). A 5xx answer whose body
the protocol cannot use (a proxy's error page) is ``LegacyUnavailable``, so it
counts towards the breaker and is retried for safe methods.
"""

from __future__ import annotations

from typing import Any

from strangler.adapters.calls import LegacyCaller, Reply, Usable
from strangler.platform.component import Health
from strangler.spec.rpc import RpcSystemBase

__all__ = ["Reply", "RpcTransport", "TransportOwner", "fault_is_client"]


class RpcTransport:
    """The calls of one RPC system: ``usable(reply)`` says whether a 5xx answer still
    carries a protocol answer (an XML-RPC fault, a JSON-RPC error) worth reading."""

    def __init__(self, system: str, spec: RpcSystemBase, content_type: str, usable: Usable) -> None:
        self.system, self.spec = system, spec
        self.calls = LegacyCaller(
            system, spec, usable, headers={"Content-Type": content_type, "Accept": content_type}
        )
        self.headers = self.calls.headers

    async def start(self) -> None:
        await self.calls.start()

    async def close(self) -> None:
        await self.calls.close()

    async def call(self, body: bytes, *, operation: str, safe: bool) -> Reply:
        """POST ``body``; retried on unavailability and timeouts only when ``safe``."""
        return await self.calls.post(
            self.spec.url, body, key=self.system, operation=operation, safe=safe
        )

    async def health(self, **detail: Any) -> Health:
        """The breaker's state under ``breaker`` (beside ``detail``); ``down`` while it
        refuses calls."""
        health = await self.calls.health([self.system])
        state = health.detail["breakers"][self.system]
        return Health(health.status, {**detail, "breaker": state})


def fault_is_client(code: Any, spec: RpcSystemBase, default: bool) -> bool:
    """Whether a fault code blames the caller, after the spec's overrides."""
    if code in spec.client_fault_codes:
        return True
    if code in spec.server_fault_codes:
        return False
    return default


class TransportOwner:
    """The lifecycle of an adapter whose calls all go through one :class:`RpcTransport`."""

    system: str
    kind: str
    transport: RpcTransport

    async def start(self) -> None:
        await self.transport.start()

    async def close(self) -> None:
        await self.transport.close()

    @property
    def name(self) -> str:
        """The system's name in the spec."""
        return self.system

    async def health(self) -> Health:
        """Fetch nothing: report the breaker's state and the adapter's own details."""
        return await self.transport.health(kind=self.kind, **self._health_details())

    def _health_details(self) -> dict[str, Any]:
        raise NotImplementedError
