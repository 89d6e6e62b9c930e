"""Rows of a SOAP or RPC operation, page by page, through the system's adapter.

The operation is looked up and called as the REST side calls it
(:meth:`strangler.platform.Platform.invoke`: input validated against its
model, the answer in the system's modern shape). ``items`` picks the list of
rows out of the answer (default: the answer itself, or its only list field).

With ``paging`` the operation is called for page after page (a page number
from ``first``, or a row offset) until a page comes back short or empty; the
checkpoint after each page is the next page to ask for. The schema is the
first page's: its fields' kinds, with ISO 8601 text in the view's timestamp
and watermark read as dates or timestamps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from strangler.errors import LegacyProtocolError
from strangler.etl.types import Batch, FeatureKind, Schema
from strangler.etl.values import parse_as, value_kind
from strangler.platform import Platform
from strangler.spec.features import FeatureViewSpec

__all__ = ["OperationSource"]

log = logging.getLogger(__name__)


class OperationSource:
    """An operation of a SOAP or RPC system as a source of rows."""

    def __init__(
        self, view_name: str, view: FeatureViewSpec, adapter: Any, *, by_time: bool = False
    ) -> None:
        self.view_name = view_name
        self.view = view
        self.source = view.source
        self.ref = self.source.source
        self.estimated_rows: int | None = None
        self._adapter = adapter
        self._platform = Platform([adapter])
        self._loop = asyncio.new_event_loop()
        self._started = False
        self._warned: set[str] = set()
        self._times = {n for n in (view.timestamp, view.watermark) if n is not None}
        first_choice = (
            (view.timestamp, view.watermark) if by_time else (view.watermark, view.timestamp)
        )
        self._bounded = first_choice[0] or first_choice[1]
        first = self._call(self._first_position())
        self._first_rows = first
        self.schema: Schema = self._schema_of(first)

    # -- calling ----------------------------------------------------------------

    def _first_position(self) -> int:
        paging = self.source.paging
        if paging is None or paging.offsets:
            return 0
        return paging.first

    def _call(self, position: int) -> list[dict[str, Any]]:
        payload = dict(self.source.params)
        paging = self.source.paging
        if paging is not None:
            payload[paging.param] = position
            if paging.size_param is not None:
                payload[paging.size_param] = paging.size
        if not self._started:
            self._loop.run_until_complete(self._adapter.start())
            self._started = True
        answer = self._loop.run_until_complete(self._platform.invoke(self.ref, payload))
        return self._items(answer)

    def _items(self, answer: Any) -> list[dict[str, Any]]:
        found: Any = _plain(answer)
        if self.source.items:
            for part in self.source.items.split("."):
                found = found.get(part) if isinstance(found, Mapping) else None
        elif isinstance(found, Mapping):
            lists = [v for v in found.values() if isinstance(v, list)]
            found = lists[0] if len(lists) == 1 else found
        if found is None:
            return []
        if isinstance(found, Mapping):  # one row
            found = [found]
        if not isinstance(found, list) or not all(isinstance(r, Mapping) for r in found):
            where = f"{self.ref} answered no list of rows"
            raise LegacyProtocolError(
                f"{where} at {self.source.items or 'its top'} (view {self.view_name})",
                system=self.source.system,
                operation=self.source.name,
            )
        return [dict(r) for r in found]

    # -- rows -------------------------------------------------------------------

    def _schema_of(self, rows: Sequence[Mapping[str, Any]]) -> Schema:
        schema: Schema = {}
        for row in rows:
            for name, value in row.items():
                if schema.get(name) is None or schema[name] == "json":
                    kind = value_kind(value)
                    if kind is not None:
                        schema[name] = kind
                    else:
                        schema.setdefault(name, "string")
        for name in self._times:
            if schema.get(name) == "string":
                schema[name] = _time_kind(rows, name)
        return schema

    def _row(self, item: Mapping[str, Any]) -> tuple[Any, ...]:
        unknown = item.keys() - self.schema.keys() - self._warned
        if unknown:  # the table's columns come from the first page
            self._warned.update(unknown)
            log.warning(
                "%s: view %s: %s not in the first page's fields: not loaded",
                self.ref, self.view_name, ", ".join(sorted(unknown)),
            )  # fmt: skip
        out = []
        for name, kind in self.schema.items():
            value = item.get(name)
            if name in self._times and isinstance(value, str):
                value = parse_as(kind, value)
            out.append(value)
        return tuple(out)

    def batches(
        self, *, resume: dict[str, Any] | None, low: Any | None, high: Any | None
    ) -> Iterator[Batch]:
        """Every page's rows (one batch per page), bounded on the watermark client-side."""
        paging = self.source.paging
        position = self._first_position()
        if resume and resume.get("done"):
            return
        if resume and "position" in resume:
            position = int(resume["position"])
        rows = self._first_rows if position == self._first_position() else self._call(position)
        columns = tuple(self.schema)
        while True:
            step = paging.size if paging is not None and paging.offsets else 1
            after = position + step
            kept = [self._row(r) for r in rows if self._within(r, low, high)]
            if paging is None:
                yield Batch(columns, kept, {"position": after, "done": True})
                return
            short = len(rows) < paging.size
            yield Batch(columns, kept, {"position": after, "done": short})
            if short:
                return
            position = after
            rows = self._call(position)

    def _within(self, row: Mapping[str, Any], low: Any, high: Any) -> bool:
        name = self._bounded
        if name is None or (low is None and high is None):
            return True
        value = row.get(name)
        if isinstance(value, str):
            value = parse_as(self.schema.get(name, "string"), value)
        if value is None:
            return low is None
        value, low, high = _comparable(value, low, high)
        return (low is None or value >= low) and (high is None or value < high)

    def close(self) -> None:
        try:
            if self._started:
                self._loop.run_until_complete(self._adapter.close())
        finally:
            self._loop.close()


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="python", by_alias=True)
    return value


def _time_kind(rows: Sequence[Mapping[str, Any]], name: str) -> FeatureKind:
    for row in rows:
        value = row.get(name)
        if isinstance(value, str):
            try:
                dt.date.fromisoformat(value)
                return "date"
            except ValueError:
                pass
            try:
                dt.datetime.fromisoformat(value)
                return "datetime"
            except ValueError:
                return "string"
    return "string"


def _comparable(value: Any, low: Any, high: Any) -> tuple[Any, Any, Any]:
    """Dates against timestamps compare as timestamps; aware against naive as UTC."""

    def widen(v: Any) -> Any:
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            v = dt.datetime.combine(v, dt.time())
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return v

    if any(isinstance(v, dt.date) for v in (value, low, high)):
        return widen(value), widen(low), widen(high)
    return value, low, high
