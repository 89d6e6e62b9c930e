"""Token buckets: in this process by default, in Redis when replicas must share them.

A bucket holds up to ``capacity`` tokens and gains ``refill_per_s``; a request
takes one or waits ``retry_after_s`` for it. In Redis each bucket is one hash
(tokens, last update in ms) changed by one Lua script, so a take is atomic
across every replica, and timed by the Redis server's clock (replicas' clocks
need not agree). When Redis cannot be reached the process's own buckets stand
in (logged once per outage), so an outage loosens the limits and stops nothing.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from strangler.errors.redact import mask_urls

__all__ = ["Buckets", "MemoryBuckets", "RedisBuckets", "Taken"]

log = logging.getLogger("strangler.security")


@dataclass(frozen=True)
class Taken:
    """A take's outcome: allowed, or not before ``retry_after_s``."""

    allowed: bool
    retry_after_s: float = 0.0


class Buckets(Protocol):
    """Where buckets are kept."""

    async def take(self, key: str, capacity: int, refill_per_s: float) -> Taken: ...

    async def close(self) -> None: ...


class MemoryBuckets:
    """Buckets of this process only (the embedded default)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._state: dict[str, tuple[float, float]] = {}
        self.max_keys = max_keys

    async def take(self, key: str, capacity: int, refill_per_s: float) -> Taken:
        return self.take_now(key, capacity, refill_per_s, time.monotonic())

    def take_now(self, key: str, capacity: int, refill_per_s: float, now: float) -> Taken:
        tokens, last = self._state.get(key, (float(capacity), now))
        tokens = min(float(capacity), tokens + max(0.0, now - last) * refill_per_s)
        if tokens >= 1.0:
            if len(self._state) >= self.max_keys and key not in self._state:
                self._forget_full(now, refill_per_s, capacity)
            self._state[key] = (tokens - 1.0, now)
            return Taken(True)
        self._state[key] = (tokens, now)
        return Taken(False, (1.0 - tokens) / refill_per_s)

    def _forget_full(self, now: float, refill_per_s: float, capacity: int) -> None:
        """Drop buckets that are full again (they hold nothing worth keeping)."""
        full = [
            k for k, (t, last) in self._state.items() if t + (now - last) * refill_per_s >= capacity
        ]
        for k in full or list(self._state)[: len(self._state) // 2]:
            del self._state[k]

    async def close(self) -> None:
        self._state.clear()


_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local capacity = tonumber(ARGV[1])
local refill_per_ms = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * refill_per_ms)
local allowed = 0
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_ms = math.ceil((1 - tokens) / refill_per_ms)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / refill_per_ms) + 1000)
return {allowed, wait_ms}
"""


class RedisBuckets:
    """Buckets in Redis, shared by every replica using the same ``prefix``."""

    def __init__(self, url: str, prefix: str = "strangler:rl:", timeout_s: float = 0.5) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - the extra names it
            raise ImportError(
                "rate limits in Redis need the redis client: pip install 'strangler[security]'"
            ) from exc
        self.prefix = prefix
        self.where = mask_urls(url)
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._script: Any = self._client.register_script(_TAKE)
        self._fallback = MemoryBuckets()
        self._failing = False

    async def take(self, key: str, capacity: int, refill_per_s: float) -> Taken:
        try:
            allowed, wait_ms = await self._script(
                keys=[self.prefix + key], args=[capacity, repr(refill_per_s / 1000.0)]
            )
        except Exception as exc:  # any client error: the process's buckets stand in
            if not self._failing:
                log.warning(
                    "rate limits: Redis at %s failed (%s); limiting in this process until it "
                    "answers again",
                    self.where,
                    type(exc).__name__,
                )
                self._failing = True
            return await self._fallback.take(key, capacity, refill_per_s)
        if self._failing:
            log.warning("rate limits: Redis at %s answers again", self.where)
            self._failing = False
        return Taken(bool(allowed), int(wait_ms) / 1000.0)

    @property
    def failing(self) -> bool:
        return self._failing

    async def close(self) -> None:
        await self._client.aclose()


def retry_after(seconds: float) -> int:
    """``Retry-After`` in whole seconds, at least 1."""
    return max(1, math.ceil(seconds))
