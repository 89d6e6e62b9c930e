"""The event side's message models: one CloudEvent envelope per stream, and what reads return.

These pydantic models are the one source of both documents: the OpenAPI
document (``GET /events/{stream}`` pages) and the AsyncAPI document (each
stream's messages). A stream's envelope types ``data`` with the stream's
data model (:attr:`Stream.data_model`: for a table, the same row model the
REST side answers with), so an event and a REST row have the same schema.

Model names follow :func:`strangler.platform.naming.model_name`:
``events.OrdersEvent`` for the envelope of stream ``orders``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from strangler.events.streams import Stream
from strangler.platform.naming import model_name
from strangler.platform.operations import Operation

__all__ = [
    "CloudEvent",
    "StreamInfo",
    "StreamList",
    "command_model",
    "envelope_model",
    "page_model",
    "reply_model",
    "schema_ref",
    "stream_info",
]

SCHEMA_BASE = "/asyncapi.json#/components/schemas/"
"""Where an event's ``dataschema`` points: the AsyncAPI document served beside the API."""


def schema_ref(model: type[BaseModel]) -> str:
    """The ``dataschema`` of events whose data is ``model`` (as the hub writes it)."""
    return SCHEMA_BASE + model.__name__


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode, as strangler emits it.

    Extension attributes (lower-case letters and digits) may follow.
    """

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = Field(description="CloudEvents version.")
    id: str = Field(description="Unique per event; a repeated id is the same event again.")
    source: str = Field(description="Where it happened: <prefix>/<system>/<table or operation>.")
    type: str = Field(description="strangler.<system>.<entity>.<created|updated|deleted|invoked>")
    subject: str = Field(
        description="The entity key, as in its REST path (also the Kafka message key)."
    )
    time: datetime = Field(description="When the change happened (RFC 3339, UTC).")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(
        default=None, description="The data's schema in the AsyncAPI document."
    )
    data: Any = None


@cache
def envelope_model(stream: Stream) -> type[CloudEvent]:
    """The envelope of ``stream``'s events: its types listed, ``data`` its data model.

    A ``deleted`` event's data holds the key fields only (every field of a row
    model is optional, since ``?fields=`` may leave columns out too).
    """
    types = tuple(stream.event_type(action) for action in stream.actions())
    fields: dict[str, Any] = {
        "type": (Literal[types], Field(description="What happened.")),
        "dataschema": (
            Literal[schema_ref(stream.data_model)] | None,
            Field(default=None, description="The data's schema in the AsyncAPI document."),
        ),
        "data": (stream.data_model, Field(description=f"The {stream.entity} as answered.")),
    }
    model: type[CloudEvent] = create_model(
        model_name("events", stream.name, "Event"),
        __base__=CloudEvent,
        __doc__=f"An event of stream {stream.name} ({stream.spec.source}), a CloudEvent.",
        **fields,
    )
    return model


@cache
def page_model(stream: Stream) -> type[BaseModel]:
    """A page of ``stream``'s events, as ``GET /events/{stream}`` answers it."""
    envelope: Any = envelope_model(stream)
    fields: dict[str, Any] = {
        "stream": (str, Field(description="The stream's name.")),
        "items": (list[envelope], ...),
        "next_after": (
            int,
            Field(
                description="Pass as ?after= for the next page; the same value again "
                "when no newer event exists yet."
            ),
        ),
    }
    model: type[BaseModel] = create_model(
        model_name("events", stream.name, "EventPage"),
        __doc__=f"Events of stream {stream.name}, oldest first.",
        **fields,
    )
    return model


class StreamInfo(BaseModel):
    """One stream: where its events come from, its topic and its event types."""

    name: str
    source: str = Field(description="system.table or system.operation, as the spec says.")
    kind: Literal["table", "operation"]
    topic: str = Field(description="The Kafka topic (when a broker is configured).")
    cloudevents_source: str = Field(description="The events' CloudEvents source.")
    types: list[str] = Field(description="The CloudEvents types the stream carries.")
    dataschema: str = Field(description="The data's schema in the AsyncAPI document.")
    events: str = Field(description="Path of the paged reader.")
    sse: str = Field(description="Path of the Server-Sent Events stream.")


class StreamList(BaseModel):
    """The streams the spec declares."""

    streams: list[StreamInfo]
    asyncapi: str = Field(default="/asyncapi.json", description="The AsyncAPI 3.0 document.")


def stream_info(stream: Stream) -> StreamInfo:
    return StreamInfo(
        name=stream.name,
        source=stream.spec.source,
        kind=stream.kind,
        topic=stream.topic,
        cloudevents_source=stream.source,
        types=[stream.event_type(action) for action in stream.actions()],
        dataschema=schema_ref(stream.data_model),
        events=f"/events/{stream.name}",
        sse=f"/events/{stream.name}/sse",
    )


@cache
def command_model(name: str, operation: Operation[Any]) -> type[CloudEvent]:
    """A command of topic ``name``: a CloudEvent whose data is the operation's input."""
    fields: dict[str, Any] = {
        "subject": (str | None, Field(default=None, description="Optional: the entity key.")),
        "time": (datetime | None, Field(default=None, description="When it was sent.")),
        "data": (operation.input_model, Field(description=f"The input of {operation.ref}.")),
    }
    model: type[CloudEvent] = create_model(
        model_name("commands", name, "Command"),
        __base__=CloudEvent,
        __doc__=f"A command calling {operation.ref}; its id is the correlation id.",
        **fields,
    )
    return model


@cache
def reply_model(name: str, operation: Operation[Any], problem: bool = False) -> type[CloudEvent]:
    """A reply to a command of topic ``name``: the operation's output, or (``problem``)
    the RFC 9457 problem the REST edge would answer."""
    from strangler.rest.problems import Problem

    kind = f"strangler.{operation.system}.{operation.name}.{'problem' if problem else 'reply'}"
    data = Problem if problem else operation.output_model
    fields: dict[str, Any] = {
        "type": (Literal[kind], Field(description="A reply, or a problem.")),
        "correlationid": (str, Field(description="The id of the command answered.")),
        "dataschema": (Literal[schema_ref(data)] | None, None),
        "data": (data, Field(description=f"What {operation.ref} answered.")),
    }
    model: type[CloudEvent] = create_model(
        model_name("commands", name, "Problem" if problem else "Reply"),
        __base__=CloudEvent,
        __doc__=f"The answer of {operation.ref} to a command"
        + (", a problem." if problem else "."),
        **fields,
    )
    return model
