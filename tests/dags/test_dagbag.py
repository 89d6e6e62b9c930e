"""Airflow's DagBag loads ``dags/`` with no import error: one DAG per feature view,
with the view's schedule, retries, deadline and feature-table asset; a broken or
missing spec is an import error that says what to fix."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from strangler.etl.tables import FeatureTable
from strangler.spec.loader import parse_spec
from tests.dags.conftest import ROOT, Airflow

SPEC = """
systems:
  erp:
    kind: database
    odbc: "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;DATABASE=erp;UID=root;PWD="
    tables:
      ORDERS:
        as: orders
        key: [ORDER_NO]
        fields:
          ORDER_NO: {as: orderNumber, width: 8}
          CUST_NO: {as: customerNumber, width: 8}
          ORDER_DATE: {as: orderDate, date: DD.MM.YYYY}
features:
  views:
    customer_orders:
      source: {from: erp.orders}
      entity: customerNumber
      timestamp: orderDate
      table: customer_orders_v2
      schedule: "30 2 * * *"
      retries: 4
      retry_delay_s: 90
      sla_s: 900
    order_counts:
      source:
        from: erp
        query: SELECT CUST_NO, COUNT(*) AS N FROM ORDERS GROUP BY CUST_NO
        fields: {CUST_NO: {as: customerNumber, width: 8}, N: orders}
      entity: customerNumber
      version: 3
"""


def test_one_dag_per_view_with_schedule_retries_deadline_and_asset(
    airflow: Airflow, tmp_path: Path
) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(SPEC)
    bag = airflow.probe("dagbag", str(ROOT / "dags"), spec=spec)
    assert bag["import_errors"] == {}
    dags = bag["dags"]
    assert set(dags) == {"strangler_features_customer_orders", "strangler_features_order_counts"}

    orders = dags["strangler_features_customer_orders"]
    assert orders["schedule"] == "30 2 * * *"
    assert (orders["catchup"], orders["max_active_runs"]) == (False, 1)
    assert orders["params"] == ["since", "until"]
    load = orders["tasks"]["load"]
    assert (load["retries"], load["retry_delay"]) == (4, 90.0)
    assert load["outlets"] == [
        {
            "name": "strangler_features.customer_orders_v2",
            "uri": "strangler://features/customer_orders_v2",
        }
    ]
    [deadline] = orders["deadlines"]
    assert deadline["reference"] == "DagRunQueuedAtDeadline"
    assert deadline["seconds"] == 900.0
    assert deadline["callback"].endswith("strangler_features.deadline_missed")
    assert deadline["kwargs"] == {"view": "customer_orders", "sla_s": 900.0}
    assert deadline["executor"] is None  # the default executor

    counts = dags["strangler_features_order_counts"]
    assert counts["schedule"] is None  # no schedule: run by hand or by a trigger
    assert list(counts["tasks"]) == ["load"]
    assert (counts["tasks"]["load"]["retries"], counts["tasks"]["load"]["retry_delay"]) == (
        2,
        300.0,
    )
    # The asset names the table the store makes for the view.
    spec_view = parse_spec(SPEC).section("features").views["order_counts"]
    table = FeatureTable.build("order_counts", spec_view, {"customerNumber": "string"})
    assert table.history.name == "order_counts_v3"
    assert counts["tasks"]["load"]["outlets"] == [
        {
            "name": "strangler_features.order_counts_v3",
            "uri": "strangler://features/order_counts_v3",
        }
    ]
    assert counts["deadlines"] == []


def test_deadline_callbacks_go_to_the_executor_named(airflow: Airflow, tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(SPEC)
    env = {"STRANGLER_DEADLINE_EXECUTOR": "LocalExecutor"}
    bag = airflow.probe("dagbag", str(ROOT / "dags"), spec=spec, env=env)
    [deadline] = bag["dags"]["strangler_features_customer_orders"]["deadlines"]
    assert deadline["executor"] == "LocalExecutor"


def test_the_demo_spec_gives_a_dag_per_view(airflow: Airflow) -> None:
    demo = ROOT / "core" / "strangler" / "demo" / "strangler.yaml"
    bag = airflow.probe("dagbag", str(ROOT / "dags"), spec=demo)
    assert bag["import_errors"] == {}
    assert set(bag["dags"]) == {
        f"strangler_features_{view}"
        for view in (
            "item_sales",
            "item_stock",
            "item_catalogue",
            "customer_orders",
            "customer_profile",
        )
    }
    assert bag["dags"]["strangler_features_item_stock"]["schedule"] == "@hourly"
    assert bag["files"]["strangler_features.py"] < 5, "parsing the DAG file should stay quick"


def test_a_broken_spec_is_an_import_error_naming_file_and_line(
    airflow: Airflow, tmp_path: Path
) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(SPEC.replace("retries: 4", "retries: -1"))
    bag = airflow.probe("dagbag", str(ROOT / "dags"), spec=spec)
    assert bag["dags"] == {}
    [error] = bag["import_errors"].values()
    assert re.search(
        rf"{re.escape(str(spec))}:\d+: features\.views\.customer_orders\.retries", error
    )


def test_no_spec_is_an_import_error_saying_how_to_give_one(airflow: Airflow) -> None:
    bag = airflow.probe("dagbag", str(ROOT / "dags"), spec=None)
    assert bag["dags"] == {}
    [error] = bag["import_errors"].values()
    assert "STRANGLER_SPEC" in error and "strangler_spec" in error, error


def test_the_deadline_callback_runs_as_airflow_calls_it(airflow: Airflow, tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(SPEC)
    answer = airflow.probe(
        "deadline", str(ROOT / "dags"), "strangler_features_customer_orders", spec=spec
    )
    assert (answer["ok"], answer["error"]) == (True, None)
    assert (
        "feature view customer_orders: run scheduled__2026-01-01T00:00:00+00:00 has not ended "
        "within 900.0 s (deadline 2026-01-01T00:15:00+00:00)"
    ) in answer["log"]


def test_the_spec_named_by_a_variable_beside_the_dag_file(airflow: Airflow, tmp_path: Path) -> None:
    # As a DAG bundle ships them: the DAG file and the spec in one folder.
    folder = tmp_path / "bundle"
    folder.mkdir()
    shutil.copy(ROOT / "dags" / "strangler_features.py", folder)
    (folder / "features.yaml").write_text(SPEC)
    env = {"AIRFLOW_VAR_STRANGLER_SPEC": "features.yaml"}  # relative: to the DAG file
    bag = airflow.probe("dagbag", str(folder), spec=None, env=env)
    assert bag["import_errors"] == {}
    assert set(bag["dags"]) == {
        "strangler_features_customer_orders",
        "strangler_features_order_counts",
    }
