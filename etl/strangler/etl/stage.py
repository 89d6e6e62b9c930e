"""A run's staged rows: appended batch by batch, checked, then committed at once.

Each :meth:`Stage.append` writes the batch's rows into the view's staging table
and the batch's checkpoint into the run's row of ``strangler_etl_runs`` in one
transaction, so after a crash the checkpoint names exactly the rows staged (a
rerun of the same run key resumes from it). PostgreSQL receives the rows through
``COPY`` (psycopg's ``cursor.copy()``), the other databases through one
``executemany`` per batch (:mod:`strangler.etl.bulk`). The write runs in a thread
of the stage while the caller reads the next batch: one batch at most is in
flight, and :meth:`Stage.flush` waits for it.

:meth:`Stage.commit` is one transaction: upsert the staged rows into the history
table, refresh the latest table for the entities touched (with their history row
at the newest staged time, unless the latest table holds a newer one: a late
older event never makes it regress), advance the watermark, record the run and
empty the stage. Every merge happens in SQL: memory holds a batch or two, never
the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from strangler.errors import StranglerError
from strangler.etl.bulk import write_rows
from strangler.etl.quality import QualityReport, run_checks
from strangler.etl.state import encode_json, encode_watermark, now
from strangler.etl.tables import INGESTED_AT, RUNS, VIEWS, FeatureTable, FeatureTableMismatch
from strangler.etl.types import Batch
from strangler.etl.upsert import newest_per_key, upsert, upsert_with_latest
from strangler.spec.features import CheckSpec

__all__ = ["RunResult", "Stage", "StageFailed", "StageLost"]

_MERGE_WORK_MEM = "64MB"
"""PostgreSQL's memory for the merge's sort and its rows written (per sort, for this
transaction only): a batch of 100,000 rows of 20 columns needs about 40 MB."""


class StageFailed(StranglerError):
    """A batch could not be staged (the database refused it or is gone); nothing of it
    was kept, and the checkpoint is the previous batch's."""


class StageLost(StranglerError):
    """The run is no longer the view's staging run (another run took over the stage)."""


@dataclass(frozen=True)
class RunResult:
    """What a commit loaded: staged rows, rows written to history and latest, the
    watermark after it. ``written`` is the database's count (MariaDB counts an
    updated row twice); rows that arrived unchanged are not written."""

    view: str
    run_id: int
    rows: int
    written: int
    latest_written: int
    watermark: Any
    started_at: datetime
    ended_at: datetime


class Stage:
    """The staging of one run of a view (made by ``FeatureStore.begin``)."""

    def __init__(
        self,
        engine: sa.Engine,
        table: FeatureTable,
        *,
        run_id: int,
        started_at: datetime,
        checkpoint: dict[str, Any] | None,
        rows: int,
        previous_rows: int | None,
        watermark: Any,
    ) -> None:
        self._engine = engine
        self.table = table
        self.run_id = run_id
        self.started_at = started_at
        self.checkpoint = checkpoint
        """Where the staged rows end: the checkpoint of the last batch committed."""
        self.rows = rows
        """Rows handed to :meth:`append` (staged, or being staged)."""
        self.resumed = checkpoint is not None
        """True when this run carries on an earlier, interrupted one."""
        self._previous_rows = previous_rows
        self._watermark = watermark
        self._writer: ThreadPoolExecutor | None = None
        self._pending: tuple[Future[None], int] | None = None

    def append(self, batch: Batch) -> None:
        """Stage ``batch``'s rows and record its checkpoint, in one transaction.

        The write runs in a thread of the stage while the caller reads the next
        batch; one batch at most is in flight (a failure surfaces at the next call).
        """
        stage = self.table.stage
        for column in batch.columns:
            if column not in self.table.schema:
                raise FeatureTableMismatch(
                    self.table.view, stage.name, column, "not in the view's schema"
                )
        self.flush()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="strangler-etl-stage")
        self._pending = (self._writer.submit(self._write, batch), len(batch.rows))
        self.rows += len(batch.rows)

    def flush(self) -> None:
        """Wait for the batch in flight to be staged (its error, if it failed)."""
        if self._pending is not None:
            (pending, rows), self._pending = self._pending, None
            try:
                pending.result()
            except BaseException:
                self.rows -= rows
                raise

    def close(self) -> None:
        """Finish the batch in flight and stop the stage's writer thread."""
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None

    def _write(self, batch: Batch) -> None:
        try:
            with self._engine.begin() as connection:
                write_rows(connection, self.table.stage, batch.columns, batch.rows)
                self._record(
                    connection,
                    RUNS.update().values(
                        checkpoint=encode_json(batch.checkpoint),
                        rows=RUNS.c.rows + len(batch.rows),
                    ),
                )
        except StranglerError:
            raise
        except Exception as exc:
            raise StageFailed(
                f"feature view {self.table.view}: a batch of {len(batch.rows):,} rows could "
                f"not be staged (the run resumes from the batch before): {exc}"
            ) from exc
        self.checkpoint = batch.checkpoint

    def check(self, checks: Sequence[CheckSpec]) -> QualityReport:
        """Run the view's data-quality checks over the staged rows (nothing changes)."""
        self.flush()
        with self._engine.connect() as connection:
            return run_checks(connection, self.table, checks, previous_rows=self._previous_rows)

    def commit(self, *, watermark_column: str | None, advance: bool = True) -> RunResult:
        """Load the staged rows (one transaction); ``advance``: move the watermark to the
        newest staged value (never back); a backfill leaves it."""
        self.close()
        table = self.table
        ended = now()
        with self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # the planner learns the stage's size: index lookups for a few rows,
                # hash joins for many
                quote = connection.dialect.identifier_preparer.quote
                keys = ", ".join(quote(c) for c in table.key if c in table.stage.c)
                name = connection.dialect.identifier_preparer.format_table(table.stage)
                connection.execute(sa.text(f"ANALYZE {name} ({keys})"))
                # the merge sorts and keeps the rows it wrote: in memory, not temp files
                connection.execute(sa.text(f"SET LOCAL work_mem = '{_MERGE_WORK_MEM}'"))
                written, latest_written = self._merge_postgres(connection, ended)
            else:
                written = self._upsert_history(connection, ended)
                latest_written = self._refresh_latest(connection)
            watermark = self._watermark
            if advance and watermark_column is not None:
                watermark = _later(watermark, self._staged_max(connection, watermark_column))
                connection.execute(
                    VIEWS.update()
                    .where(VIEWS.c.view == table.view)
                    .values(watermark=encode_watermark(watermark), updated_at=ended)
                )
            self._record(
                connection,
                RUNS.update().values(
                    status="succeeded",
                    ended_at=ended,
                    written=written,
                    watermark=encode_watermark(watermark),
                ),
            )
            _clear(connection, table.stage)
        return RunResult(
            table.view,
            self.run_id,
            self.rows,
            written,
            latest_written,
            watermark,
            self.started_at,
            ended,
        )

    def abandon(self, report: QualityReport | str) -> None:
        """Record the run as failed with ``report``; drop its staged rows; load nothing."""
        with contextlib.suppress(Exception):  # a batch that failed to stage is dropped too
            self.close()
        with self._engine.begin() as connection:
            self._record(
                connection,
                RUNS.update().values(status="failed", ended_at=now(), report=str(report)),
            )
            _clear(connection, self.table.stage)

    def _record(self, connection: sa.Connection, update: sa.Update) -> None:
        done = connection.execute(
            update.where(RUNS.c.id == self.run_id, RUNS.c.status == "staging")
        ).rowcount
        if done != 1:
            raise StageLost(f"run {self.run_id} of {self.table.view} is no longer staging")

    def _staged_max(self, connection: sa.Connection, column: str) -> Any:
        if column not in self.table.stage.c:
            raise FeatureTableMismatch(
                self.table.view, self.table.stage.name, column, "the watermark is not a column"
            )
        newest = connection.execute(sa.select(sa.func.max(self.table.stage.c[column]))).scalar()
        if self.table.schema[column] == "date" and isinstance(newest, datetime):
            return newest.date()  # a date event time is staged as its midnight
        return newest

    def _source(self, ingested: datetime) -> sa.Select[Any]:
        """The staged rows as history rows (the event time of a snapshot: the run's
        start; the load time: ``ingested``)."""
        table, stage = self.table, self.table.stage
        history = table.history
        picked: list[sa.ColumnElement[Any]] = [stage.c[c] for c in table.entity]
        if table.snapshot:
            time_type = history.c[table.event_time].type
            picked.append(sa.literal(self.started_at, time_type).label(table.event_time))
        else:
            picked.append(stage.c[table.event_time])
        picked += [stage.c[c] for c in table.features]
        picked.append(sa.literal(ingested, history.c[INGESTED_AT].type).label(INGESTED_AT))
        return sa.select(*picked)

    def _merge_postgres(self, connection: sa.Connection, ingested: datetime) -> tuple[int, int]:
        """History and latest in one statement; the plain one first: a key staged twice
        makes PostgreSQL refuse it (21000), and then the newest staged row of each key
        is taken."""
        table = self.table
        source = self._source(ingested)

        def merge(rows: sa.Select[Any]) -> tuple[int, int]:
            return upsert_with_latest(
                connection,
                table.history,
                rows,
                table.latest,
                entity=table.entity,
                event_time=table.event_time,
                touch=INGESTED_AT,
            )

        try:
            try:
                with connection.begin_nested():
                    return merge(source)
            except sa.exc.DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != "21000":
                    raise
            return merge(newest_per_key(source, key=table.key, order=table.stage.c["_row"]))
        except sa.exc.IntegrityError as exc:
            raise _empty_keys(table, exc) from exc

    def _upsert_history(self, connection: sa.Connection, ingested: datetime) -> int:
        table, stage, history = self.table, self.table.stage, self.table.history
        source = self._source(ingested)
        dialect = connection.dialect.name
        try:
            if dialect == "mssql":
                deduped = newest_per_key(source, key=table.key, order=stage.c["_row"])
                return upsert(connection, history, deduped, key=table.key, touch=INGESTED_AT)
            ordered = source.order_by(stage.c["_row"])
            if dialect == "sqlite":
                ordered = ordered.where(sa.true())  # INSERT … SELECT … ON CONFLICT needs WHERE
            return upsert(connection, history, ordered, key=table.key, touch=INGESTED_AT)
        except sa.exc.IntegrityError as exc:
            raise _empty_keys(table, exc) from exc

    def _refresh_latest(self, connection: sa.Connection) -> int:
        """Copy into the latest table, for each entity staged, its history row at the
        newest staged event time, unless the latest table holds a newer one."""
        table, stage, history = self.table, self.table.stage, self.table.history
        entity = [stage.c[e] for e in table.entity]
        time_type = history.c[table.event_time].type
        if table.snapshot:
            staged = sa.select(*entity, sa.literal(self.started_at, time_type).label("newest"))
            newest = staged.distinct().subquery("newest")
        else:
            newest_time = sa.func.max(stage.c[table.event_time]).label("newest")
            newest = sa.select(*entity, newest_time).group_by(*entity).subquery("newest")
        on = sa.and_(
            *[history.c[e] == newest.c[e] for e in table.entity],
            history.c[table.event_time] == newest.c["newest"],
        )
        source = sa.select(*[history.c[c.name] for c in table.latest.columns]).join_from(
            newest, history, on
        )
        return upsert(
            connection, table.latest, source, key=table.entity, unless_older=table.event_time
        )


def _empty_keys(table: FeatureTable, exc: sa.exc.IntegrityError) -> StranglerError:
    return StranglerError(
        f"feature view {table.view}: staged rows with an empty entity key or event "
        f"time cannot be loaded (check the run first): {exc.orig}"
    )


def _later(old: Any, new: Any) -> Any:
    if new is None:
        return old
    if old is None or type(old) is not type(new):
        return new
    return max(old, new)


def _clear(connection: sa.Connection, stage: sa.Table) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text(f"TRUNCATE {connection.dialect.identifier_preparer.format_table(stage)}")
        )
    else:
        connection.execute(stage.delete())
