"""Fixtures for the RPC adapters: real legacy servers on loopback and the REST API over them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from strangler.adapters.rpc import JsonRpcAdapter, XmlRpcAdapter
from strangler.rest.app import build_app
from strangler.spec.rpc import JsonRpcSystem, XmlRpcSystem
from tests.adapters.rpc.jsonrpc_server import LegacyJsonRpcServer, start_jsonrpc_server
from tests.adapters.rpc.xmlrpc_server import LegacyXmlRpcServer, start_xmlrpc_server
from tests.servers import run_app


@pytest.fixture(scope="module")
def xmlrpc_legacy() -> Iterator[LegacyXmlRpcServer]:
    """The introspectable XML-RPC pricing service."""
    with start_xmlrpc_server() as server:
        yield server


@pytest.fixture(scope="module")
def jsonrpc_legacy() -> Iterator[LegacyJsonRpcServer]:
    """The JSON-RPC 2.0 pricing service."""
    with start_jsonrpc_server() as server:
        yield server


@contextlib.contextmanager
def serve(*adapters: Any) -> Iterator[httpx.Client]:
    """The REST API over ``adapters``, and a client for it."""
    with run_app(build_app(list(adapters))) as url, httpx.Client(base_url=url) as client:
        yield client


def xmlrpc_adapter(url: str, cache_dir: Path, **spec: Any) -> XmlRpcAdapter:
    system = XmlRpcSystem.model_validate({"kind": "xmlrpc", "url": url, **spec})
    return XmlRpcAdapter("pricing", system, cache_dir=cache_dir)


JSONRPC_METHODS: dict[str, Any] = {
    "pricing.quote": {
        "params": {"sku": "string", "qty": {"type": "integer", "minimum": 1}},
        "result": {"type": "object", "properties": {"total": "number"}},
        "safe": True,
        "description": "The price of qty items.",
    },
    "math.subtract": {
        "params": {"minuend": "number", "subtrahend": "number"},
        "by_position": True,
        "safe": True,
    },
    "echo": {"safe": True},
    "audit.log": {"params": {"message": "string"}, "notification": True},
    "orders.cancel": {"params": {"order_id": "integer"}},
    "fail": {"params": {"code": "integer"}, "safe": True},
    "crash": {"params": {}},
    "missing.method": {"params": {}},
    "slow": {"params": {"seconds": "number"}},
    "slow.safe": {"params": {"seconds": "number"}, "safe": True},
}


def jsonrpc_adapter(url: str, **spec: Any) -> JsonRpcAdapter:
    data = {"kind": "jsonrpc", "url": url, "methods": JSONRPC_METHODS, **spec}
    return JsonRpcAdapter("shop", JsonRpcSystem.model_validate(data))
