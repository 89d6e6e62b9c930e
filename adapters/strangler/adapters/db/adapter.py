"""The database adapter: tables as REST resources, stored procedures as operations.

The database is reflected when the adapter is built (like a WSDL is read), so
routes and their schemas exist before the app starts; a database that cannot
be reached then is a ``SystemLoadError``. At request time a database that is
down answers 503 with ``Retry-After``, and the next request after it comes
back is served again (pooled connections are checked before reuse).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from strangler.adapters.db.engine import SqlAlchemyRunner
from strangler.adapters.db.models import TableModels, body_values, build_models
from strangler.adapters.db.odbc import OdbcRunner
from strangler.adapters.db.procedures import build_operations, call_statement
from strangler.adapters.db.query import build_query
from strangler.adapters.db.reads import ListInput, TableRead, read_operations
from strangler.adapters.db.rows import RowService
from strangler.adapters.db.runner import Runner
from strangler.adapters.db.values import plain_json
from strangler.errors import StranglerError, SystemLoadError, UnknownOperation
from strangler.platform.component import Health
from strangler.platform.operations import Operation
from strangler.spec.database import DatabaseSystem

__all__ = ["DatabaseAdapter"]


class DatabaseAdapter:
    """A legacy database, reached by SQLAlchemy URL or raw ODBC connection string."""

    kind = "database"

    def __init__(self, system: str, spec: DatabaseSystem, *, cache_dir: Path | None = None) -> None:
        self.system = system
        self.spec = spec
        self.runner: Runner = (
            OdbcRunner(system, spec) if spec.odbc else SqlAlchemyRunner(system, spec)
        )
        try:
            tables = self.runner.reflect()
            self._operations = build_operations(system, spec.procedures, self.runner.dbms)
        except SystemLoadError:
            self.runner.dispose()
            raise
        except StranglerError as exc:
            self.runner.dispose()
            reason = exc.message.removeprefix(f"{system}: ")
            raise SystemLoadError(system, self.runner.describe(), reason) from exc
        except ValueError as exc:
            self.runner.dispose()
            raise SystemLoadError(system, self.runner.describe(), str(exc)) from exc
        clash = {t.name for t in tables} & {op.name for op in self._operations}
        if clash:
            self.runner.dispose()
            raise SystemLoadError(
                system, self.runner.describe(), f"{sorted(clash)} are both tables and procedures"
            )
        self.tables = {t.name: t for t in tables}
        self.models: dict[str, TableModels] = {t.name: build_models(system, t) for t in tables}
        self.rows = RowService(system, spec, self.runner)
        reads = [op for t in tables for op in read_operations(system, t, self.models[t.name])]
        self._by_name: dict[str, Operation[Any]] = {op.name: op for op in self._operations}
        for op in reads:
            self._by_name[op.name] = op
            for alias in op.aliases:
                self._by_name[".".join(alias)] = op

    @property
    def name(self) -> str:
        return self.system

    def operations(self) -> Sequence[Operation[Any]]:
        """The stored procedures (tables have routes of their own)."""
        return self._operations

    def lookup(self, name: str) -> Operation[Any]:
        """A procedure, or a table's reads: ``TABLE`` / ``TABLE.list``, ``TABLE.get``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownOperation(self.system, name) from None

    async def start(self) -> None:
        """Nothing to open: connections are made on first use and pooled."""

    async def close(self) -> None:
        self.runner.dispose()

    async def health(self) -> Health:
        """A ``SELECT 1`` round trip; never raises."""
        state: dict[str, Any] = {
            "kind": self.kind,
            "dbms": self.runner.dbms,
            "database": self.runner.describe(),
            "tables": len(self.tables),
            "procedures": len(self._operations),
        }
        try:
            await self.runner.ping()
        except StranglerError as exc:
            return Health("down", {**state, "error": exc.message})
        return Health("ok", state)

    async def invoke(self, operation: Operation[Any], payload: BaseModel) -> Any:
        """Call a stored procedure (``{"rows": [...]}``) or read a table."""
        if self._by_name.get(operation.name) is not operation:
            raise UnknownOperation(self.system, operation.name)
        if isinstance(operation.target, TableRead):
            return await self._read(operation.target, payload)
        params: tuple[str, ...] = operation.target
        statement = call_statement(
            self.runner.dbms,
            self.runner.dialect,
            operation.name,
            params,
            body_values(payload, only_set=False),
        )
        try:
            names, rows = await self.runner.run(
                lambda s: s.call(statement), operation=operation.name, write=not operation.safe
            )
        finally:
            if not operation.safe:  # a procedure may write any table
                self.rows.read_ahead.written()
        return {"rows": [_row(names, row) for row in rows]}

    async def _read(self, read: TableRead, payload: BaseModel) -> Any:
        table = self.tables[read.table]
        if read.verb == "get":
            return await self.rows.get(table, tuple(body_values(payload, only_set=False).values()))
        assert isinstance(payload, ListInput)
        limit = min(payload.limit or self.spec.default_page_size, self.spec.max_page_size)
        query = build_query(
            table,
            filters=[(f.column, f.op, f.value) for f in payload.filters],
            sort=payload.sort,
            fields=payload.fields,
            limit=limit,
            cursor=payload.cursor,
            max_filters=self.spec.max_filters,
            max_sort_keys=self.spec.max_sort_keys,
        )
        return await self.rows.page(table, query)


def _row(names: Iterable[str], row: Iterable[Any]) -> dict[str, Any]:
    return {name: plain_json(value) for name, value in zip(names, row, strict=True)}
