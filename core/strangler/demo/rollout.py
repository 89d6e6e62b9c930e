"""The demo's rollout: ``GetReorderAdvice`` moving to the model, and a way to break the model.

The demo spec gives the route ``reorder-advice`` a short schedule (shadow, then
a tenth, half and all of the customers); :class:`~strangler.demo.traffic.ReorderTraffic`
keeps customers asking, so the canary controller moves it by itself while the
dashboard at ``/_strangler/`` shows each step. :func:`set_fault` is
``strangler demo break`` (and ``repair``): the model server's fault switch
(``PUT /admin/models/{model}/faults``), which makes the model fail or slow on
purpose so the controller's rollback can be watched.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from typing import Any

from strangler.errors import StranglerError

__all__ = ["rollout_lines", "set_fault"]

DEFAULT_URL = "http://127.0.0.1:8000"


def set_fault(
    url: str, model: str = "reorder", *, error_rate: float = 0.0, delay_ms: float = 0.0
) -> dict[str, Any]:
    """Set the fault switch of ``model`` on the server at ``url`` (both zero: clear it);
    the switch as the server answers it. A refusal is a :class:`StranglerError` with
    the server's detail."""
    target = f"{url.rstrip('/')}/admin/models/{model}/faults"
    if error_rate <= 0 and delay_ms <= 0:
        request = urllib.request.Request(target, method="DELETE")
    else:
        body = json.dumps({"error_rate": error_rate, "delay_ms": delay_ms}).encode()
        request = urllib.request.Request(
            target, body, {"content-type": "application/json"}, method="PUT"
        )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(json.JSONDecodeError, AttributeError):
            detail = json.loads(detail).get("detail", detail)
        raise StranglerError(f"{target}: {exc.code} {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StranglerError(f"{target}: {reason} (is 'strangler demo' running?)") from None
    return answer


def rollout_lines(api: str) -> list[str]:
    """Where to watch the rollout, and how to break the model and mend it."""
    at = "" if api == DEFAULT_URL else f" --url {api}"
    return [
        f"dashboard:  {api}/_strangler/",
        f"status:     strangler canary status reorder-advice{at}",
        f"break it:   strangler demo break reorder --errors 0.5{at}   (or --delay-ms 1500)",
        f"mend it:    strangler demo repair reorder{at}",
        f"start over: strangler canary resume reorder-advice{at}   (after a rollback)",
    ]
