"""Feature tables read by the running app: the latest values and values as of a time.

:class:`FeatureReader` is the ``features`` part's component. It opens the
feature store named by the spec (the same one ``strangler etl run`` fills),
answers ``/readyz`` with the views loaded so far, and reads, for a view or a
service (views of one entity read together):

* :meth:`latest`: each entity's newest values (the online lookup inference uses);
* :meth:`as_of`: each entity's values as they were at a time (training rows),
  point in time per view, so nothing from after the time leaks in.

Entity values arrive as JSON; they are converted to the kinds the view's
table stores (an integer key given as ``"42"`` is 42), and a value that does
not convert is an :class:`~strangler.errors.InvalidInput` naming it. A service's
row joins its views' rows by entity: the entity, then every view's features
(a feature two views share is prefixed with its view's name), and each view's
event time under ``eventTimes``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from strangler.errors import InputProblem, InvalidInput, NotFound, StranglerError
from strangler.etl.store import FeatureStore, Snapshot
from strangler.etl.tables import FeatureTable
from strangler.etl.types import FeatureKind
from strangler.platform.component import Health
from strangler.spec.features import FeaturesSpec

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = ["FeatureReader", "Row"]

Row = dict[str, Any]

_PYTHON: dict[str, Any] = {
    "integer": int,
    "float": float,
    "decimal": str,
    "string": str,
    "boolean": bool,
    "date": dt.date,
    "datetime": dt.datetime,
    "time": dt.time,
}


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(_PYTHON.get(kind, str))


class FeatureReader:
    """The component serving the spec's feature views and services (see the module)."""

    kind = "features"
    prefix = ""

    def __init__(self, spec: FeaturesSpec, url: str) -> None:
        self.spec = spec
        self.url = url
        self.store: FeatureStore | None = None

    @property
    def name(self) -> str:
        return "features"

    @property
    def names(self) -> list[str]:
        """Every view and service that can be read, views first."""
        return [*self.spec.views, *self.spec.services]

    def entity_of(self, name: str) -> list[str]:
        """The entity columns of a view or service."""
        return list(self.spec.views[self.members(name)[0]].entity)

    def members(self, name: str) -> list[str]:
        """The views read for ``name`` (a view is its own only member)."""
        if name in self.spec.views:
            return [name]
        if name in self.spec.services:
            return list(self.spec.services[name])
        raise NotFound(f"no feature view or service {name!r}")

    async def start(self) -> None:
        self.store = await asyncio.to_thread(FeatureStore, self.url)

    async def close(self) -> None:
        store, self.store = self.store, None
        if store is not None:
            await asyncio.to_thread(store.close)

    async def health(self) -> Health:
        detail: dict[str, Any] = {"kind": self.kind, "store": _describe(self.store, self.url)}
        if self.store is None:
            return Health("down", {**detail, "error": "not started"})
        try:
            status = await asyncio.to_thread(self.store.status)
        except Exception as exc:  # a store that is down is reported, never raised
            return Health("down", {**detail, "error": f"feature store: {type(exc).__name__}"})
        loaded = {s.view: s.latest_rows for s in status if s.view in self.spec.views}
        waiting = sorted(set(self.spec.views) - set(loaded))
        return Health("ok", {**detail, "views": loaded, "not_loaded": waiting})

    def router(self) -> APIRouter:
        from strangler.etl.http import features_router

        return features_router(self)

    # Blocking reads, run in a worker thread by the routes.

    def latest(self, name: str, entities: Sequence[Mapping[str, Any]]) -> list[Row]:
        """Each entity's newest values (features ``null`` where a view has none)."""
        return self._read(name, entities, None)

    def as_of(
        self, name: str, entities: Sequence[Mapping[str, Any]], at: Sequence[dt.datetime]
    ) -> list[Row]:
        """Each entity's values as they were at its time (``at``: one per entity)."""
        if len(at) != len(entities):
            raise InvalidInput(
                f"{len(entities)} entities but {len(at)} times",
                [InputProblem("at", "one time for all entities, or one per entity")],
            )
        return self._read(name, entities, at)

    def _read(
        self,
        name: str,
        entities: Sequence[Mapping[str, Any]],
        at: Sequence[dt.datetime] | None,
    ) -> list[Row]:
        members = self.members(name)
        entity = self.entity_of(name)
        with self._store().snapshot() as snapshot:  # one connection, layouts and rows
            tables = {view: self._table(snapshot, view) for view in members}
            first = next((t for t in tables.values() if t is not None), None)
            keys = _entities(entity, entities, first)
            found_by_view: dict[str, list[Row | None]] = {}
            for view, table in tables.items():
                if table is None:
                    found_by_view[view] = [None] * len(keys)
                elif at is None:
                    found_by_view[view] = snapshot.latest(view, keys, table)
                else:
                    found_by_view[view] = snapshot.features_as_of(view, keys, list(at), table)
        rows: list[Row] = [dict(k) for k in keys]
        for row in rows:
            row["eventTimes"] = {}
        clashes = _clashing_features(members, tables)
        for view, table in tables.items():
            found = found_by_view[view]
            names = self._feature_names(view, table)
            for row, hit in zip(rows, found, strict=True):
                for feature in names:
                    label = f"{view}.{feature}" if feature in clashes else feature
                    row[label] = None if hit is None else hit.get(feature)
                event_time = None if hit is None or table is None else hit[table.event_time]
                row["eventTimes"][view] = event_time
        if len(members) == 1:
            view = members[0]
            for row in rows:
                row["eventTime"] = row.pop("eventTimes")[view]
        return rows

    def _feature_names(self, view: str, table: FeatureTable | None) -> list[str]:
        if table is not None:
            return list(table.features)
        declared = self.spec.views[view].features
        return list(declared) if declared is not None else []

    def _table(self, snapshot: Snapshot, view: str) -> FeatureTable | None:
        try:
            return snapshot.table(view)
        except NotFound:
            return None  # declared, never loaded yet: its features read as null

    def _store(self) -> FeatureStore:
        if self.store is None:
            raise StranglerError("the feature store is not open")
        return self.store


def _entities(
    entity: list[str], given: Sequence[Mapping[str, Any]], table: FeatureTable | None
) -> list[Row]:
    """The entity keys asked for, converted to the stored kinds."""
    problems: list[InputProblem] = []
    keys: list[Row] = []
    for i, item in enumerate(given):
        key: Row = {}
        for column in entity:
            value = item.get(column)
            where = f"entities[{i}].{column}"
            if value is None:
                problems.append(InputProblem(where, "required"))
                continue
            kind: FeatureKind | str = table.schema.get(column, "string") if table else "string"
            try:
                key[column] = _adapter(kind).validate_python(value)
            except ValidationError:
                problems.append(InputProblem(where, f"not a {kind}: {str(value)[:40]!r}"))
        unknown = sorted(set(item) - set(entity))
        if unknown:
            problems.append(InputProblem(f"entities[{i}]", f"not entity columns: {unknown}"))
        keys.append(key)
    if problems:
        raise InvalidInput(f"entities must give {', '.join(entity)}", problems)
    return keys


def _clashing_features(members: list[str], tables: Mapping[str, FeatureTable | None]) -> set[str]:
    seen: dict[str, int] = {}
    for view in members:
        table = tables[view]
        for feature in table.features if table is not None else ():
            seen[feature] = seen.get(feature, 0) + 1
    return {f for f, n in seen.items() if n > 1} if len(members) > 1 else set()


def _describe(store: FeatureStore | None, url: str) -> str:
    if store is not None:
        return store.describe()
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"
