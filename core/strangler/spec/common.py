"""Parts shared by the spec's models: the frozen base, auth, retries, breakers,
and :class:`CallPolicy`, the call settings every HTTP-based legacy system shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from strangler.errors.redact import userinfo

__all__ = [
    "Auth",
    "BasicAuth",
    "BreakerSpec",
    "CallPolicy",
    "Frozen",
    "RetrySpec",
    "TlsSpec",
    "WsseAuth",
    "one_place_for_credentials",
    "resolve_path",
]


class Frozen(BaseModel):
    """Base for spec models: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class BasicAuth(Frozen):
    """HTTP basic authentication towards the legacy system."""

    kind: Literal["basic"]
    username: str
    password: SecretStr


class WsseAuth(Frozen):
    """WS-Security UsernameToken towards the legacy system (text or digest)."""

    kind: Literal["wsse"]
    username: str
    password: SecretStr
    digest: bool = False


Auth = Annotated[BasicAuth | WsseAuth, Field(discriminator="kind")]


class BreakerSpec(Frozen):
    """Circuit breaker: opens after ``failures`` in a row, probes again after ``reset_s``."""

    failures: PositiveInt = 5
    reset_s: PositiveFloat = 30.0


class RetrySpec(Frozen):
    """Retries, applied only to operations listed as safe."""

    attempts: PositiveInt = 3
    timeout_s: PositiveFloat = 10.0
    wait_initial_s: PositiveFloat = 0.1
    wait_max_s: PositiveFloat = 2.0


class TlsSpec(Frozen):
    """TLS towards an ``https://`` legacy system: whom to trust, who we are, how old a TLS.

    Without it the system's certificate is checked against the machine's trusted
    CAs, and TLS 1.2 is the oldest spoken.
    """

    ca_bundle: str | None = Field(default=None, description="PEM file of the CAs to trust.")
    client_cert: str | None = Field(default=None, description="PEM certificate (chain) we send.")
    client_key: str | None = Field(default=None, description="Its key (default: in client_cert).")
    client_key_password: SecretStr | None = None
    min_version: Literal["1.2", "1.3"] = "1.2"
    verify: bool = Field(
        default=True, description="false: no certificate check (never in production)."
    )

    @field_validator("ca_bundle", "client_cert", "client_key")
    @classmethod
    def _relative(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info) if value is not None else None


class CallPolicy(Frozen):
    """How calls to an HTTP-based legacy system (SOAP, XML-RPC, JSON-RPC) are made.

    One pooled keep-alive session of at most ``max_connections`` (over ``tls``
    for ``https://``), each call ended after ``timeout_s``; ``retry`` for safe
    operations only; a circuit ``breaker``; answers larger than
    ``max_response_bytes`` refused, and calls larger than ``max_request_bytes``
    not sent.
    """

    timeout_s: PositiveFloat = 5.0
    auth: Auth | None = None
    tls: TlsSpec | None = None
    retry: RetrySpec = RetrySpec()
    breaker: BreakerSpec = BreakerSpec()
    max_connections: PositiveInt = 100
    max_response_bytes: PositiveInt = Field(
        default=10 * 1024 * 1024, description="Larger answers are refused as a protocol error."
    )
    max_request_bytes: PositiveInt = Field(
        default=1024 * 1024,
        description=(
            "Larger requests (the encoded call) are refused with 413 and never sent: "
            "what a caller's oversized input provokes must not count against the legacy "
            "system's health."
        ),
    )


def resolve_path(value: str, info: ValidationInfo) -> str:
    """Make a relative file path relative to the spec file's folder."""
    if "://" in value:
        return value
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return str(path)


def one_place_for_credentials(auth: Auth | None, **urls: str | None) -> None:
    """Refuse basic ``auth`` beside a URL that carries credentials (``user:pw@host``).

    Both would be sent as the ``Authorization`` header and the HTTP client refuses
    every such call; which of the two was meant cannot be guessed.
    """
    if not isinstance(auth, BasicAuth):
        return
    for field, url in urls.items():
        if url is not None and userinfo(url) is not None:
            raise ValueError(
                f"'{field}' carries credentials (user:password@) and 'auth' is basic auth too; "
                f"give them in one place: drop them from '{field}' or drop 'auth'"
            )
