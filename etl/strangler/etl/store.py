"""The feature store: feature tables and the ETL's state in one SQLAlchemy database.

PostgreSQL in production, SQLite as the embedded default, MariaDB/MySQL and SQL
Server as well. A run of a view goes::

    store = FeatureStore(url)
    table = store.table_for("customer_features", view_spec, source.schema)
    stage = store.begin(table, run=RunKey("customer_features"))
    for batch in source.batches(resume=stage.checkpoint, low=..., high=...):
        stage.append(batch)                       # rows + checkpoint, one transaction
    report = stage.check(view_spec.checks)
    if not report.ok:
        stage.abandon(report)
        raise QualityFailed(report)
    stage.commit(watermark_column=view_spec.watermark or view_spec.timestamp, advance=True)

A run killed anywhere before its commit leaves its staged rows and checkpoint;
``begin`` with the same run key resumes it. Nothing lives only in the process, so
any worker can carry on a run another started. Two runs of one view at the same
time are not supported: the later ``begin`` takes the stage over.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa

from strangler.adapters.db.state_engine import state_engine
from strangler.errors import NotFound
from strangler.etl.lookup import latest_rows, rows_as_of
from strangler.etl.stage import Stage
from strangler.etl.state import decode_json, decode_watermark, now
from strangler.etl.tables import RUNS, STATE, VIEWS, FeatureTable, FeatureTableMismatch
from strangler.etl.types import Schema
from strangler.spec.features import FeatureViewSpec

__all__ = ["FeatureStore", "RunKey", "Snapshot", "ViewStatus"]


class RunKey(NamedTuple):
    """Which run: the view and, for a backfill, its range (as text). A run begun with
    the key of an unfinished run resumes it."""

    view: str
    since: str | None = None
    until: str | None = None

    @property
    def text(self) -> str:
        return f"{self.view}|{self.since or ''}|{self.until or ''}"


@dataclass(frozen=True)
class ViewStatus:
    """A view's tables, watermark, last run and row counts."""

    view: str
    history_table: str
    latest_table: str
    watermark: Any
    last_status: str | None
    last_started_at: datetime | None
    last_ended_at: datetime | None
    last_rows: int | None
    last_report: str | None
    history_rows: int
    latest_rows: int


class FeatureStore:
    """Feature tables and ETL state on the database at ``url`` (any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # reads need no write lock (SQLite: a plain BEGIN, not BEGIN IMMEDIATE)
        self._reads = self.engine.execution_options(strangler_reads=True)
        self._state_ready = False
        self._tables: dict[tuple[str, str, bytes], FeatureTable] = {}

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def table_for(self, view: str, spec: FeatureViewSpec, schema: Schema) -> FeatureTable:
        """The view's tables for rows of ``schema``, created when missing, new feature
        columns added; tables the view cannot write (another key, a kind changed) are
        refused with :class:`FeatureTableMismatch` naming the column."""
        table = FeatureTable.build(view, spec, schema)
        self._ensure_state()
        with self._reads.connect() as connection:
            known = connection.execute(sa.select(VIEWS).where(VIEWS.c.view == view)).first()
        if known is not None and known.history_table == table.history.name:
            _same_layout(table, dict(known.layout))
        for column in table.missing_features(self.engine):
            _add_column(self.engine, column)
        table.history.metadata.create_all(
            self.engine, tables=[table.history, table.latest], checkfirst=True
        )
        values = {
            "history_table": table.history.name,
            "latest_table": table.latest.name,
            "layout": table.layout(),
            "updated_at": now(),
        }
        with self.engine.begin() as connection:
            if known is None:
                connection.execute(VIEWS.insert().values(view=view, **values))
            else:
                connection.execute(VIEWS.update().where(VIEWS.c.view == view).values(**values))
        return table

    def begin(self, table: FeatureTable, *, run: RunKey | str) -> Stage:
        """A stage for a run of ``table``'s view: the unfinished run of the same key
        (``stage.checkpoint`` says where it stopped), else a new one (an unfinished run
        of another key is abandoned and its staged rows dropped)."""
        key = run.text if isinstance(run, RunKey) else run
        view = table.view
        with self._reads.connect() as connection:
            open_runs = connection.execute(
                sa.select(
                    RUNS.c.id, RUNS.c.run_key, RUNS.c.started_at, RUNS.c.rows, RUNS.c.checkpoint
                )
                .where(RUNS.c.view == view, RUNS.c.status == "staging")
                .order_by(RUNS.c.id)
            ).all()
            previous = connection.execute(
                sa.select(RUNS.c.rows)
                .where(RUNS.c.view == view, RUNS.c.status == "succeeded")
                .order_by(RUNS.c.id.desc())
                .limit(1)
            ).scalar()
            watermark = decode_watermark(
                connection.execute(
                    sa.select(VIEWS.c.watermark).where(VIEWS.c.view == view)
                ).scalar()
            )
        common = {"previous_rows": previous, "watermark": watermark}
        mine = [r for r in open_runs if r.run_key == key]
        if mine and self._stage_fits(table) and self._stage_holds(table, int(mine[-1].rows)):
            last = mine[-1]
            return Stage(
                self.engine,
                table,
                run_id=int(last.id),
                started_at=last.started_at,
                checkpoint=decode_json(last.checkpoint),
                rows=int(last.rows),
                **common,
            )
        started = now()
        with self.engine.begin() as connection:
            if open_runs:
                connection.execute(
                    RUNS.update()
                    .where(RUNS.c.id.in_([r.id for r in open_runs]))
                    .values(
                        status="abandoned", ended_at=started, report=f"replaced by a run of {key}"
                    )
                )
        table.stage.drop(self.engine, checkfirst=True)  # DDL: MariaDB commits around it
        _create_stage(self.engine, table.stage)
        with self.engine.begin() as connection:
            inserted = connection.execute(
                RUNS.insert().values(
                    view=view, run_key=key, status="staging", started_at=started, rows=0
                )
            ).inserted_primary_key
            assert inserted is not None
            run_id = inserted[0]
        return Stage(
            self.engine,
            table,
            run_id=int(run_id),
            started_at=started,
            checkpoint=None,
            rows=0,
            **common,
        )

    def watermark(self, view: str) -> Any:
        """The view's watermark after its last committed run (``None`` before)."""
        self._ensure_state()
        with self._reads.connect() as connection:
            text = connection.execute(
                sa.select(VIEWS.c.watermark).where(VIEWS.c.view == view)
            ).scalar()
        return decode_watermark(text)

    def status(self) -> list[ViewStatus]:
        """Every view's watermark, last run and row counts, by view name."""
        self._ensure_state()
        out: list[ViewStatus] = []
        with self._reads.connect() as connection:
            views = connection.execute(sa.select(VIEWS).order_by(VIEWS.c.view)).all()
            for view in views:
                last = connection.execute(
                    sa.select(RUNS)
                    .where(RUNS.c.view == view.view)
                    .order_by(RUNS.c.id.desc())
                    .limit(1)
                ).first()
                counts = [
                    connection.execute(
                        sa.select(sa.func.count()).select_from(sa.table(name))
                    ).scalar()
                    if sa.inspect(connection).has_table(name)
                    else 0
                    for name in (view.history_table, view.latest_table)
                ]
                out.append(
                    ViewStatus(
                        view=view.view,
                        history_table=view.history_table,
                        latest_table=view.latest_table,
                        watermark=decode_watermark(view.watermark),
                        last_status=None if last is None else last.status,
                        last_started_at=None if last is None else last.started_at,
                        last_ended_at=None if last is None else last.ended_at,
                        last_rows=None if last is None else last.rows,
                        last_report=None if last is None else last.report,
                        history_rows=int(counts[0] or 0),
                        latest_rows=int(counts[1] or 0),
                    )
                )
        return out

    def features_as_of(
        self,
        view: str,
        entities: Sequence[Mapping[str, Any]],
        at: Sequence[datetime] | datetime,
    ) -> list[dict[str, Any] | None]:
        """Point in time: per (entity, time) the newest row with event time <= the time
        (and newer than the time less the view's ttl); never a later one."""
        with self.snapshot() as snapshot:
            return snapshot.features_as_of(view, entities, at)

    def latest(
        self, view: str, entities: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any] | None]:
        """Each entity's newest row, from the latest table (``None``: none, or past the ttl)."""
        with self.snapshot() as snapshot:
            return snapshot.latest(view, entities)

    def table(self, view: str) -> FeatureTable:
        """The tables of a view loaded before (as recorded); ``NotFound`` if none was."""
        with self.snapshot() as snapshot:
            return snapshot.table(view)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """Reads on one connection, in one transaction: the views' layouts and their rows
        as they were together (a layout changed meanwhile is not half seen), for the
        cost of one connection rather than one per lookup."""
        self._ensure_state()
        with self._reads.connect() as connection:
            yield Snapshot(self, connection)

    def _known_table(self, view: str, history_table: str, layout: dict[str, Any]) -> FeatureTable:
        # the same tables object while the layout holds: SQLAlchemy's statement cache
        # then compiles each lookup once
        memo = (view, history_table, orjson.dumps(layout, option=orjson.OPT_SORT_KEYS))
        table = self._tables.get(memo)
        if table is None:
            table = self._tables[memo] = FeatureTable.from_layout(view, history_table, layout)
        return table

    def _stage_fits(self, table: FeatureTable) -> bool:
        inspector = sa.inspect(self.engine)
        if not inspector.has_table(table.stage.name):
            return False
        found = {c["name"] for c in inspector.get_columns(table.stage.name)}
        return found == {c.name for c in table.stage.columns}

    def _stage_holds(self, table: FeatureTable, rows: int) -> bool:
        """Whether the stage holds the rows its run recorded. Not so after PostgreSQL
        crashed (it empties an unlogged table): the run then starts again."""
        with self._reads.connect() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(table.stage))
            return int(count.scalar() or 0) == rows

    def _ensure_state(self) -> None:
        if not self._state_ready:
            STATE.create_all(self.engine, checkfirst=True)
            self._state_ready = True


class Snapshot:
    """Reads of a :class:`FeatureStore` on one connection (:meth:`FeatureStore.snapshot`)."""

    def __init__(self, store: FeatureStore, connection: sa.Connection) -> None:
        self.store = store
        self.connection = connection

    def table(self, view: str) -> FeatureTable:
        """The tables of a view loaded before (as recorded); ``NotFound`` if none was."""
        query = sa.select(VIEWS.c.history_table, VIEWS.c.layout).where(VIEWS.c.view == view)
        known = self.connection.execute(query).first()
        if known is None:
            raise NotFound(f"no feature view {view!r} has been loaded into {self.store.describe()}")
        return self.store._known_table(view, str(known.history_table), dict(known.layout))

    def latest(
        self, view: str, entities: Sequence[Mapping[str, Any]], table: FeatureTable | None = None
    ) -> list[dict[str, Any] | None]:
        """As :meth:`FeatureStore.latest`; ``table``: the view's, read in this snapshot."""
        return latest_rows(self.connection, table or self.table(view), entities)

    def features_as_of(
        self,
        view: str,
        entities: Sequence[Mapping[str, Any]],
        at: Sequence[datetime] | datetime,
        table: FeatureTable | None = None,
    ) -> list[dict[str, Any] | None]:
        """As :meth:`FeatureStore.features_as_of`; ``table`` as for :meth:`latest`."""
        return rows_as_of(self.connection, table or self.table(view), entities, at)


def _same_layout(table: FeatureTable, layout: dict[str, Any]) -> None:
    """Refuse a view whose key or kinds changed under tables already loaded."""
    name = table.history.name
    if list(layout["entity"]) != list(table.entity):
        raise FeatureTableMismatch(
            table.view,
            name,
            ", ".join(table.entity),
            f"the entity was {', '.join(layout['entity'])}",
        )
    if layout["event_time"] != table.event_time:
        raise FeatureTableMismatch(
            table.view, name, table.event_time, f"the event time was {layout['event_time']}"
        )
    kinds: dict[str, str] = layout["kinds"]
    for column in table.stored:
        old, new = kinds.get(column), table.schema.get(column)
        if old is not None and new is not None and old != new:
            raise FeatureTableMismatch(table.view, name, column, f"was {old}, now {new}")


def _add_column(engine: sa.Engine, column: sa.Column[Any]) -> None:
    """``ALTER TABLE … ADD`` a (nullable) feature column."""
    table = column.table
    assert isinstance(table, sa.Table)
    with engine.begin() as connection:
        preparer = connection.dialect.identifier_preparer
        definition = sa.schema.CreateColumn(column).compile(dialect=connection.dialect)
        keyword = "" if connection.dialect.name == "mssql" else "COLUMN "
        connection.execute(
            sa.text(f"ALTER TABLE {preparer.format_table(table)} ADD {keyword}{definition}")
        )


def _create_stage(engine: sa.Engine, stage: sa.Table) -> None:
    """Create the staging table; ``UNLOGGED`` on PostgreSQL (no WAL for staged rows: a
    kill of the client or a task retry keeps them, a crash of the server empties the
    table, and :meth:`FeatureStore.begin` then starts the run again)."""
    if engine.dialect.name != "postgresql":
        stage.create(engine)
        return
    ddl = str(sa.schema.CreateTable(stage).compile(dialect=engine.dialect))
    assert ddl.lstrip().startswith("CREATE TABLE ")
    with engine.begin() as connection:
        connection.exec_driver_sql(ddl.replace("CREATE TABLE ", "CREATE UNLOGGED TABLE ", 1))


def make_engine(url: str) -> sa.Engine:
    """An engine for the store: UTC sessions on PostgreSQL; WAL and queued writers on
    SQLite (:func:`~strangler.adapters.db.state_engine.state_engine`)."""
    return state_engine(url)
