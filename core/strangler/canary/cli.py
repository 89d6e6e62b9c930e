"""``strangler canary status|promote|rollback|pause|resume ROUTE``: the admin API from a shell.

``strangler canary status`` without a route shows every rollout.

Each command calls a running strangler's canary admin API
(:mod:`strangler.canary.admin`) at ``--url`` (default: ``$STRANGLER_URL``, or
``http://127.0.0.1:8000``) and prints the rollout's status; ``--json`` prints
the answer as it is. The actor written to the audit log is ``--actor``
(default: the user running the command). A problem answered by the API is
printed as one line and exits 1.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Annotated, Any

import typer

__all__ = ["register_cli", "status_lines"]

DEFAULT_URL = "http://127.0.0.1:8000"

RouteArgument = Annotated[str, typer.Argument(help="The route's name in the spec.")]
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="strangler's base URL (default: $STRANGLER_URL or :8000)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's answer as JSON.")]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why (kept in the audit log).")
]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who asks (default: the user running this).")
]


def register_cli(app: typer.Typer) -> None:
    """Add ``strangler canary ...`` to ``app``."""
    canary = typer.Typer(help="Watch and steer a route's rollout.", no_args_is_help=True)
    app.add_typer(canary, name="canary")

    @canary.command()
    def status(
        route: Annotated[
            str | None, typer.Argument(help="The route's name (absent: every rollout).")
        ] = None,
        url: UrlOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """The rollout's step, split and last analysis (every rollout's without ROUTE)."""
        if route is not None:
            _show(_ask("GET", url, f"/admin/canary/{route}"), as_json)
            return
        listed = _ask("GET", url, "/admin/canary")
        if as_json:
            _print_json(listed)
            return
        for item in listed["items"]:
            _show(item, False)

    def change(action: str) -> Any:
        def command(
            route: RouteArgument,
            url: UrlOption = None,
            reason: ReasonOption = None,
            actor: ActorOption = None,
            as_json: JsonOption = False,
        ) -> None:
            body = {"reason": reason} if reason else None
            who = actor or _user()
            answer = _ask("POST", url, f"/admin/canary/{route}/{action}", body, who)
            _show(answer, as_json)

        command.__doc__ = {
            "promote": "Move to the next step now (the last: finish the rollout).",
            "rollback": "Send everything back to legacy now.",
            "pause": "Stop analysing and moving; the split stays.",
            "resume": "Go on analysing (after a rollback: start again from the first step).",
        }[action]
        return command

    for action in ("promote", "rollback", "pause", "resume"):
        canary.command(name=action)(change(action))


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"


def _ask(
    method: str, url: str | None, path: str, body: Any = None, actor: str | None = None
) -> dict[str, Any]:
    import httpx

    from strangler.cli import fail
    from strangler.errors import StranglerError

    base = (url or os.environ.get("STRANGLER_URL") or DEFAULT_URL).rstrip("/")
    headers = {"X-Strangler-Actor": actor} if actor else {}
    try:
        response = httpx.request(method, base + path, json=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise fail(StranglerError(f"{base} cannot be reached: {exc}")) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {"detail": response.text[:200]}
    if response.status_code >= 400:
        detail = answer.get("detail") or answer.get("title") or response.reason_phrase
        raise fail(StranglerError(f"{response.status_code}: {detail}"))
    result: dict[str, Any] = answer
    return result


def status_lines(status: dict[str, Any]) -> list[str]:
    """A rollout's status as a few lines of text."""
    labels = status.get("labels") or [str(s) for s in status["steps"]]
    steps = " -> ".join(
        f"[{label}]" if i == status["step"] else label for i, label in enumerate(labels)
    )
    lines = [
        f"{status['route']} ({status['path']}): {status['status']}, step {status['step']} "
        f"of {steps}",
        f"  split: mode {status['mode']}, modern {float(status['weight']):.0%}",
        f"  since {status['step_started_at']}: {status.get('reason') or ''}",
    ]
    last = status.get("last")
    if last:
        figures = ", ".join(
            f"{name} {_figure(last.get(name), name)}"
            for name in ("samples", "error_rate", "p99_ms", "disagreement_rate")
        )
        why = "; ".join(last.get("reasons") or [])
        lines.append(f"  last analysis: {last['verdict']} ({figures}){': ' + why if why else ''}")
    if status.get("holder"):
        lines.append(f"  acting: {status['holder']}")
    return lines


def _figure(value: Any, name: str) -> str:
    if value is None:
        return "-"
    if name.endswith("_rate"):
        return f"{float(value):.2%}"
    if name == "p99_ms":
        return f"{float(value):.0f} ms"
    return str(value)


def _print_json(value: Any) -> None:
    from strangler.cli import stdout

    stdout.print_json(json.dumps(value))


def _show(status: dict[str, Any], as_json: bool) -> None:
    from strangler.cli import stdout

    if as_json:
        _print_json(status)
        return
    for line in status_lines(status):
        stdout.print(line, highlight=False, soft_wrap=True, markup=False)
