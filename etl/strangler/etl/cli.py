"""The ``strangler etl`` commands: ``run`` a feature view, show the views' ``status``."""

from __future__ import annotations

import importlib
import importlib.util

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``strangler etl run`` and ``strangler etl status`` to ``app``."""
    etl = typer.Typer(help="ETL into feature tables.", no_args_is_help=True)
    app.add_typer(etl, name="etl")
    if importlib.util.find_spec("strangler.etl.feast_cli") is not None:
        importlib.import_module("strangler.etl.feast_cli").register(app)
