"""The spec's schema: frozen pydantic models, one small model per component.

Each adapter receives only its own section (a ``SoapSystem``, say), never the
whole spec.
"""

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

__all__ = [
    "BasicAuth",
    "BreakerSpec",
    "RetrySpec",
    "ServerSpec",
    "SoapSystem",
    "Spec",
    "System",
    "WsseAuth",
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


def _resolve_path(value: str, info: ValidationInfo) -> str:
    """Make a relative file path relative to the spec file's folder."""
    if "://" in value:
        return value
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return str(path)


class SoapSystem(Frozen):
    """A legacy SOAP service described by a WSDL 1.1 document."""

    kind: Literal["soap"]
    wsdl: str = Field(description="Path (relative to the spec) or URL of the WSDL.")
    address: str | None = Field(
        default=None,
        description="Replaces scheme, host and port of every port address in the WSDL.",
    )
    timeout_s: PositiveFloat = 5.0
    auth: Auth | None = None
    safe_operations: frozenset[str] = Field(
        default=frozenset(),
        description="Operations without side effects: only these are retried.",
    )
    retry: RetrySpec = RetrySpec()
    breaker: BreakerSpec = BreakerSpec()
    max_connections: PositiveInt = 100

    _wsdl_path = field_validator("wsdl")(_resolve_path)


System = SoapSystem
"""A legacy system; one model per ``kind`` (more kinds join this union)."""


class ServerSpec(Frozen):
    """Where ``strangler serve`` listens."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000


class Spec(Frozen):
    """The whole ``strangler.yaml``."""

    version: Literal[1] = 1
    server: ServerSpec = ServerSpec()
    cache_dir: str | None = Field(
        default=None, description="Where parsed WSDLs are cached (default: a user cache dir)."
    )
    systems: dict[str, System] = Field(default_factory=dict)

    @field_validator("systems")
    @classmethod
    def _names(cls, value: dict[str, System]) -> dict[str, System]:
        for name in value:
            if not name.replace("-", "_").isidentifier():
                raise ValueError(f"system name {name!r} must be letters, digits, '_' or '-'")
        return value
