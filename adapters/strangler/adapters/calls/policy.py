"""The one call policy for HTTP-based legacy systems (SOAP, XML-RPC, JSON-RPC).

:class:`LegacyCaller` owns, per legacy system:

* one pooled keep-alive ``aiohttp`` session (``max_connections``, total
  ``timeout_s``, the basic auth header when the spec has basic auth, TLS as
  the spec's ``tls:`` says, see :mod:`.tls`);
* a circuit breaker per key (a SOAP port, an RPC system): see :mod:`.breakers`;
* retries with stamina, only for safe operations and only on unavailability or
  timeouts, inside the breaker: one caller's call counts once against it however
  often it was tried; a call refused by an open breaker is answered at once;
* calls larger than ``max_request_bytes`` refused before they are sent, so a
  caller's oversized input cannot make the legacy system look unhealthy;
* the response-size cap and the translation of transport errors: see :mod:`.wire`;
* a client span per attempt, whose W3C ``traceparent`` goes out with the request
  (:mod:`strangler.observability.tracing`).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
import stamina

from strangler.adapters.calls.breakers import Breakers
from strangler.adapters.calls.tls import ssl_context
from strangler.adapters.calls.wire import Reply, Target, Usable, check_status, send
from strangler.errors import InputTooLarge, LegacyTimeout, LegacyUnavailable
from strangler.observability.tracing import client_span
from strangler.platform.component import Health
from strangler.spec.common import BasicAuth, CallPolicy

__all__ = ["LegacyCaller", "basic_auth_header"]


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, LegacyUnavailable):
        return not exc.circuit_open
    return isinstance(exc, LegacyTimeout)


def basic_auth_header(policy: CallPolicy) -> dict[str, str]:
    """``Authorization`` for the spec's basic auth; empty for none (or WS-Security)."""
    auth = policy.auth
    if not isinstance(auth, BasicAuth):
        return {}
    token = f"{auth.username}:{auth.password.get_secret_value()}".encode()
    return {"Authorization": "Basic " + base64.b64encode(token).decode("ascii")}


class LegacyCaller:
    """Calls to one legacy system under its :class:`~strangler.spec.common.CallPolicy`.

    ``usable(reply)`` says whether a 5xx answer is still a protocol answer (a
    fault worth reading). ``headers`` are sent with every call, after the auth
    header. Open the session with :meth:`start` inside the running loop (the
    app's lifespan does); :meth:`post` opens it when needed.
    """

    def __init__(
        self,
        system: str,
        policy: CallPolicy,
        usable: Usable,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.system, self.policy, self.usable = system, policy, usable
        self.headers = {**basic_auth_header(policy), **(headers or {})}
        self.breakers = Breakers(policy.breaker, system)
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._http is None:
            connector = aiohttp.TCPConnector(
                limit=self.policy.max_connections,
                keepalive_timeout=30,
                ssl=ssl_context(self.policy.tls),
            )
            self._http = aiohttp.ClientSession(
                headers=self.headers,
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout_s),
                skip_auto_headers=("User-Agent",),
            )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        key: str,
        operation: str,
        safe: bool,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """POST ``body`` to ``url`` through ``key``'s breaker; retried only when ``safe``.

        Returns any answer the protocol should read (a 2xx, a 4xx, a 5xx that
        ``usable`` accepts); raises the project's errors for everything else.
        """
        target = Target(self.system, operation, url)
        limit = self.policy.max_request_bytes
        if len(body) > limit:
            raise InputTooLarge(
                f"the call to {self.system} {operation} would be {len(body)} bytes; "
                f"it takes at most {limit} (max_request_bytes)",
                limit_bytes=limit,
            )

        async def once() -> Reply:
            await self.start()
            assert self._http is not None
            outgoing = dict(headers or {})
            attributes = {"rpc.system": self.system, "rpc.method": operation, "url.full": url}
            with client_span(f"{self.system} {operation}", outgoing, attributes) as span:
                reply = await send(
                    self._http,
                    target,
                    body,
                    outgoing,  # with the span's traceparent
                    max_bytes=self.policy.max_response_bytes,
                    timeout_s=self.policy.timeout_s,
                )
                if span is not None:
                    span.set_attribute("http.response.status_code", reply.status)
                return check_status(reply, target, self.usable)

        async def call() -> Reply:
            if not safe:
                return await once()
            retry = self.policy.retry
            async for attempt in stamina.retry_context(
                on=_retryable,
                attempts=retry.attempts,
                timeout=retry.timeout_s,
                wait_initial=retry.wait_initial_s,
                wait_max=retry.wait_max_s,
            ):
                with attempt:
                    reply = await once()
            return reply

        return await self._guarded(target, key, call)

    async def _guarded(
        self, target: Target, key: str, call: Callable[[], Awaitable[Reply]]
    ) -> Reply:
        """``call`` (with its retries) through ``key``'s breaker: one call, one count."""

        def rejected(retry_after_s: float) -> LegacyUnavailable:
            return LegacyUnavailable(
                f"{self.system} is failing; calls to {key} are paused (circuit open)",
                system=self.system,
                operation=target.operation,
                retry_after_s=retry_after_s,
                circuit_open=True,
            )

        return await self.breakers.run(key, call, rejected)

    async def health(self, keys: Iterable[str], **detail: Any) -> Health:
        """Fetch nothing: each key's breaker state under ``breakers`` (beside ``detail``),
        ``down`` while one of them refuses calls."""
        keys = list(dict.fromkeys(keys))
        refusing = [key for key in keys if await self.breakers.refusing(key)]
        states = await self.breakers.states(keys)
        return Health("down" if refusing else "ok", {**detail, "breakers": states})
