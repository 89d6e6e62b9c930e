"""The ``security:`` section: who may call what, how often, and the audit trail.

Without the section the app is open (the demo runs so). With it, every
request but the ``public`` paths (health) must carry credentials, and each
operation needs its scope (see :mod:`strangler.security.scopes`):

.. code-block:: yaml

    security:
      keys:                                # API keys, sent as X-API-Key; stored hashed only
        ci-bot:
          hash: "sha256:9f2c..."           # `strangler security hash-key` makes one
          scopes: ["soap:inventory:*", "db:erp:*:read"]
        ops: {hash: "${OPS_KEY_HASH}", scopes: [admin]}
      certificates:                        # mTLS: verified client certificates as callers
        billing:                           # (server.tls with client_certs optional or required)
          subject: "CN=billing.internal,O=Retail"     # or san: "dns:billing.internal",
          scopes: ["db:erp:orders:read"]              # or sha256: the certificate's fingerprint
      jwt:                                 # bearer tokens from an identity provider
        issuer: https://idp.example.com/
        audience: strangler
        jwks_url: https://idp.example.com/.well-known/jwks.json   # or jwks_file: jwks.json
        leeway_s: 30                       # clock skew allowed on exp / nbf / iat
      scopes:                              # a scope of one's own for an operation
        "POST /api/reorder-advice": reorder:advise
      rate_limits:
        redis: ${REDIS_URL:-}              # shared by every replica; empty: in-process
        client: {rate: 50, per_s: 1, burst: 100}          # per key, token or address
        routes:                                           # per scope pattern, for all clients
          "soap:inventory:*": {rate: 20, per_s: 1, burst: 40}
      concurrency:                         # calls in flight towards a legacy system, at most
        inventory: {max_in_flight: 8, max_waiting: 32}    # more waiting: 503 at once
      audit:
        database: ${AUDIT_URL:-}           # SQLAlchemy URL; empty: SQLite in the cache dir

Hashes and URLs may carry secrets: give them through ``${VAR}`` from the
environment (or a file the variable names), never in the file itself.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)

from strangler.spec.common import Frozen

__all__ = [
    "DEFAULT_PUBLIC",
    "ApiKeySpec",
    "AuditSpec",
    "CertificateSpec",
    "ConcurrencySpec",
    "JwtSpec",
    "RateLimitsSpec",
    "RateSpec",
    "SecuritySpec",
]

DEFAULT_PUBLIC = ("/healthz", "/readyz")
"""Paths answered without credentials: liveness and readiness only."""

ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
ALGORITHMS = (*ASYMMETRIC, "EdDSA")

_HASH = re.compile(
    r"sha256:[0-9a-f]{64}"
    r"|scrypt:\d+:\d+:\d+:[A-Za-z0-9+/=_-]{8,}:[A-Za-z0-9+/=_-]{16,}"
)
_SCOPE = re.compile(r"[A-Za-z0-9_.\-{}*]+(:[A-Za-z0-9_.\-{}*]+)*")


def check_scope(value: str) -> str:
    """A scope or scope pattern: segments of letters, digits, ``_ . - *`` joined by ``:``."""
    if not _SCOPE.fullmatch(value):
        raise ValueError(
            f"scope {value!r} must be segments of letters, digits, '_', '.', '-' or '*' "
            "joined by ':'"
        )
    return value


Scope = Annotated[str, Field(min_length=1)]


class ApiKeySpec(Frozen):
    """One API key: its hash (never the key) and the scopes it grants."""

    hash: SecretStr = Field(
        description="sha256:HEX for generated keys, scrypt:N:r:p:SALT:HASH for chosen ones."
    )
    scopes: list[Scope] = Field(default_factory=list)

    @field_validator("hash")
    @classmethod
    def _hash(cls, value: SecretStr) -> SecretStr:
        if not _HASH.fullmatch(value.get_secret_value()):
            raise ValueError(
                "not a key hash: expected sha256:<64 hex digits> or scrypt:N:r:p:SALT:HASH "
                "(make one with `strangler security hash-key`)"
            )
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        return [check_scope(s) for s in value]


_SAN = re.compile(r"(dns|uri|email|ip):\S+")


class CertificateSpec(Frozen):
    """A client certificate that is a caller: matched by exactly one of its subject, one
    of its subjectAltNames or its SHA-256 fingerprint, and the scopes it grants.

    The TLS handshake has verified the certificate against ``server.tls.client_ca``
    already; these only say which verified certificate is which caller.
    """

    subject: str | None = Field(
        default=None, description="The subject as RFC 4514 writes it: 'CN=billing,O=Retail'."
    )
    san: str | None = Field(
        default=None, description="One subjectAltName: dns:NAME, uri:URI, email:ADDRESS or ip:IP."
    )
    sha256: str | None = Field(
        default=None, description="The DER certificate's SHA-256, hex (colons allowed)."
    )
    scopes: list[Scope] = Field(default_factory=list)

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        if value is not None:
            from cryptography import x509

            try:
                x509.Name.from_rfc4514_string(value)
            except ValueError as exc:
                raise ValueError(f"subject {value!r} is not an RFC 4514 name: {exc}") from None
        return value

    @field_validator("san")
    @classmethod
    def _san(cls, value: str | None) -> str | None:
        if value is not None and not _SAN.fullmatch(value):
            raise ValueError(
                f"san {value!r} must be dns:NAME, uri:URI, email:ADDRESS or ip:ADDRESS"
            )
        return value

    @field_validator("sha256")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = value.replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", digits):
            raise ValueError("sha256 must be 64 hex digits (colons between pairs allowed)")
        return digits

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        return [check_scope(s) for s in value]

    @model_validator(mode="after")
    def _one_match(self) -> CertificateSpec:
        given = [n for n in ("subject", "san", "sha256") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of subject, san and sha256")
        return self


class JwtSpec(Frozen):
    """Bearer JWTs signed with an asymmetric key from a JWKS (file or URL).

    ``iss`` and ``aud`` must match; ``exp`` is required; ``nbf`` and ``iat`` are
    checked when present, each with at most ``leeway_s`` of clock skew. Only
    ``algorithms`` are taken (never ``none`` nor HMAC), and a token's ``alg``
    must fit the type of the key its ``kid`` names.
    """

    issuer: str
    audience: str | list[str]
    jwks_url: SecretStr | None = Field(default=None, description="Fetched and cached.")
    jwks_file: str | None = None
    algorithms: list[Literal[ALGORITHMS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["RS256", "ES256", "EdDSA"]
    )
    leeway_s: Annotated[float, Field(ge=0, le=300)] = 30.0
    max_lifetime_s: PositiveFloat | None = Field(
        default=None, description="Refuse tokens whose exp lies further than this after iat."
    )
    cache_s: PositiveFloat = Field(default=300.0, description="How long a fetched JWKS is used.")
    refetch_min_s: PositiveFloat = Field(
        default=30.0,
        description="An unknown kid fetches the JWKS again at most this often (key rotation).",
    )
    timeout_s: PositiveFloat = 5.0
    scopes_claim: str = Field(default="scope", description="Space-separated text or a list.")
    subject_claim: str = "sub"

    @model_validator(mode="after")
    def _one_source(self) -> JwtSpec:
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("give exactly one of jwks_url and jwks_file")
        return self


class RateSpec(Frozen):
    """A token bucket: ``rate`` requests every ``per_s`` seconds, up to ``burst`` at once."""

    rate: PositiveFloat
    per_s: PositiveFloat = 1.0
    burst: PositiveInt | None = Field(default=None, description="Default: rate, rounded up.")

    @property
    def capacity(self) -> int:
        return self.burst if self.burst is not None else max(1, int(-(-self.rate // 1)))

    @property
    def refill_per_s(self) -> float:
        return self.rate / self.per_s


class RateLimitsSpec(Frozen):
    """Token buckets per client and per route, in Redis when ``redis`` is given."""

    redis: SecretStr | None = Field(default=None, description="redis://host:port/db; empty: none")
    prefix: str = Field(default="strangler:rl:", description="Prefix of every Redis key.")
    redis_timeout_s: PositiveFloat = Field(
        default=1.0, description="Longer than this, Redis is failing: this process limits alone."
    )
    client: RateSpec | None = None
    routes: dict[str, RateSpec] = Field(default_factory=dict)

    @field_validator("redis", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("routes")
    @classmethod
    def _patterns(cls, value: dict[str, RateSpec]) -> dict[str, RateSpec]:
        for pattern in value:
            check_scope(pattern)
        return value


class ConcurrencySpec(Frozen):
    """At most ``max_in_flight`` calls towards one legacy system at once, from every path
    (REST, gateway, shim, command topics, ETL); ``max_waiting`` more wait their turn, and
    past those a call is refused at once (503 with ``Retry-After``), never sent."""

    max_in_flight: PositiveInt
    max_waiting: NonNegativeInt = 0


class AuditSpec(Frozen):
    """Where writes and configuration changes are recorded (beside the log)."""

    database: SecretStr | None = Field(default=None, description="Empty: SQLite in the cache dir.")
    table: str = "strangler_audit"

    @field_validator("database", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return None if value == "" else value


class SecuritySpec(Frozen):
    """Authentication, authorisation, rate limits and the audit trail of the REST edge."""

    enabled: bool = Field(default=True, description="false: the section is kept but unused.")
    public: list[str] = Field(default_factory=lambda: list(DEFAULT_PUBLIC))
    api_key_header: str = "X-API-Key"
    keys: dict[str, ApiKeySpec] = Field(default_factory=dict)
    certificates: dict[str, CertificateSpec] = Field(
        default_factory=dict,
        description="Client certificates (mTLS) that are callers, by name (actor cert:NAME).",
    )
    jwt: JwtSpec | None = None
    scopes: dict[str, Scope] = Field(
        default_factory=dict,
        description="'METHOD /path' (as the OpenAPI document writes it) or '/path' → its scope.",
    )
    rate_limits: RateLimitsSpec = RateLimitsSpec()
    concurrency: dict[str, ConcurrencySpec] = Field(
        default_factory=dict, description="Per legacy system (by its name under systems:)."
    )
    audit: AuditSpec = AuditSpec()

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: dict[str, str]) -> dict[str, str]:
        for where, scope in value.items():
            method, _, path = where.rpartition(" ")
            if not path.startswith("/") or (method and not method.isalpha()):
                raise ValueError(f"{where!r}: give 'METHOD /path' or '/path'")
            check_scope(scope)
        return value

    @field_validator("keys", "certificates")
    @classmethod
    def _names(cls, value: dict[str, Frozen]) -> dict[str, Frozen]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9_.@\-]+", name):
                raise ValueError(f"name {name!r} must be letters, digits, '_', '.', '@', '-'")
        return value
