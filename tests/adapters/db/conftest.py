"""The database backends the contract suite runs against, and their fixtures.

Every test taking ``backend`` runs once per backend that has the capabilities
its ``@pytest.mark.needs(...)`` lists:

=============  ==========================================  =======================
name           path                                        capabilities
=============  ==========================================  =======================
mariadb-sa     ``mysql+pyodbc://`` (MariaDB ODBC driver)    timeout server procedures
mariadb-odbc   raw ODBC ``DRIVER={MariaDB Unicode}``        timeout server procedures
postgresql     ``postgresql+psycopg://``                    timeout server procedures
postgresql-    raw ODBC ``DRIVER={PostgreSQL Unicode}``     timeout server procedures
odbc           (beyond the five asked for: a third driver
               on the raw ODBC path)
sqlite-odbc    raw ODBC ``DRIVER={SQLite3}``                timeout
sqlite-sa      ``sqlite:///``                               timeout
=============  ==========================================  =======================

Besides: ``pg-types`` (PostgreSQL's money, domains, bool), ``sqlite`` (text
dates, scale-less NUMERIC, 64-bit INTEGER), ``newcomer`` (one backend enough).
Databases are made once per session, lazily, and dropped at its end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from strangler.adapters.db import DatabaseAdapter
from strangler.rest.app import build_app
from strangler.spec.database import DatabaseSystem
from tests.adapters.db import chinook
from tests.servers import run_app

CAPABILITIES: dict[str, frozenset[str]] = {
    "mariadb-sa": frozenset({"timeout", "server", "procedures"}),
    "mariadb-odbc": frozenset({"timeout", "server", "procedures", "newcomer"}),
    "postgresql": frozenset(
        {"timeout", "server", "procedures", "char-padding", "pg-types", "json-pages"}
    ),
    "postgresql-odbc": frozenset({"timeout", "server", "procedures", "char-padding", "pg-types"}),
    "sqlite-odbc": frozenset({"timeout", "sqlite"}),
    # pages written by the database: json-pages; by SQLite: sqlite-json
    "sqlite-sa": frozenset({"timeout", "sqlite", "sqlite-json", "json-pages"}),
}
PROCEDURES = {"invoices_by_country": {"params": {"country": "string"}, "safe": True}}
TABLES = ("Invoice", "InvoiceLine", "Customer", "Track", "PlaylistTrack", "Employee")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass
class Backend:
    """One database holding Chinook, reached one way."""

    name: str
    caps: frozenset[str]
    admin: sa.Engine
    connection: Callable[[int | None], dict[str, Any]]
    server_port: int | None = None
    snake: bool = False
    database: str = ""
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def n(self, name: str) -> str:
        """A Chinook table or column name as this database spells it."""
        return _snake(name) if self.snake else name

    def spec(self, tables: Any = None, *, port: int | None = None, **extra: Any) -> DatabaseSystem:
        """A spec for this database (through ``port`` instead of the server's, if given)."""
        if tables is None:
            tables = {self.n(t): {} for t in TABLES} | {"scratch_note": {"writes": True}}
            if "procedures" in self.caps:
                extra.setdefault("procedures", PROCEDURES)
        data = {"kind": "database", **self.connection(port), "tables": tables, **extra}
        return DatabaseSystem.model_validate(data)

    def scalar(self, sql: str, **params: Any) -> Any:
        """One value of a direct query (for comparing against the API)."""
        with self.admin.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def quote(self, name: str) -> str:
        return self.admin.dialect.identifier_preparer.quote(self.n(name))


def _make(name: str, folder: Path) -> Backend:
    if name.startswith("mariadb"):
        db = chinook.unique_name()
        chinook.create_mariadb(db)

        def connection(port: int | None) -> dict[str, Any]:
            if name == "mariadb-sa":
                return {"url": chinook.mariadb_url(db, port or 3306)}
            return {
                "odbc": "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;"
                f"PORT={port or 3306};DATABASE={db};UID=root;PWD="
            }

        admin = sa.create_engine(chinook.mariadb_url(db))
        backend = Backend(name, CAPABILITIES[name], admin, connection, 3306, database=db)
        backend.cleanup.append(lambda: chinook.drop_mariadb(db))
        other = chinook.create_mariadb_neighbour(db)
        backend.cleanup.append(lambda: chinook.drop_mariadb(other))
    elif name.startswith("postgresql"):
        db = chinook.unique_name()
        chinook.create_postgres(db)

        def connection(port: int | None) -> dict[str, Any]:
            if name == "postgresql":
                return {"url": f"postgresql+psycopg://postgres@127.0.0.1:{port or 5432}/{db}"}
            return {
                "odbc": "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;"
                f"PORT={port or 5432};DATABASE={db};UID=postgres"
            }

        admin = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}")
        backend = Backend(name, CAPABILITIES[name], admin, connection, 5432, True, db)
        backend.cleanup.append(lambda: chinook.drop_postgres(db))
    else:
        path = chinook.copy_sqlite(folder)

        def connection(port: int | None) -> dict[str, Any]:
            if name == "sqlite-sa":
                return {"url": f"sqlite:///{path}"}
            return {"odbc": f"DRIVER={{SQLite3}};Database={path}"}

        backend = Backend(name, CAPABILITIES[name], sa.create_engine(f"sqlite:///{path}"),
                          connection)  # fmt: skip
    chinook.add_extras(backend.admin)
    chinook.add_legacy(backend.admin)
    return backend


class Backends:
    """Backends made on first use; all dropped when the session ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: dict[str, Backend] = {}
        self.apis: dict[str, Api] = {}

    def get(self, name: str) -> Backend:
        if name not in self.made:
            self.made[name] = _make(name, self.folder)
        return self.made[name]

    def close(self) -> None:
        for api in self.apis.values():
            api.close()
        for backend in self.made.values():
            backend.admin.dispose()
            for step in backend.cleanup:
                step()


@dataclass
class Api:
    """The REST API over one backend, served on loopback for the whole session."""

    backend: Backend
    adapter: DatabaseAdapter
    client: httpx.Client
    stop: Callable[[], None]
    system: str = "chinook"

    def close(self) -> None:
        self.client.close()
        self.stop()

    def path(self, table: str, key: str = "") -> str:
        """``/database/{system}/{table}[/{key}]``, encoded (Chinook names as the backend
        spells them; legacy tables have one spelling everywhere)."""
        name = self.backend.n(table) if self.system == "chinook" else table
        parts = [self.system, name, *([key] if key else [])]
        return "/database/" + "/".join(quote(p, safe=",") for p in parts)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*capabilities): backends that have these only")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        needs: set[str] = set()
        for marker in metafunc.definition.iter_markers("needs"):
            needs.update(marker.args)
        names = [name for name, caps in CAPABILITIES.items() if needs <= caps]
        metafunc.parametrize("backend", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    made = Backends(tmp_path_factory.mktemp("chinook"))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest, backends: Backends) -> Backend:
    return backends.get(request.param)


@pytest.fixture(scope="session")
def api(backend: Backend, backends: Backends) -> Api:
    """The chinook API over ``backend`` (Chinook tables read-only, scratch_note writable)."""
    if backend.name not in backends.apis:
        adapter = DatabaseAdapter("chinook", backend.spec(pool_size=3, max_page_size=200))
        server = run_app(build_app([adapter]))
        url = server.__enter__()
        client = httpx.Client(base_url=url, timeout=30)
        stop: Callable[[], None] = lambda: server.__exit__(None, None, None)  # noqa: E731
        backends.apis[backend.name] = Api(backend, adapter, client, stop)
    return backends.apis[backend.name]


LEGACY_SYSTEM = "legacy estate"
"""A system name with a space: every URL the API makes must encode it."""


@pytest.fixture(scope="session")
def legacy(backend: Backend, backends: Backends) -> Api:
    """The API over ``backend``'s legacy tables, as system ``legacy estate``."""
    name = f"{backend.name}/legacy"
    if name not in backends.apis:
        tables: dict[str, Any] = {
            "Odd Keys": {"writes": True},
            "legacy_ranges": {"writes": True},
            "legacy_times": {},
            "legacy_amounts": {},
        }
        if backend.name.startswith("postgresql"):
            tables["legacy_pg"] = {}
        adapter = DatabaseAdapter(LEGACY_SYSTEM, backend.spec(tables, max_page_size=200))
        server = run_app(build_app([adapter]))
        url = server.__enter__()
        client = httpx.Client(base_url=url, timeout=30)
        stop: Callable[[], None] = lambda: server.__exit__(None, None, None)  # noqa: E731
        backends.apis[name] = Api(backend, adapter, client, stop, LEGACY_SYSTEM)
    return backends.apis[name]
