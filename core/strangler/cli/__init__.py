"""The ``strangler`` command: a thin layer over the library's public functions.

The core commands are here (``validate``, ``serve``, ``operations``, ``call``);
each kind and part adds its own (``demo``, ``wsdl2openapi``...) through its
registration (:mod:`strangler.platform.registry`), so this module lists none
of them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from strangler.errors import SpecError, StranglerError

__all__ = ["app", "fail", "stderr", "stdout"]

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
stderr = Console(stderr=True)
stdout = Console()

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The spec file.")]


def fail(exc: Exception, code: int = 1) -> typer.Exit:
    """Print ``exc`` as one line per problem (no traceback); the exit to raise.

    Lines are not wrapped at the terminal's width (a problem stays one line for
    ``grep`` and log collectors) and their text is never read as markup.
    """
    problems = exc.problems if isinstance(exc, SpecError) else [exc]
    for problem in problems:
        stderr.print(f"[red]error[/red] {escape(str(problem))}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def validate(
    spec: Annotated[Path, typer.Argument(help="The spec file (strangler.yaml).", dir_okay=False)],
) -> None:
    """Check a spec file: YAML, ${VARS} and every field. Prints each problem with its line."""
    from strangler.spec import load_spec

    try:
        loaded = load_spec(spec)
    except SpecError as exc:
        raise fail(exc) from None
    stdout.print(f"{spec}: valid ({len(loaded.systems)} systems)", highlight=False)


@app.command()
def serve(
    config: ConfigOption = Path("strangler.yaml"),
    host: Annotated[str | None, typer.Option(help="Listen address (default: the spec's).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: the spec's).")] = None,
) -> None:
    """Serve the REST API for every system in the spec until Ctrl-C."""
    from strangler.serve import run
    from strangler.spec import load_spec

    try:
        run(load_spec(config), host=host, port=port)
    except StranglerError as exc:
        raise fail(exc) from None


@app.command()
def operations(config: ConfigOption = Path("strangler.yaml")) -> None:
    """List the operations of the spec's systems by the name 'call' takes.

    A table T of a database system is also called as system.T (a page) and system.T.get.
    """
    from strangler.platform import build_platform
    from strangler.spec import load_spec

    try:
        platform = build_platform(load_spec(config))
    except StranglerError as exc:
        raise fail(exc) from None
    for source in platform.sources().values():
        for operation in source.operations():
            stdout.print(f"{operation.ref}\t{operation.summary or ''}", highlight=False)


@app.command()
def call(
    operation: Annotated[str, typer.Argument(help="system.operation, e.g. inventory.GetStock")],
    payload: Annotated[str, typer.Argument(help="The input as JSON ('-' reads stdin).")] = "{}",
    config: ConfigOption = Path("strangler.yaml"),
) -> None:
    """Call one legacy operation in-process and print its answer as JSON."""
    from strangler.platform import build_platform
    from strangler.rest.encoding import dumps
    from strangler.spec import load_spec

    try:
        data = json.loads(sys.stdin.read() if payload == "-" else payload)
    except json.JSONDecodeError as exc:
        raise fail(ValueError(f"the payload is not JSON: {exc}")) from None

    async def run() -> Any:
        platform = build_platform(load_spec(config))
        async with platform.running():
            return await platform.invoke(operation, data)

    try:
        result = asyncio.run(run())
    except StranglerError as exc:
        raise fail(exc) from None
    sys.stdout.write(dumps(result).decode() + "\n")


def _register_commands() -> None:
    """Add the commands of every registered kind and part."""
    from strangler.platform.registry import kinds, load, parts

    hooks = [(k.cli, k.extra) for k in kinds().values()] + [(p.cli, p.extra) for p in parts()]
    for target, extra in hooks:
        if target is None:
            continue
        try:
            register = load(target, extra=extra)
        except ImportError:
            continue  # its extra is not installed: its commands are simply absent
        register(app)


_register_commands()
