"""The demo's feature tables: every view loaded once when the demo starts.

``strangler demo`` runs the ETL of each view of the demo spec (the same
:func:`strangler.etl.run_view` that ``strangler etl run`` and the Airflow DAGs
call) into the estate's SQLite feature store, then serves the tables over REST.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console

from strangler.errors import StranglerError
from strangler.spec.models import Spec

__all__ = ["feature_lines", "load_features"]


def load_features(spec: Spec, console: Console | None = None) -> dict[str, int]:
    """Run every feature view once; rows loaded by view (a view that fails is reported
    and left empty, the others still load)."""
    from strangler.etl import run_view

    features = spec.section("features")
    loaded: dict[str, int] = {}
    for view in features.views if features is not None else {}:
        try:
            report = run_view(spec, view)
        except StranglerError as exc:
            if console is not None:
                console.print(f"  [red]feature view {view} not loaded[/red]: {exc}")
            continue
        loaded[view] = report.rows
    return loaded


def feature_lines(api: str, env: Mapping[str, str]) -> list[str]:
    """How to read the demo's feature tables over REST, and run their ETL again
    (``env``: the demo's addresses, which the demo spec reads from the environment)."""
    from strangler.demo.estate import DEMO_SPEC

    json = "-H 'content-type: application/json'"
    where = " ".join(f"{k}={v}" for k, v in env.items() if k in _ETL_ENV)
    return [
        f"curl -s '{api}/features/item_features/latest?sku=SKU-1001'",
        f"curl -s -X POST {api}/features/customer_features/as-of {json} "
        '-d \'{"entities": [{"customerNumber": "C10001"}], "at": "2023-06-30T00:00:00Z"}\'',
        f"{where} strangler etl run item_sales -c {DEMO_SPEC}",
        f"{where} strangler etl status -c {DEMO_SPEC}",
    ]


_ETL_ENV = ("DEMO_ERP_URL", "DEMO_FEATURES_URL")
