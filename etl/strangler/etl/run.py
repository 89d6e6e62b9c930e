"""One run of a feature view: read, transform, stage, check, commit.

* Incremental (the view has a watermark, or a timestamp standing for one):
  rows whose watermark is at or after the last committed watermark less
  ``lookback_s`` (seconds for dates and timestamps, a count for integers);
  the commit moves the watermark to the newest value staged.
* Backfill (``since`` and/or ``until``): rows with ``since`` <= event time <
  ``until`` (the timestamp; the watermark for a view without one); upserted
  like any run, but the watermark stays where it was.
* Full (no watermark): every row, each run.

A run interrupted anywhere (a kill, a lost connection) leaves its staged rows
and the checkpoint of its last staged batch in the feature store; running it
again (same view, same ``since``/``until``) carries on after that checkpoint,
so the table it leaves is the one an uninterrupted run leaves.

``transform`` names ``module:function``, called with each chunk as a list of
dicts (the source's columns) and returning a list of dicts; the feature table's
columns are those of its first answer (their kinds from the values; a
function may declare them instead as a ``schema`` attribute, a dict of column
name → kind).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strangler.errors import SpecError, SpecProblem
from strangler.etl.quality import QualityFailed, QualityReport
from strangler.etl.sources import Source, open_source, view_spec
from strangler.etl.store import FeatureStore, RunKey
from strangler.etl.types import Batch, Schema
from strangler.etl.values import value_kind
from strangler.paths import default_cache_dir
from strangler.spec.features import FeaturesSpec
from strangler.spec.models import Spec

__all__ = ["Progress", "RunReport", "Transform", "run_view", "store_url"]

Transform = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
Bound = dt.datetime | dt.date | int | decimal.Decimal | str


@dataclass(frozen=True)
class Progress:
    """How far a run is: rows staged (including those of an interrupted run it
    carries on), seconds since it started, and the rows expected when known."""

    view: str
    rows: int
    elapsed_s: float
    total: int | None = None
    resumed_rows: int = 0

    @property
    def rows_per_s(self) -> float:
        done = self.rows - self.resumed_rows
        return done / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class RunReport:
    """What a run did."""

    view: str
    rows: int
    written: int
    latest_written: int
    watermark: Any
    backfill: bool
    resumed: bool
    elapsed_s: float
    quality: QualityReport

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0


def store_url(spec: Spec, store: str | None = None, cache_dir: Path | None = None) -> str:
    """The feature store's URL: ``store``, the spec's ``features.store``, else a SQLite
    file ``features.sqlite`` in the cache dir."""
    if store:
        return store
    features: FeaturesSpec | None = spec.section("features")
    if features is not None and features.store:
        return features.store
    folder = cache_dir or (Path(spec.cache_dir) if spec.cache_dir else default_cache_dir())
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'features.sqlite'}"


def run_view(
    spec: Spec,
    view: str,
    *,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
    systems: Mapping[str, str] | None = None,
    store: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    cache_dir: Path | None = None,
) -> RunReport:
    """Run ``view`` once (see the module's docstring); ``QualityFailed`` when a check fails
    (nothing of the run is loaded), ``SpecError`` for a view that does not fit its source.
    Counted and timed by :mod:`strangler.etl.metrics`."""
    from strangler.etl.metrics import observe_run

    with observe_run(view) as succeeded:
        report = _run_view(
            spec,
            view,
            since=since,
            until=until,
            systems=systems,
            store=store,
            progress=progress,
            cache_dir=cache_dir,
        )
        succeeded(report)
    return report


def _run_view(
    spec: Spec,
    view: str,
    *,
    since: dt.datetime | dt.date | None,
    until: dt.datetime | dt.date | None,
    systems: Mapping[str, str] | None,
    store: str | None,
    progress: Callable[[Progress], None] | None,
    cache_dir: Path | None,
) -> RunReport:
    started = time.monotonic()
    vspec = view_spec(spec, view)
    if since is not None and until is not None and since >= until:
        raise SpecError([SpecProblem("run", None, "since", "since must come before until")])
    transform = _load_transform(view, vspec.transform)
    backfill = since is not None or until is not None
    watermark = vspec.watermark or vspec.timestamp
    if backfill and watermark is None:
        raise SpecError(
            [
                SpecProblem(
                    "spec",
                    None,
                    f"features.views.{view}",
                    "a backfill needs a timestamp or watermark to bound",
                )
            ]
        )
    feature_store = FeatureStore(store_url(spec, store, cache_dir))
    source = open_source(spec, view, systems=systems, cache_dir=cache_dir, by_time=backfill)
    try:
        if backfill:
            low: Any = since
            high: Any = until
        else:
            last = feature_store.watermark(view) if watermark is not None else None
            low, high = _less_lookback(last, vspec.lookback_s), None
        schema = source.schema
        if transform is not None:
            schema = _transformed_schema(transform, source, low, high)
        table = feature_store.table_for(view, vspec, schema)
        key = RunKey(view, _text(since), _text(until))
        stage = feature_store.begin(table, run=key)
        resumed_rows = stage.rows
        resumed = stage.resumed
        columns = tuple(schema)

        def report(total: int | None) -> None:
            if progress is not None:
                elapsed = time.monotonic() - started
                progress(Progress(view, stage.rows, elapsed, total, resumed_rows))

        report(None)
        batches = source.batches(resume=stage.checkpoint, low=low, high=high)
        try:
            for batch in _apply(transform, batches, columns):
                stage.append(batch)
                total = source.estimated_rows
                report(None if total is None else total + resumed_rows)
        except BaseException:
            with contextlib.suppress(Exception):  # the batch in flight is staged all the same
                stage.close()
            raise
        quality = stage.check(vspec.checks)
        if not quality.ok:
            stage.abandon(quality)
            raise QualityFailed(quality)
        result = stage.commit(watermark_column=watermark, advance=not backfill)
    finally:
        source.close()
        feature_store.close()
    return RunReport(
        view=view,
        rows=result.rows,
        written=result.written,
        latest_written=result.latest_written,
        watermark=result.watermark,
        backfill=backfill,
        resumed=resumed,
        elapsed_s=time.monotonic() - started,
        quality=quality,
    )


def _text(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _less_lookback(last: Any, lookback_s: float) -> Any:
    """The lowest watermark a run reads: the last one less the lookback."""
    if last is None or not lookback_s:
        return last
    if isinstance(last, dt.datetime | dt.date):
        return last - dt.timedelta(seconds=lookback_s)
    if isinstance(last, int | decimal.Decimal) and not isinstance(last, bool):
        return last - int(lookback_s)
    return last  # text: read again from the last value itself


def _load_transform(view: str, name: str | None) -> Transform | None:
    if name is None:
        return None
    module_name, _, attribute = name.partition(":")
    where = f"features.views.{view}.transform"
    try:
        module = importlib.import_module(module_name)
        found = getattr(module, attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise SpecError(
            [SpecProblem("spec", None, where, f"cannot load {name!r}: {exc}")]
        ) from None
    if not callable(found):
        raise SpecError([SpecProblem("spec", None, where, f"{name!r} is not callable")])
    transform: Transform = found
    return transform


def _apply(
    transform: Transform | None, batches: Iterator[Batch], columns: tuple[str, ...]
) -> Iterator[Batch]:
    if transform is None:
        yield from batches
        return
    for batch in batches:
        out = transform([dict(zip(batch.columns, row, strict=True)) for row in batch.rows])
        rows = [tuple(item.get(c) for c in columns) for item in out]
        yield Batch(columns, rows, batch.checkpoint)


def _transformed_schema(transform: Transform, source: Source, low: Any, high: Any) -> Schema:
    """The columns a transform answers with: declared, else read off its first answer."""
    declared = getattr(transform, "schema", None)
    if isinstance(declared, dict):
        return dict(declared)
    batches = source.batches(resume=None, low=low, high=high)
    try:
        first = next(batches, None)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if first is None:
        return dict(source.schema)
    out = transform([dict(zip(first.columns, row, strict=True)) for row in first.rows])
    schema: Schema = {}
    for item in out:
        for name, value in item.items():
            if schema.get(name) is None:
                kind = value_kind(value)
                if kind is not None:
                    schema[name] = kind
    for item in out[:1]:
        for name in item:
            schema.setdefault(name, source.schema.get(name, "string"))
    return schema
