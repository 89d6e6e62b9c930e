"""Command topics on a real broker, calling the demo's InventoryService (a real SOAP server).

``AdjustStock`` is not safe: the stock it changes, read back with
``GetStock``, counts the legacy calls exactly. Each test uses topics and a
group of its own and a SKU no other test of this module adjusts. All but the
last consume by assignment (a group join takes about 30 s on this broker);
the last is the one about the group.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
from kafka import KafkaProducer

from strangler.demo.inventory import InventoryServer
from strangler.events.commands import (
    OUTCOME_UNKNOWN,
    REASON_HEADER,
    CommandConsumer,
    CommandProcessor,
    decode,
    reply_stream,
)
from strangler.events.part import EventHub
from strangler.events.relay import Relay
from strangler.platform.build import build_platform
from strangler.platform.component import Component
from strangler.platform.core import Platform
from strangler.spec import parse_spec
from strangler.spec.events import CommandSpec, EventsSpec, RelaySpec
from tests.adapters.soap.test_rest_calls import spec_for
from tests.events.broker import Broker, consume, unique_topic
from tests.servers import unused_address

T = TypeVar("T")
ADJUST = "inventory.AdjustStock"


def spec_text(address: str, state: str, bootstrap: str, commands: str = "") -> str:
    return spec_for(
        address,
        "events:\n"
        f"  state: {state}\n"
        f"  kafka: {{bootstrap: '{bootstrap}'}}\n"
        "  relay: {interval_s: 0.05}\n"
        f"{commands}",
    )


class Estate:
    """The inventory adapter and the events hub, built from a spec without commands;
    command components are added by the test (consuming by assignment)."""

    def __init__(
        self,
        inventory: InventoryServer,
        broker: Broker,
        folder: Path,
        address: str = "",
        security: str = "",
    ) -> None:
        state = f"sqlite:///{folder / f'state_{secrets.token_hex(3)}.sqlite'}"
        text = spec_text(address or inventory.base_url, state, broker.bootstrap)
        if security:  # a `security:` section (YAML below it)
            text += "security:\n" + security
        spec = parse_spec(text, filename="t.yaml", base_dir=folder, env={})
        self.platform = build_platform(spec, cache_dir=folder)
        hub = self.platform.component("events")
        assert isinstance(hub, EventHub)
        self.hub = hub
        self.events: EventsSpec = spec.section("events")
        self.broker = broker
        self.name = f"adjust-{secrets.token_hex(3)}"
        self.live: list[Component] = []
        self.command = CommandSpec(
            topic=unique_topic("commands"), operation=ADJUST, group=unique_topic("group")
        )

    def processor(self) -> CommandProcessor:
        return CommandProcessor(self.name, self.command, self.events, self.hub, self.platform)

    def replica(self) -> tuple[CommandConsumer, Relay]:
        """A command consumer (by assignment) and the relay of its replies."""
        assert self.events.kafka is not None
        consumer = CommandConsumer(self.processor(), self.events.kafka, assign=True, retry_s=0.1)
        relay = Relay(
            reply_stream(self.name), self.hub.store, self.events.kafka, RelaySpec(interval_s=0.05)
        )
        self.live += [consumer, relay]
        return consumer, relay

    async def stock(self, sku: str) -> int:
        answer = await self.platform.invoke("inventory.GetStock", {"sku": sku})
        return int(answer["GetStockResult"]["quantity"])

    async def replies(self, count: int, timeout_s: float = 30.0) -> list[Any]:
        """The reply topic's records, read once the relays published ``count`` (reading a
        topic that does not exist yet would create it empty)."""
        relays = [c for c in self.live if isinstance(c, Relay)]
        await until(lambda: sum(r.stats.published for r in relays) >= count, timeout_s)
        return await asyncio.to_thread(
            consume, self.broker.bootstrap, self.command.replies, count=count, timeout_s=timeout_s
        )

    async def dead_letters(self, count: int) -> list[Any]:
        consumers = [c for c in self.live if isinstance(c, CommandConsumer)]
        await until(lambda: sum(c.stats.dead for c in consumers) >= count)
        return await asyncio.to_thread(
            consume, self.broker.bootstrap, self.command.dead_letters, count=count
        )


def command(ident: str, data: Any, *, subject: str | None = None, **extra: Any) -> bytes:
    """A structured-mode CloudEvent command."""
    event = {
        "specversion": "1.0",
        "id": ident,
        "source": "/tests/orders",
        "type": "com.example.stock.adjust",
        "datacontenttype": "application/json",
        "data": data,
        **extra,
    }
    if subject is not None:
        event["subject"] = subject
    return orjson.dumps(event)


def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    headers: Sequence[list[tuple[str, bytes]]] | None = None,
) -> None:
    """Send each value to partition 0, in order, acknowledged."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for index, value in enumerate(values):
            extra = headers[index] if headers else []
            producer.send(topic, value=value, key=b"k", partition=0, headers=extra).get(10)
    finally:
        producer.close()


def run(body: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await body()

    return asyncio.run(main())


async def until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def event_of(record: Any) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(record.value)
    return value


def running(base: Platform, extra: Sequence[Component]) -> Any:
    return Platform([*base.components, *extra]).running()


def test_a_command_calls_the_operation_once_and_its_reply_arrives(
    inventory: InventoryServer, broker: Broker, tmp_path: Path
) -> None:
    estate = Estate(inventory, broker, tmp_path)
    sku = "SKU-3001"
    data = {"sku": sku, "delta": 4, "reason": "delivery"}
    binary = [("ce_specversion", b"1.0"), ("ce_id", b"cmd-b"), ("ce_source", b"/tests")]
    binary += [("ce_type", b"com.example.stock.adjust"), ("content-type", b"application/json")]
    consumer, relay = estate.replica()

    async def body() -> None:
        async with estate.platform.running():
            before = await estate.stock(sku)
        produce(
            broker.bootstrap,
            estate.command.topic,
            [
                command("cmd-a", data, subject=sku),
                orjson.dumps({"sku": sku, "delta": 1, "reason": "binary mode"}),
            ],
            [[], binary],
        )
        async with running(estate.platform, [consumer, relay]):
            replies = await estate.replies(2)
            assert await estate.stock(sku) == before + 5
            health = await consumer.health()
        assert health.status == "ok", health.detail
        assert len(replies) == 2
        first, second = (event_of(r) for r in replies)
        assert first["type"] == second["type"] == "strangler.inventory.AdjustStock.reply"
        assert (first["correlationid"], second["correlationid"]) == ("cmd-a", "cmd-b")
        assert first["subject"] == sku and replies[0].key == sku.encode()
        assert second["subject"] == "cmd-b"  # no subject given: the command's id
        assert first["data"]["AdjustStockResult"]["quantity"] == before + 4
        assert second["data"]["AdjustStockResult"]["quantity"] == before + 5
        assert first["source"] == "/strangler/inventory/AdjustStock"
        assert consumer.stats.calls == 2 and consumer.stats.dead == 0

    run(body)


def test_a_redelivered_command_never_calls_the_legacy_system_twice(
    inventory: InventoryServer, broker: Broker, tmp_path: Path
) -> None:
    """A replica called AdjustStock, recorded it done and died before its reply was
    published and its offset committed; another replica receives the command again."""
    estate = Estate(inventory, broker, tmp_path)
    sku = "SKU-3002"
    done = command("cmd-done", {"sku": sku, "delta": 3, "reason": "r"}, subject=sku)
    midway = command("cmd-midway", {"sku": sku, "delta": 2, "reason": "r"}, subject=sku)
    produce(broker.bootstrap, estate.command.topic, [done, midway])
    records = consume(broker.bootstrap, estate.command.topic, count=2)
    assert [r.value for r in records] == [done, midway]
    origin = f"{records[0].topic}/{records[0].partition}/{records[0].offset}"

    async def body() -> None:
        async with estate.platform.running():
            before = await estate.stock(sku)
            # the first replica: the whole first command but the publishing and the commit
            first = estate.processor()
            first.loop = asyncio.get_running_loop()
            outcome = await asyncio.to_thread(first.handle, done, [], origin)
            assert outcome.kind == "replied" and outcome.called
            # ... and the second command up to the legacy call, which happened
            taken = decode(midway, [], first.operation)
            assert await asyncio.to_thread(first.take, taken) == ("new", None)
            await estate.platform.invoke(ADJUST, taken.input)
            assert await estate.stock(sku) == before + 5
            pending = estate.hub.store.pending(reply_stream(estate.name), 10)
            assert len(pending) == 1  # the first reply, never published

        consumer, relay = estate.replica()
        async with running(estate.platform, [consumer, relay]):
            replies = await estate.replies(2)
            await until(lambda: consumer.stats.again + consumer.stats.replied == 2)
            assert await estate.stock(sku) == before + 5  # neither called again
        assert consumer.stats.calls == 0
        assert len(replies) == 2  # one reply each, nothing repeated
        again, unknown = (event_of(r) for r in replies)
        assert again["id"] == pending[0].event_id
        assert again["correlationid"] == "cmd-done"
        assert again["data"]["AdjustStockResult"]["quantity"] == before + 3
        assert unknown["correlationid"] == "cmd-midway"
        assert unknown["type"] == "strangler.inventory.AdjustStock.problem"
        assert unknown["data"]["type"] == OUTCOME_UNKNOWN
        assert unknown["data"]["status"] == 409

    run(body)


def test_a_command_sent_twice_is_answered_twice_with_one_call_and_one_event_id(
    inventory: InventoryServer, broker: Broker, tmp_path: Path
) -> None:
    """The sender lost the reply and sends the same command (same id) as a new record:
    the stored reply is published again under its event id; the legacy system is
    called once."""
    estate = Estate(inventory, broker, tmp_path)
    sku = "SKU-4004"
    twice = command("cmd-twice", {"sku": sku, "delta": 4, "reason": "r"}, subject=sku)

    async def body() -> None:
        consumer, relay = estate.replica()
        async with estate.platform.running():
            before = await estate.stock(sku)
        produce(broker.bootstrap, estate.command.topic, [twice])
        async with running(estate.platform, [consumer, relay]):
            await estate.replies(1)
            produce(broker.bootstrap, estate.command.topic, [twice])
            replies = await estate.replies(2)
            assert consumer.stats.again == 1
            assert await estate.stock(sku) == before + 4
        assert consumer.stats.calls == 1
        first, second = (event_of(r) for r in replies)
        assert first == second
        assert first["correlationid"] == "cmd-twice"
        assert first["data"]["AdjustStockResult"]["quantity"] == before + 4

    run(body)


def test_malformed_commands_go_to_the_dead_letter_topic_and_the_partition_goes_on(
    inventory: InventoryServer, broker: Broker, tmp_path: Path
) -> None:
    estate = Estate(inventory, broker, tmp_path)
    sku = "SKU-4001"
    good = {"sku": sku, "delta": 1, "reason": "r"}
    malformed = [
        (b"not json {", "not JSON"),
        (orjson.dumps(good), "not a CloudEvent"),
        (command("m-1", {**good, "colour": "red"}), "unknown fields"),
        (command("m-2", {**good, "delta": "many"}), "invalid input"),
        (orjson.dumps({"specversion": "1.0", "source": "/s", "type": "t", "data": good}), "no id"),
    ]
    values = [value for value, _ in malformed]
    values += [command("ok-1", good), command("ok-2", {**good, "sku": "SKU-0000"})]
    produce(broker.bootstrap, estate.command.topic, values)
    consumer, relay = estate.replica()

    async def body() -> None:
        async with estate.platform.running():
            before = await estate.stock(sku)
        async with running(estate.platform, [consumer, relay]):
            replies = await estate.replies(2)
            dead = await estate.dead_letters(len(malformed))
            after = await estate.stock(sku)
        assert after == before + 1  # the good command behind the malformed ones, once
        assert [r.value for r in dead] == [value for value, _ in malformed]
        for record, (_, reason) in zip(dead, malformed, strict=True):
            headers = dict(record.headers)
            assert reason in headers[REASON_HEADER].decode(), headers
        ok, problem = (event_of(r) for r in replies)
        assert ok["correlationid"] == "ok-1"
        assert ok["type"] == "strangler.inventory.AdjustStock.reply"
        assert ok["data"]["AdjustStockResult"]["quantity"] == after
        assert problem["correlationid"] == "ok-2"  # the operation's error: a problem reply
        assert problem["type"] == "strangler.inventory.AdjustStock.problem"
        assert problem["data"]["status"] == 400
        assert problem["data"]["type"] == "urn:strangler:problem:legacy-fault"
        assert consumer.stats.dead == len(malformed) and consumer.stats.calls == 2

    run(body)


def test_a_legacy_system_that_is_down_is_a_problem_reply_not_a_retry(
    inventory: InventoryServer, broker: Broker, tmp_path: Path
) -> None:
    closed = f"{unused_address()}/soap"  # nothing listens there
    estate = Estate(inventory, broker, tmp_path, address=closed)
    data = {"sku": "SKU-4003", "delta": 1, "reason": "r"}
    produce(broker.bootstrap, estate.command.topic, [command("down-1", data)])
    consumer, relay = estate.replica()

    async def body() -> None:
        async with running(estate.platform, [consumer, relay]):
            replies = await estate.replies(1)
        (problem,) = (event_of(r) for r in replies)
        assert problem["correlationid"] == "down-1"
        assert problem["type"] == "strangler.inventory.AdjustStock.problem"
        assert problem["data"]["status"] == 502
        assert problem["data"]["type"] == "urn:strangler:problem:legacy-unavailable"
        assert consumer.stats.replied == 1 and consumer.stats.failures == 0

    run(body)


def test_replicas_share_the_command_topic_in_a_consumer_group(
    inventory: InventoryServer, broker: Broker, tmp_path: Path
) -> None:
    """Two apps built from one spec (one state database, one group): every partition
    consumed by one of them, every command called once and answered once."""
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    topic, group = unique_topic("commands"), unique_topic("group")
    commands = f"  commands:\n    adjust: {{topic: {topic}, operation: {ADJUST}, group: {group}}}\n"
    text = spec_text(inventory.base_url, state, broker.bootstrap, commands)
    apps = [
        build_platform(parse_spec(text, filename="t.yaml", base_dir=tmp_path, env={}))
        for _ in range(2)
    ]
    consumers = [app.component("events.adjust.commands") for app in apps]
    assert all(isinstance(c, CommandConsumer) for c in consumers)
    sku, count = "SKU-4002", 8
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(count):  # every partition gets commands
        data = {"sku": sku, "delta": 1, "reason": f"group {i}"}
        producer.send(topic, value=command(f"g-{i}", data), partition=i % 4).get(10)
    producer.close()

    async def body() -> None:
        async with apps[0].running(), apps[1].running():
            relays = [app.component("events.command:adjust.relay") for app in apps]
            await until(
                lambda: sum(r.stats.published for r in relays) >= count,  # type: ignore[attr-defined]
                timeout_s=150,
            )
            replies = await asyncio.to_thread(
                consume, broker.bootstrap, f"{topic}.reply", count=count
            )
            after = await apps[0].invoke("inventory.GetStock", {"sku": sku})
            await until(
                lambda: all(c.stats.partitions for c in consumers),  # type: ignore[attr-defined]
                timeout_s=90,
            )
            shared = [set(c.stats.partitions) for c in consumers]  # type: ignore[attr-defined]
        assert shared[0].isdisjoint(shared[1]) and shared[0] | shared[1] == {0, 1, 2, 3}
        events = [event_of(r) for r in replies]
        by_command: dict[str, set[str]] = {}
        for event in events:
            by_command.setdefault(event["correlationid"], set()).add(event["id"])
        assert sorted(by_command) == sorted(f"g-{i}" for i in range(count))
        assert all(len(ids) == 1 for ids in by_command.values())  # one reply each
        # every command called once (nothing else adjusts this SKU): each reply saw
        # another quantity, the last one the stock now, the first one count-1 below
        now = after["GetStockResult"]["quantity"]
        answered = {e["data"]["AdjustStockResult"]["quantity"] for e in events}
        assert len(answered) == count and max(answered) == now
        assert min(answered) == now - count + 1

    run(body)
