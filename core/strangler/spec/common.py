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
)

from strangler.errors.redact import userinfo

__all__ = [
    "Auth",
    "BasicAuth",
    "BreakerSpec",
    "CallPolicy",
    "Frozen",
    "RetrySpec",
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


class CallPolicy(Frozen):
    """How calls to an HTTP-based legacy system (SOAP, XML-RPC, JSON-RPC) are made.

    One pooled keep-alive session of at most ``max_connections``, each call
    ended after ``timeout_s``; ``retry`` for safe operations only; a circuit
    ``breaker``; answers larger than ``max_response_bytes`` refused, and
    calls larger than ``max_request_bytes`` not sent.
    """

    timeout_s: PositiveFloat = 5.0
    auth: Auth | None = None
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
