"""Replay a recording against another endpoint and compare the answers.

Each recorded request (see :mod:`strangler.shim.record`) is sent again, in
order and one at a time (a recording may change state: ``AdjustStock`` then
``GetStock``), with its recorded headers, to ``--to``: to that URL exactly when
it has a path, else to the recorded path under it. Each answer is compared with
the recorded one: the HTTP status, the media type (``text/xml`` or
``application/soap+xml``) and the body by meaning (:func:`~.canonical.compare`).

The rules of the comparison come from the caller's ``--ignore`` and
``--unordered`` paths, from the WSDL (its ``xs:all`` groups and leaf types; by
default the target's own ``?wsdl``) and from a spec: for each operation the
shim routes through the gateway, the route's shadow ``ignore`` pointers
(``/quantity``) become paths under that operation's answer
(``//GetReorderAdviceResponse//quantity``).

:func:`replay_folder` is the command: a progress bar, a summary, an optional
JSON report, and the exit code (0 equivalent, 1 differences, 2 usage).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from strangler.shim.canonical import (
    Difference,
    Rules,
    XmlError,
    compare,
    parse_xml,
)
from strangler.shim.record import HOP_BY_HOP, Exchange, RecordError, read_exchanges

__all__ = [
    "Outcome",
    "ReplayError",
    "ReplayOptions",
    "replay",
    "replay_folder",
    "rules_for",
]

EQUIVALENT, DIFFERENT, USAGE = 0, 1, 2


class ReplayError(ValueError):
    """The replay cannot start: a bad folder, target, path expression, WSDL or spec."""


@dataclass(frozen=True)
class ReplayOptions:
    """What to replay against and what the comparison leaves aside."""

    target: str
    ignore: tuple[str, ...] = ()
    unordered: tuple[str, ...] = ()
    wsdl: str | None = None
    spec: Path | None = None
    timeout_s: float = 30


@dataclass
class Outcome:
    """One replayed exchange: what came back and how it differs."""

    exchange: Exchange
    status: int | None = None
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None

    @property
    def equivalent(self) -> bool:
        return self.error is None and not self.differences

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.exchange.index,
            "operation": self.exchange.operation,
            "path": self.exchange.path,
            "recorded_status": self.exchange.status,
            "status": self.status,
            "equivalent": self.equivalent,
            "error": self.error,
            "differences": [
                {"path": d.path, "kind": d.kind, "expected": d.expected, "actual": d.actual}
                for d in self.differences
            ],
        }


def rules_for(
    options: ReplayOptions, default_wsdl: str, warn: Callable[[str], None] = lambda _: None
) -> Rules:
    """The comparison rules of ``options``: paths, the spec's ignores, the WSDL's schema
    (``options.wsdl``, else ``default_wsdl``)."""
    ignore = list(options.ignore)
    if options.spec is not None:
        ignore.extend(spec_ignores(options.spec))
    try:
        rules = Rules.from_paths(ignore, options.unordered)
    except ValueError as exc:
        raise ReplayError(str(exc)) from None
    wsdl = options.wsdl
    if wsdl is not None and wsdl.lower() == "none":
        return rules
    source = wsdl or default_wsdl
    from strangler.errors import SystemLoadError
    from strangler.shim.replay_schema import schema_rules

    try:
        return schema_rules(source, rules)
    except SystemLoadError as exc:
        if wsdl is not None:
            raise ReplayError(f"the WSDL {wsdl}: {exc}") from None
        warn(f"no schema ({exc}): element order and value types are compared strictly")
        return rules


def spec_ignores(spec_path: Path) -> list[str]:
    """Paths under each shimmed operation's answer from its route's shadow ``ignore``."""
    from strangler.errors import SpecError
    from strangler.spec import load_spec
    from strangler.spec.gateway import RoutesSpec
    from strangler.spec.shim import ShimSpec

    try:
        spec = load_spec(spec_path)
    except SpecError as exc:
        raise ReplayError("; ".join(str(p) for p in exc.problems)) from None
    shim: ShimSpec | None = spec.section("shim")
    routes: RoutesSpec | None = spec.section("routes")
    if shim is None:
        raise ReplayError(f"{spec_path}: the spec has no shim section")
    out: list[str] = []
    for service in shim.services.values():
        for operation, route_name in service.routes.items():
            route = routes.items.get(route_name) if routes is not None else None
            shadow = getattr(route, "shadow", None)
            for pointer in getattr(shadow, "ignore", ()) or ():
                steps = [s.replace("~1", "/").replace("~0", "~") for s in pointer.split("/") if s]
                if steps:
                    out.append(f"//{operation}Response//" + "/".join(steps))
    return out


def _url(target: str, exchange: Exchange) -> str:
    parts = urlsplit(target)
    if parts.path not in ("", "/"):
        return target
    return target.rstrip("/") + exchange.path


def _media(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def judge(
    exchange: Exchange,
    recorded: bytes,
    status: int,
    content_type: str | None,
    body: bytes,
    rules: Rules,
) -> list[Difference]:
    """How the answer (``status``, ``content_type``, ``body``) differs from the recorded one."""
    out: list[Difference] = []
    if status != exchange.status:
        out.append(Difference("HTTP status", "value", str(exchange.status), str(status)))
    expected_media = _media(exchange.header("content-type", response=True))
    if expected_media and _media(content_type) != expected_media:
        out.append(Difference("Content-Type", "value", expected_media, _media(content_type)))
    try:
        parse_xml(recorded)
    except XmlError:
        if recorded != body:
            out.append(Difference("body", "value", "(recorded bytes)", "(other bytes)"))
        return out
    try:
        out.extend(compare(recorded, body, rules))
    except XmlError as exc:
        shown = body[:200].decode("utf-8", "replace")
        out.append(Difference("body", "value", "a SOAP envelope", f"{exc}: {shown}"))
    return out


async def _replay(
    exchanges: Sequence[tuple[Exchange, bytes, bytes]],
    options: ReplayOptions,
    rules: Rules,
    on_outcome: Callable[[Outcome], None],
) -> list[Outcome]:
    import aiohttp

    outcomes: list[Outcome] = []
    timeout = aiohttp.ClientTimeout(total=options.timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for exchange, request, recorded in exchanges:
            outcome = Outcome(exchange)
            headers = [(k, v) for k, v in exchange.request_headers if k.lower() not in HOP_BY_HOP]
            try:
                async with session.request(
                    exchange.method,
                    _url(options.target, exchange),
                    data=request,
                    headers=headers,
                    allow_redirects=False,
                ) as answer:
                    body = await answer.read()
                    outcome.status = answer.status
                    content_type = answer.headers.get("content-type")
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome.error = f"no answer: {type(exc).__name__} {exc}".strip()
            else:
                outcome.differences = judge(
                    exchange, recorded, answer.status, content_type, body, rules
                )
            outcomes.append(outcome)
            on_outcome(outcome)
    return outcomes


def replay(
    folder: Path,
    options: ReplayOptions,
    *,
    on_start: Callable[[int], None] = lambda _: None,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
) -> list[Outcome]:
    """Replay every exchange of ``folder`` against ``options.target``; one outcome each."""
    parts = urlsplit(options.target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ReplayError(f"{options.target!r}: the target must be an http(s) URL")
    try:
        exchanges = read_exchanges(folder)
    except RecordError as exc:
        raise ReplayError(str(exc)) from None
    if not exchanges:
        raise ReplayError(f"{folder}: no recorded exchanges")
    first = _url(options.target, exchanges[0][0])
    rules = rules_for(options, first.split("?")[0] + "?wsdl", warn)
    on_start(len(exchanges))
    return asyncio.run(_replay(exchanges, options, rules, on_outcome))


def replay_folder(
    folder: Path, options: ReplayOptions, *, json_report: Path | None = None, progress: bool = True
) -> int:
    """The ``replay`` command: progress bar, summary, report; the exit code."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    err = Console(stderr=True)
    out = Console(stderr=json_report == Path("-"))
    bar = Progress(
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        console=err,
        disable=not progress,
        transient=True,
    )
    counts = {"same": 0, "different": 0}

    def seen(outcome: Outcome) -> None:
        counts["same" if outcome.equivalent else "different"] += 1
        status = f"[green]{counts['same']} equivalent[/] [red]{counts['different']} different[/]"
        bar.update(task, advance=1, status=status)

    with bar:
        task = bar.add_task("replay", total=None, status="")
        outcomes = replay(
            folder,
            options,
            on_start=lambda n: bar.update(task, total=n),
            on_outcome=seen,
            warn=lambda m: err.print(f"[yellow]note[/] {escape(m)}", highlight=False),
        )
    for outcome in outcomes:
        if outcome.equivalent:
            continue
        exchange = outcome.exchange
        out.print(
            f"[red]✗[/] {exchange.index:06d} {escape(exchange.operation or exchange.path)}",
            highlight=False,
        )
        if outcome.error:
            out.print(f"    {escape(outcome.error)}", highlight=False, soft_wrap=True)
        for difference in outcome.differences:
            out.print(f"    {escape(str(difference))}", highlight=False, soft_wrap=True)
    different = sum(not o.equivalent for o in outcomes)
    summary = (
        f"{len(outcomes)} exchanges: {len(outcomes) - different} equivalent, {different} different"
    )
    out.print(("[green]" if not different else "[red]") + summary + "[/]", highlight=False)
    if json_report is not None:
        report = {
            "target": options.target,
            "exchanges": len(outcomes),
            "equivalent": len(outcomes) - different,
            "different": different,
            "outcomes": [o.as_json() for o in outcomes],
        }
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        if json_report == Path("-"):
            sys.stdout.write(text)
        else:
            json_report.write_text(text, encoding="utf-8")
    return DIFFERENT if different else EQUIVALENT
