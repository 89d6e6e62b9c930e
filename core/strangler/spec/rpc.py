"""The spec of legacy RPC systems: XML-RPC and JSON-RPC 2.0."""

from __future__ import annotations

from typing import Literal

from strangler.spec.common import Frozen

__all__ = ["JsonRpcSystem", "XmlRpcSystem"]


class XmlRpcSystem(Frozen):
    """A legacy XML-RPC service."""

    kind: Literal["xmlrpc"]


class JsonRpcSystem(Frozen):
    """A legacy JSON-RPC 2.0 service."""

    kind: Literal["jsonrpc"]
