"""The ``strangler etl`` commands: ``run`` a feature view, show the views' ``status``.

``run`` draws a progress bar on a terminal (rows, rows/s, elapsed, and the ETA
when the source can tell its size) and prints one line per run otherwise;
``status`` prints a table of the views' watermarks, last runs and row counts.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["parse_moment", "register"]

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The spec file.")]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="SQLAlchemy URL of the feature store (default: the spec's features.store)."
    ),
]


def parse_moment(text: str) -> dt.date | dt.datetime:
    """``2024-05-01`` as a date, ``2024-05-01T10:00`` (or with a space) as a timestamp."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (2024-05-01) or timestamp (2024-05-01T10:00)"
        ) from None


def _systems(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, address = value.partition("=")
        if not sep or not name or not address:
            raise typer.BadParameter(f"{value!r}: give NAME=URL (or NAME=ODBC string)")
        out[name] = address
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def register(app: typer.Typer) -> None:
    """Add ``strangler etl run`` and ``strangler etl status`` to ``app``."""
    from strangler.cli import fail, stdout

    etl = typer.Typer(help="ETL into feature tables.", no_args_is_help=True)
    app.add_typer(etl, name="etl")

    @etl.command()
    def run(
        view: Annotated[str, typer.Argument(help="The feature view (features.views).")],
        config: ConfigOption = Path("strangler.yaml"),
        since: Annotated[
            str | None, typer.Option(help="Backfill from this date or time (inclusive).")
        ] = None,
        until: Annotated[
            str | None, typer.Option(help="Backfill up to this date or time (exclusive).")
        ] = None,
        store: StoreOption = None,
        system: Annotated[
            list[str] | None,
            typer.Option(help="NAME=URL: reach a system at another address for this run."),
        ] = None,
    ) -> None:
        """Load a feature view once: incrementally by its watermark, or a backfill
        with --since/--until (which leaves the watermark as it is)."""
        from strangler.errors import StranglerError
        from strangler.etl.progress import ProgressBar
        from strangler.etl.run import run_view
        from strangler.spec import load_spec

        low = parse_moment(since) if since else None
        high = parse_moment(until) if until else None
        overrides = _systems(system)
        try:
            spec = load_spec(config)
            with ProgressBar(view) as bar:
                report = run_view(
                    spec, view, since=low, until=high, systems=overrides, store=store,
                    progress=bar.update,
                )  # fmt: skip
        except StranglerError as exc:
            raise fail(exc) from None
        kind = "backfill" if report.backfill else "run"
        resumed = ", resumed" if report.resumed else ""
        stdout.print(
            f"{view}: {kind} done{resumed}: {report.rows} rows read, {report.written} written, "
            f"{report.rows_per_s:,.0f} rows/s in {report.elapsed_s:.1f} s; "
            f"watermark {_cell(report.watermark)}",
            highlight=False,
            soft_wrap=True,
        )

    @etl.command()
    def status(config: ConfigOption = Path("strangler.yaml"), store: StoreOption = None) -> None:
        """The feature views' watermarks, last runs and row counts."""
        from rich.console import Console
        from rich.table import Table

        from strangler.errors import StranglerError
        from strangler.etl.run import store_url
        from strangler.etl.store import FeatureStore
        from strangler.spec import load_spec

        try:
            spec = load_spec(config)
            feature_store = FeatureStore(store_url(spec, store))
            try:
                views = feature_store.status()
            finally:
                feature_store.close()
        except StranglerError as exc:
            raise fail(exc) from None
        table = Table(title=f"feature views in {feature_store.describe()}")
        for heading in ("view", "watermark", "last run", "started", "ended", "rows",
                        "history rows", "latest rows"):  # fmt: skip
            table.add_column(heading, overflow="fold")
        known = {v.view for v in views}
        for v in views:
            table.add_row(
                v.view, _cell(v.watermark), _cell(v.last_status), _cell(v.last_started_at),
                _cell(v.last_ended_at), _cell(v.last_rows), str(v.history_rows),
                str(v.latest_rows),
            )  # fmt: skip
        features = spec.section("features")
        for name in sorted(features.views if features is not None else ()):
            if name not in known:
                table.add_row(name, "-", "never run", "-", "-", "-", "0", "0")
        # piped (grep, logs): one line per view, however wide
        out = stdout if stdout.is_terminal else Console(width=max(stdout.width, 200))
        out.print(table)
        failed = [v for v in views if v.last_status == "failed" and v.last_report]
        for v in failed:
            stdout.print(f"{v.view}: last run failed:\n{v.last_report}", highlight=False)

    if importlib.util.find_spec("strangler.etl.feast_cli") is not None:
        importlib.import_module("strangler.etl.feast_cli").register(app)
