"""The adapters area registers itself: its kinds of legacy system and its part.

Named by the ``strangler.kinds`` and ``strangler.parts`` entry points in
``pyproject.toml``. Importing this module imports no adapter: each is named by
an import string and loaded when a spec uses its kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from strangler.platform.build import BuildContext
from strangler.platform.component import Component
from strangler.platform.registry import Kind, Part, kind, load
from strangler.spec.models import Spec

__all__ = ["ADAPTERS", "DATABASE", "JSONRPC", "SOAP", "XMLRPC", "build_adapters"]

SOAP = Kind(
    name="soap",
    spec="strangler.spec.soap:SoapSystem",
    adapter="strangler.adapters.soap:SoapAdapter",
    extra="soap",
    cli="strangler.adapters.soap.cli:register",
)
XMLRPC = Kind(
    name="xmlrpc",
    spec="strangler.spec.rpc:XmlRpcSystem",
    adapter="strangler.adapters.rpc:XmlRpcAdapter",
    extra="rpc",
)
JSONRPC = Kind(
    name="jsonrpc",
    spec="strangler.spec.rpc:JsonRpcSystem",
    adapter="strangler.adapters.rpc:JsonRpcAdapter",
    extra="rpc",
    rest="strangler.rest.jsonrpc:build_router",
)
DATABASE = Kind(
    name="database",
    spec="strangler.spec.database:DatabaseSystem",
    adapter="strangler.adapters.db:DatabaseAdapter",
    extra="db",
    rest="strangler.rest.tables:build_router",
)


def build_adapters(spec: Spec, context: BuildContext) -> Sequence[Component]:
    """One adapter per system of the spec, its class looked up by ``kind``."""
    built: list[Component] = []
    for name, system in spec.systems.items():
        found = kind(system.kind)
        cls: Any = load(found.adapter, extra=found.extra, what=f"the {found.name!r} adapter")
        built.append(cls(name, system, cache_dir=context.cache_dir))
    return built


ADAPTERS = Part(name="adapters", build="strangler.adapters.registration:build_adapters", order=0)


if TYPE_CHECKING:  # mypy checks that every adapter implements the interface
    from strangler.adapters.base import Adapter
    from strangler.adapters.db import DatabaseAdapter
    from strangler.adapters.rpc import JsonRpcAdapter, XmlRpcAdapter
    from strangler.adapters.soap import SoapAdapter

    _IMPLEMENTATIONS: tuple[type[Adapter], ...] = (
        SoapAdapter,
        XmlRpcAdapter,
        JsonRpcAdapter,
        DatabaseAdapter,
    )
