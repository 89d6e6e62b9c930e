"""Bearer JWTs: the signature by a key of the provider's JWKS, then the claims.

A token is taken only when all of these hold, each refusal saying which:

* its header names a ``kid`` the JWKS has and an ``alg`` of the spec's list
  (``none`` and HMAC are never on it), and that ``alg`` fits the key's type
  (RSA: ``RS*``/``PS*``; EC: the ``ES*`` of its curve; OKP: ``EdDSA``) and the
  key's own ``alg`` when it declares one;
* the signature verifies;
* ``iss`` and ``aud`` match, ``exp`` is present and not past, ``nbf`` and
  ``iat`` are not in the future, each with at most ``leeway_s`` of skew; and,
  with ``max_lifetime_s``, ``exp - iat`` is within it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt

from strangler.security.jwks import JwksCache, SigningKey
from strangler.spec.security import JwtSpec

__all__ = ["BadToken", "TokenVerifier", "Verified"]

_REMEMBERED = 10_000
_CURVE_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


class BadToken(Exception):
    """A bearer token that is refused; the message says why (never the token)."""


@dataclass(frozen=True)
class Verified:
    subject: str
    scopes: frozenset[str]
    claims: dict[str, Any]


def fits_key(alg: str, key: SigningKey) -> bool:
    """Whether a token signed with ``alg`` may be checked with ``key``."""
    if key.alg is not None and key.alg != alg:
        return False
    if key.kty == "RSA":
        return alg[:2] in ("RS", "PS")
    if key.kty == "EC":
        return _CURVE_ALG.get(str(key.crv)) == alg
    if key.kty == "OKP":
        return alg == "EdDSA" and key.crv in ("Ed25519", "Ed448")
    return False


class TokenVerifier:
    """Checks bearer tokens against the spec's issuer, audience and JWKS."""

    def __init__(self, spec: JwtSpec, jwks: JwksCache | None = None) -> None:
        self.spec = spec
        self.jwks = jwks or JwksCache(
            url=spec.jwks_url.get_secret_value() if spec.jwks_url else None,
            file=spec.jwks_file,
            cache_s=spec.cache_s,
            refetch_min_s=spec.refetch_min_s,
            timeout_s=spec.timeout_s,
        )
        self.algorithms = frozenset(spec.algorithms)
        self._verified: dict[bytes, tuple[Verified, float, str]] = {}

    async def verify(self, token: str) -> Verified:
        """The token's subject and scopes; :class:`BadToken` saying why it is refused.

        A verified token is remembered (by its SHA-256) until its ``exp`` while
        its key is in the set, so a client sending the same token again costs no
        signature check; a key the provider retired takes its tokens with it.
        """
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None and time.time() < known[1] and self.jwks.holds(known[2]):
            return known[0]
        verified, kid = await self._verify(token)
        exp = verified.claims.get("exp")
        if isinstance(exp, int | float):
            if len(self._verified) >= _REMEMBERED:
                self._verified.clear()
            self._verified[digest] = (verified, float(exp), kid)
        return verified

    async def _verify(self, token: str) -> tuple[Verified, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise BadToken("the bearer token is not a JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise BadToken(f"tokens signed with {str(alg)[:20]!r} are not accepted")
        if not isinstance(kid, str) or not kid or len(kid) > 200:
            raise BadToken("the token names no key (kid)")
        key = await self.jwks.key(kid)
        if key is None:
            raise BadToken("the token is signed by an unknown key")
        if not fits_key(alg, key):
            raise BadToken(f"the token's algorithm {alg} does not fit the type of its key")
        spec = self.spec
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.jwk.key,
                algorithms=[alg],
                audience=spec.audience,
                issuer=spec.issuer,
                leeway=spec.leeway_s,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise BadToken("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise BadToken("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise BadToken("the token is not meant for this audience") from None
        except jwt.InvalidIssuerError:
            raise BadToken("the token is from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise BadToken(f"the token has no {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise BadToken("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise BadToken(f"the token is not valid ({type(exc).__name__})") from None
        self._check_lifetime(claims)
        subject = claims.get(spec.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise BadToken(f"the token has no {spec.subject_claim!r} claim")
        return Verified(subject, _scopes(claims.get(spec.scopes_claim)), claims), kid

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        limit = self.spec.max_lifetime_s
        if limit is None:
            return
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int | float) or not isinstance(exp, int | float):
            raise BadToken("the token must carry iat and exp")
        if exp - iat > limit:
            raise BadToken(f"the token lives longer than {limit:g} s")


def _scopes(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(s for s in value if isinstance(s, str))
    return frozenset()
