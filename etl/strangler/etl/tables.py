"""The tables of a feature view, and the store's own state tables.

A view's rows land in two tables:

* the **history** table ``<table>``: the entity key's columns, the event time
  (the view's ``timestamp`` column, or ``event_time`` for snapshot views), the
  features and ``ingested_at``; primary key (entity…, event time), so the
  point-in-time lookups seek on it;
* the **latest** table ``<table>_latest``: one row per entity, a copy of its
  newest history row, kept in step by every commit.

``<table>`` is the view's ``table`` (default: the view's name), with ``_v<n>``
appended from version 2 on. The store's state lives beside them in
``strangler_etl_views`` (each view's tables, kinds and watermark) and
``strangler_etl_runs`` (every run, its checkpoint while it stages, its outcome);
a run's rows wait in ``strangler_etl_stage_<view>``.

The event time is always a UTC timestamp (a ``date`` timestamp becomes its
midnight). Datetimes are stored as UTC: ``timestamptz`` on PostgreSQL, and as naive UTC
where the database has no zone (a naive value is taken to be UTC already).
"""

from __future__ import annotations

import decimal
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql, postgresql

from strangler.errors import StranglerError
from strangler.etl.types import FeatureKind, Schema
from strangler.spec.features import FeatureViewSpec

__all__ = [
    "INGESTED_AT",
    "RUNS",
    "STATE",
    "VIEWS",
    "FeatureTable",
    "FeatureTableMismatch",
    "UtcDateTime",
    "column_type",
    "short_name",
]

INGESTED_AT = "ingested_at"
EVENT_TIME = "event_time"
_KEY_LENGTH = 200  # key columns are indexed: MariaDB wants a length
_NAME_LIMIT = 56  # PostgreSQL's 63 characters, less "_latest"


class FeatureTableMismatch(StranglerError):
    """A feature table exists with columns that do not fit the view's schema."""

    def __init__(self, view: str, table: str, column: str, reason: str) -> None:
        self.view, self.table, self.column = view, table, column
        super().__init__(f"feature view {view}: table {table}, column {column!r}: {reason}")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A point in time, stored as UTC; naive values are taken to be UTC already."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "mssql":
            return dialect.type_descriptor(mssql.DATETIME2(precision=6))  # type: ignore[no-untyped-call]
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            if not isinstance(value, date):
                raise TypeError(f"expected a datetime, got {value!r}")
            value = datetime.combine(value, time())  # a day's events: from its midnight
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "postgresql":
            return utc
        if dialect.name in ("mysql", "mariadb"):
            # as text: the MariaDB ODBC driver drops the fraction of a bound timestamp
            return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite, in an expression its type did not reach
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqliteDecimal(sa.TypeDecorator[decimal.Decimal]):
    """A decimal on SQLite, which stores it as a double either way: read back as the
    shortest decimal that round-trips (``18.9``), not padded to a fixed scale."""

    impl = sa.Numeric(38, 10, asdecimal=False)  # declared NUMERIC for other readers
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return None if value is None else float(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> decimal.Decimal | None:
        if value is None:
            return None
        return decimal.Decimal(repr(value) if isinstance(value, float) else str(value))


def column_type(kind: FeatureKind, *, key: bool = False) -> sa.types.TypeEngine[Any]:
    """The column type of a kind (``key``: part of a primary key)."""
    match kind:
        case "integer":
            return sa.BigInteger().with_variant(sa.Integer(), "sqlite")
        case "float":
            return sa.Double()
        case "decimal":
            return (
                sa.Numeric(38, 10)
                .with_variant(postgresql.NUMERIC(), "postgresql")
                .with_variant(SqliteDecimal(), "sqlite")
            )
        case "string":
            return sa.String(_KEY_LENGTH) if key else sa.Text()
        case "boolean":
            return sa.Boolean()
        case "date":
            return sa.Date()
        case "datetime":
            return UtcDateTime()
        case "time":
            return sa.Time()
        case "bytes":
            return sa.LargeBinary()
        case "json":
            return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    raise ValueError(f"unknown feature kind {kind!r}")


def short_name(prefix: str, name: str, limit: int = 60) -> str:
    """``prefix + name``, shortened with a hash to fit every database's name limit."""
    full = prefix + name
    if len(full) <= limit:
        return full
    digest = hashlib.sha1(full.encode()).hexdigest()[:8]
    return f"{full[: limit - 9]}_{digest}"


STATE = sa.MetaData()
VIEWS = sa.Table(
    "strangler_etl_views",
    STATE,
    sa.Column("view", sa.String(_KEY_LENGTH), primary_key=True),
    sa.Column("history_table", sa.String(_KEY_LENGTH), nullable=False),
    sa.Column("latest_table", sa.String(_KEY_LENGTH), nullable=False),
    sa.Column("layout", sa.JSON(), nullable=False),  # entity, event time, kinds, ttl
    sa.Column("watermark", sa.Text(), nullable=True),  # JSON, see strangler.etl.state
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
RUNS = sa.Table(
    "strangler_etl_runs",
    STATE,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("view", sa.String(_KEY_LENGTH), nullable=False),
    sa.Column("run_key", sa.String(500), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # staging succeeded failed abandoned
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("ended_at", UtcDateTime(), nullable=True),
    sa.Column("rows", sa.BigInteger(), nullable=False, default=0),
    sa.Column("written", sa.BigInteger(), nullable=True),
    sa.Column("checkpoint", sa.Text(), nullable=True),
    sa.Column("watermark", sa.Text(), nullable=True),
    sa.Column("report", sa.Text(), nullable=True),
    sa.Index("ix_strangler_etl_runs_view_status", "view", "status", "id"),
)


@dataclass(frozen=True)
class FeatureTable:
    """A view's history, latest and stage tables, and what its columns are."""

    view: str
    schema: Schema
    entity: tuple[str, ...]
    event_time: str
    snapshot: bool  # no timestamp column: the event time is the run's start
    features: tuple[str, ...]
    ttl_s: float | None
    history: sa.Table
    latest: sa.Table
    stage: sa.Table

    @property
    def key(self) -> tuple[str, ...]:
        return (*self.entity, self.event_time)

    @property
    def stored(self) -> tuple[str, ...]:
        """The history table's columns but ``ingested_at``."""
        return (*self.entity, self.event_time, *self.features)

    @classmethod
    def build(cls, view: str, spec: FeatureViewSpec, schema: Schema) -> FeatureTable:
        """The tables of ``view`` for rows of ``schema`` (not created here)."""
        name = spec.table or view
        if spec.version > 1:
            name = f"{name}_v{spec.version}"
        if len(name) > _NAME_LIMIT:
            raise FeatureTableMismatch(
                view,
                name,
                spec.table or view,
                f"the table name is longer than {_NAME_LIMIT} characters (with ``_latest`` "
                "it must fit every database's limit)",
            )
        for column in (*spec.entity, *([spec.timestamp] if spec.timestamp else [])):
            if column not in schema:
                raise FeatureTableMismatch(view, name, column, "not a column of the source")
        event_time = spec.timestamp or EVENT_TIME
        if spec.timestamp is None and EVENT_TIME in schema:
            raise FeatureTableMismatch(
                view, name, EVENT_TIME, "reserved for the event time of a view without timestamp"
            )
        if spec.timestamp and schema[spec.timestamp] not in ("datetime", "date"):
            raise FeatureTableMismatch(
                view,
                name,
                spec.timestamp,
                f"the timestamp must be a date or datetime, not {schema[spec.timestamp]}",
            )
        taken = {*spec.entity, event_time}
        if spec.features is not None:
            for column in spec.features:
                if column not in schema:
                    raise FeatureTableMismatch(view, name, column, "not a column of the source")
            features = tuple(c for c in spec.features if c not in taken)
        else:
            features = tuple(c for c in schema if c not in taken)
        if INGESTED_AT in (*features, *spec.entity):
            raise FeatureTableMismatch(view, name, INGESTED_AT, "reserved for the load time")
        layout = {
            "entity": list(spec.entity),
            "event_time": event_time,
            "snapshot": spec.timestamp is None,
            "features": list(features),
            "kinds": dict(schema),
            "ttl_s": spec.ttl_s,
        }
        return cls.from_layout(view, name, layout)

    @classmethod
    def from_layout(cls, view: str, name: str, layout: dict[str, Any]) -> FeatureTable:
        """The tables of ``view`` named ``name`` as :meth:`layout` describes them."""
        schema: Schema = dict(layout["kinds"])
        entity: list[str] = list(layout["entity"])
        event_time: str = layout["event_time"]
        features: list[str] = list(layout["features"])
        taken = {*entity, event_time}

        def columns(*, latest: bool) -> list[sa.Column[Any]]:
            made = [
                sa.Column(c, column_type(schema[c], key=True), primary_key=True, nullable=False)
                for c in entity
            ]
            made.append(
                sa.Column(event_time, UtcDateTime(), primary_key=not latest, nullable=False)
            )
            made += [sa.Column(c, column_type(schema[c])) for c in features]
            made.append(sa.Column(INGESTED_AT, UtcDateTime(), nullable=False))
            return made

        metadata = sa.MetaData()
        history = sa.Table(name, metadata, *columns(latest=False))
        latest = sa.Table(f"{name}_latest", metadata, *columns(latest=True))
        stage = sa.Table(
            short_name("strangler_etl_stage_", view),
            metadata,
            sa.Column(
                "_row",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            *[
                sa.Column(c, UtcDateTime() if c == event_time else column_type(k, key=c in taken))
                for c, k in schema.items()
            ],
        )
        return cls(
            view=view,
            schema=schema,
            entity=tuple(entity),
            event_time=event_time,
            snapshot=bool(layout["snapshot"]),
            features=tuple(features),
            ttl_s=layout.get("ttl_s"),
            history=history,
            latest=latest,
            stage=stage,
        )

    def layout(self) -> dict[str, Any]:
        """What ``strangler_etl_views`` keeps of the view (its tables' shape)."""
        return {
            "entity": list(self.entity),
            "event_time": self.event_time,
            "snapshot": self.snapshot,
            "features": list(self.features),
            "kinds": dict(self.schema),
            "ttl_s": self.ttl_s,
        }

    def missing_features(self, engine: sa.Engine) -> list[sa.Column[Any]]:
        """Feature columns the existing tables lack (the view gained features: they are
        added, empty for the rows already loaded); tables this view cannot write at all
        (another key, a missing key column) are refused."""
        inspector = sa.inspect(engine)
        missing: list[sa.Column[Any]] = []
        for table in (self.history, self.latest):
            if not inspector.has_table(table.name):
                continue
            found = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in found:
                    continue
                if column.name not in self.features:
                    raise FeatureTableMismatch(
                        self.view,
                        table.name,
                        column.name,
                        "missing from the existing table (drop the table, or raise the "
                        "view's version to start a new one)",
                    )
                missing.append(column)
            key = set(inspector.get_pk_constraint(table.name)["constrained_columns"])
            if key != {c.name for c in table.primary_key.columns}:
                differ = sorted({c.name for c in table.primary_key.columns} ^ key)
                raise FeatureTableMismatch(
                    self.view,
                    table.name,
                    differ[0] if differ else "?",
                    f"the existing table's primary key is {sorted(key)}",
                )
        return missing
