"""Driver errors (SQLAlchemy, pyodbc, psycopg, sqlite3) → the project's errors, once.

* cancelled by the watchdog, or the server's own statement timeout → ``LegacyTimeout`` (504)
* cannot connect, connection lost, no free connection → ``LegacyUnavailable`` (503)
* integrity or data errors on a write (duplicate key, value too long) → ``InvalidInput`` (422)
* anything else → ``LegacyError`` (502)
"""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

import sqlalchemy.exc as sa_exc

from strangler.errors import (
    InputProblem,
    InvalidInput,
    LegacyError,
    LegacyTimeout,
    LegacyUnavailable,
    StranglerError,
)

__all__ = ["driver_message", "is_connection_failure", "translate"]

log = logging.getLogger("strangler.legacy")

# MySQL/MariaDB client and server codes, as ODBC drivers print them: "... (2013)".
_MYSQL_GONE = re.compile(r"\((2002|2003|2005|2006|2013|2026|2055|1040|1053|1927)\)")
_MYSQL_TIMEOUT = re.compile(r"\((1969|3024|1317)\)|max_statement_time|maximum statement execution")
_TIMEOUT_STATES = {"57014", "HYT00", "HYT01", "HY008"}
_CONNECT_WORDS = (
    "connection refused",
    "could not connect",
    "can't connect",
    "server closed the connection",
    "connection is closed",
    "terminating connection",
    "lost connection",
    "connection has been lost",
    "no connection to the server",
    "could not send data to server",
    "could not receive data from server",
    "unable to open database file",
    "communication link failure",
    "connection timeout expired",
)


def driver_message(exc: BaseException) -> str:
    """The driver's own message, first line, without ``[vendor][driver]`` prefixes."""
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    text = args[-1] if len(args) >= 2 and isinstance(args[-1], str) else str(orig)
    text = text.strip().splitlines()[0] if text.strip() else type(orig).__name__
    text = re.sub(r"^(\[[^\]]*\]\s*)+", "", text)
    return re.sub(r"\s*\((SQL\w+)\)$", "", text)


def _sqlstate(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    state = getattr(orig, "sqlstate", None)  # psycopg
    if isinstance(state, str):
        return state
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        return args[0]  # pyodbc
    return ""


def _psycopg_connect_failure(orig: BaseException | None, state: str) -> bool:
    kind = type(orig)
    psycopg = kind.__module__.startswith("psycopg")
    return psycopg and kind.__name__ == "OperationalError" and not state


def is_connection_failure(exc: BaseException) -> bool:
    """Whether a driver error means the connection is gone (or never came)."""
    message = driver_message(exc)
    state = _sqlstate(exc)
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    return bool(
        state.startswith("08")
        or _MYSQL_GONE.search(message)
        or any(word in message.lower() for word in _CONNECT_WORDS)
        or _psycopg_connect_failure(orig, state)
    )


def translate(
    exc: BaseException,
    *,
    system: str,
    operation: str,
    timed_out: bool = False,
    retry_after_s: float = 5.0,
    table: str | None = None,
) -> StranglerError:
    """The project's error for a driver error raised while running ``operation``."""
    if isinstance(exc, StranglerError):
        return exc
    message = driver_message(exc)
    state = _sqlstate(exc)
    lowered = message.lower()
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if (
        timed_out
        or state in _TIMEOUT_STATES
        or _MYSQL_TIMEOUT.search(message)
        or (isinstance(orig, sqlite3.OperationalError) and "interrupted" in lowered)
    ):
        return LegacyTimeout(
            f"{system}: the statement did not finish in time ({operation})",
            system=system,
            operation=operation,
        )
    if (
        isinstance(exc, sa_exc.TimeoutError)
        or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)
        or is_connection_failure(exc)
    ):
        # The driver's text names hosts and ports: the log gets it, the caller does not.
        log.warning("%s: the database cannot be reached (%s): %s", system, operation, message)
        return LegacyUnavailable(
            f"{system}: the database cannot be reached",
            system=system,
            operation=operation,
            retry_after_s=retry_after_s,
        )
    if state.startswith(("23", "22")) or isinstance(exc, sa_exc.IntegrityError | sa_exc.DataError):
        return InvalidInput(
            f"the database refused the data: {message}",
            [InputProblem(table or "/", message)],
        )
    return LegacyError(
        f"{system}: the database failed: {message}", system=system, operation=operation
    )
