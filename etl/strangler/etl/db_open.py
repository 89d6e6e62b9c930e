"""Open a view's database source: the adapter, the table or query, the keyset order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from strangler.adapters.db import DatabaseAdapter
from strangler.adapters.db.meta import TableInfo
from strangler.errors import SpecError, SpecProblem
from strangler.etl.db_source import DatabaseSource
from strangler.etl.query_table import query_table, query_text
from strangler.etl.streaming import Streamer
from strangler.spec.features import FeatureViewSpec

__all__ = ["SAMPLE_ROWS", "open_database_source"]

SAMPLE_ROWS = 200
"""Rows of a query's result read to tell what its columns store."""


def _problem(where: str, message: str) -> SpecError:
    return SpecError([SpecProblem("spec", None, where, message)])


def open_database_source(
    view_name: str,
    view: FeatureViewSpec,
    system: str,
    spec: Any,
    cache_dir: Path | None,
    *,
    by_time: bool = False,
) -> DatabaseSource:
    """The source of a view on a database system (a table, or a query)."""
    where = f"features.views.{view_name}"
    source = view.source
    if source.query is not None and source.name is not None:
        raise _problem(f"{where}.source.from", "with a query, name the system only (not a table)")
    if source.query is None and source.name is None:
        raise _problem(f"{where}.source", "name a table (system.table) or give a query")
    if source.query is None and source.fields:
        raise _problem(
            f"{where}.source.fields",
            "fields decode a query's columns; a table's are in its system's tables: entry",
        )
    adapter = DatabaseAdapter(system, spec, cache_dir=cache_dir)
    try:
        order: tuple[str, ...]
        if source.query is not None:
            key = (*view.entity, *([view.timestamp] if view.timestamp else []))
            names, sample = Streamer(system, adapter.runner).sample(
                query_text(source.query), SAMPLE_ROWS, f"{view_name} query"
            )
            try:
                table: TableInfo = query_table(
                    view_name, source.query, names, sample, source.fields, key
                )
            except ValueError as exc:
                raise _problem(f"{where}.source", str(exc)) from None
            order = table.key
        else:
            assert source.name is not None
            table = _table(adapter, source.name, f"{where}.source.from")
            if not table.key:
                raise _problem(
                    f"{where}.source.from",
                    f"{table.name} has no key: give one in the system's tables: entry (key:)",
                )
            order = table.key
        for field, names_ in (
            ("entity", view.entity),
            ("timestamp", [view.timestamp] if view.timestamp else []),
            ("watermark", [view.watermark] if view.watermark else []),
        ):
            for name in names_:
                if table.column(name) is None:
                    raise _problem(
                        f"{where}.{field}",
                        f"{table.name} has no column {name!r} (columns: {', '.join(table.names)})",
                    )
        return DatabaseSource(
            system=system,
            runner=adapter.runner,
            table=table,
            watermark=(view.timestamp or view.watermark)
            if by_time
            else (view.watermark or view.timestamp),
            order=order,
            chunk_rows=source.chunk_rows,
            on_close=adapter.runner.dispose,
            count=source.query is None,  # counting a query's rows would run it twice
        )
    except BaseException:
        adapter.runner.dispose()
        raise


def _table(adapter: DatabaseAdapter, name: str, where: str) -> TableInfo:
    found = adapter.tables.get(name)
    if found is None:
        found = next((t for t in adapter.tables.values() if t.sql_name == name), None)
    if found is None:
        known = ", ".join(sorted(adapter.tables)) or "none"
        raise _problem(where, f"{adapter.system} has no table {name!r} (tables: {known})")
    return found
