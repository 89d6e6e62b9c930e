"""The events part's CLI commands: ``strangler asyncapi``, ``strangler events run`` and
``strangler events tail``.

``run`` runs the event side of a spec without the REST server: capture, the
relays and the command consumers, as ``serve`` would run them (a worker, so
capture and relay can run apart as replicas by role). ``tail`` reads a running
server's Server-Sent Events (``/events/<stream>/sse``), which serves every
deployment alike: with or without a broker, and with no Kafka client or
consumer group on the reader's side. On a dropped connection it reconnects
with ``Last-Event-ID``, so nothing is skipped or repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "run_worker", "sse_events", "tail_line"]


def sse_events(url: str, last_id: str | None = None) -> Iterator[tuple[str, str, str]]:
    """``(id, event, data)`` of each event of an SSE stream (comments and pings skipped)."""
    headers = {"Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        event_id, kind = "", "message"
        data: list[str] = []
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line:
                if data:
                    yield event_id, kind, "\n".join(data)
                event_id, kind, data = "", "message", []
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    event_id = value
                elif name == "event":
                    kind = value
                elif name == "data":
                    data.append(value)


def tail_line(event_id: str, data: str) -> str:
    """One event as one line: sequence number, time, type, subject, data."""
    try:
        event: dict[str, Any] = json.loads(data)
    except json.JSONDecodeError:
        return f"{event_id}\t{data}"
    body = json.dumps(event.get("data"), separators=(",", ":"), ensure_ascii=False)
    return "\t".join(
        [event_id, str(event.get("time", "")), str(event.get("type", "")),
         str(event.get("subject", "")), body]
    )  # fmt: skip


def _base_url(config: Path | None, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    if config is not None:
        from strangler.spec import load_spec

        server = load_spec(config).server
        host = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host
        return f"http://{host}:{server.port}"
    return "http://127.0.0.1:8000"


async def run_worker(spec_path: Path, roles: str | None, started: Callable[[str], None]) -> None:
    """Build the platform of ``spec_path`` with ``roles`` (``STRANGLER_EVENTS_RUN``), run it
    until SIGINT or SIGTERM, then close it (leases given up). ``started`` gets a line
    naming what runs."""
    from strangler.events.part import RUN_ENV
    from strangler.platform import build_platform
    from strangler.spec import load_spec

    if roles is not None:
        os.environ[RUN_ENV] = roles  # the build reads the roles from here
    from strangler.events.part import EventHub

    platform = build_platform(load_spec(spec_path))
    if not any(isinstance(c, EventHub) for c in platform):
        raise ValueError(f"{spec_path}: no events: section, so no event streams")
    workers = [c.name for c in platform.components if c.kind in _WORKERS]
    if not workers:
        raise ValueError(
            f"{spec_path}: these roles run nothing here (no capture, relay or command)"
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    async with platform.running():
        started(f"running {', '.join(workers)}; Ctrl-C or SIGTERM stops")
        await stop.wait()


_WORKERS = ("capture", "relay", "commands")


def register(app: typer.Typer) -> None:
    """Add ``strangler asyncapi``, ``strangler events run`` and ``strangler events tail``."""
    from strangler.cli import fail, stdout

    @app.command()
    def asyncapi(
        spec: Annotated[
            Path, typer.Argument(help="The spec file (strangler.yaml).", dir_okay=False)
        ],
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
        ] = None,
    ) -> None:
        """Write the AsyncAPI 3.0 document of the spec's event streams and command topics.

        Starts no server and reaches no legacy system; the same document a running
        server answers at /asyncapi.json.
        """
        from strangler.errors import StranglerError
        from strangler.events.part import EventHub
        from strangler.platform import build_platform
        from strangler.spec import load_spec

        try:
            platform = build_platform(load_spec(spec))
        except StranglerError as exc:
            raise fail(exc) from None
        hubs = [c for c in platform if isinstance(c, EventHub)]
        if not hubs:
            raise fail(ValueError(f"{spec}: no events: section, so no event streams"))
        text = json.dumps(hubs[0].asyncapi(), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
            stdout.print(f"wrote {output}", highlight=False)

    events = typer.Typer(
        help="The event side: streams of changes as they flow.", no_args_is_help=True
    )

    @events.command("run")
    def run_events(
        config: Annotated[Path, typer.Option("--config", "-c", help="The spec file.")] = Path(
            "strangler.yaml"
        ),
        roles: Annotated[
            str | None,
            typer.Option(
                "--roles",
                help="capture, relay or capture,relay (default: the spec's events.run, or "
                "STRANGLER_EVENTS_RUN).",
            ),
        ] = None,
    ) -> None:
        """Run the event side without the REST server until Ctrl-C or SIGTERM.

        Polling capture into the outbox, the relays to Kafka and the command consumers
        of the spec, as 'serve' runs them, choosing the roles with --roles: for
        example one process with --roles capture and one with --roles relay. Stopping
        gives the leases up, so a standby takes over at once.
        """
        from strangler.errors import StranglerError

        def started(line: str) -> None:
            stdout.print(f"events: {line}", highlight=False, soft_wrap=True)

        try:
            asyncio.run(run_worker(config, roles, started))
        except (StranglerError, ValueError) as exc:
            raise fail(exc) from None

    @events.command()
    def tail(
        stream: Annotated[str, typer.Argument(help="The stream's name (GET /events lists them).")],
        config: Annotated[
            Path | None,
            typer.Option("--config", "-c", help="The spec: its server.host and port are used."),
        ] = None,
        url: Annotated[
            str | None,
            typer.Option("--url", help="Base URL of the running server (default 127.0.0.1:8000)."),
        ] = None,
        after: Annotated[
            int, typer.Option(help="Start after this sequence number (0: from the start).")
        ] = 0,
    ) -> None:
        """Print a stream's events as they arrive, one line each, until Ctrl-C.

        Reads the running server's Server-Sent Events (GET /events/STREAM/sse), so it
        works with or without a broker. Columns: sequence number, time, CloudEvents
        type, subject (the entity key), data as JSON.
        """
        base = _base_url(config, url)
        last = str(after) if after else None
        target = f"{base}/events/{stream}/sse"
        try:
            while True:
                try:
                    for event_id, _kind, data in sse_events(target, last):
                        print(tail_line(event_id, data), flush=True)
                        last = event_id or last
                except urllib.error.HTTPError as exc:
                    detail = exc.read().decode("utf-8", "replace")
                    with contextlib.suppress(json.JSONDecodeError, AttributeError):
                        detail = json.loads(detail).get("detail", detail)
                    raise fail(ValueError(f"{target}: {exc.code} {detail}")) from None
                except (urllib.error.URLError, OSError) as exc:
                    reason = getattr(exc, "reason", exc)
                    print(f"# {target}: {reason}; reconnecting", file=sys.stderr, flush=True)
                    time.sleep(1.0)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None

    app.add_typer(events, name="events")
