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
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

    from strangler.shim.record import Exchange

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
        """Record SOAP traffic: a proxy in front of the legacy system, one file set per call.

        Prints one line with the proxy's URL once it listens, then a progress line;
        stops on Ctrl-C or SIGTERM (or after --count exchanges).
        """
        from strangler.cli import fail, stderr
        from strangler.shim.record import RecordError, run_recorder

        host, port = _listen(listen)
        line = _RecordLine(stderr)
        try:
            recorded = run_recorder(
                folder,
                to,
                host=host,
                port=port,
                timeout_s=timeout,
                limit=count,
                on_ready=lambda url: print(
                    f"recording on {url} for {to} into {folder}", flush=True
                ),
                on_exchange=line.show,
            )
        except RecordError as exc:
            raise fail(exc, USAGE_ERROR) from None
        finally:
            line.close()
        print(f"recorded {recorded} exchanges into {folder}", flush=True)

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


class _RecordLine:
    """The progress line: redrawn in place on a terminal, one line per exchange otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.count = 0
        self.by_operation: dict[str, int] = {}
        self.live: Live | None = None
        if console.is_terminal:
            from rich.live import Live

            self.live = Live("waiting for the first request…", console=console, transient=False)
            self.live.start()

    def show(self, exchange: Exchange) -> None:
        from rich.markup import escape

        self.count += 1
        name = exchange.operation or exchange.path
        self.by_operation[name] = self.by_operation.get(name, 0) + 1
        last = f"#{exchange.index} {name} → {exchange.status} in {exchange.elapsed_ms:.1f} ms"
        if self.live is None:
            self.console.print(f"recorded {escape(last)}", highlight=False, soft_wrap=True)
            return
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_operation.items()))
        self.live.update(f"{self.count} recorded ({escape(counts)}); last {escape(last)}")

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise typer.BadParameter(f"{value!r}: give HOST:PORT", param_hint="--listen")
    return host.strip("[]") or "127.0.0.1", int(port)
