"""``strangler security hash-key``: a new API key and the hash the spec stores."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

__all__ = ["register_cli"]


def register_cli(app: typer.Typer) -> None:
    """Add ``strangler security hash-key`` to ``app``."""
    security = typer.Typer(help="API keys for the security section.", no_args_is_help=True)
    app.add_typer(security, name="security")

    @security.command("hash-key")
    def hash_key_command(
        name: Annotated[str, typer.Option("--name", help="The key's name in security.keys.")] = (
            "my-client"
        ),
        algorithm: Annotated[
            str, typer.Option("--algorithm", help="sha256 (generated keys) or scrypt.")
        ] = "sha256",
        stdin: Annotated[
            bool, typer.Option("--stdin", help="Hash the key read from stdin instead of a new one.")
        ] = False,
    ) -> None:
        """Print a new API key (shown once) and the spec entry holding only its hash."""
        from strangler.cli import fail
        from strangler.security.keys import hash_key, new_key

        key = sys.stdin.readline().strip() if stdin else new_key()
        if not key:
            raise fail(ValueError("no key on stdin"))
        try:
            stored = hash_key(key, algorithm)
        except ValueError as exc:
            raise fail(exc) from None
        if not stdin:
            sys.stderr.write("The key (give it to the client; it is not stored anywhere):\n")
            sys.stdout.write(key + "\n")
            sys.stderr.write("The spec entry (security.keys):\n")
        sys.stdout.write(f'{name}: {{hash: "{stored}", scopes: []}}\n')
