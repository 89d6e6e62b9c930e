"""``strangler record`` and ``strangler replay``: the shim's compatibility proof.

``record`` is a recording proxy in front of a legacy SOAP system: it listens on
a loopback port, forwards every request to the legacy address and writes each
SOAP exchange (request, answer, headers) into a folder. ``replay`` sends the
recorded requests to another endpoint (the shim) and compares each answer with
the recorded one semantically (see :mod:`strangler.shim.canonical`).

Exit codes of ``replay``: 0 every answer is equivalent, 1 some differ, 2 the
command was used wrongly (a bad folder, option or path expression).
A thin layer over :func:`strangler.shim.record.run_recorder` and
:func:`strangler.shim.replay.replay`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register_cli"]

USAGE_ERROR = 2


def register_cli(app: typer.Typer) -> None:
    """Add ``strangler record`` and ``strangler replay`` to ``app``."""

    @app.command()
    def record(
        folder: Annotated[
            Path, typer.Argument(help="The folder to write the exchanges into.", file_okay=False)
        ],
        to: Annotated[str, typer.Option("--to", help="The legacy system's base URL.")],
        listen: Annotated[
            str, typer.Option(help="HOST:PORT to listen on (port 0 picks a free one).")
        ] = "127.0.0.1:8089",
        timeout: Annotated[float, typer.Option(help="Seconds to wait for the legacy answer.")] = 30,
        count: Annotated[
            int | None, typer.Option(help="Stop after recording this many exchanges.")
        ] = None,
    ) -> None:
        """Record SOAP traffic: a proxy in front of the legacy system, one file set per call."""
        from strangler.cli import fail
        from strangler.shim.record import RecordError, run_recorder

        host, port = _listen(listen)
        try:
            run_recorder(folder, to, host=host, port=port, timeout_s=timeout, limit=count)
        except RecordError as exc:
            raise fail(exc, USAGE_ERROR) from None

    @app.command()
    def replay(
        folder: Annotated[
            Path, typer.Argument(help="A folder written by 'strangler record'.", file_okay=False)
        ],
        to: Annotated[str, typer.Option("--to", help="The endpoint to replay against.")],
        ignore: Annotated[
            list[str] | None,
            typer.Option(
                "--ignore",
                help="A path of elements or attributes not compared (local names; "
                "'//reason', '/Envelope/Body/*/quantity', '//item/@id'). Repeat.",
            ),
        ] = None,
        unordered: Annotated[
            list[str] | None,
            typer.Option(
                "--unordered",
                help="A path of elements whose children may come in any order. Repeat.",
            ),
        ] = None,
        wsdl: Annotated[
            str | None,
            typer.Option(
                help="The WSDL whose xs:all groups may be reordered (URL or file; "
                "default: the target's ?wsdl, 'none' for no schema).",
            ),
        ] = None,
        spec: Annotated[
            Path | None,
            typer.Option(
                help="A spec whose shim routes add their shadow ignore paths.", dir_okay=False
            ),
        ] = None,
        json_report: Annotated[
            Path | None,
            typer.Option("--json", help="Write a JSON report to this file ('-': stdout)."),
        ] = None,
        timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30,
        quiet: Annotated[
            bool, typer.Option("--quiet", "-q", help="No progress bar, only the outcome.")
        ] = False,
    ) -> None:
        """Send recorded requests to the shim and compare its answers with the recorded ones."""
        from strangler.cli import fail
        from strangler.shim.replay import ReplayError, ReplayOptions, replay_folder

        options = ReplayOptions(
            target=to,
            ignore=tuple(ignore or ()),
            unordered=tuple(unordered or ()),
            wsdl=wsdl,
            spec=spec,
            timeout_s=timeout,
        )
        try:
            code = replay_folder(folder, options, json_report=json_report, progress=not quiet)
        except ReplayError as exc:
            raise fail(exc, USAGE_ERROR) from None
        raise typer.Exit(code)


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise typer.BadParameter(f"{value!r}: give HOST:PORT", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", int(port)
