"""Data-quality checks over a run's staged rows, in SQL, and their report.

Every per-column figure (null rate, minimum, maximum) comes from one aggregate
query over the staging table; each ``unique`` check is a ``GROUP BY … HAVING``
query; the row-count change compares with the view's last successful run. A row
whose entity key (or event time) is empty is always a failure: it cannot be
loaded. The report reads as a short table::

    Data-quality checks of customer_features (1,204 staged rows): 1 of 3 failed
      ok    total: null rate 0.00% (at most 1.00%)
      FAIL  total: minimum -5 (at least 0)
      ok    row count 1,204 vs 1,150 in the last run: +4.7% (at most ±50%)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from strangler.errors import SpecError, SpecProblem, StranglerError
from strangler.etl.tables import FeatureTable
from strangler.spec.features import CheckSpec

__all__ = ["CheckResult", "QualityFailed", "QualityReport", "run_checks"]

_NUMERIC = ("integer", "float", "decimal")
_SAMPLES = 3


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: what was checked, whether it held, the figures."""

    check: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class QualityReport:
    """The outcome of a run's checks over its staged rows."""

    view: str
    rows: int
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def __str__(self) -> str:
        failed = len(self.failures)
        head = f"Data-quality checks of {self.view} ({self.rows:,} staged rows): " + (
            f"{failed} of {len(self.results)} failed" if failed else "all passed"
        )
        lines = [f"  {'ok  ' if r.ok else 'FAIL'}  {r.check}: {r.detail}" for r in self.results]
        return "\n".join([head, *lines])


class QualityFailed(StranglerError):
    """A run broke a data-quality check; nothing of it was loaded. ``str()`` is the report."""

    def __init__(self, report: QualityReport) -> None:
        self.report = report
        super().__init__(str(report))


def run_checks(
    connection: sa.Connection,
    table: FeatureTable,
    checks: Sequence[CheckSpec],
    *,
    previous_rows: int | None,
) -> QualityReport:
    """Run ``checks`` (and the key check) over ``table``'s staged rows."""
    stage = table.stage
    _validate(table, checks)
    keys = [c for c in table.key if c in stage.c]
    figures: list[sa.ColumnElement[Any]] = [
        sa.func.count().label("n"),
        sa.func.coalesce(
            sa.func.sum(sa.case((sa.or_(*[stage.c[k].is_(None) for k in keys]), 1), else_=0)),
            0,
        ).label("empty_keys"),
    ]
    for i, check in enumerate(checks):
        if check.column is not None:
            column = stage.c[check.column]
            figures += [
                sa.func.count(column).label(f"c{i}"),
                sa.func.min(column).label(f"min{i}"),
                sa.func.max(column).label(f"max{i}"),
            ]
    row = connection.execute(sa.select(*figures)).one()._mapping
    rows = int(row["n"])
    results = [
        CheckResult(
            f"key ({', '.join(keys)})",
            row["empty_keys"] == 0,
            f"{row['empty_keys']:,} rows with an empty key value"
            if row["empty_keys"]
            else "never empty",
        )
    ]
    for i, check in enumerate(checks):
        if check.column is not None:
            results += _column(check, rows, int(row[f"c{i}"]), row[f"min{i}"], row[f"max{i}"])
        if check.unique:
            results.append(_unique(connection, table, check.unique))
        if check.max_row_change is not None:
            results.append(_row_change(check.max_row_change, rows, previous_rows))
    return QualityReport(table.view, rows, tuple(results))


def _validate(table: FeatureTable, checks: Sequence[CheckSpec]) -> None:
    problems: list[SpecProblem] = []
    for i, check in enumerate(checks):
        where = f"features.views.{table.view}.checks[{i}]"
        named = [*([check.column] if check.column else []), *(check.unique or [])]
        for column in named:
            if column not in table.stage.c or column == "_row":
                problems.append(SpecProblem("spec", None, where, f"no column {column!r}"))
        kind = table.schema.get(check.column or "")
        if (check.min is not None or check.max is not None) and kind not in _NUMERIC:
            problems.append(
                SpecProblem("spec", None, where, f"min/max need a number column, not {kind}")
            )
    if problems:
        raise SpecError(problems)


def _column(check: CheckSpec, rows: int, filled: int, low: Any, high: Any) -> list[CheckResult]:
    name = check.column
    out: list[CheckResult] = []
    if check.max_null_rate is not None:
        rate = (rows - filled) / rows if rows else 0.0
        out.append(
            CheckResult(
                f"{name}: null rate",
                rate <= check.max_null_rate,
                f"{rate:.2%} of {rows:,} rows (at most {check.max_null_rate:.2%})",
            )
        )
    if check.min is not None:
        out.append(
            CheckResult(
                f"{name}: minimum",
                low is None or low >= check.min,
                f"{low} (at least {check.min:g})",
            )
        )
    if check.max is not None:
        out.append(
            CheckResult(
                f"{name}: maximum",
                high is None or high <= check.max,
                f"{high} (at most {check.max:g})",
            )
        )
    return out


def _unique(connection: sa.Connection, table: FeatureTable, columns: list[str]) -> CheckResult:
    stage = table.stage
    group = [stage.c[c] for c in columns]
    repeated = (
        sa.select(*group, sa.func.count().label("times"))
        .group_by(*group)
        .having(sa.func.count() > 1)
    )
    count = connection.execute(sa.select(sa.func.count()).select_from(repeated.subquery())).scalar()
    name = f"unique ({', '.join(columns)})"
    if not count:
        return CheckResult(name, True, "no repeated values")
    samples = connection.execute(repeated.order_by(sa.desc("times"), *group).limit(_SAMPLES)).all()
    shown = "; ".join(
        f"{', '.join(_show(v) for v in sample[:-1])} ({sample[-1]} times)" for sample in samples
    )
    return CheckResult(name, False, f"{count:,} values repeated, e.g. {shown}")


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) or value is None else str(value)


def _row_change(limit: float, rows: int, previous: int | None) -> CheckResult:
    name = "row count"
    if previous is None:
        return CheckResult(name, True, f"{rows:,} (no earlier successful run to compare)")
    if previous == 0:
        return CheckResult(name, True, f"{rows:,} (the last run had no rows to compare)")
    change = (rows - previous) / previous
    return CheckResult(
        name,
        abs(change) <= limit,
        f"{rows:,} vs {previous:,} in the last run: {change:+.1%} (at most ±{limit:.0%})",
    )
