"""One HTTP POST to a legacy system, with its transport errors translated.

The mapping, applied once, here:

==============================================  =======================
what happened                                   raised
==============================================  =======================
refused, reset, DNS failure, any client error   ``LegacyUnavailable``
no whole answer within the total timeout        ``LegacyTimeout``
answer longer than the cap (declared or read)   ``LegacyProtocolError``
HTTP 401 / 403 / 407                            ``LegacyProtocolError``
HTTP 5xx that is not a protocol answer          ``LegacyUnavailable``
==============================================  =======================

Whether a 5xx body is still a protocol answer (a SOAP Fault, an XML-RPC
``methodResponse``, a JSON-RPC error object) is the protocol's call: it passes
a predicate (:data:`Usable`). Every other answer is returned as a :class:`Reply`
for the protocol to read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp

from strangler.errors import LegacyProtocolError, LegacyTimeout, LegacyUnavailable
from strangler.errors.redact import mask_urls

__all__ = ["CHUNK", "Reply", "Target", "Usable", "check_status", "send"]

log = logging.getLogger("strangler.legacy")

CHUNK = 64 * 1024
_CREDENTIALS = (401, 403, 407)


@dataclass(frozen=True)
class Reply:
    """The raw HTTP answer of the legacy system."""

    status: int
    content_type: str
    content: bytes
    retry_after: str | None = None


Usable = Callable[[Reply], bool]
"""Whether a 5xx reply still carries a protocol answer worth reading."""


@dataclass(frozen=True)
class Target:
    """Where one call goes and what it is called in errors."""

    system: str
    operation: str
    url: str


async def send(
    http: aiohttp.ClientSession,
    target: Target,
    body: bytes,
    headers: Mapping[str, str] | None,
    *,
    max_bytes: int,
    timeout_s: float,
) -> Reply:
    """POST ``body`` and read the answer, at most ``max_bytes`` of it."""
    system, operation = target.system, target.operation
    try:
        async with http.post(
            target.url, data=body, headers=headers, allow_redirects=False
        ) as response:
            content = await _read_at_most(response, max_bytes, target)
            return Reply(
                response.status,
                response.headers.get("Content-Type", ""),
                content,
                response.headers.get("Retry-After"),
            )
    except TimeoutError as exc:  # aiohttp's timeouts are TimeoutError subclasses
        raise LegacyTimeout(
            f"{system} did not answer {operation} within {timeout_s} s",
            system=system,
            operation=operation,
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        # Callers learn what kind of failure it was; where the system lives (an
        # internal address) goes to the log only.
        log.warning("cannot reach %s at %s: %s", system, mask_urls(target.url), exc)
        raise LegacyUnavailable(
            f"cannot reach {system}: {_reason(exc)}",
            system=system,
            operation=operation,
        ) from exc


def _reason(exc: BaseException) -> str:
    """What kind of connection failure ``exc`` is, without naming hosts or ports."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "its host name does not resolve"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "the TLS handshake failed"
    if isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError):
        return "the connection was closed before an answer"
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        return "cannot connect"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the answer was cut off"
    return "the connection failed"


async def _read_at_most(response: aiohttp.ClientResponse, max_bytes: int, target: Target) -> bytes:
    """The body; refused unread when its declared length is too big, and as soon as
    more than ``max_bytes`` arrived otherwise."""
    if (response.content_length or 0) > max_bytes:
        raise _too_big(target, max_bytes)
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise _too_big(target, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(target: Target, max_bytes: int) -> LegacyProtocolError:
    return LegacyProtocolError(
        f"{target.system} answered {target.operation} with more than {max_bytes} bytes",
        system=target.system,
        operation=target.operation,
    )


def check_status(reply: Reply, target: Target, usable: Usable) -> Reply:
    """Raise for refused credentials and for a 5xx that is not a protocol answer."""
    system, operation = target.system, target.operation
    if reply.status in _CREDENTIALS:
        raise LegacyProtocolError(
            f"{system} refused our credentials (HTTP {reply.status}); check 'auth' in the spec",
            system=system,
            operation=operation,
        )
    if reply.status >= 500 and not usable(reply):
        raise LegacyUnavailable(
            f"{system} answered {operation} with HTTP {reply.status} and no usable answer",
            system=system,
            operation=operation,
            retry_after_s=_seconds(reply.retry_after),
        )
    return reply


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
