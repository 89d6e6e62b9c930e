"""The ``shim:`` section: old SOAP clients keep their WSDL, the gateway answers them.

.. code-block:: yaml

    shim:
      services:
        inventory:                       # a soap system of `systems:` (its WSDL is the contract)
          path: /InventoryService        # default: the path of the WSDL's soap:address
          routes: {GetReorderAdvice: reorder-advice}   # operation → gateway route; the others
                                                       # call the legacy operation itself
          validate: true                 # requests and answers against the WSDL's own schema
          defaults:                      # what an answer lacks that the WSDL requires
            GetReorderAdvice: {GetReorderAdviceResult.quantity: 0}
          security:                      # optional: who may call
            username_token: {users: {clerk: "${CLERK_PASSWORD}"}, digest: true, max_age_s: 300}
            basic: {users: {batch: "${BATCH_PASSWORD}"}}
          limits: {max_bytes: 1048576, max_depth: 64, max_elements: 100000}

Each service is served at ``path``: ``POST`` takes SOAP 1.1 and 1.2 envelopes,
``GET ?wsdl`` gives the WSDL with its ``soap:address`` pointing at the shim,
``?xsd=N`` (or ``?xsd=name``) its imported and included schemas and
``?singleWsdl`` the WSDL with every schema inlined.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PositiveInt, SecretStr, field_validator, model_validator

from strangler.spec.common import Frozen

__all__ = [
    "BasicUsersSpec",
    "ShimLimits",
    "ShimSecuritySpec",
    "ShimServiceSpec",
    "ShimSpec",
    "UsernameTokenSpec",
]


class ShimLimits(Frozen):
    """What one incoming envelope may hold; more is a client Fault before any work."""

    max_bytes: PositiveInt = Field(default=1024 * 1024, description="The body, in bytes.")
    max_depth: PositiveInt = Field(default=64, description="Elements nested this deep at most.")
    max_elements: PositiveInt = Field(default=100_000, description="Elements in all, at most.")
    max_attributes: PositiveInt = Field(default=64, description="Attributes on one element.")
    max_name_length: PositiveInt = Field(default=1024, description="An element or attribute name.")
    max_attribute_length: PositiveInt = Field(
        default=64 * 1024, description="One attribute's value, in characters."
    )
    max_text_length: PositiveInt = Field(
        default=1024 * 1024, description="One text node, in characters."
    )


class UsernameTokenSpec(Frozen):
    """WS-Security UsernameToken: the users and how their passwords may be sent."""

    users: dict[str, SecretStr] = Field(min_length=1)
    digest: bool = Field(
        default=True, description="Accept PasswordDigest (with nonce and created time)."
    )
    text: bool = Field(default=False, description="Accept PasswordText too.")
    max_age_s: PositiveInt = Field(
        default=300, description="A token's Created time may be this old (and as far ahead)."
    )


class BasicUsersSpec(Frozen):
    """HTTP basic authentication: the users and their passwords."""

    users: dict[str, SecretStr] = Field(min_length=1)


class ShimSecuritySpec(Frozen):
    """Who may call a shimmed service: either way given is accepted."""

    username_token: UsernameTokenSpec | None = None
    basic: BasicUsersSpec | None = None
    state: str | None = Field(
        default=None,
        description="SQLAlchemy URL where used nonces are kept, shared by replicas "
        "(default: in memory, per process).",
    )

    @model_validator(mode="after")
    def _some(self) -> ShimSecuritySpec:
        if self.username_token is None and self.basic is None:
            raise ValueError("give username_token, basic or both (or drop 'security')")
        return self


class ShimServiceSpec(Frozen):
    """One SOAP system served to its old clients."""

    path: str | None = Field(
        default=None,
        pattern=r"^/[A-Za-z0-9/_.~-]*$",
        description="Where it is served; default: the path of the WSDL's soap:address.",
    )
    routes: dict[str, str] = Field(
        default_factory=dict,
        description="WSDL operation → gateway route that answers it; the others call the "
        "legacy operation itself.",
    )
    validate_: bool = Field(
        default=True,
        alias="validate",
        description="Check requests and answers against the WSDL's own schema.",
    )
    defaults: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="WSDL operation → legacy field path (dotted, from the answer's top) → "
        "the value an answer gets where it has none: a modern side that knows less than "
        "the legacy one still answers what the WSDL requires.",
    )
    security: ShimSecuritySpec | None = None
    limits: ShimLimits = ShimLimits()

    @property
    def validate_messages(self) -> bool:
        """Whether requests and answers are checked against the WSDL's schema."""
        return self.validate_


class ShimSpec(Frozen):
    """The shim's services, by the name of their SOAP system."""

    services: Annotated[dict[str, ShimServiceSpec], Field(min_length=1)]

    @field_validator("services")
    @classmethod
    def _paths(cls, value: dict[str, ShimServiceSpec]) -> dict[str, ShimServiceSpec]:
        seen: dict[str, str] = {}
        for name, service in value.items():
            if service.path is None:
                continue
            if service.path in seen:
                raise ValueError(
                    f"services {seen[service.path]!r} and {name!r} share {service.path}"
                )
            seen[service.path] = name
        return value
