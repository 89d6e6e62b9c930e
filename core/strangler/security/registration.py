"""Security registers itself as a part: spec section ``security:``.

Named by the ``strangler.parts`` entry point ``security`` in ``pyproject.toml``.
It builds last, so the operations of every adapter are known when scopes are
named; without the section (or with ``enabled: false``) nothing is built and
the app is open. Components that call operations for callers outside HTTP
(command topics, :class:`~strangler.platform.callers.GatedCalls`) get the
guard's :class:`~strangler.security.calls.GuardGate`. Paths whose component
authenticates its callers itself (:class:`~strangler.platform.component.OwnAuthentication`,
the SOAP shim with WS-Security) are left to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from strangler.platform.build import BuildContext
from strangler.platform.component import Component, OwnAuthentication
from strangler.platform.operations import OperationSource
from strangler.platform.registry import Part
from strangler.spec.models import Spec

if TYPE_CHECKING:
    from strangler.security.guard import SecurityGuard
    from strangler.spec.security import SecuritySpec

__all__ = ["SECURITY", "build", "guard_for"]


def build(spec: Spec, context: BuildContext) -> Sequence[Component]:
    """The guard of the ``security:`` section (see :mod:`strangler.security.guard`)."""
    from strangler.paths import default_cache_dir

    section: SecuritySpec | None = spec.section("security")
    if section is None or not section.enabled:
        return []
    if section.audit.database is not None:
        audit_url = section.audit.database.get_secret_value()
    else:
        folder = Path(context.cache_dir or default_cache_dir())
        folder.mkdir(parents=True, exist_ok=True)
        audit_url = f"sqlite:///{folder / 'audit.sqlite'}"
    guard = guard_for(spec, section, context.components, audit_url=audit_url)
    from strangler.platform.callers import GatedCalls
    from strangler.security.calls import GuardGate

    gate = GuardGate(guard)
    for component in context.components:
        edits = getattr(component, "asyncapi_edits", None)  # the event side's AsyncAPI document
        if isinstance(edits, list):
            edits.append(guard.document_events)
        if isinstance(component, GatedCalls):  # command consumers: the same checks as HTTP
            component.gate_calls(gate)
    return [guard]


def guard_for(
    spec: Spec,
    section: SecuritySpec,
    components: Iterable[Component],
    *,
    audit_url: str | None = None,
) -> SecurityGuard:
    """The guard of ``section`` over ``components`` (the legacy adapters and the parts
    built before it), with the gateway's public paths and the paths components
    authenticate themselves."""
    from strangler.security.guard import SecurityGuard

    components = list(components)
    sources = [(c.kind, c.name, c) for c in components if isinstance(c, OperationSource)]
    own = [
        p for c in components if isinstance(c, OwnAuthentication) for p in c.authenticated_paths()
    ]
    if own:
        section = section.model_copy(update={"public": [*section.public, *own]})
    routes = spec.section("routes")
    gateway = {item.path: name for name, item in (getattr(routes, "items", None) or {}).items()}
    return SecurityGuard(section, sources=sources, gateway=gateway, audit_url=audit_url)


SECURITY = Part(
    name="security",
    section="security",
    spec="strangler.spec.security:SecuritySpec",
    build="strangler.security.registration:build",
    cli="strangler.security.cli:register_cli",
    extra="security",
    order=1000,
)
