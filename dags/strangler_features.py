"""One Airflow DAG per feature view of the strangler spec.

The spec is found by the environment variable ``STRANGLER_SPEC``, else the
Airflow Variable ``strangler_spec``; a relative path is taken from this file's
folder, so a spec shipped beside the DAG files is found on every worker. Each
view ``V`` of the spec's ``features:`` section becomes the DAG
``strangler_features_V`` with one task, ``load``, that runs
:func:`strangler.etl.run_view`:

* schedule, retries and retry delay come from the view; its ``sla_s`` becomes a
  deadline alert (Airflow 3's successor of SLAs) counted from when the run is
  queued, which calls :func:`deadline_missed` when the run has not ended in time
  (on the executor named by ``STRANGLER_DEADLINE_EXECUTOR``, else the default);
* the feature table is the task's outlet :class:`~airflow.sdk.Asset`
  ``strangler_features.<table>``, so a downstream DAG (a model refresh)
  schedules on it;
* Airflow connections ``strangler_<system>`` and ``strangler_features`` (the
  feature store), when defined, replace the spec's addresses: an ``odbc``
  connection as a raw ODBC string, others as a SQLAlchemy URL (from the
  provider's hook, or the connection's extra ``url``);
* a manual run may pass ``since`` and ``until`` (ISO dates) to backfill.

The task keeps nothing in local files or process memory: the incremental
state (watermarks, the staged rows of an interrupted run) lives in the feature
store's database, so Celery and Kubernetes workers run it unchanged. strangler
is imported inside the task; parsing this file reads only the spec.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, Param, Variable, dag, task

# Not in airflow.sdk's type stubs (3.3); the modules the documentation imports them from.
from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

if TYPE_CHECKING:
    from strangler.etl import Progress, RunReport
    from strangler.spec.features import FeaturesSpec, FeatureViewSpec
    from strangler.spec.models import Spec

SPEC_ENV = "STRANGLER_SPEC"
SPEC_VARIABLE = "strangler_spec"
DEADLINE_EXECUTOR_ENV = "STRANGLER_DEADLINE_EXECUTOR"  # which executor runs deadline callbacks
CONN_PREFIX = "strangler_"
STORE_CONN = "strangler_features"
DAG_PREFIX = "strangler_features_"
ASSET_PREFIX = "strangler_features."
START = datetime(2024, 1, 1, tzinfo=UTC)

log = logging.getLogger(__name__)


def spec_path() -> Path:
    """The spec file: ``$STRANGLER_SPEC``, else the Variable ``strangler_spec``."""
    value = os.environ.get(SPEC_ENV) or Variable.get(SPEC_VARIABLE, default=None)
    if not value:
        raise RuntimeError(
            f"no strangler spec: set the environment variable {SPEC_ENV} "
            f"or the Airflow Variable {SPEC_VARIABLE} to the spec file's path"
        )
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(__file__).resolve().parent / path


def load() -> Spec:
    """The validated spec (a :class:`~strangler.errors.SpecError` names file and line)."""
    from strangler.spec.loader import load_spec

    return load_spec(spec_path())


def features_of(spec: Spec) -> FeaturesSpec:
    features: FeaturesSpec | None = spec.section("features")
    if features is None:
        raise RuntimeError(f"the spec {spec_path()} has no features: section")
    return features


def table_of(name: str, view: FeatureViewSpec) -> str:
    """The history table of view ``name``, named as the feature store names it."""
    table = view.table or name
    return f"{table}_v{view.version}" if view.version > 1 else table


def asset_for(name: str, view: FeatureViewSpec) -> Asset:
    """The feature table of view ``name`` as an Airflow asset."""
    table = table_of(name, view)
    return Asset(
        name=f"{ASSET_PREFIX}{table}",
        uri=f"strangler://features/{table}",
        group="feature_table",
        extra={"view": name, "entity": list(view.entity)},
    )


def deadline_missed(context: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    """Called when a view's run has not ended within its ``sla_s``.

    Airflow passes the run (``dag_run``, as its REST API shows it) and the
    ``deadline`` in ``context``, and the DAG's ``view`` and ``sla_s``.
    """
    run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    log.warning(
        "feature view %s: run %s has not ended within %s s (deadline %s)",
        kwargs.get("view"),
        run.get("dag_run_id") if isinstance(run, Mapping) else run,
        kwargs.get("sla_s"),
        deadline.get("deadline_time") if isinstance(deadline, Mapping) else deadline,
    )


def connection_url(conn_id: str) -> str | None:
    """The Airflow connection ``conn_id`` as an address strangler takes; ``None`` if undefined.

    ``odbc`` connections become raw ODBC strings (the ODBC provider builds them;
    a driver named in the extra needs ``[providers.odbc] allow_driver_in_extra``);
    an extra ``url`` is taken as it is; other types give their hook's SQLAlchemy URL.
    """
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    url = conn.extra_dejson.get("url")
    if isinstance(url, str) and url:
        return url
    if conn.conn_type == "odbc":
        from airflow.providers.odbc.hooks.odbc import OdbcHook

        text: str = OdbcHook(odbc_conn_id=conn_id).odbc_connection_string
        return text
    try:
        built = conn.get_hook().sqlalchemy_url
    except Exception as exc:  # no hook for the type, or one that builds no URL
        raise ValueError(
            f"connection {conn_id!r} of type {conn.conn_type!r} gives no SQLAlchemy URL: "
            "use an odbc connection, a database type whose provider builds one "
            "(postgres, mysql...), or put the address in the extra as 'url'"
        ) from exc
    return str(built.render_as_string(hide_password=False))


def _moment(value: object, field: str) -> datetime | date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} must be an ISO date or date-time, not {value!r}")
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{field} must be an ISO date or date-time, not {value!r}") from exc


def run(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Run view ``name`` with the connections resolved; the run's summary (JSON-able).

    What a retry cannot mend (the spec, a connection that gives no address, a
    failed data-quality check) fails the task at once, without its retries.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from strangler.errors import SpecError
    from strangler.etl import QualityFailed, run_view

    try:
        spec = load()
        features = features_of(spec)
        if name not in features.views:
            raise ValueError(f"the spec {spec_path()} has no such view any more")
        view = features.views[name]
        since = _moment(params.get("since"), "since")
        until = _moment(params.get("until"), "until")
        system = view.source.system
        url = connection_url(CONN_PREFIX + system)
        store = connection_url(STORE_CONN) or features.store
    except (SpecError, ValueError) as exc:
        raise AirflowFailException(f"feature view {name}: {exc}") from exc
    if not store:
        raise AirflowFailException(
            f"no feature store: define the connection {STORE_CONN!r} or features.store in the "
            "spec (a local SQLite file does not outlive a worker)"
        )
    log.info("feature view %s from %s%s", name, system, " (connection)" if url else "")
    try:
        report = run_view(
            spec,
            name,
            since=since,
            until=until,
            systems={system: url} if url else {},
            store=store,
            progress=_Progress(),
        )
    except (QualityFailed, SpecError) as exc:
        raise AirflowFailException(str(exc)) from exc
    return summary(report)


class _Progress:
    """Logs a run's progress at most every ``every_s`` seconds."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s = every_s
        self.next_at = time.monotonic() + every_s

    def __call__(self, progress: Progress) -> None:
        if time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + self.every_s
        of = f" of about {progress.total}" if progress.total is not None else ""
        log.info(
            "feature view %s: %d rows%s, %.0f rows/s, %.0f s",
            progress.view,
            progress.rows,
            of,
            progress.rows_per_s,
            progress.elapsed_s,
        )


def summary(report: RunReport) -> dict[str, Any]:
    """A run report as JSON-able values (for XCom and the asset event)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(report):
        value = getattr(report, field.name)
        if isinstance(value, date):
            values[field.name] = value.isoformat()
        elif value is None or isinstance(value, str | int | float | bool):
            values[field.name] = value
        elif isinstance(value, Decimal):
            values[field.name] = str(value)
    return values


def build(name: str, view: FeatureViewSpec) -> Any:
    """The DAG of view ``name``."""
    asset = asset_for(name, view)
    deadline = None
    if view.sla_s is not None:
        deadline = DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(seconds=view.sla_s),
            callback=SyncCallback(
                deadline_missed,
                kwargs={"view": name, "sla_s": view.sla_s},
                executor=os.environ.get(DEADLINE_EXECUTOR_ENV) or None,
            ),
        )

    @dag(
        dag_id=f"{DAG_PREFIX}{name}",
        description=f"ETL of the feature view {name} into {table_of(name, view)}",
        schedule=view.schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        deadline=deadline,
        default_args={
            "retries": view.retries,
            "retry_delay": timedelta(seconds=view.retry_delay_s),
        },
        params={
            "since": Param(None, type=["null", "string"], description="Backfill from (ISO)."),
            "until": Param(None, type=["null", "string"], description="Backfill until (ISO)."),
        },
        tags=["strangler", "features"],
    )
    def feature_view() -> None:
        @task(task_id="load", outlets=[asset])
        def load_view(**context: Any) -> dict[str, Any]:
            result = run(name, context["params"])
            context["outlet_events"][asset].extra = result
            return result

        load_view()

    return feature_view()


for _name, _view in features_of(load()).views.items():
    globals()[f"{DAG_PREFIX}{_name}"] = build(_name, _view)
