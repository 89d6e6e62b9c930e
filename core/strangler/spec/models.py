"""The spec's schema: frozen pydantic models, one small model per component.

Each adapter receives only its own section (a ``SoapSystem``, say), never the
whole spec. A system's ``kind`` picks its model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from strangler.spec.common import BasicAuth, BreakerSpec, Frozen, RetrySpec, WsseAuth
from strangler.spec.database import DatabaseSystem
from strangler.spec.rpc import JsonRpcSystem, XmlRpcSystem
from strangler.spec.soap import SoapSystem

__all__ = [
    "BasicAuth",
    "BreakerSpec",
    "DatabaseSystem",
    "JsonRpcSystem",
    "RetrySpec",
    "ServerSpec",
    "SoapSystem",
    "Spec",
    "System",
    "WsseAuth",
    "XmlRpcSystem",
]

System = Annotated[
    SoapSystem | XmlRpcSystem | JsonRpcSystem | DatabaseSystem, Field(discriminator="kind")
]
"""A legacy system; one model per ``kind``."""


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
