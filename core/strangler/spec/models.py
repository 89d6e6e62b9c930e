"""The spec's schema: frozen pydantic models, one small model per component.

The top of ``strangler.yaml`` is :class:`Spec`: ``version``, ``server``,
``limits``, ``cache_dir`` and ``systems``. Which ``kind`` of system exists, and
which other top-level sections exist (``events``, ``models``, ``routes``...),
is not listed here: each kind and each part registers itself
(:mod:`strangler.platform.registry`), and :func:`spec_model` builds the
complete model from what is registered. Each component receives only its own
section (a ``SoapSystem``, say), never the whole spec.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ByteSize,
    Field,
    PositiveInt,
    SecretStr,
    ValidationInfo,
    create_model,
    field_validator,
)

from strangler.spec.common import Frozen, resolve_path

__all__ = ["LimitsSpec", "ServerSpec", "ServerTlsSpec", "Spec", "spec_model", "system_union"]


class ServerTlsSpec(Frozen):
    """HTTPS for ``strangler serve``: the certificate, and client certificates (mTLS)."""

    certfile: str
    keyfile: str
    keyfile_password: SecretStr | None = None
    client_ca: str | None = Field(
        default=None, description="PEM CAs whose client certificates are taken (mTLS)."
    )
    client_certs: Literal["none", "optional", "required"] = Field(
        default="none", description="required: a TLS handshake without one fails."
    )

    @field_validator("certfile", "keyfile", "client_ca")
    @classmethod
    def _relative(cls, value: str | None, info: ValidationInfo) -> str | None:
        return resolve_path(value, info) if value is not None else None


class ServerSpec(Frozen):
    """Where ``strangler serve`` listens, and over TLS when ``tls`` is given."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    tls: ServerTlsSpec | None = None


class LimitsSpec(Frozen):
    """Limits on what one request may ask of the REST edge."""

    max_body_bytes: ByteSize = Field(
        default=ByteSize(10 * 1024 * 1024),
        description="Larger request bodies are refused with 413 before they are read whole.",
    )
    max_query_params: PositiveInt = Field(
        default=100, description="More query parameters (filters, sort keys...) are refused."
    )


class Spec(Frozen):
    """The whole ``strangler.yaml``.

    Loaded specs are instances of a subclass built by :func:`spec_model`,
    with one field per registered part's section; :meth:`section` reads them.
    """

    version: Literal[1] = 1
    server: ServerSpec = ServerSpec()
    limits: LimitsSpec = LimitsSpec()
    cache_dir: str | None = Field(
        default=None, description="Where parsed WSDLs are cached (default: a user cache dir)."
    )
    systems: dict[str, Any] = Field(default_factory=dict)

    @field_validator("systems")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not name.replace("-", "_").isidentifier():
                raise ValueError(f"system name {name!r} must be letters, digits, '_' or '-'")
        return value

    def section(self, name: str) -> Any:
        """A part's section of the spec (``None`` when the file has none)."""
        return getattr(self, name, None)


def system_union() -> Any:
    """The type of one entry of ``systems:``: the registered kinds, told apart by ``kind``."""
    from strangler.platform.registry import kinds, load

    models = [load(k.spec, extra=k.extra, what=f"kind {k.name!r}") for k in kinds().values()]
    if not models:
        raise RuntimeError("no kind of system is registered: is strangler installed?")
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]  # noqa: UP007


@functools.cache
def spec_model() -> type[Spec]:
    """The complete spec model: :class:`Spec` plus every registered part's section."""
    from strangler.platform.registry import load, parts

    fields: dict[str, Any] = {
        "systems": (dict[str, system_union()], Field(default_factory=dict))  # type: ignore[misc]
    }
    for part in parts():
        if part.section is None or part.spec is None:
            continue
        if part.section in Spec.model_fields:
            raise RuntimeError(f"part {part.name!r} takes section {part.section!r} of the core")
        model: type[BaseModel] = load(part.spec, extra=part.extra, what=f"part {part.name!r}")
        fields[part.section] = (model | None, None)
    built: type[Spec] = create_model("Spec", __base__=Spec, **fields)
    return built
