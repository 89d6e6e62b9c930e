"""The events part's CLI commands: ``strangler asyncapi`` and ``strangler events tail``.

``tail`` reads a running server's Server-Sent Events (``/events/<stream>/sse``),
which serves every deployment alike: with or without a broker, and with no
Kafka client or consumer group on the reader's side. On a dropped connection
it reconnects with ``Last-Event-ID``, so nothing is skipped or repeated.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "sse_events", "tail_line"]


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


def register(app: typer.Typer) -> None:
    """Add ``strangler asyncapi`` and ``strangler events tail`` to ``app``."""
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
