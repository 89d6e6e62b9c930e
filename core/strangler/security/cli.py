"""``strangler security hash-key``: a new API key and the hash the spec stores;
``strangler security scopes``: the scope each operation of a spec needs (and each
command topic, as ``COMMAND <topic>``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register_cli"]


def register_cli(app: typer.Typer) -> None:
    """Add ``strangler security hash-key`` and ``strangler security scopes`` to ``app``."""
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

    @security.command("scopes")
    def scopes_command(
        config: Annotated[Path, typer.Option("--config", "-c", help="The spec file.")] = Path(
            "strangler.yaml"
        ),
    ) -> None:
        """Print every operation of the spec's REST API, and every command topic, with the
        scope it needs."""
        from strangler.cli import fail
        from strangler.errors import StranglerError

        try:
            for method, path, scope in operation_scopes(config):
                sys.stdout.write(f"{method:7} {path:60} {scope}\n")
        except StranglerError as exc:
            raise fail(exc) from None


def operation_scopes(config: Path) -> list[tuple[str, str, str]]:
    """(method, path, scope) of every operation the spec at ``config`` serves (``public``
    for those open to all), then ``("COMMAND", topic, scope)`` of every command topic,
    as the guard names them; nothing is started."""
    from strangler.platform.build import build_platform
    from strangler.platform.callers import GatedCalls
    from strangler.rest.app import build_app
    from strangler.security.calls import GuardGate
    from strangler.security.registration import guard_for
    from strangler.spec import load_spec
    from strangler.spec.security import SecuritySpec

    spec = load_spec(config)
    platform = build_platform(spec)
    document = build_app(platform, limits=spec.limits).openapi()
    section = spec.section("security") or SecuritySpec()
    guard = guard_for(spec, section, platform)
    guard.document(document)
    assert guard.table is not None
    rows = [(r.method, r.template, r.scope or "public") for r in guard.table.rules]
    gate = GuardGate(guard)
    for component in platform.components:
        if isinstance(component, GatedCalls):
            for channel, operation in component.gated():
                rows.append(("COMMAND", channel, gate.scope_of(operation) or "public"))
    return rows
