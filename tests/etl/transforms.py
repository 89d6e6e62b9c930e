"""Transforms the run tests name in their views (``tests.etl.transforms:NAME``)."""

from __future__ import annotations

import decimal
import os
import threading
from pathlib import Path
from typing import Any

_calls = 0


def pause_at(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as they are; on call ``$ETL_PAUSE_AT`` write ``$ETL_PAUSE_MARKER`` and wait
    (until the process is killed), holding that chunk."""
    global _calls
    _calls += 1
    if os.environ.get("ETL_PAUSE_AT") == str(_calls):
        Path(os.environ["ETL_PAUSE_MARKER"]).write_text("paused")
        threading.Event().wait()
    return rows


def with_tax(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new column (the total with 19 % tax), one dropped (createdOn)."""
    out = []
    for row in rows:
        item = {k: v for k, v in row.items() if k != "createdOn"}
        item["gross"] = (row["total"] * decimal.Decimal("1.19")).quantize(decimal.Decimal("0.01"))
        out.append(item)
    return out
