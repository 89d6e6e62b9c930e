"""The signing keys of an identity provider: a JWKS from a file or a URL, cached.

Keys are found by ``kid``. A fetched set is used for ``cache_s``; a token
naming a ``kid`` the set lacks (the provider rotated its keys) fetches the set
again at once, but at most every ``refetch_min_s``, so tokens with made-up
``kid`` values cannot turn the app into a flood towards the provider. A failed
fetch keeps the keys already known. Symmetric (``oct``) keys are never taken.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwt import PyJWK
from jwt.exceptions import PyJWKError

from strangler.errors.redact import mask_urls

__all__ = ["JwksCache", "SigningKey", "parse_jwks"]

log = logging.getLogger("strangler.security")

MAX_JWKS_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SigningKey:
    """A public key of the set, with the JWK members that say which algorithm fits it."""

    jwk: PyJWK
    kty: str
    crv: str | None = None
    alg: str | None = None


class JwksCache:
    """The keys of one JWKS source, by ``kid``; safe to share between requests."""

    def __init__(
        self,
        *,
        url: str | None = None,
        file: str | None = None,
        cache_s: float = 300.0,
        refetch_min_s: float = 30.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (url is None) == (file is None):
            raise ValueError("give exactly one of url and file")
        self.url, self.file = url, file
        self.cache_s, self.refetch_min_s, self.timeout_s = cache_s, refetch_min_s, timeout_s
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        self._lock = asyncio.Lock()
        self._clock = clock
        self.fetches = 0
        """How many times the source was read (for health and tests)."""

    async def key(self, kid: str) -> SigningKey | None:
        """The key ``kid``, fetching the set again when it is stale or lacks ``kid``."""
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at > self.cache_s
        if not stale and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > self.cache_s
            may_try = self._tried_at is None or now - self._tried_at >= self.refetch_min_s
            if (stale or kid not in self._keys) and may_try:
                await self._refresh()
        return self._keys.get(kid)

    def holds(self, kid: str) -> bool:
        """Whether the set as last fetched has ``kid`` (no fetch)."""
        return kid in self._keys

    async def _refresh(self) -> None:
        self._tried_at = self._clock()
        self.fetches += 1
        try:
            raw = await asyncio.to_thread(self._read)
            keys = parse_jwks(raw)
        except (OSError, ValueError) as exc:
            log.warning("cannot read the JWKS from %s: %s", self.source, mask_urls(str(exc)))
            return
        self._keys = keys
        self._fetched_at = self._clock()

    @property
    def source(self) -> str:
        """Where the keys come from, without credentials or a query string."""
        if self.url is None:
            return str(self.file)
        return mask_urls(self.url.split("?", 1)[0].split("#", 1)[0])

    def _read(self) -> bytes:
        if self.file is not None:
            return Path(self.file).read_bytes()[: MAX_JWKS_BYTES + 1]
        assert self.url is not None
        if not self.url.startswith(("https://", "http://")):
            raise ValueError("the JWKS URL must be http(s)")
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
            data: bytes = answer.read(MAX_JWKS_BYTES + 1)
        return data

    def health(self) -> dict[str, Any]:
        age = None if self._fetched_at is None else round(self._clock() - self._fetched_at, 1)
        return {"jwks_keys": len(self._keys), "jwks_age_s": age, "jwks_fetches": self.fetches}


def parse_jwks(raw: bytes) -> dict[str, SigningKey]:
    """The asymmetric keys of a JWKS document, by ``kid``; ``ValueError`` if it is not one."""
    if len(raw) > MAX_JWKS_BYTES:
        raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the JWKS is not JSON: {exc}") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the JWKS has no 'keys' list")
    keys: dict[str, SigningKey] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        if entry.get("use", "sig") != "sig" or not isinstance(entry.get("kid"), str):
            continue
        try:
            crv, alg = entry.get("crv"), entry.get("alg")
            keys[entry["kid"]] = SigningKey(
                PyJWK(entry),
                entry["kty"],
                crv if isinstance(crv, str) else None,
                alg if isinstance(alg, str) else None,
            )
        except PyJWKError as exc:
            log.warning("JWKS key %s skipped: %s", entry.get("kid"), exc)
    return keys
