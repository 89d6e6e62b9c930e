"""The spec of a legacy SOAP system."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from strangler.spec.common import Auth, BreakerSpec, Frozen, RetrySpec, resolve_path

__all__ = ["SoapSystem"]


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
    trusted_origins: frozenset[str] = Field(
        default=frozenset(),
        description=(
            "Origins (scheme://host:port) the WSDL may import schemas from besides its own."
        ),
    )
    max_response_bytes: PositiveInt = Field(
        default=10 * 1024 * 1024, description="Larger answers are refused as a protocol error."
    )

    _wsdl_path = field_validator("wsdl")(resolve_path)
