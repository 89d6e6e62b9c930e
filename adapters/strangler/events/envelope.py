"""CloudEvents 1.0 in structured JSON mode: the one envelope of every event strangler emits.

An event of a table stream::

    {"specversion": "1.0", "id": "5f0c…", "source": "/strangler/erp/orders",
     "type": "strangler.erp.orders.updated", "subject": "101880",
     "time": "2024-05-16T08:12:03Z", "datacontenttype": "application/json",
     "dataschema": "/asyncapi.json#/components/schemas/OrdersRow",
     "data": {"orderNumber": 101880, "orderDate": "2024-05-16", ...}}

:func:`cloud_event` builds the event as a dict; :class:`Template` writes the
same JSON, byte for byte, from the parts that are the same for every event of
one stream and type, encoded once (what capture and the outbox write per row).

``subject`` is the entity key (also the Kafka message key, so one entity's
events stay in one partition, in order). ``id`` is unique per event and kept
when an event is published again, so a consumer that sees an id twice knows it
is a duplicate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["CONTENT_TYPE", "Template", "cloud_event", "encode", "event_time", "new_id"]

CONTENT_TYPE = "application/cloudevents+json"
"""The media type of a structured-mode CloudEvent (Kafka header ``content-type``)."""


def new_id() -> str:
    """A random UUID (version 4) as 32 hex digits, without building a ``uuid.UUID``."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def event_time(value: datetime | None = None) -> str:
    """RFC 3339 in UTC (``Z``); a naive value is taken as UTC."""
    moment = value or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cloud_event(
    *,
    source: str,
    type: str,
    subject: str,
    data: Any,
    time: datetime | None = None,
    dataschema: str | None = None,
    id: str | None = None,
    extensions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A CloudEvent as a dict, ready for :func:`encode`.

    Extension attribute names must be lower-case letters and digits (CloudEvents
    1.0 section 3.1.1); ``ValueError`` otherwise.
    """
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": id or new_id(),
        "source": source,
        "type": type,
        "subject": subject,
        "time": event_time(time),
        "datacontenttype": "application/json",
    }
    if dataschema:
        event["dataschema"] = dataschema
    for name, value in (extensions or {}).items():
        if not (name.isascii() and name.isalnum() and name.islower()) or name in event:
            raise ValueError(f"{name!r} is not a CloudEvents extension attribute name")
        event[name] = value
    event["data"] = data
    return event


def encode(event: Mapping[str, Any]) -> bytes:
    """The event's structured JSON (UTF-8; decimals and dates already JSON-ready)."""
    return orjson.dumps(event)


_TIME = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


class Template:
    """The JSON of one stream's events of one type (no extension attributes): the
    constant attributes encoded once, the rest per event. :meth:`encode` gives what
    ``encode(cloud_event(...))`` gives for the same attributes, byte for byte."""

    def __init__(self, *, source: str, type: str, dataschema: str | None = None) -> None:
        self.source = source
        self.type = type
        self.dataschema = dataschema
        self._head = b'{"specversion":"1.0","id":'
        self._middle = b',"source":%b,"type":%b,"subject":' % (
            orjson.dumps(source),
            orjson.dumps(type),
        )
        schema = b',"dataschema":' + orjson.dumps(dataschema) if dataschema else b""
        self._tail = b',"datacontenttype":"application/json"' + schema + b',"data":'

    def encode(self, *, id: str, subject: str, data: Any, time: datetime | None = None) -> bytes:
        """The event's structured JSON; ``time`` as :func:`event_time` writes it."""
        moment = time or datetime.now(UTC)
        if moment.tzinfo is not None and moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)  # orjson keeps an offset: write it in UTC
        return b"".join(
            (
                self._head,
                orjson.dumps(id),
                self._middle,
                orjson.dumps(subject),
                b',"time":',
                orjson.dumps(moment, option=_TIME),
                self._tail,
                orjson.dumps(data),
                b"}",
            )
        )
