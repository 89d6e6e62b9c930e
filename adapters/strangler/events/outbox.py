"""The transactional outbox: writes and operation calls through the adapters become events.

Table streams (``from: erp.orders``, ``outbox: true``): every POST, PATCH and
DELETE through the database adapter records one event (``created``,
``updated``, ``deleted``; data = the row as answered after the write, for a
delete its key fields). Where the state database *is* the legacy database (the
same URL), the event and the snapshot row are written by the write's own
session, inside its transaction: both commit or neither does. Otherwise they
are appended right after the legacy transaction commits; a crash between the
two commits loses that event unless polling capture also runs on the stream.

The snapshot (``strangler_snapshot``: entity key → :func:`~.rows.data_hash` of
the answered row) is updated in the same state transaction as the event, and
shared with polling capture: a change already in the snapshot (capture saw it
first) is not recorded again, and capture does not repeat one recorded here.

Operation streams (``from: inventory.AdjustStock``): each successful call,
from the REST edge or in-process (:meth:`Platform.invoke`, command topics),
records an ``invoked`` event with ``{"input": ..., "output": ...}`` right after
the legacy call returned (a SOAP or RPC system has no transaction to share). A
failed call records nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel

from strangler.adapters.db.meta import TableInfo
from strangler.adapters.db.rows import WriteVerb
from strangler.adapters.db.runner import Session, Statement
from strangler.events.rows import data_hash, entity_key
from strangler.events.store import OUTBOX, SNAPSHOT, now
from strangler.events.streams import Action, Stream
from strangler.platform.invocations import observe
from strangler.platform.operations import Operation

if TYPE_CHECKING:
    from strangler.events.part import EventHub

__all__ = ["install", "operation_key", "record_write", "same_database"]

log = logging.getLogger(__name__)

Fetch = Callable[[Statement], Sequence[Sequence[Any]]]
Execute = Callable[[Statement], int]

_ACTIONS: dict[WriteVerb, Action] = {
    "insert": "created",
    "update": "updated",
    "delete": "deleted",
}


def same_database(state: str, legacy: str | None) -> bool:
    """Whether the state database's URL names the legacy database (same transaction)."""
    if not legacy:
        return False
    try:
        a, b = sa.make_url(state), sa.make_url(legacy)
    except sa.exc.ArgumentError:
        return False
    return a.render_as_string(hide_password=False) == b.render_as_string(hide_password=False)


def record_write(
    hub: EventHub,
    stream: Stream,
    verb: WriteVerb,
    row: Mapping[str, Any],
    fetch: Fetch,
    execute: Execute,
) -> bool:
    """The event of one write, and the snapshot row, through ``fetch``/``execute``.

    Runs inside a transaction (the legacy write's, or the state database's).
    False when the snapshot already held this version (nothing recorded).
    """
    table: TableInfo = stream.adapter.tables[stream.table]
    key = entity_key(table, row)
    where = (SNAPSHOT.c.stream == stream.name, SNAPSHOT.c.row_key == key)
    if verb == "delete":
        execute(SNAPSHOT.delete().where(*where))
        data: Any = {name: row.get(name) for name in table.key}
    else:
        digest = data_hash(row)
        held = fetch(sa.select(SNAPSHOT.c.row_hash).where(*where))
        if held and held[0][0] == digest:
            return False
        if held:
            execute(SNAPSHOT.update().where(*where).values(row_hash=digest))
        else:
            execute(SNAPSHOT.insert().values(stream=stream.name, row_key=key, row_hash=digest))
        data = dict(row)
    event = hub.event_row(stream, _ACTIONS[verb], key, data)
    execute(OUTBOX.insert().values(**event, created_at=now()))
    return True


def operation_key(stream: Stream, given: Mapping[str, Any], payload: BaseModel) -> str:
    """The subject of an operation's event: the stream's ``key`` input field (by its
    JSON name or its model name), or a hash of the input."""
    name = stream.spec.key
    if name is not None:
        value = given.get(name, getattr(payload, name, None))
        if value is not None:
            return str(value)
    return data_hash(given)


def install(hub: EventHub, streams: Sequence[Stream]) -> None:
    """Hook every stream with ``outbox: true`` onto its adapter's writes or calls."""
    for stream in streams:
        if not stream.spec.outbox:
            continue
        if stream.table is not None:
            _hook_table(hub, stream)
        elif stream.operation is not None:
            _hook_operation(hub, stream)


def _hook_table(hub: EventHub, stream: Stream) -> None:
    rows = getattr(stream.adapter, "rows", None)
    if rows is None:
        return
    url = getattr(stream.adapter.spec, "url", None)
    legacy = url.get_secret_value() if url is not None else None
    if same_database(hub.store.url, legacy):

        def inside(session: Session, table: TableInfo, verb: WriteVerb, row: Any) -> None:
            if table.name == stream.table:
                record_write(hub, stream, verb, row, session.fetch, session.execute)

        rows.listeners.in_transaction.append(inside)
        return

    def append(table: TableInfo, verb: WriteVerb, row: Mapping[str, Any]) -> None:
        with hub.store.transaction() as connection:

            def fetch(statement: Statement) -> Sequence[Sequence[Any]]:
                return list(connection.execute(statement).all())

            def execute(statement: Statement) -> int:
                return int(connection.execute(statement).rowcount)

            record_write(hub, stream, verb, row, fetch, execute)

    async def after(table: TableInfo, verb: WriteVerb, row: Mapping[str, Any]) -> None:
        if table.name == stream.table:
            await asyncio.to_thread(append, table, verb, row)

    rows.listeners.after_commit.append(after)


def _hook_operation(hub: EventHub, stream: Stream) -> None:
    wanted = stream.operation
    assert wanted is not None

    def append(event: dict[str, Any]) -> None:
        with hub.store.transaction() as connection:
            hub.store.append(connection, [event])

    async def observer(operation: Operation[Any], payload: BaseModel, result: Any) -> None:
        if operation.operation_id != wanted.operation_id:
            return
        given = payload.model_dump(mode="json", by_alias=True, exclude_unset=True)
        key = operation_key(stream, given, payload)
        event = hub.event_row(stream, "invoked", key, {"input": given, "output": result})
        await asyncio.to_thread(append, event)

    observe(stream.adapter, observer)
