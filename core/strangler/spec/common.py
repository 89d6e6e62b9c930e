"""Parts shared by the spec's models: the frozen base, auth, retries, breakers."""

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

__all__ = [
    "Auth",
    "BasicAuth",
    "BreakerSpec",
    "Frozen",
    "RetrySpec",
    "WsseAuth",
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


def resolve_path(value: str, info: ValidationInfo) -> str:
    """Make a relative file path relative to the spec file's folder."""
    if "://" in value:
        return value
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return str(path)
