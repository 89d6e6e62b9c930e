"""The SOAP kind's command: ``strangler wsdl2openapi``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``strangler wsdl2openapi``."""

    @app.command()
    def wsdl2openapi(
        wsdl: Annotated[str, typer.Argument(help="A WSDL 1.1 file or URL.")],
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
        ] = None,
        system: Annotated[
            str | None,
            typer.Option(help="System name used in paths (default: from the file name)."),
        ] = None,
    ) -> None:
        """Print the OpenAPI 3.1 document of the REST API for a WSDL, without running a server."""
        from strangler.adapters.soap.openapi import wsdl_to_openapi
        from strangler.cli import fail, stderr
        from strangler.errors import StranglerError

        try:
            document = wsdl_to_openapi(wsdl, system=system)
        except StranglerError as exc:
            raise fail(exc) from None
        text = json.dumps(document, indent=2)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            output.write_text(text + "\n", encoding="utf-8")
            stderr.print(
                f"wrote {output} ({len(document.get('paths', {}))} paths)", highlight=False
            )
