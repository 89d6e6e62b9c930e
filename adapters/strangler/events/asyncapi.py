"""The AsyncAPI 3.0 document of the event side, generated from the same models as OpenAPI.

* each stream is a channel (address: its Kafka topic) with one message per
  event type (``strangler.erp.orders.created``...), sent by strangler
  (operation ``<stream>.send``); the payload is the stream's CloudEvent
  envelope (:func:`.messages.envelope_model`), whose ``data`` is the stream's
  data model: for a table, the row model the REST side answers with;
* each command topic is a channel that strangler receives from (the
  operation's input model as the command's data), with its reply channel (the
  output model, or a problem) and its dead-letter channel, both sent;
* ``servers`` lists the brokers of ``events.kafka`` (protocol ``kafka``) when
  one is configured.

``components.schemas`` holds every model under its Python name, so an event's
``dataschema`` (``/asyncapi.json#/components/schemas/erp.OrdersRow``, as
:meth:`EventHub.event_row` writes it) resolves in the document served at
``/asyncapi.json``. A stream's operation names the HTTP route that reads it
(``x-http``), where the security part declares the scope it needs. Nothing here
starts or reaches anything: the document comes from the built (not started) components.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from strangler.events.envelope import CONTENT_TYPE
from strangler.events.messages import command_model, envelope_model, reply_model
from strangler.platform.operations import Operation

if TYPE_CHECKING:
    from strangler.events.part import EventHub

__all__ = ["ASYNCAPI_VERSION", "asyncapi_document", "component_schemas"]

ASYNCAPI_VERSION = "3.0.0"
REF = "#/components/schemas/"
_KAFKA_BINDING = "0.5.0"


def component_schemas(
    models: Iterable[tuple[type[BaseModel], JsonSchemaMode]],
) -> dict[str, Any]:
    """JSON schemas of ``models`` and everything they use, each model under its ``__name__``.

    Nested models keep pydantic's names; every ``$ref`` points into
    ``#/components/schemas/``.
    """
    pairs = list(dict.fromkeys(models))
    refs, top = models_json_schema(pairs, ref_template=REF + "{model}")
    defs: dict[str, Any] = top.get("$defs", {})
    rename: dict[str, str] = {}
    for (model, mode), ref in refs.items():
        generated = ref["$ref"][len(REF) :]
        if generated not in rename:  # a model used in both modes keeps one name per mode
            taken = model.__name__ in rename.values()
            rename[generated] = f"{model.__name__}-{mode}" if taken else model.__name__
    schemas: dict[str, Any] = {}
    for key, schema in defs.items():
        name = rename.get(key, key)
        if name in schemas:
            raise ValueError(f"two schemas named {name!r} in the AsyncAPI document")
        schemas[name] = _rewrite(schema, rename)
    return schemas


def _rewrite(node: Any, rename: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite(v, rename) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            out["$ref"] = REF + rename.get(ref[len(REF) :], ref[len(REF) :])
        return out
    if isinstance(node, list):
        return [_rewrite(v, rename) for v in node]
    return node


def _ref(path: str) -> dict[str, str]:
    return {"$ref": path}


def _kafka_key(description: str) -> dict[str, Any]:
    return {
        "kafka": {
            "key": {"type": "string", "description": description},
            "bindingVersion": _KAFKA_BINDING,
        }
    }


def _servers(hub: EventHub) -> dict[str, Any]:
    kafka = hub.spec.kafka
    if kafka is None:
        return {}
    hosts = [h.strip() for h in kafka.bootstrap.split(",") if h.strip()]
    return {
        f"kafka{i + 1}" if len(hosts) > 1 else "kafka": {
            "host": host,
            "protocol": "kafka",
            "description": "A broker of events.kafka.bootstrap.",
        }
        for i, host in enumerate(hosts)
    }


def _commands(hub: EventHub) -> list[tuple[str, Any, Operation[Any]]]:
    if not hub.spec.commands:
        return []
    if hub.platform is None:
        raise ValueError("the hub was built without its platform: command operations unknown")
    return [
        (name, spec, hub.platform.operation(spec.operation))
        for name, spec in hub.spec.commands.items()
    ]


def asyncapi_document(hub: EventHub, *, title: str = "strangler events") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``hub``'s streams and command topics."""
    streams = list(hub.streams.values())
    commands = _commands(hub)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for stream in streams:  # the data model too, so it keeps its name (the dataschema's)
        models += [(envelope_model(stream), "serialization"), (stream.data_model, "serialization")]
    for name, _spec, operation in commands:
        models += [
            (command_model(name, operation), "validation"),
            (operation.input_model, "validation"),
            (reply_model(name, operation), "serialization"),
            (operation.output_model, "serialization"),
            (reply_model(name, operation, True), "serialization"),
        ]
    if commands:
        from strangler.rest.problems import Problem

        models.append((Problem, "serialization"))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for stream in streams:
        envelope = envelope_model(stream).__name__
        ids = {}
        for action in stream.actions():
            message_id = f"{stream.name}.{action}"
            kind = stream.event_type(action)
            messages[message_id] = {
                "name": kind,
                "title": f"{stream.entity} {action}",
                "summary": f"A row of {stream.spec.source} was {action}."
                if stream.kind == "table"
                else f"{stream.spec.source} was called successfully.",
                "contentType": CONTENT_TYPE,
                "payload": _ref(REF + envelope),
                "bindings": _kafka_key("The entity key (the event's subject)."),
            }
            ids[action] = _ref(f"#/components/messages/{message_id}")
        channels[stream.name] = {
            "address": stream.topic,
            "title": f"Stream {stream.name}",
            "description": f"Changes of {stream.spec.source} as CloudEvents "
            f"(also GET /events/{stream.name} and /events/{stream.name}/sse).",
            "messages": ids,
        }
        operations[f"{stream.name}.send"] = {
            "action": "send",
            "channel": _ref(f"#/channels/{stream.name}"),
            "summary": f"strangler publishes the events of {stream.spec.source}.",
            "messages": [_ref(f"#/channels/{stream.name}/messages/{a}") for a in ids],
            "x-http": f"GET /events/{stream.name}",
        }
    for name, spec, operation in commands:
        _command_channels(name, spec, operation, channels, operations, messages)
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": "1",
            "description": "Event streams of the legacy systems (CloudEvents 1.0, structured "
            "JSON; the Kafka message key is the entity key) and command topics. Without a "
            "broker the streams are read over HTTP: GET /events/{stream} and its /sse.",
        },
        "defaultContentType": CONTENT_TYPE,
    }
    servers = _servers(hub)
    if servers:
        document["servers"] = servers
    document["channels"] = channels
    document["operations"] = operations
    document["components"] = {"schemas": component_schemas(models), "messages": messages}
    return document


def _command_channels(
    name: str,
    spec: Any,
    operation: Operation[Any],
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
) -> None:
    command, reply, dead = f"{name}.command", f"{name}.reply", f"{name}.dead-letter"
    messages[command] = {
        "name": f"{operation.ref}.command",
        "title": f"Call {operation.ref}",
        "contentType": CONTENT_TYPE,
        "payload": _ref(REF + command_model(name, operation).__name__),
        "correlationId": {"location": "$message.payload#/id"},
        "bindings": _kafka_key("Optional; commands with one key are taken in order."),
    }
    for problem in (False, True):
        what = "problem" if problem else "reply"
        messages[f"{name}.{what}"] = {
            "name": f"strangler.{operation.system}.{operation.name}.{what}",
            "title": f"The answer of {operation.ref}"
            + (": an RFC 9457 problem" if problem else ""),
            "contentType": CONTENT_TYPE,
            "payload": _ref(REF + reply_model(name, operation, problem).__name__),
            "correlationId": {"location": "$message.payload#/correlationid"},
        }
    messages[dead] = {
        "name": f"{operation.ref}.dead-letter",
        "title": "A message that is no command of the topic, as it came",
        "description": "The original value and key, and its headers but those carrying "
        "credentials; the reason in the strangler-reason header.",
        "headers": {
            "type": "object",
            "properties": {"strangler-reason": {"type": "string"}},
            "required": ["strangler-reason"],
        },
        "payload": {},
    }
    for channel, topic, kinds, what in (
        (command, spec.topic, ["command"], f"Commands calling {operation.ref}."),
        (reply, spec.replies, ["reply", "problem"], f"Replies to the commands of {spec.topic}."),
        (dead, spec.dead_letters, ["dead-letter"], f"Malformed commands of {spec.topic}."),
    ):
        channels[channel] = {
            "address": topic,
            "description": what,
            "messages": {
                k: _ref(f"#/components/messages/{channel if k != 'problem' else f'{name}.problem'}")
                for k in kinds
            },
        }
    operations[f"{name}.receive"] = {
        "action": "receive",
        "x-operation": operation.ref,
        "channel": _ref(f"#/channels/{command}"),
        "summary": f"strangler calls {operation.ref} once per command (redeliveries answered "
        "from the state database).",
        "messages": [_ref(f"#/channels/{command}/messages/command")],
        "reply": {
            "channel": _ref(f"#/channels/{reply}"),
            "messages": [_ref(f"#/channels/{reply}/messages/{k}") for k in ("reply", "problem")],
        },
    }
    operations[f"{name}.reply"] = {
        "action": "send",
        "channel": _ref(f"#/channels/{reply}"),
        "messages": [_ref(f"#/channels/{reply}/messages/{k}") for k in ("reply", "problem")],
    }
    operations[f"{name}.dead-letter"] = {
        "action": "send",
        "channel": _ref(f"#/channels/{dead}"),
        "messages": [_ref(f"#/channels/{dead}/messages/dead-letter")],
    }
