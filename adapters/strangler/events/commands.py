"""Command topics: a message on a topic calls an adapter operation; the answer is a reply event.

Component ``events.<command>.commands`` (kind ``commands``) consumes the
command's topic in the consumer group ``CommandSpec.group`` (replicas share
the partitions). kafka-python blocks, so its poll loop runs in a thread of its
own; the operation itself is called on the app's event loop through
:meth:`Platform.invoke <strangler.platform.core.Platform.invoke>`, with the
same input model as the REST route (and so the operation's streams record the
call as any other).

A command is a CloudEvent (:func:`decode`): structured mode (the value is the
event's JSON, ``data`` the operation's input) or binary mode (the value is the
input, the attributes are ``ce_*`` headers). Its ``source`` and ``id`` are the
idempotency key, kept in ``strangler_commands``. A plain JSON object with no
CloudEvent attributes is refused: it has no id, and the Kafka key (the entity
key) is not unique per command.

Per command (:class:`CommandProcessor`):

1. malformed (larger than ``max_bytes``, not JSON, nested too deeply, not a
   CloudEvent, input failing validation or naming fields the operation does not
   know): to the dead-letter topic with the original value and key, its headers
   but those carrying credentials, and a ``strangler-reason`` header; the
   offset is committed, the partition goes on;
   with ``security:`` on (a :class:`~strangler.platform.callers.CallGate` given),
   the command's credential headers (``X-API-Key`` or ``Authorization: Bearer``,
   beside the event in both CloudEvents modes) must name a caller granted the
   operation's scope, checked before the input is read: a refused command gets a
   problem reply (401 or 403) with its ``correlationid``, is audited, is not
   recorded as done (sent again with credentials, it runs) and calls nothing;
2. key ``done``: not called again. The same record read again (a replica died
   before committing its offset) needs nothing: its reply is in the outbox,
   published or about to be. The command sent again (another record) has its
   stored reply queued again, with the same event id;
3. key new: ``started`` is committed, the operation is called, and in one state
   transaction the key becomes ``done`` with the reply and the reply event
   enters the outbox (stream ``command:<name>``, published by its relay);
4. key ``started`` but never done (a replica died during the call): a safe
   operation is called again; a non-safe one never is: the reply is a problem
   ``outcome-unknown`` (409);
5. then the offset is committed.

The reply is a CloudEvent of type ``strangler.<system>.<operation>.reply``
(data: the answer) or ``.problem`` (data: the RFC 9457 problem the REST edge
would answer), with ``correlationid`` = the command's id and the command's
``subject``. An error of the operation, the legacy system being down or timing
out included, is a problem reply and the command is done: nothing is retried
(a timed-out non-safe call may have happened; the sender decides, with a new
id). Only a failure of strangler's own side (the state database, the broker
for dead letters) leaves the offset uncommitted: the record is read again after
a pause, and step 2 or 4 keeps the operation from running twice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson
import sqlalchemy as sa
from pydantic import BaseModel

from strangler.errors import (
    AccessDenied,
    InvalidInput,
    SpecError,
    SpecProblem,
    StranglerError,
)
from strangler.events.envelope import cloud_event, encode
from strangler.events.store import COMMANDS, now
from strangler.platform.callers import CREDENTIAL_HEADERS, CallGate
from strangler.platform.component import Health
from strangler.platform.core import Platform, validate_input
from strangler.platform.operations import Operation
from strangler.spec.events import CommandSpec, EventsSpec, KafkaSpec

if TYPE_CHECKING:
    from strangler.events.part import EventHub
    from strangler.platform.component import Component

__all__ = [
    "OUTCOME_UNKNOWN",
    "Command",
    "CommandConsumer",
    "CommandProcessor",
    "Malformed",
    "build_commands",
    "decode",
    "envelope",
    "reply_stream",
]

log = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "urn:strangler:problem:outcome-unknown"
REASON_HEADER = "strangler-reason"
ORIGIN_HEADER = "strangler-origin"
_MAX_ID = 200
_MAX_SOURCE = 250


def reply_stream(name: str) -> str:
    """The outbox stream of a command's replies (its relay publishes it)."""
    return f"command:{name}"


class Malformed(Exception):
    """A message that is no command of this topic; ``reason`` goes to the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Command:
    """A decoded command: its CloudEvent attributes and the validated input."""

    id: str
    source: str
    type: str
    subject: str | None
    input: BaseModel

    @property
    def key(self) -> str:
        """The idempotency key (CloudEvents: ``source`` and ``id`` are unique together)."""
        return f"{self.source}|{self.id}"


Headers = Sequence[tuple[str, bytes | None]]


def _header_map(headers: Headers) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers or ():
        try:
            found[name.lower()] = (value or b"").decode()
        except UnicodeDecodeError:
            raise Malformed(f"header {name!r} is not UTF-8") from None
    return found


def envelope(
    value: bytes | None, headers: Headers, *, max_bytes: int | None = None
) -> tuple[dict[str, Any], Any]:
    """A record's CloudEvent attributes and data; :class:`Malformed` with the reason."""
    if not value:
        raise Malformed("empty message")
    if max_bytes is not None and len(value) > max_bytes:
        raise Malformed(f"the command is larger than {max_bytes} bytes ({len(value)})")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            raise Malformed("not JSON: nested too deeply (more than 1024 levels)") from None
        raise Malformed(f"not JSON: {exc}") from None
    given = _header_map(headers)
    if "ce_id" in given:  # binary mode: attributes in headers, the value is the data
        attributes: dict[str, Any] = {k[3:]: v for k, v in given.items() if k.startswith("ce_")}
        data = body
    elif isinstance(body, dict) and "specversion" in body:
        attributes = body
        data = body.get("data", {})
        kind = body.get("datacontenttype", "application/json")
        if not isinstance(kind, str) or not kind.split(";")[0].strip().endswith(("/json", "+json")):
            raise Malformed(f"datacontenttype {str(kind)[:100]!r} is not JSON")
        if "data_base64" in body:
            raise Malformed("data_base64 is not taken: the input is JSON data")
    else:
        raise Malformed(
            "not a CloudEvent: structured mode needs specversion, id, source and type; "
            "binary mode the ce_specversion, ce_id, ce_source and ce_type headers"
        )
    if attributes.get("specversion") != "1.0":
        raise Malformed(f"specversion {str(attributes.get('specversion'))[:20]!r} is not 1.0")
    for name, limit in (("id", _MAX_ID), ("source", _MAX_SOURCE), ("type", _MAX_SOURCE)):
        text = attributes.get(name)
        if not isinstance(text, str) or not text:
            raise Malformed(f"the CloudEvent has no {name}")
        if len(text) > limit:
            raise Malformed(f"the CloudEvent's {name} is longer than {limit} characters")
    subject = attributes.get("subject")
    if subject is not None and (not isinstance(subject, str) or len(subject) > _MAX_SOURCE):
        raise Malformed(f"the CloudEvent's subject is not a string of {_MAX_SOURCE} at most")
    return attributes, data


def command_of(attributes: Mapping[str, Any], data: Any, operation: Operation[Any]) -> Command:
    """The command of an :func:`envelope`: its data validated as ``operation``'s input."""
    if not isinstance(data, dict):
        raise Malformed(f"data is not an object: the input of {operation.ref} is")
    unknown = sorted(set(data) - _field_names(operation.input_model))
    if unknown:
        shown = ", ".join(u[:60] for u in unknown[:10])
        raise Malformed(f"unknown fields for {operation.ref}: {shown}")
    try:
        payload = validate_input(operation, data)
    except InvalidInput as exc:
        raise Malformed(f"invalid input: {exc.message}") from None
    subject = attributes.get("subject")
    return Command(attributes["id"], attributes["source"], attributes["type"], subject, payload)


def decode(
    value: bytes | None,
    headers: Headers,
    operation: Operation[Any],
    *,
    max_bytes: int | None = None,
) -> Command:
    """The command in a record; :class:`Malformed` with the reason otherwise."""
    attributes, data = envelope(value, headers, max_bytes=max_bytes)
    return command_of(attributes, data, operation)


def _field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
    return names


State = Literal["new", "started", "done"]


@dataclass(frozen=True)
class Outcome:
    """What became of one record: ``replied`` (a reply queued), ``again`` (a done
    command's reply queued again), ``refused`` (its credentials: a problem reply
    queued) or ``dead`` (to the dead-letter topic)."""

    kind: Literal["replied", "again", "refused", "dead"]
    reason: str | None = None
    called: bool = False


class CommandProcessor:
    """The steps of one command (module docstring), blocking, in the consumer's thread.

    ``call`` runs the operation: by default :meth:`Platform.invoke` on ``loop``.
    """

    def __init__(
        self,
        name: str,
        spec: CommandSpec,
        events: EventsSpec,
        hub: EventHub,
        platform: Platform,
    ) -> None:
        self.name = name
        self.spec = spec
        self.events = events
        self.hub = hub
        self.platform = platform
        self.operation = platform.operation(spec.operation)
        self.stream = reply_stream(name)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.gate: CallGate | None = None
        """With ``security:`` on: who may send this topic's commands (see the module docstring)."""

    def handle(self, value: bytes | None, headers: Headers, origin: str | None = None) -> Outcome:
        """Decode, take the key, call once, record the reply: see the module docstring.

        ``origin`` is the record's ``topic/partition/offset``: it tells a redelivery
        of the same record from the command sent again.
        """
        actor: str | None = None
        try:
            attributes, data = envelope(value, headers, max_bytes=self.spec.max_bytes)
            if self.gate is not None:
                admitted = self.admit(headers, attributes, origin)
                if isinstance(admitted, Outcome):
                    return admitted
                actor = admitted
            command = command_of(attributes, data, self.operation)
        except Malformed as exc:
            return Outcome("dead", exc.reason)
        state, stored = self.take(command)
        if state == "done":
            assert stored is not None
            if origin is None or orjson.loads(stored).get("origin") != origin:
                self.queue_again(stored)
            return Outcome("again")
        if state == "started" and not self.operation.safe:
            data = {
                "type": OUTCOME_UNKNOWN,
                "title": "The outcome of the command is unknown",
                "status": 409,
                "detail": f"{self.operation.ref} was called for this command before and "
                "did not finish; it is not safe to call again",
                "command": command.id,
            }
            self.finish(command, data, problem=True, origin=origin)
            return Outcome("replied")
        answer, problem = self.call(command)
        self.finish(command, answer, problem=problem, origin=origin)
        if self.gate is not None and actor is not None:
            status = int(answer.get("status", 500)) if problem else 200
            record = self.gate.record(
                actor, self.operation, channel=self.spec.topic, status=status, origin=origin or ""
            )
            self._on_loop(record)
        return Outcome("replied", called=True)

    # -- the caller -----------------------------------------------------------

    def admit(
        self, headers: Headers, attributes: Mapping[str, Any], origin: str | None
    ) -> str | Outcome:
        """The actor when the command's credentials may call the operation; else the
        problem reply is queued (the gate has audited the refusal): ``refused``."""
        assert self.gate is not None
        wanted = self.gate.credential_headers
        given = {k: v for k, v in _header_map(headers).items() if k in wanted}
        admit = self.gate.admit(given, self.operation, channel=self.spec.topic, origin=origin or "")
        try:
            caller = self._on_loop(admit)
        except AccessDenied as exc:
            from strangler.rest.problems import problem_body

            body = problem_body(exc)
            row = self.reply_row(attributes["id"], attributes.get("subject"), body, problem=True)
            with self.hub.store.transaction() as connection:
                self.hub.store.append(connection, [row])
            log.warning(
                "%s: command %s refused (%s): %s",
                self.name,
                attributes["id"],
                body["status"],
                exc.message,
            )
            return Outcome("refused", exc.message)
        actor: str = caller.actor
        return actor

    def _on_loop(self, coroutine: Any) -> Any:
        if self.loop is None:
            return asyncio.run(coroutine)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    # -- the key ------------------------------------------------------------

    def take(self, command: Command) -> tuple[State, str | None]:
        """The key's state before this delivery; a new key is committed ``started``."""
        key = self._key(command)
        for _ in range(2):
            with self.hub.store.transaction() as connection:
                row = connection.execute(
                    sa.select(COMMANDS.c.state, COMMANDS.c.reply).where(
                        COMMANDS.c.command_key == key
                    )
                ).first()
                if row is not None:
                    return ("done" if row.state == "done" else "started"), row.reply
            try:
                with self.hub.store.transaction() as connection:
                    connection.execute(
                        COMMANDS.insert().values(command_key=key, state="started", created_at=now())
                    )
                return "new", None
            except sa.exc.IntegrityError:  # another replica took it meanwhile
                continue
        return "started", None

    def _key(self, command: Command) -> str:
        return f"{self.name}|{command.key}"

    # -- the call -------------------------------------------------------------

    def call(self, command: Command) -> tuple[Any, bool]:
        """The operation's answer, or the problem it gave (and whether it is one)."""
        try:
            return self._invoke(command.input), False
        except StranglerError as exc:
            from strangler.rest.problems import problem_body

            return problem_body(exc), True
        except Exception as exc:  # an unexpected error is answered, never retried
            log.exception("%s: %s failed unexpectedly", self.name, self.operation.ref)
            return {
                "type": "urn:strangler:problem:internal",
                "title": "Internal error",
                "status": 500,
                "detail": f"an unexpected error: {type(exc).__name__}",
            }, True

    def _invoke(self, payload: BaseModel) -> Any:
        return self._on_loop(self.platform.invoke(self.operation, payload))

    # -- the reply ------------------------------------------------------------

    def reply_row(
        self, ident: str, subject: str | None, data: Any, *, problem: bool
    ) -> dict[str, Any]:
        """The outbox row of the reply event to the command ``ident``."""
        op = self.operation
        subject = subject or ident
        schema = "Problem" if problem else op.output_model.__name__
        event = cloud_event(
            source=f"{self.events.source.rstrip('/')}/{op.system}/{op.name}",
            type=f"strangler.{op.system}.{op.name}.{'problem' if problem else 'reply'}",
            subject=subject,
            data=data,
            dataschema=f"/asyncapi.json#/components/schemas/{schema}",
            extensions={"correlationid": ident},
        )
        return {
            "stream": self.stream,
            "event_id": event["id"],
            "topic": self.spec.replies,
            "msg_key": subject,
            "event": encode(event).decode(),
        }

    def finish(
        self, command: Command, data: Any, *, problem: bool, origin: str | None = None
    ) -> None:
        """In one state transaction: the key ``done`` with its reply, the reply queued."""
        row = self.reply_row(command.id, command.subject, data, problem=problem)
        stored = {**row, "origin": origin}
        with self.hub.store.transaction() as connection:
            connection.execute(
                COMMANDS.update()
                .where(COMMANDS.c.command_key == self._key(command))
                .values(state="done", reply=orjson.dumps(stored).decode())
            )
            self.hub.store.append(connection, [row])

    def queue_again(self, stored: str) -> None:
        """A done command's reply, published again (same event id)."""
        row = orjson.loads(stored)
        row.pop("origin", None)
        with self.hub.store.transaction() as connection:
            # not in the outbox any more (retention): appended again
            if not self.hub.store.requeue(connection, row["event_id"]):
                self.hub.store.append(connection, [row])


@dataclass
class ConsumerStats:
    """What a command consumer did since it started."""

    replied: int = 0
    again: int = 0
    refused: int = 0
    dead: int = 0
    calls: int = 0
    failures: int = 0
    last_error: str | None = None
    failing_since: float | None = None
    partitions: tuple[int, ...] = ()


class CommandConsumer:
    """Component ``events.<command>.commands``: the command topic's poll loop in a thread.

    ``assign=True`` reads every partition of the topic by assignment instead of
    joining the group (offsets are still committed under the group): for tests
    and single-replica setups, where a group join would only cost time. New
    partitions are then not seen until a restart.
    """

    kind = "commands"

    def __init__(
        self,
        processor: CommandProcessor,
        kafka: KafkaSpec,
        *,
        assign: bool = False,
        retry_s: float = 1.0,
    ) -> None:
        self.processor = processor
        self.kafka = kafka
        self.assign = assign
        self.retry_s = retry_s
        self.stats = ConsumerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Any = None

    @property
    def name(self) -> str:
        return f"events.{self.processor.name}.commands"

    def gate_calls(self, gate: CallGate) -> None:
        """Admit only the commands whose credentials ``gate`` lets through."""
        self.processor.gate = gate

    def gated(self) -> list[tuple[str, Operation[Any]]]:
        """The topic and the operation its commands call."""
        return [(self.topic, self.processor.operation)]

    @property
    def topic(self) -> str:
        return self.processor.spec.topic

    async def start(self) -> None:
        self.processor.loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    async def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            # the loop keeps running meanwhile, so a call in flight can finish
            await asyncio.to_thread(thread.join, 60.0)

    async def health(self) -> Health:
        stats = self.stats
        detail: dict[str, Any] = {
            "kind": self.kind,
            "topic": self.topic,
            "group": None if self.assign else self.processor.spec.group,
            "replies": self.processor.spec.replies,
            "partitions": list(stats.partitions),
            "replied": stats.replied,
            "refused": stats.refused,
            "dead_letters": stats.dead,
        }
        if self._thread is None or not self._thread.is_alive():
            return Health("down", {**detail, "error": "not consuming"})
        if stats.failing_since is not None:
            return Health("degraded", {**detail, "error": stats.last_error})
        return Health("ok", detail)

    # -- the thread -----------------------------------------------------------

    def _run(self) -> None:
        consumer = None
        while not self._stop.is_set():
            try:
                if consumer is None:
                    consumer = self._consumer()
                    if consumer is None:
                        continue
                self._poll(consumer)
            except Exception as exc:
                self._failed(exc)
                self._stop.wait(self.retry_s)
        if consumer is not None:
            try:
                consumer.close(autocommit=False)
            except Exception:
                log.debug("closing the consumer failed", exc_info=True)
        if self._producer is not None:
            self._producer.close(timeout=5)

    def _consumer(self) -> Any:
        from kafka import KafkaConsumer, TopicPartition

        spec = self.kafka
        consumer = KafkaConsumer(
            bootstrap_servers=[s.strip() for s in spec.bootstrap.split(",") if s.strip()],
            client_id=f"{spec.client_id}-commands",
            group_id=self.processor.spec.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=50,
            request_timeout_ms=max(int(spec.request_timeout_s * 1000), 31_000),
        )
        if not self.assign:
            consumer.subscribe([self.topic])
            return consumer
        partitions = consumer.partitions_for_topic(self.topic)
        if not partitions:  # not created yet: ask again shortly
            consumer.close(autocommit=False)
            self._stop.wait(0.2)
            return None
        consumer.assign([TopicPartition(self.topic, p) for p in sorted(partitions)])
        return consumer

    def _poll(self, consumer: Any) -> None:
        from kafka.structs import OffsetAndMetadata

        batch = consumer.poll(timeout_ms=200)
        self.stats.partitions = tuple(sorted(p.partition for p in consumer.assignment()))
        for partition, records in batch.items():
            for index, record in enumerate(records):
                if self._stop.is_set():  # not committed: read again after a restart
                    consumer.seek(partition, record.offset)
                    break
                try:
                    self._process(record)
                    consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "", -1)})
                    self.stats.failing_since = None
                except Exception as exc:
                    # strangler's side failed: read this record again after a pause
                    consumer.seek(partition, records[index].offset)
                    self._failed(exc)
                    self._stop.wait(self.retry_s)
                    break

    def _process(self, record: Any) -> None:
        origin = f"{record.topic}/{record.partition}/{record.offset}"
        outcome = self.processor.handle(record.value, record.headers or [], origin)
        if outcome.kind == "dead":
            assert outcome.reason is not None
            self._dead_letter(record, outcome.reason)
            self.stats.dead += 1
        elif outcome.kind == "again":
            self.stats.again += 1
        elif outcome.kind == "refused":
            self.stats.refused += 1
        else:
            self.stats.replied += 1
            self.stats.calls += int(outcome.called)

    def _dead_letter(self, record: Any, reason: str) -> None:
        if self._producer is None:
            from kafka import KafkaProducer

            from strangler.events.kafka import producer_settings

            self._producer = KafkaProducer(**producer_settings(self.kafka, idempotent=False))
        origin = f"{record.topic}/{record.partition}/{record.offset}"
        gate = self.processor.gate
        secret = CREDENTIAL_HEADERS | (gate.credential_headers if gate is not None else set())
        headers = [
            *((n, v) for n, v in record.headers or [] if n.lower() not in secret),
            (REASON_HEADER, reason.encode()),
            (ORIGIN_HEADER, origin.encode()),
        ]
        future = self._producer.send(
            self.processor.spec.dead_letters, value=record.value, key=record.key, headers=headers
        )
        future.get(timeout=self.kafka.request_timeout_s * 2)
        log.warning("%s: %s to %s: %s", self.name, origin, self.processor.spec.dead_letters, reason)

    def _failed(self, exc: BaseException) -> None:
        self.stats.failures += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        if self.stats.failing_since is None:
            self.stats.failing_since = time.monotonic()
        log.warning("%s: %s (trying again)", self.name, self.stats.last_error)


def build_commands(
    spec: EventsSpec, hub: EventHub, platform: Platform, *, assign: bool = False
) -> list[Component]:
    """Per command: its consumer, and the relay of its replies (spec with ``kafka``)."""
    from strangler.events.relay import Relay

    assert spec.kafka is not None
    components: list[Component] = []
    for name, command in spec.commands.items():
        try:
            processor = CommandProcessor(name, command, spec, hub, platform)
        except StranglerError as exc:
            where = f"events.commands.{name}.operation"
            raise SpecError([SpecProblem("spec", None, where, exc.message)]) from None
        components.append(CommandConsumer(processor, spec.kafka, assign=assign))
        components.append(Relay(reply_stream(name), hub.store, spec.kafka, spec.relay))
    return components
