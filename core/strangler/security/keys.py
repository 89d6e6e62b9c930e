"""API keys: made at random, stored only as a hash, checked without keeping the key.

Two hash forms, both from the standard library:

* ``sha256:HEX``: for keys made by :func:`new_key` (256 random bits: a fast
  hash is enough, nobody can try them all); checked with one dictionary look-up.
* ``scrypt:N:r:p:SALT:HASH``: for keys a person chose, salted and slow to try.
  Each one is tried in turn, so a verified key is remembered (by its SHA-256,
  never in clear) to keep the cost to the first request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["KeyRing", "hash_key", "new_key"]

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_REMEMBERED = 1024


def new_key() -> str:
    """A fresh API key: 43 URL-safe characters (256 random bits) after ``sk_``."""
    return "sk_" + secrets.token_urlsafe(32)


def hash_key(key: str, algorithm: str = "sha256") -> str:
    """The stored form of ``key`` (``sha256`` or ``scrypt``)."""
    if algorithm == "sha256":
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    if algorithm == "scrypt":
        salt = secrets.token_bytes(16)
        digest = _scrypt(key, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}:{_b64(salt)}:{_b64(digest)}"
    raise ValueError(f"unknown algorithm {algorithm!r} (sha256 or scrypt)")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(key: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        key.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


@dataclass(frozen=True)
class _Scrypted:
    name: str
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


class KeyRing:
    """The configured keys by hash; :meth:`match` names the key a caller sent, if any."""

    def __init__(self, hashes: Mapping[str, str]) -> None:
        self._sha: dict[str, str] = {}
        self._scrypt: list[_Scrypted] = []
        for name, stored in hashes.items():
            algorithm, _, rest = stored.partition(":")
            if algorithm == "sha256":
                self._sha[rest] = name
            else:
                n, r, p, salt, digest = rest.split(":")
                self._scrypt.append(
                    _Scrypted(name, int(n), int(r), int(p), _unb64(salt), _unb64(digest))
                )
        self._remembered: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sha) + len(self._scrypt)

    def match(self, key: str) -> str | None:
        """The name of the key ``key`` is, or ``None``."""
        if not key or len(key) > 512:
            return None
        digest = hashlib.sha256(key.encode()).hexdigest()
        name = self._sha.get(digest) or self._remembered.get(digest)
        if name is not None:
            return name
        for entry in self._scrypt:
            tried = _scrypt(key, entry.salt, entry.n, entry.r, entry.p)
            if hmac.compare_digest(tried, entry.digest):
                self._remembered[digest] = entry.name
                while len(self._remembered) > _REMEMBERED:
                    self._remembered.popitem(last=False)
                return entry.name
        return None
