"""The spec of a legacy SOAP system."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from strangler.spec.common import CallPolicy, one_place_for_credentials, resolve_path
from strangler.spec.operations import MappedSystem, OperationMap

__all__ = ["SoapSystem"]


class SoapSystem(CallPolicy, MappedSystem):
    """A legacy SOAP service described by a WSDL 1.1 document (auth: basic or WS-Security).

    ``naming``, ``unwrap`` and ``operations`` declare the modern shape of its
    operations (:mod:`strangler.spec.operations`); operations are named by their
    WSDL name.
    """

    kind: Literal["soap"]
    wsdl: str = Field(description="Path (relative to the spec) or URL of the WSDL.")
    address: str | None = Field(
        default=None,
        description="Replaces scheme, host and port of every port address in the WSDL.",
    )
    safe_operations: frozenset[str] = Field(
        default=frozenset(),
        description="Operations without side effects: only these are retried.",
    )
    trusted_origins: frozenset[str] = Field(
        default=frozenset(),
        description=(
            "Origins (scheme://host:port) the WSDL may import schemas from besides its own."
        ),
    )

    operations: dict[str, OperationMap] = Field(
        default_factory=dict,
        description="WSDL operation name → its modern name, request and answer shape.",
    )

    _wsdl_path = field_validator("wsdl")(resolve_path)

    @field_validator("address")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("address must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SoapSystem:
        one_place_for_credentials(self.auth, address=self.address, wsdl=self.wsdl)
        return self
