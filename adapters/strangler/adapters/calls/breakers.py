"""Circuit breakers by key (a SOAP port, an RPC system), on purgatory.

A breaker opens after ``failures`` failed calls in a row and, ``reset_s``
later, lets one probe through (half-open): success closes it, failure opens
it again. Protocol errors (the legacy system answered, if badly) and callers
that hang up do not count as failures.

A call refused by an open breaker costs nothing that stays. purgatory raises
the *same* ``OpenedState`` object for every refused call, so its traceback
would grow by a few frames per call and keep those frames (and the request
bodies they hold) alive for as long as the breaker is open. :meth:`Breakers.run`
clears that traceback and raises the caller's error outside the ``except``
block, so nothing chains to it.

Each breaker's state after every call is the gauge
``strangler_breaker_state{system, key}``: 0 closed, 1 half-open, 2 open.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from prometheus_client import Gauge
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OPENED, OpenedState

from strangler.errors import LegacyProtocolError
from strangler.spec.common import BreakerSpec

__all__ = ["Breakers"]

T = TypeVar("T")

STATE = Gauge(
    "strangler_breaker_state",
    "A legacy system's circuit breaker after its last call: 0 closed, 1 half-open, 2 open.",
    ["system", "key"],
)
_LEVELS = {"closed": 0.0, "half-opened": 1.0, "opened": 2.0}


class Breakers:
    """One circuit breaker per key, created on first use."""

    def __init__(self, spec: BreakerSpec, system: str = "") -> None:
        self.spec = spec
        self.system = system
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=spec.failures,
            default_ttl=spec.reset_s,
            exclude=[LegacyProtocolError, asyncio.CancelledError],
        )

    async def run(
        self,
        key: str,
        call: Callable[[], Awaitable[T]],
        rejected: Callable[[float], BaseException],
    ) -> T:
        """Await ``call()`` through ``key``'s breaker; when the breaker is open, raise
        ``rejected(seconds until the next probe)`` without calling."""
        breaker = await self._factory.get_breaker(key)
        try:
            async with breaker:
                return await call()
        except OpenedState as exc:
            opened_at = _forget(exc)
        finally:
            level = _LEVELS.get(str(breaker.context.state), 0.0)
            STATE.labels(self.system, key).set(level)
        raise rejected(max(0.0, opened_at + self.spec.reset_s - time.time()))

    async def state(self, key: str) -> str:
        """``closed``, ``opened`` or ``half-opened``."""
        breaker = await self._factory.get_breaker(key)
        return str(breaker.context.state)

    async def states(self, keys: Iterable[str]) -> dict[str, str]:
        """The state of each key's breaker."""
        return {key: await self.state(key) for key in dict.fromkeys(keys)}

    async def refusing(self, key: str) -> bool:
        """Whether ``key``'s breaker refuses calls now: open, and not yet due for a probe.

        An open breaker past ``reset_s`` lets the next call through as a probe, so it
        does not count: a readiness check saying "down" then would keep away the very
        traffic that closes it.
        """
        context = (await self._factory.get_breaker(key)).context
        opened_at: Any = context.opened_at
        return bool(
            context.state == OPENED
            and opened_at is not None
            and time.time() < float(opened_at) + self.spec.reset_s
        )


def _forget(exc: OpenedState) -> float:
    """When the breaker opened; the shared exception object is left as it was stored."""
    exc.__traceback__ = None
    exc.__context__ = None
    exc.__cause__ = None
    opened_at: Any = exc.opened_at
    return float(opened_at)
