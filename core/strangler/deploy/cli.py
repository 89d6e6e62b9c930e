"""``strangler render k8s SPEC OUT``: the Kustomize tree of :func:`.k8s.render_k8s`.

It joins the ``render`` command group when another part made it (``render nginx``,
``render kong``), and makes the group otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register_cli", "render_group"]


def render_group(app: typer.Typer) -> typer.Typer:
    """The ``render`` group of ``app``, made when no part has made it yet."""
    for group in app.registered_groups:
        if group.name == "render" and group.typer_instance is not None:
            return group.typer_instance
    render = typer.Typer(help="Write configuration rendered from the spec.", no_args_is_help=True)
    app.add_typer(render, name="render")
    return render


def register_cli(app: typer.Typer) -> None:
    """Add ``strangler render k8s``."""
    from strangler.cli import fail, stdout
    from strangler.errors import StranglerError

    @render_group(app).command()
    def k8s(
        spec: Annotated[
            Path, typer.Argument(help="The spec file (strangler.yaml).", dir_okay=False)
        ],
        out: Annotated[Path, typer.Argument(help="The folder to write into.", file_okay=False)],
        name: Annotated[
            str, typer.Option(help="The objects' name prefix and app label.")
        ] = "strangler",
        tag: Annotated[str, typer.Option(help="The image tag of the prod overlay.")] = "latest",
        repo_url: Annotated[
            str | None,
            typer.Option(help="Also write Argo CD Applications syncing from this repository."),
        ] = None,
        repo_path: Annotated[
            str | None,
            typer.Option(help="Where OUT is in that repository (default: OUT as given)."),
        ] = None,
        revision: Annotated[str, typer.Option(help="The revision Argo CD follows.")] = "HEAD",
    ) -> None:
        """Kubernetes: a Kustomize base per role with dev and prod overlays, and components
        for Argo Rollouts and Knative."""
        from strangler.deploy.k8s import render_k8s

        if repo_url is not None and repo_path is None and out.is_absolute():
            raise typer.BadParameter(
                "OUT is an absolute path: say where it is in the repository",
                param_hint="--repo-path",
            )
        try:
            _check(spec)
            files = render_k8s(
                spec,
                name=name,
                tag=tag,
                repo_url=repo_url,
                repo_path=repo_path or out.as_posix(),
                revision=revision,
            )
        except StranglerError as exc:
            raise fail(exc) from None
        for relative, text in files.items():
            path = out / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        stdout.print(f"wrote {len(files)} files under {out}", highlight=False, soft_wrap=True)
        stdout.print(f"secrets: see {out / 'SECRETS.md'}", highlight=False, soft_wrap=True)


def _check(spec: Path) -> None:
    """Validate the spec as a pod will load it; a variable missing here is not an error
    (the cluster's Secret holds it), and the spec is then checked as far as YAML."""
    from strangler.errors import SpecError
    from strangler.spec import load_spec

    try:
        load_spec(spec)
    except SpecError as exc:
        unset = [p for p in exc.problems if p.message.startswith("environment variable")]
        if len(unset) != len(exc.problems):
            raise
