"""The events part's components, built from the ``events:`` section.

* :class:`EventHub` (component ``events``): owns the state database, creates its
  tables at start, appends events to the outbox, and serves the event side's
  HTTP routes (streams over REST and SSE, ``/asyncapi.json``).
* per polled table stream, a capture component (:mod:`.capture`), where this
  process runs the ``capture`` role (``events.run``, ``STRANGLER_EVENTS_RUN``);
* per stream, with a broker configured, a relay to Kafka (:mod:`.relay`), where
  this process runs the ``relay`` role;
* per command topic, a consumer (:mod:`.commands`).

Writes through the adapters reach the outbox through the hooks that
:mod:`.outbox` installs on them when the part is built.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from strangler.events.envelope import Template, cloud_event, encode, new_id
from strangler.events.store import StateStore, state_url
from strangler.events.streams import Action, Stream, resolve_streams
from strangler.platform.build import BuildContext
from strangler.platform.component import Component, Health
from strangler.spec.events import ROLES, EventsSpec, parse_roles

if TYPE_CHECKING:
    from fastapi import APIRouter

    from strangler.events.http import Reader, ReadSettings
    from strangler.platform.core import Platform

__all__ = ["RUN_ENV", "EventHub", "build", "roles_to_run"]


class EventHub:
    """The event side's shared state: streams, the state database, the outbox."""

    kind = "events"
    name = "events"
    prefix = ""

    def __init__(self, spec: EventsSpec, store: StateStore, streams: Sequence[Stream]) -> None:
        self.spec = spec
        self.store = store
        self.streams: dict[str, Stream] = {s.name: s for s in streams}
        self.platform: Platform | None = None  # the adapters, for command operations
        self.read: ReadSettings | None = None  # None: the defaults of ReadSettings
        self.reader: Reader | None = None
        self._asyncapi: bytes | None = None
        self.asyncapi_edits: list[Callable[[dict[str, Any]], None]] = []
        """Applied to the AsyncAPI document in turn (the security part declares its schemes)."""
        self._waiting: dict[str, list[Callable[[], None]]] = {}
        self._templates: dict[tuple[str, Action], Template] = {}

    def on_append(self, stream: str, wake: Callable[[], None]) -> None:
        """Call ``wake`` (on the event loop) when this process appends to ``stream``."""
        self._waiting.setdefault(stream, []).append(wake)

    def appended(self, stream: str) -> None:
        """Events were appended to ``stream`` (a relay then publishes without waiting
        for its interval)."""
        for wake in self._waiting.get(stream, ()):
            wake()

    async def start(self) -> None:
        await asyncio.to_thread(self.store.create)

    async def close(self) -> None:
        if self.reader is not None:
            await self.reader.aclose()
        self.store.dispose()

    def router(self) -> APIRouter:
        """The event side's HTTP routes (:mod:`.http`): streams, SSE, ``/asyncapi.json``."""
        from strangler.events.http import ReadSettings, events_router

        return events_router(self, self.read or ReadSettings())

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI 3.0 document of the streams and command topics (:mod:`.asyncapi`)."""
        from strangler.events.asyncapi import asyncapi_document

        document = asyncapi_document(self)
        for edit in self.asyncapi_edits:
            edit(document)
        return document

    def asyncapi_json(self) -> bytes:
        if self._asyncapi is None:
            import orjson

            self._asyncapi = orjson.dumps(self.asyncapi())
        return self._asyncapi

    async def health(self) -> Health:
        detail: dict[str, Any] = {
            "kind": self.kind,
            "state": self.store.describe(),
            "streams": sorted(self.streams),
            "broker": self.spec.kafka is not None,
        }
        try:
            await asyncio.to_thread(_ping, self.store)
        except Exception as exc:
            return Health("down", {**detail, "error": f"state database: {type(exc).__name__}"})
        return Health("ok", detail)

    def event_row(
        self,
        stream: Stream,
        action: Action,
        key: str,
        data: Any,
        *,
        time: datetime | None = None,
        extensions: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """An outbox row (for :meth:`StateStore.append`) holding one CloudEvent."""
        if extensions:
            event = cloud_event(
                source=stream.source,
                type=stream.event_type(action),
                subject=key,
                data=data,
                time=time,
                dataschema=_dataschema(stream),
                extensions=extensions,
            )
            event_id, text = event["id"], encode(event).decode()
        else:  # the common case: the stream's constant attributes encoded once
            template = self._templates.get((stream.name, action))
            if template is None:
                template = self._templates[stream.name, action] = Template(
                    source=stream.source,
                    type=stream.event_type(action),
                    dataschema=_dataschema(stream),
                )
            event_id = new_id()
            text = template.encode(id=event_id, subject=key, data=data, time=time).decode()
        return {
            "stream": stream.name,
            "event_id": event_id,
            "topic": stream.topic,
            "msg_key": key,
            "event": text,
        }


def _dataschema(stream: Stream) -> str:
    """Where the AsyncAPI document served by the app defines the stream's data."""
    return f"/asyncapi.json#/components/schemas/{stream.data_model.__name__}"


def _ping(store: StateStore) -> None:
    import sqlalchemy as sa

    with store.reading() as connection:
        connection.execute(sa.text("SELECT 1"))


RUN_ENV = "STRANGLER_EVENTS_RUN"
"""Overrides ``events.run`` (e.g. ``capture`` or ``relay``) for this process."""


def roles_to_run(spec: EventsSpec, env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The roles of ``events.run``, or of ``STRANGLER_EVENTS_RUN`` when it is set."""
    text = (os.environ if env is None else env).get(RUN_ENV, "").strip()
    if not text:
        return frozenset(spec.run)
    try:
        roles = parse_roles(text)
    except ValueError as exc:
        raise ValueError(f"{RUN_ENV}={text!r}: {exc}") from None
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"{RUN_ENV}={text!r}: unknown role {unknown[0]!r} (capture, relay)")
    if "relay" in roles and spec.kafka is None:
        raise ValueError(
            f"{RUN_ENV}={text!r}: the relay publishes the outbox to Kafka, and the spec "
            "has no events.kafka"
        )
    return frozenset(roles)


def build(spec: EventsSpec, context: BuildContext) -> list[Component]:
    """The hub, then capture, relay and command components as the spec asks."""
    streams = resolve_streams(spec, context.platform())
    hub = EventHub(spec, StateStore(state_url(spec.state, context.cache_dir)), streams)
    hub.platform = context.platform()
    components: list[Component] = [hub]
    roles = roles_to_run(spec)
    if "capture" in roles:
        from strangler.events.capture import Capture

        components.extend(Capture(hub, s) for s in streams if s.table is not None and s.spec.poll)
    if spec.kafka is not None and "relay" in roles:
        from strangler.events.relay import Relay

        for s in streams:
            relay = Relay(s.name, hub.store, spec.kafka, spec.relay)
            hub.on_append(s.name, relay.wake)
            components.append(relay)
    from strangler.events.outbox import install

    install(hub, streams)
    if spec.kafka is not None and spec.commands:
        from strangler.events.commands import build_commands

        components.extend(build_commands(spec, hub, context.platform()))
    return components
