"""The closed demo's AsyncAPI document declares the schemes and the scope of each stream.

The document stays valid AsyncAPI 3.0 (the schema ``tests/events`` validates
against); each stream's operation and channel carry the scope its HTTP read
needs; a command topic's receive operation carries the scope of the operation it
calls (as its REST route), and its command message the credential headers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from strangler.demo.estate import Estate
from strangler.events.commands import CommandConsumer
from strangler.events.part import EventHub
from strangler.platform import build_platform
from strangler.rest.app import create_app
from strangler.spec.events import EventsSpec
from tests.events.contract import assert_asyncapi_valid
from tests.rest.conftest import serving
from tests.security.conftest import (
    AUDIENCE,
    ISSUER,
    KEYS_SECTION,
    JwksServer,
    Keys,
    secured_spec,
    sqlite_url,
)


def _section(folder: Path, jwks: JwksServer) -> str:
    return (
        KEYS_SECTION
        + f"  jwt: {{issuer: '{ISSUER}', audience: {AUDIENCE}, jwks_url: '{jwks.url}'}}\n"
        + f"  audit: {{database: '{sqlite_url(folder, 'audit.sqlite')}'}}\n"
    )


def test_schemes_and_stream_scopes_over_http(
    estate: Estate, api_keys: Keys, jwks: JwksServer, tmp_path: Path
) -> None:
    spec = secured_spec(estate, _section(tmp_path, jwks), api_keys.env)
    with serving(create_app(spec, cache_dir=tmp_path / "cache")) as url:
        assert httpx.get(f"{url}/asyncapi.json").status_code == 401
        answer = httpx.get(f"{url}/asyncapi.json", headers={"X-API-Key": api_keys.clear["all"]})
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    assert_asyncapi_valid(document)
    schemes = document["components"]["securitySchemes"]
    print(f"\nAsyncAPI security schemes: {sorted(schemes)}")
    assert schemes["ApiKey"] == {
        "type": "httpApiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key; its scopes are in the server's spec (security.keys).",
    }
    assert {k: schemes["Bearer"][k] for k in ("type", "scheme", "bearerFormat")} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    refs = [
        {"$ref": "#/components/securitySchemes/ApiKey"},
        {"$ref": "#/components/securitySchemes/Bearer"},
    ]
    for stream in ("orders", "stock"):
        operation = document["operations"][f"{stream}.send"]
        assert operation["security"] == refs
        assert operation["x-required-scope"] == f"stream:{stream}:read"
        assert document["channels"][stream]["x-required-scope"] == f"stream:{stream}:read"


def test_commands_carry_the_operations_scope_and_the_open_demo_no_schemes(
    estate: Estate, api_keys: Keys, tmp_path: Path
) -> None:
    events = EventsSpec.model_validate(
        {
            "state": f"sqlite:///{tmp_path / 'state.sqlite'}",
            "kafka": {"bootstrap": "127.0.0.1:1"},
            "streams": {"orders": {"from": "erp.orders"}},
            "commands": {
                "adjust-stock": {
                    "topic": "commands.adjust-stock",
                    "operation": "inventory.AdjustStock",
                }
            },
        }
    )
    section = KEYS_SECTION + f"  audit: {{database: '{sqlite_url(tmp_path, 'audit.sqlite')}'}}\n"
    closed = secured_spec(estate, section, api_keys.env).model_copy(update={"events": events})
    documents = []
    for spec in (closed, estate.spec.model_copy(update={"events": events})):
        hub = next(c for c in build_platform(spec, tmp_path) if isinstance(c, EventHub))
        documents.append(hub.asyncapi())
    secured, open_ = documents
    for document in documents:
        assert_asyncapi_valid(document)
    assert sorted(secured["components"]["securitySchemes"]) == ["ApiKey"]
    assert secured["operations"]["orders.send"]["x-required-scope"] == "stream:orders:read"
    receive = secured["operations"]["adjust-stock.receive"]
    assert receive["x-required-scope"] == "soap:inventory:AdjustStock"
    assert receive["security"] == [{"$ref": "#/components/securitySchemes/ApiKey"}]
    assert secured["channels"]["adjust-stock.command"]["x-required-scope"] == (
        "soap:inventory:AdjustStock"
    )
    headers = secured["components"]["messages"]["adjust-stock.command"]["headers"]
    assert sorted(headers["properties"]) == ["X-API-Key"]
    for name in ("adjust-stock.reply", "adjust-stock.dead-letter"):  # strangler sends these
        assert "security" not in secured["operations"][name]
    # the consumer built from the closed spec checks its commands through the guard
    consumer = next(c for c in build_platform(closed, tmp_path) if isinstance(c, CommandConsumer))
    assert consumer.processor.gate is not None
    assert consumer.processor.gate.scope_of(consumer.processor.operation) == (
        "soap:inventory:AdjustStock"
    )
    assert "security" not in open_["operations"]["adjust-stock.receive"]
    assert "securitySchemes" not in open_["components"]
    assert "security" not in open_["operations"]["orders.send"]
