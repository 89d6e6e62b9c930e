"""The Feast repository over the feature tables, checked by Feast itself.

Two views are loaded by ``run_view`` from a SQLite source into a fresh PostgreSQL
store; ``write_feast_repo`` writes the repository; Feast's own ``feast plan`` and
``feast apply`` (in the environment that has Feast, see :func:`feast_python`) must
accept it, and Feast's ``get_historical_features`` must answer what the store's
``features_as_of`` answers for the same entities and times.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strangler.cli import app
from strangler.errors import SpecError, StranglerError
from strangler.etl.feast import write_feast_repo
from strangler.etl.run import run_view
from strangler.etl.store import FeatureStore
from strangler.spec import Spec, parse_spec
from tests.etl.stores import fresh_database
from tests.servers import unused_address

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
ORDERS = [  # ORDER_NO, CUST_NO, ORDERED_AT, TOTAL, QTY, PAID, CHANNEL
    (1, "C1", T0, "10.50", 1, 1, "web"),
    (2, "C1", T0 + timedelta(days=2), "20.00", 2, 0, "store"),
    (3, "C1", T0 + timedelta(days=9), "7.25", 4, 1, None),
    (4, "C2", T0 + timedelta(hours=5), None, 5, None, "phone"),
    (5, "C3", T0 + timedelta(days=1), "99.99", 1, 1, "web"),
]
CUSTOMERS = [("C1", "Ada", "north"), ("C2", "Brian", "south"), ("C3", "Chen", None)]
TTL_S = 3 * 86400


def feast_python() -> Path:
    """The Python of the environment with Feast (``$STRANGLER_FEAST_PYTHON``, by default
    the Airflow environment that ``./run setup`` makes)."""
    return Path(os.environ.get("STRANGLER_FEAST_PYTHON", ROOT / ".venv-airflow/bin/python"))


def feast(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Feast's own command line, run in the repository."""
    binary = feast_python().with_name("feast")
    return subprocess.run(
        [str(binary), *args], cwd=repo, capture_output=True, text=True, timeout=300, check=False
    )


def spec_text(source: Path, store: str) -> str:
    return f"""
version: 1
systems:
  erp:
    kind: database
    url: sqlite:///{source}
    naming: camelCase
    tables: {{ORDERS: {{}}, CUSTOMERS: {{}}}}
features:
  store: {store}
  views:
    customer_orders:
      source: {{from: erp.orders}}
      entity: custNo
      timestamp: orderedAt
      features: [total, qty, paid, channel]
      ttl_s: {TTL_S}
      table: CustomerOrders             # a name PostgreSQL keeps only quoted
    customer_master:
      source: {{from: erp.customers}}
      entity: custNo
  services:
    customer_features: [customer_orders, customer_master]
"""


def make_source(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE ORDERS (ORDER_NO INTEGER PRIMARY KEY, CUST_NO TEXT NOT NULL, "
        "ORDERED_AT TIMESTAMP NOT NULL, TOTAL NUMERIC(10,2), QTY INTEGER, PAID BOOLEAN, "
        "CHANNEL TEXT)"
    )
    conn.executemany(
        "INSERT INTO ORDERS VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(n, c, t.strftime("%Y-%m-%d %H:%M:%S"), *rest) for n, c, t, *rest in ORDERS],
    )
    conn.execute("CREATE TABLE CUSTOMERS (CUST_NO TEXT PRIMARY KEY, NAME TEXT, REGION TEXT)")
    conn.executemany("INSERT INTO CUSTOMERS VALUES (?, ?, ?)", CUSTOMERS)
    conn.commit()
    conn.close()


@dataclass(frozen=True)
class Loaded:
    spec: Spec
    store: str
    folder: Path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """Both views run once into a fresh PostgreSQL store."""
    folder = tmp_path_factory.mktemp("feast")
    make_source(folder / "erp.sqlite")
    with fresh_database("postgresql", folder) as store:
        spec = parse_spec(spec_text(folder / "erp.sqlite", store), base_dir=folder, env={})
        before = write_feast_repo(spec, folder / "before-run")  # kinds from the source
        for view in ("customer_orders", "customer_master"):
            assert run_view(spec, view).rows > 0
        assert before.views == ("customer_orders", "customer_master")
        yield Loaded(spec, store, folder)


@pytest.fixture(scope="module")
def applied(loaded: Loaded) -> Path:
    """The repository written, planned and applied by Feast."""
    repo = write_feast_repo(loaded.spec, loaded.folder / "repo", project="strangler_test")
    plan = feast(repo.path, "plan")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for created in (
        "Created entity custNo",
        "Created feature view customer_orders",
        "Created feature view customer_master",
        "Created feature service customer_features",
    ):
        assert created in plan.stdout, plan.stdout
    applied = feast(repo.path, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    return repo.path


def test_feast_plan_and_apply_accept_the_repository(applied: Path, loaded: Loaded) -> None:
    views = feast(applied, "feature-views", "list")
    assert views.returncode == 0, views.stderr
    listed = {line.split()[0] for line in views.stdout.splitlines()[1:] if line.strip()}
    assert listed == {"customer_orders", "customer_master"}
    entities = feast(applied, "entities", "list")
    assert entities.returncode == 0, entities.stderr
    assert "custNo" in entities.stdout and "STRING" in entities.stdout
    # written before the first run (kinds from the source), the same repository
    before = (loaded.folder / "before-run" / "features.py").read_text()
    assert before == (applied / "features.py").read_text()
    code = before
    assert 'Field(name="total", dtype=Float64)' in code
    assert 'Field(name="qty", dtype=Int64)' in code
    assert 'Field(name="paid", dtype=Bool)' in code
    assert 'timestamp_field="orderedAt"' in code and 'timestamp_field="event_time"' in code
    assert f"ttl=timedelta(seconds={TTL_S})" in code
    assert 'table="\\"CustomerOrders\\""' in code


HISTORICAL = """
import json, sys
import pandas as pd
from feast import FeatureStore
asked = json.load(sys.stdin)
frame = pd.DataFrame({
    "row": range(len(asked["rows"])),
    "custNo": [r["custNo"] for r in asked["rows"]],
    "event_timestamp": pd.to_datetime([r["at"] for r in asked["rows"]], utc=True, format="ISO8601"),
})
store = FeatureStore(repo_path=".")
found = store.get_historical_features(entity_df=frame, features=asked["features"]).to_df()
print(found.drop(columns=["event_timestamp"]).to_json(orient="records"))
"""


def historical(repo: Path, rows: list[dict[str, Any]], features: list[str]) -> list[dict[str, Any]]:
    """Feast's point-in-time join, through its Python API in the Feast environment."""
    asked = json.dumps(
        {"rows": [{**r, "at": r["at"].isoformat()} for r in rows], "features": features}
    )
    done = subprocess.run(
        [str(feast_python()), "-c", HISTORICAL],
        cwd=repo,
        input=asked,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return sorted(records, key=lambda r: int(r["row"]))


def plain(value: Any) -> Any:
    """A value as both sides can be compared: numbers as floats, NaN as None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | int | float):
        return float(value)
    return value


def test_feast_reads_what_features_as_of_reads(applied: Path, loaded: Loaded) -> None:
    day = timedelta(days=1)
    rows: list[dict[str, Any]] = [
        {"custNo": "C1", "at": T0 - day},  # before any order
        {"custNo": "C1", "at": T0},  # exactly at an order
        {"custNo": "C1", "at": T0 + day},
        {"custNo": "C1", "at": T0 + 2 * day + timedelta(seconds=1)},
        {"custNo": "C1", "at": T0 + 6 * day},  # the last order is older than the ttl
        {"custNo": "C1", "at": T0 + 30 * day},  # a later order, past the ttl too
        {"custNo": "C1", "at": T0 + 9 * day + timedelta(hours=1)},
        {"custNo": "C2", "at": T0 + day},  # nulls
        {"custNo": "C3", "at": T0 + 2 * day},
        {"custNo": "C9", "at": T0 + day},  # unknown
    ]
    features = ["total", "qty", "paid", "channel"]
    found = historical(applied, rows, [f"customer_orders:{f}" for f in features])
    store = FeatureStore(loaded.store)
    try:
        expected = store.features_as_of(
            "customer_orders", [{"custNo": r["custNo"]} for r in rows], [r["at"] for r in rows]
        )
    finally:
        store.close()
    assert len(found) == len(rows)
    hits = 0
    for asked, feast_row, ours in zip(rows, found, expected, strict=True):
        theirs = {f: plain(feast_row[f]) for f in features}
        mine = {f: plain(ours[f]) if ours else None for f in features}
        assert theirs == mine, (asked, theirs, mine)
        hits += ours is not None
    assert hits == 6  # the cases above: 6 rows found, 4 none


def test_the_service_joins_both_views(applied: Path) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)  # the snapshot's event time is its load
    found = historical(
        applied,
        [{"custNo": "C2", "at": later}, {"custNo": "C3", "at": T0 + 2 * timedelta(days=1)}],
        ["customer_master:name", "customer_master:region", "customer_orders:qty"],
    )
    assert [(r["name"], r["region"]) for r in found] == [("Brian", "south"), (None, None)]
    assert [plain(r["qty"]) for r in found] == [None, 1.0]


def test_cli_writes_the_repository(loaded: Loaded, tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(spec_text(loaded.folder / "erp.sqlite", loaded.store))
    result = CliRunner().invoke(
        app, ["features", "feast", str(tmp_path / "repo"), "-c", str(spec), "--project", "p1"]
    )
    assert result.exit_code == 0, result.output
    assert "customer_orders, customer_master" in result.output
    text = (tmp_path / "repo" / "feature_store.yaml").read_text()
    assert "project: p1" in text and "type: postgres" in text and 'sslmode: "disable"' in text
    assert 'password: ""' in text


def test_a_sqlite_store_is_refused_with_the_reason(loaded: Loaded, tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(spec_text(loaded.folder / "erp.sqlite", f"sqlite:///{tmp_path}/f.db"))
    result = CliRunner().invoke(app, ["features", "feast", str(tmp_path / "r"), "-c", str(spec)])
    assert result.exit_code == 1
    assert "features.store" in result.output and "PostgreSQL" in result.output
    assert not (tmp_path / "r").exists()
    default = parse_spec(spec_text(loaded.folder / "erp.sqlite", '""'), env={})
    with pytest.raises(SpecError, match="default SQLite store has none"):
        write_feast_repo(default, tmp_path / "r")


def test_a_password_is_read_from_the_environment(loaded: Loaded, tmp_path: Path) -> None:
    url = loaded.store.replace("postgres@", "postgres:hunter2@")
    repo = write_feast_repo(loaded.spec, tmp_path / "r", store=url)
    text = (repo.path / "feature_store.yaml").read_text()
    assert "hunter2" not in text and "${STRANGLER_FEAST_PASSWORD}" in text


def test_an_unreachable_store_is_a_clear_error(loaded: Loaded, tmp_path: Path) -> None:
    port = unused_address().rsplit(":", 1)[1]
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{port}/nowhere"
    with pytest.raises(StranglerError, match="cannot read the feature store") as raised:
        write_feast_repo(loaded.spec, tmp_path / "r", store=url)
    assert "hunter2" not in str(raised.value) and not (tmp_path / "r").exists()
