"""A Feast feature repository over strangler's feature tables.

:func:`write_feast_repo` writes ``feature_store.yaml`` and ``features.py`` into a
folder: one Feast ``Entity`` per entity column, one ``FeatureView`` per feature view
reading its history table in place (PostgreSQL offline store; event time as the
timestamp field, ``ingested_at`` as the created timestamp, the view's TTL) and one
``FeatureService`` per service. Feast reads the tables strangler fills; nothing is
copied. Feast itself is not imported here: the folder is for ``feast plan`` and
``feast apply`` in an environment with ``feast[postgres]``.

The tables' names and the feature kinds are those the store recorded for the view
(after a first ``strangler etl run``), else those its source gives.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from strangler.errors import SpecError, SpecProblem, StranglerError
from strangler.etl.tables import INGESTED_AT, VIEWS, FeatureTable
from strangler.etl.types import FeatureKind, Schema

if TYPE_CHECKING:
    from strangler.spec import Spec
    from strangler.spec.features import FeatureViewSpec

__all__ = ["FeastRepo", "write_feast_repo"]

PASSWORD_VARIABLE = "STRANGLER_FEAST_PASSWORD"

# Feast type and entity value type per feature kind (Feast has no decimal in its
# PostgreSQL offline store: numeric is read as a double; time and JSON as text).
_FEAST_TYPES: dict[str, tuple[str, str]] = {
    "integer": ("Int64", "INT64"),
    "float": ("Float64", "DOUBLE"),
    "decimal": ("Float64", "DOUBLE"),
    "string": ("String", "STRING"),
    "boolean": ("Bool", "BOOL"),
    "date": ("UnixTimestamp", "UNIX_TIMESTAMP"),
    "datetime": ("UnixTimestamp", "UNIX_TIMESTAMP"),
    "time": ("String", "STRING"),
    "bytes": ("Bytes", "BYTES"),
    "json": ("String", "STRING"),
}


@dataclass(frozen=True)
class FeastRepo:
    """What :func:`write_feast_repo` wrote: the folder, its files and the Feast objects."""

    path: Path
    files: tuple[Path, ...]
    project: str
    entities: tuple[str, ...]
    views: tuple[str, ...]
    services: tuple[str, ...]


@dataclass(frozen=True)
class _View:
    name: str
    table: str
    entity: tuple[str, ...]
    event_time: str
    kinds: dict[str, FeatureKind]  # entity and feature columns, in table order
    features: tuple[str, ...]
    ttl_s: float | None
    version: int


def write_feast_repo(
    spec: Spec,
    out_dir: str | Path,
    *,
    project: str = "strangler",
    store: str | None = None,
) -> FeastRepo:
    """Write a Feast feature repository for the spec's feature views into ``out_dir``.

    ``store`` overrides the spec's ``features.store`` (a SQLAlchemy URL); it must be a
    PostgreSQL database, the one Feast's offline store reads. A password in the URL
    is not written: ``feature_store.yaml`` reads it from ``$STRANGLER_FEAST_PASSWORD``.
    """
    section = spec.section("features")
    if section is None or not section.views:
        raise _problem("features", "the spec declares no feature views")
    if not (project.isidentifier() and project.isascii()) or project.startswith("_"):
        raise StranglerError(f"Feast project name {project!r}: letters, digits and '_' only")
    url = _postgres_url(store or section.store)
    engine = sa.create_engine(url)
    try:
        chosen = [_view(spec, name, view, engine) for name, view in section.views.items()]
    except sa.exc.DBAPIError as exc:
        where = url.render_as_string(hide_password=True)
        raise StranglerError(f"cannot read the feature store {where}: {exc.orig}") from exc
    finally:
        engine.dispose()
    services: dict[str, list[str]] = dict(section.services)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    yaml_path, code_path = folder / "feature_store.yaml", folder / "features.py"
    yaml_path.write_text(_feature_store_yaml(project, url), encoding="utf-8")
    code_path.write_text(_definitions(chosen, services), encoding="utf-8")
    entities = dict.fromkeys(c for v in chosen for c in v.entity)
    return FeastRepo(
        folder,
        (yaml_path, code_path),
        project,
        tuple(entities),
        tuple(v.name for v in chosen),
        tuple(services),
    )


def _problem(field: str, message: str) -> SpecError:
    return SpecError([SpecProblem("spec", None, field, message)])


def _postgres_url(store: str | None) -> sa.URL:
    if not store:
        raise _problem(
            "features.store",
            "Feast reads the feature tables through its PostgreSQL offline store; the "
            "default SQLite store has none: set features.store to a postgresql:// URL",
        )
    try:
        url = sa.make_url(store)
    except sa.exc.ArgumentError as exc:
        raise _problem("features.store", f"not a SQLAlchemy URL: {exc}") from exc
    if url.get_backend_name() != "postgresql":
        raise _problem(
            "features.store",
            f"Feast has no offline store reading {url.get_backend_name()} tables in place; "
            "the Feast repository needs the feature store on PostgreSQL",
        )
    return url


def _feature_store_yaml(project: str, url: sa.URL) -> str:
    password = '""' if url.password is None else "${" + PASSWORD_VARIABLE + "}"
    sslmode = url.query.get("sslmode", "disable")
    host = url.host or "localhost"
    return f"""\
# Written by `strangler features feast`; written again when the spec changes.
# Feast reads strangler's feature tables in place (PostgreSQL offline store);
# needs feast[postgres]. Feast's online store (SQLite, filled only by
# `feast materialize`) is optional: strangler's <table>_latest tables serve the
# newest values already.
project: {project}
provider: local
registry: data/registry.db
offline_store:
  type: postgres
  host: {_yaml(host)}
  port: {url.port or 5432}
  database: {_yaml(url.database or "postgres")}
  db_schema: public
  user: {_yaml(url.username or "postgres")}
  password: {password}
  sslmode: {_yaml(str(sslmode))}
online_store:
  type: sqlite
  path: data/online_store.db
entity_key_serialization_version: 3
"""


def _yaml(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escaping is a subset of YAML's)."""
    return json.dumps(text)


def _py(text: str) -> str:
    """A Python string literal in double quotes (JSON's escaping is a subset of Python's)."""
    return json.dumps(text)


# --- the views' tables -------------------------------------------------------------------


def _view(spec: Spec, name: str, view: FeatureViewSpec, engine: sa.Engine) -> _View:
    """The view's tables as the store recorded them, else as its first run will make them."""
    table = _recorded(engine, name)
    if table is None:
        table = FeatureTable.build(name, view, _source_schema(spec, name))
    return _View(
        name=name,
        table=table.history.name,
        entity=table.entity,
        event_time=table.event_time,
        kinds={c: table.schema[c] for c in (*table.entity, *table.features)},
        features=table.features,
        ttl_s=table.ttl_s,
        version=view.version,
    )


def _recorded(engine: sa.Engine, name: str) -> FeatureTable | None:
    """The view's tables as the store keeps them; ``None`` before its first run."""
    if not sa.inspect(engine).has_table(VIEWS.name):
        return None
    query = sa.select(VIEWS.c.history_table, VIEWS.c.layout).where(VIEWS.c.view == name)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return FeatureTable.from_layout(name, str(row.history_table), dict(row.layout))


def _source_schema(spec: Spec, name: str) -> Schema:
    """The kinds the view's source gives (its tables are not created yet)."""
    from strangler.etl.sources import open_source

    source = open_source(spec, name)
    try:
        return dict(source.schema)
    finally:
        source.close()


# --- features.py -------------------------------------------------------------------------


def _definitions(views: list[_View], services: Mapping[str, list[str]]) -> str:
    taken: set[str] = set(keyword.kwlist) | {"timedelta", "Entity", "FeatureService"}
    taken |= {"FeatureView", "Field", "ValueType", "PostgreSQLSource"}
    taken |= {t for t, _ in _FEAST_TYPES.values()}

    def variable(name: str, prefix: str) -> str:
        candidate = name if name.isidentifier() and name.isascii() else f"{prefix}_{len(taken)}"
        while candidate in taken:
            candidate = f"{prefix}_{candidate}"
        taken.add(candidate)
        return candidate

    entity_vars: dict[str, str] = {}
    lines: list[str] = []
    for view in views:
        for column in view.entity:
            if column not in entity_vars:
                entity_vars[column] = var = variable(column, "entity")
                value_type = _FEAST_TYPES[view.kinds[column]][1]
                lines.append(
                    f"{var} = Entity(name={_py(column)}, join_keys=[{_py(column)}], "
                    f"value_type=ValueType.{value_type})"
                )
    lines.append("")
    view_vars: dict[str, str] = {}
    for view in views:
        view_vars[view.name] = var = variable(view.name, "view")
        lines.append(_feature_view(var, view, entity_vars))
    for name, members in services.items():
        var = variable(name, "service")
        listed = ", ".join(view_vars[m] for m in members)
        lines.append(f"{var} = FeatureService(name={_py(name)}, features=[{listed}])")
    used = sorted({_FEAST_TYPES[k][0] for v in views for k in v.kinds.values()})
    header = f'''\
"""Feast definitions of strangler's feature views, over strangler's own tables.

Written by `strangler features feast` from the spec; write it again rather than
editing it. Check with `feast plan`, register with `feast apply`.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import (
    PostgreSQLSource,
)
from feast.types import {", ".join(used)}

'''
    return header + "\n".join(lines) + "\n"


def _feature_view(var: str, view: _View, entity_vars: Mapping[str, str]) -> str:
    table = view.table if view.table.islower() and view.table.isidentifier() else f'"{view.table}"'
    ttl_s = view.ttl_s or 0
    ttl = f"timedelta(seconds={int(ttl_s) if ttl_s == int(ttl_s) else ttl_s!r})"
    fields = "".join(
        f"        Field(name={_py(column)}, dtype={_FEAST_TYPES[kind][0]}),\n"
        for column, kind in view.kinds.items()
    )
    entities = ", ".join(entity_vars[c] for c in view.entity)
    return f"""{var} = FeatureView(
    name={_py(view.name)},
    entities=[{entities}],
    ttl={ttl},  # 0: no limit
    schema=[
{fields}    ],
    source=PostgreSQLSource(
        name={_py(view.name)},
        table={_py(table)},
        timestamp_field={_py(view.event_time)},
        created_timestamp_column={_py(INGESTED_AT)},
    ),
    tags={{"strangler.table": {_py(view.table)}, "strangler.version": "{view.version}"}},
)
"""
