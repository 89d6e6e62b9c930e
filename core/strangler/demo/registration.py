"""The demo estate registers itself as a part: the ``strangler demo`` commands.

Named by the ``strangler.parts`` entry point ``demo`` in ``pyproject.toml``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from strangler.platform.registry import Part

__all__ = ["DEMO", "register"]

_URL_HELP = "Base URL of the running demo (default: STRANGLER_URL, else 127.0.0.1:8000)."
ModelArgument = Annotated[str, typer.Argument(help="The served model.")]
UrlOption = Annotated[str | None, typer.Option("--url", help=_URL_HELP)]


def _url(url: str | None) -> str:
    import os

    from strangler.demo.rollout import DEFAULT_URL

    return url or os.environ.get("STRANGLER_URL") or DEFAULT_URL


def register(app: typer.Typer) -> None:
    """Add ``strangler demo`` (and ``demo break``, ``demo repair``)."""
    demo_app = typer.Typer()
    app.add_typer(demo_app, name="demo")

    @demo_app.callback(invoke_without_command=True)
    def demo(
        context: typer.Context,
        port: Annotated[int, typer.Option(help="Port of the REST API.")] = 8000,
        host: Annotated[str, typer.Option(help="Listen address of the REST API.")] = "127.0.0.1",
        nginx: Annotated[
            bool,
            typer.Option(
                "--nginx",
                help="Debian's nginx (on a free loopback port) carries the route's split; "
                "the demo traffic goes through it.",
            ),
        ] = False,
    ) -> None:
        """Start the demo estate (legacy servers that ship with strangler) and its REST API.

        Needs nothing else running: the legacy servers listen on free loopback ports.
        """
        if context.invoked_subcommand is not None:
            return
        from rich.console import Console

        from strangler.demo.estate import run_demo

        run_demo(host=host, port=port, console=Console(), nginx=nginx)

    @demo_app.command("break")
    def break_model(
        model: ModelArgument = "reorder",
        errors: Annotated[
            float | None,
            typer.Option(
                min=0, max=1, help="The share of the model's runs that fail (default 0.5)."
            ),
        ] = None,
        delay_ms: Annotated[
            float | None, typer.Option(min=0, help="Milliseconds every run of the model waits.")
        ] = None,
        url: UrlOption = None,
    ) -> None:
        """Break the running demo's model on purpose, to watch the controller roll back."""
        if errors is None:
            errors = 0.5 if delay_ms is None else 0.0
        _switch(_url(url), model, errors, delay_ms or 0.0)

    @demo_app.command()
    def repair(model: ModelArgument = "reorder", url: UrlOption = None) -> None:
        """Clear the model's fault switch: it answers as it should again."""
        _switch(_url(url), model, 0.0, 0.0)


def _switch(url: str, model: str, errors: float, delay_ms: float) -> None:
    from strangler.cli import fail, stdout
    from strangler.demo.rollout import set_fault
    from strangler.errors import StranglerError

    try:
        state = set_fault(url, model, error_rate=errors, delay_ms=delay_ms)
    except StranglerError as exc:
        raise fail(exc) from None
    if state["error_rate"] or state["delay_ms"]:
        stdout.print(
            f"model {model}: {state['error_rate']:.0%} of runs fail, each waits "
            f"{state['delay_ms']:g} ms (until 'strangler demo repair {model}')",
            highlight=False,
            soft_wrap=True,
        )
    else:
        stdout.print(f"model {model}: healthy", highlight=False)


DEMO = Part(name="demo", cli="strangler.demo.registration:register", extra="demo", order=1000)
