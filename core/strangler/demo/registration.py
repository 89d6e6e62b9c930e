"""The demo estate registers itself as a part: the ``strangler demo`` command.

Named by the ``strangler.parts`` entry point ``demo`` in ``pyproject.toml``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from strangler.platform.registry import Part

__all__ = ["DEMO", "register"]


def register(app: typer.Typer) -> None:
    """Add ``strangler demo``."""

    @app.command()
    def demo(
        port: Annotated[int, typer.Option(help="Port of the REST API.")] = 8000,
        host: Annotated[str, typer.Option(help="Listen address of the REST API.")] = "127.0.0.1",
    ) -> None:
        """Start the demo estate (legacy servers that ship with strangler) and its REST API.

        Needs nothing else running: the legacy servers listen on free loopback ports.
        """
        from rich.console import Console

        from strangler.demo.estate import run_demo

        run_demo(host=host, port=port, console=Console())


DEMO = Part(name="demo", cli="strangler.demo.registration:register", extra="demo", order=1000)
