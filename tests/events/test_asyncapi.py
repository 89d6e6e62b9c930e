"""The AsyncAPI document with a broker and a command topic validates against AsyncAPI 3.0."""

from __future__ import annotations

from pathlib import Path

from strangler.demo.estate import running_estate
from strangler.events.part import EventHub
from strangler.platform import build_platform
from strangler.spec.events import EventsSpec
from tests.events.contract import assert_asyncapi_valid


def test_servers_commands_replies_and_dead_letters(tmp_path: Path) -> None:
    with running_estate(state_dir=tmp_path) as estate:
        events = EventsSpec.model_validate(
            {
                "state": f"sqlite:///{tmp_path / 'state.sqlite'}",
                "kafka": {"bootstrap": "127.0.0.1:1,127.0.0.1:2"},
                "streams": {"orders": {"from": "erp.orders"}},
                "commands": {
                    "adjust-stock": {
                        "topic": "commands.adjust-stock",
                        "operation": "inventory.AdjustStock",
                    }
                },
            }
        )
        spec = estate.spec.model_copy(update={"events": events})
        hub = next(c for c in build_platform(spec, tmp_path) if isinstance(c, EventHub))
        document = hub.asyncapi()
    assert_asyncapi_valid(document)
    assert {s["host"] for s in document["servers"].values()} == {"127.0.0.1:1", "127.0.0.1:2"}
    assert document["channels"]["adjust-stock.command"]["address"] == "commands.adjust-stock"
    assert document["channels"]["adjust-stock.reply"]["address"] == "commands.adjust-stock.reply"
    assert document["operations"]["adjust-stock.receive"]["action"] == "receive"
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas and "erp.OrdersRow" in schemas
    reply = schemas["commands.AdjustStockReply"]["properties"]["data"]["$ref"]
    assert reply.removeprefix("#/components/schemas/") in schemas
