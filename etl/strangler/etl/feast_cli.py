"""``strangler features feast``: write a Feast feature repository over the feature tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The spec file.")]


def register(app: typer.Typer) -> None:
    """Add ``strangler features feast OUT_DIR`` to ``app``."""
    from strangler.cli import fail, stdout

    features = typer.Typer(help="Feature views for other tools.", no_args_is_help=True)
    app.add_typer(features, name="features")

    @features.command()
    def feast(
        out_dir: Annotated[
            Path, typer.Argument(help="The folder to write (created if missing).", file_okay=False)
        ],
        config: ConfigOption = Path("strangler.yaml"),
        project: Annotated[str, typer.Option(help="The Feast project name.")] = "strangler",
        store: Annotated[
            str | None,
            typer.Option(help="The feature store's URL (default: the spec's features.store)."),
        ] = None,
    ) -> None:
        """Write a Feast repository (feature_store.yaml, features.py) reading the
        feature tables in place; then `feast plan` and `feast apply` in OUT_DIR."""
        from strangler.errors import StranglerError
        from strangler.etl.feast import PASSWORD_VARIABLE, write_feast_repo
        from strangler.spec import load_spec

        try:
            repo = write_feast_repo(load_spec(config), out_dir, project=project, store=store)
        except StranglerError as exc:
            raise fail(exc) from None
        for path in repo.files:
            stdout.print(f"wrote {path}", highlight=False, soft_wrap=True)
        stdout.print(
            f"project {repo.project}: entities {', '.join(repo.entities)}; "
            f"feature views {', '.join(repo.views)}"
            + (f"; services {', '.join(repo.services)}" if repo.services else ""),
            highlight=False,
            soft_wrap=True,
        )
        text = repo.files[0].read_text(encoding="utf-8")
        if PASSWORD_VARIABLE in text:
            stdout.print(
                f"set {PASSWORD_VARIABLE} to the database password", highlight=False, soft_wrap=True
            )
        stdout.print(
            f"next: cd {repo.path} && feast plan && feast apply", highlight=False, soft_wrap=True
        )
