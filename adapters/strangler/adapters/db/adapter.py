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

from fastapi import APIRouter
from pydantic import BaseModel

from strangler.adapters.base import Operation
from strangler.adapters.db.engine import SqlAlchemyRunner
from strangler.adapters.db.models import TableModels, body_values, build_models
from strangler.adapters.db.odbc import OdbcRunner
from strangler.adapters.db.procedures import build_operations, call_statement
from strangler.adapters.db.rows import RowService
from strangler.adapters.db.runner import Runner
from strangler.adapters.db.values import plain_json
from strangler.errors import StranglerError, SystemLoadError, UnknownOperation
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
        self._by_name = {op.name: op for op in self._operations}

    def operations(self) -> Sequence[Operation]:
        return self._operations

    def router(self) -> APIRouter:
        """List / get / insert / update / delete routes for every exposed table."""
        from strangler.adapters.db.router import build_router

        return build_router(self)

    async def start(self) -> None:
        """Nothing to open: connections are made on first use and pooled."""

    async def close(self) -> None:
        self.runner.dispose()

    async def health(self) -> dict[str, Any]:
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
            state["status"] = "ok"
        except StranglerError as exc:
            state.update(status="down", error=exc.message)
        return state

    async def invoke(self, operation: Operation, payload: BaseModel) -> Any:
        """Call a stored procedure; answer ``{"rows": [...]}``."""
        if self._by_name.get(operation.name) is not operation:
            raise UnknownOperation(self.system, operation.name)
        params: tuple[str, ...] = operation.extra["params"]
        statement = call_statement(
            self.runner.dbms,
            self.runner.dialect,
            operation.name,
            params,
            body_values(payload, only_set=False),
        )
        names, rows = await self.runner.run(
            lambda s: s.call(statement), operation=operation.name, write=not operation.safe
        )
        return {"rows": [_row(names, row) for row in rows]}


def _row(names: Iterable[str], row: Iterable[Any]) -> dict[str, Any]:
    return {name: plain_json(value) for name, value in zip(names, row, strict=True)}
