"""Callers of operations outside HTTP (command topics): who they are and what they may do.

The REST edge's guard checks HTTP requests itself. A component that calls
operations for callers reaching it another way (a Kafka command consumer) offers
the :class:`GatedCalls` face; when the spec closes the app (``security:``), the
guard hands it a :class:`CallGate`, the same checks as for HTTP (API keys and
bearer JWTs, each operation's scope, the audit trail) over a message's own
credential headers. Without ``security:`` no gate is given and calls are open,
as the REST edge is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from strangler.platform.operations import Operation

__all__ = ["CREDENTIAL_HEADERS", "CallGate", "Caller", "GatedCalls"]

CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key"})
"""Header names that carry credentials by default (a gate may name more): never copied on."""


@dataclass(frozen=True)
class Caller:
    """A caller that the gate let through: ``actor`` as the audit trail writes it, and the
    scope the operation needed (``None``: none)."""

    actor: str
    scope: str | None


@runtime_checkable
class CallGate(Protocol):
    """Authentication, scopes and audit for calls that do not come over HTTP."""

    @property
    def credential_headers(self) -> frozenset[str]:
        """Lower-case names of the headers that carry credentials (never copied on)."""
        ...

    def scope_of(self, operation: Operation[Any]) -> str | None:
        """The scope ``operation`` needs: the one its REST route needs."""
        ...

    async def admit(
        self,
        headers: Mapping[str, str],
        operation: Operation[Any],
        *,
        channel: str,
        origin: str = "",
    ) -> Caller:
        """The caller ``headers`` (credential headers only) prove, if it may call
        ``operation``; else raises :class:`~strangler.errors.Unauthenticated` or
        :class:`~strangler.errors.Forbidden`, the refusal audited."""
        ...

    async def record(
        self,
        actor: str,
        operation: Operation[Any],
        *,
        channel: str,
        status: int,
        origin: str = "",
    ) -> None:
        """One audit record of a call (or a refusal) that came through ``channel``."""
        ...


@runtime_checkable
class GatedCalls(Protocol):
    """A component that calls operations for callers outside HTTP: it takes a gate."""

    def gate_calls(self, gate: CallGate) -> None:
        """Check every later call through ``gate``."""
        ...

    def gated(self) -> Sequence[tuple[str, Operation[Any]]]:
        """(channel, operation) of each operation it calls: a topic and what it calls."""
        ...
