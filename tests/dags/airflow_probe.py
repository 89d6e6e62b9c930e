"""Run by the Airflow environment's Python (``.venv-airflow``), never by pytest itself.

* ``airflow_probe.py dagbag FOLDER``: load the DAG folder with Airflow's DagBag
  and describe what it holds.
* ``airflow_probe.py test FOLDER DAG_ID [CONF] [--executor]``: one ``dag.test()``
  run of the DAG (its tasks run by the configured executor with ``--executor``,
  else in this process), then its state, the load task's return value, the
  events of the task's outlet assets and the DAGs queued to run on them.
  Connections in ``$PROBE_DB_CONNECTIONS`` (JSON) are stored in the metadata
  database for the run (where a deployment's workers get them from) and removed
  after it.
* ``airflow_probe.py deadline FOLDER DAG_ID``: the DAG's deadline callback,
  called as an executor calls it when the deadline is missed.

The answer is the last stdout line, ``PROBE <json>``; everything above it is
Airflow's log. A probe still running after ``$PROBE_DEADLINE_S`` seconds writes
every thread's stack to stderr and exits, so a hang is reported with where it hung.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _dagbag(folder: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=folder)


def describe(folder: str) -> dict[str, Any]:
    started = time.monotonic()
    bag = _dagbag(folder)
    seconds = time.monotonic() - started
    dags: dict[str, Any] = {}
    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        dags[dag_id] = {
            "schedule": dag.schedule if isinstance(dag.schedule, str | None) else str(dag.schedule),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags),
            "params": sorted(dag.params.keys()),
            "deadlines": [
                {
                    "reference": type(alert.reference).__name__,
                    "seconds": alert.interval.total_seconds(),
                    "callback": alert.callback.path,
                    "kwargs": alert.callback.kwargs,
                    "executor": getattr(alert.callback, "executor", None),
                }
                for alert in dag.deadline or []
            ],
            "tasks": {
                task.task_id: {
                    "retries": task.retries,
                    "retry_delay": task.retry_delay.total_seconds(),
                    "outlets": [{"name": a.name, "uri": a.uri} for a in task.outlets],
                }
                for task in dag.tasks
            },
        }
    files = {stat.file: stat.duration.total_seconds() for stat in bag.dagbag_stats}
    return {"seconds": seconds, "files": files, "import_errors": bag.import_errors, "dags": dags}


_STUCK_WORKERS: list[int] = []
"""Executor workers that :func:`_bounded_end` had to stop (their pids)."""


def _bounded_end(self: Any) -> None:
    """``LocalExecutor.end`` with a bound: send each worker its stop message, wait for
    them at most 10 s, then stop the ones still there (the run has ended: they are idle).

    Airflow's own ``end`` joins every worker without a bound, and now and then one of
    them never reads its stop message (apache/airflow#45329, #67870), so ``dag.test``
    would never return though its run has ended.
    """
    for proc in self.workers.values():
        if proc.is_alive():
            self.activity_queue.put(None)
    deadline = time.monotonic() + 10
    for proc in self.workers.values():
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            _STUCK_WORKERS.append(proc.pid)
            proc.terminate()
            proc.join()
        proc.close()
    self._read_results()
    self.activity_queue.close()
    self.result_queue.close()


def test(folder: str, dag_id: str, conf: dict[str, Any], executor: bool) -> dict[str, Any]:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if executor:
        from airflow.executors.local_executor import LocalExecutor

        LocalExecutor.end = _bounded_end  # type: ignore[method-assign]
    bag = _dagbag(folder)
    if bag.import_errors:
        return {"import_errors": bag.import_errors}
    dag = bag.get_dag(dag_id)
    stored = _store_connections(json.loads(os.environ.get("PROBE_DB_CONNECTIONS", "{}")))
    try:
        started = time.monotonic()
        run = dag.test(run_conf=conf or None, use_executor=executor)
        seconds = time.monotonic() - started
    finally:
        _drop_connections(stored)
    outlets = [a.name for t in dag.tasks for a in t.outlets]
    with create_session() as session:
        xcom = session.scalars(
            select(XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == "load",
                XComModel.key == "return_value",
            )
        ).first()
        events = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name.in_(outlets), AssetEvent.source_run_id == run.run_id)
        ).all()
        queued = session.scalars(
            select(AssetDagRunQueue.target_dag_id)
            .join(AssetModel, AssetDagRunQueue.asset_id == AssetModel.id)
            .where(AssetModel.name.in_(outlets))
        ).all()
        tries = {ti.task_id: [ti.state, ti.try_number] for ti in run.get_task_instances()}
        return {
            "state": str(run.state),
            "seconds": seconds,
            "tasks": tries,
            "result": XComModel.deserialize_value(_Row(xcom)) if xcom is not None else None,
            "events": [{"asset": name, "extra": extra} for name, extra in events],
            "queued": sorted(queued),
            "stuck_workers": len(_STUCK_WORKERS),
        }


def _store_connections(connections: dict[str, dict[str, Any]]) -> list[str]:
    """Put connections in the metadata database, where the API server serves them."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        for conn_id, fields in connections.items():
            extra = fields.get("extra")
            session.add(
                Connection(
                    conn_id=conn_id,
                    **{k: v for k, v in fields.items() if k != "extra"},
                    extra=json.dumps(extra) if extra is not None else None,
                )
            )
    return list(connections)


def _drop_connections(conn_ids: list[str]) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    if conn_ids:
        with create_session() as session:
            session.execute(delete(Connection).where(Connection.conn_id.in_(conn_ids)))


class _Row:
    """What :meth:`XComModel.deserialize_value` reads: an object with ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value


def deadline(folder: str, dag_id: str) -> dict[str, Any]:
    """Call the DAG's deadline callback as an executor does when the deadline is missed:
    by the path its serialized form keeps, with the context the scheduler gives."""
    import structlog
    from airflow.sdk.execution_time.callback_supervisor import execute_callback
    from airflow.serialization.serialized_objects import DagSerialization

    dag = _dagbag(folder).get_dag(dag_id)
    [alert] = DagSerialization.serialize_dag(dag)["deadline"]
    callback = alert["callback"]["__data__"]  # as the scheduler reads it back
    context = {
        "dag_run": {"dag_id": dag_id, "dag_run_id": "scheduled__2026-01-01T00:00:00+00:00"},
        "deadline": {"id": "0", "deadline_time": "2026-01-01T00:15:00+00:00"},
    }
    ok, error = execute_callback(
        callback_path=callback["path"],
        callback_kwargs={**callback["kwargs"], "context": context},
        dag_rel_path=Path(dag.fileloc).resolve().relative_to(Path(folder).resolve()),
        bundle_path=Path(folder),
        log=structlog.get_logger("probe"),
    )
    return {"ok": ok, "error": error, "path": callback["path"]}


def main(argv: list[str]) -> None:
    if argv[0] == "dagbag":
        answer = describe(argv[1])
    elif argv[0] == "deadline":
        answer = deadline(argv[1], argv[2])
    elif argv[0] == "test":
        executor = "--executor" in argv
        args = [a for a in argv if a != "--executor"]
        answer = test(args[1], args[2], json.loads(args[3]) if len(args) > 3 else {}, executor)
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    sys.stdout.flush()
    print("PROBE " + json.dumps(answer, default=str), flush=True)


if __name__ == "__main__":
    if deadline_s := float(os.environ.get("PROBE_DEADLINE_S", "0")):
        faulthandler.dump_traceback_later(deadline_s, exit=True)
    main(sys.argv[1:])
