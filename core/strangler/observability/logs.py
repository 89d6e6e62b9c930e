"""Structured logs: one JSON object a line, with the request id and the trace id.

:func:`configure_logging` sets the root logger up once for a server process
(``strangler serve`` calls it): JSON lines when ``STRANGLER_LOG_FORMAT=json``
(the container images and manifests set it), the usual text otherwise. Either
way each record carries ``request_id`` (the ``X-Request-Id`` the edge took or
made, :data:`REQUEST_ID`) and ``trace_id``/``span_id`` of the current span.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from strangler.observability.tracing import current_ids

__all__ = ["REQUEST_ID", "JsonFormatter", "RequestContext", "configure_logging"]

REQUEST_ID: ContextVar[str | None] = ContextVar("strangler_request_id", default=None)
"""The id of the request being answered (set by :class:`~strangler.observability.edge.Observed`)."""

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RequestContext(logging.Filter):
    """Adds ``request_id``, ``trace_id`` and ``span_id`` to every record (``None`` outside)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.trace_id, record.span_id = current_ids()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, the ids, any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str | None = None, level: str | None = None) -> None:
    """The root logger writes to stderr, as JSON lines when ``log_format`` (default
    ``$STRANGLER_LOG_FORMAT``) is ``json``; level from ``$STRANGLER_LOG_LEVEL`` (INFO)."""
    chosen = (log_format or os.environ.get("STRANGLER_LOG_FORMAT", "text")).lower()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestContext())
    if chosen == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_strangler", False)]:
        root.removeHandler(old)
    handler._strangler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("STRANGLER_LOG_LEVEL", "INFO")).upper())
