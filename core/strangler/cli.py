"""The ``strangler`` command: a thin layer over the library's public functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from strangler.errors import SpecError, StranglerError

app = typer.Typer(
    name="strangler",
    help=(
        "Put REST APIs in front of legacy SOAP, RPC and database systems.\n\n"
        "Start with 'strangler demo', which needs nothing else running."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

SpecPath = Annotated[
    Path,
    typer.Argument(help="The spec file (strangler.yaml).", exists=False, dir_okay=False),
]


def _fail(exc: Exception, code: int = 1) -> typer.Exit:
    if isinstance(exc, SpecError):
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}", highlight=False)
    else:
        err.print(f"[red]error[/red] {exc}", highlight=False)
    return typer.Exit(code)


@app.command()
def validate(spec: SpecPath) -> None:
    """Check a spec file: YAML, ${VARS} and every field. Prints each problem with its line."""
    from strangler.spec import load_spec

    try:
        loaded = load_spec(spec)
    except SpecError as exc:
        raise _fail(exc) from None
    out.print(f"{spec}: valid ({len(loaded.systems)} systems)", highlight=False)


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="The spec file.")] = Path(
        "strangler.yaml"
    ),
    host: Annotated[str | None, typer.Option(help="Listen address (default: the spec's).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: the spec's).")] = None,
) -> None:
    """Serve the REST API for every system in the spec until Ctrl-C."""
    from strangler.serve import run
    from strangler.spec import load_spec

    try:
        loaded = load_spec(config)
        run(loaded, host=host, port=port)
    except StranglerError as exc:
        raise _fail(exc) from None


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the REST API.")] = 8000,
    host: Annotated[str, typer.Option(help="Listen address of the REST API.")] = "127.0.0.1",
) -> None:
    """Start the demo estate (legacy servers that ship with strangler) and its REST API.

    Needs nothing else running: the legacy servers listen on free loopback ports.
    """
    from strangler.demo.estate import run_demo

    run_demo(host=host, port=port, console=out)


@app.command()
def wsdl2openapi(
    wsdl: Annotated[str, typer.Argument(help="A WSDL 1.1 file or URL.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    system: Annotated[
        str | None, typer.Option(help="System name used in paths (default: from the file name).")
    ] = None,
) -> None:
    """Print the OpenAPI 3.1 document of the REST API for a WSDL, without running a server."""
    from strangler.adapters.soap.openapi import wsdl_to_openapi

    try:
        document = wsdl_to_openapi(wsdl, system=system)
    except StranglerError as exc:
        raise _fail(exc) from None
    text = json.dumps(document, indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output} ({len(document.get('paths', {}))} paths)", highlight=False)


if __name__ == "__main__":
    app()
