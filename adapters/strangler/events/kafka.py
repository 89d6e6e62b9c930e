"""Kafka through kafka-python: the one module of the events part that imports it.

:class:`Publisher` builds a ``KafkaProducer`` from the spec's ``kafka:``
section and sends structured-mode CloudEvents: the value is the event's JSON,
the key the entity key (UTF-8), and the header ``content-type`` is
``application/cloudevents+json``.

Producer settings (:func:`producer_settings`):

=====================  ======================================================
spec                   producer
=====================  ======================================================
``bootstrap``          ``bootstrap_servers`` (split on commas)
``client_id``          ``client_id``
``acks``               ``acks`` ('all', 1 or 0)
``idempotence``        ``enable_idempotence`` when ``acks`` is 'all' and the
                       broker allows it (refused: built again without it,
                       logged once); without it at most one request in flight
                       per connection, so retries never reorder a key's events
``compression``        ``compression_type`` ('none' is no compression)
``linger_ms``          ``linger_ms``
``batch_bytes``        ``batch_size``
``request_timeout_s``  ``request_timeout_ms``; a send gives up after
                       ``delivery_timeout_ms`` = twice the request timeout + linger
=====================  ======================================================

Foreign errors are translated here, once (:func:`translate`): anything the
client calls retriable (no connection, no answer in time, no leader yet) is
:class:`~strangler.errors.BrokerUnavailable`; anything else (a record too
large, a topic not allowed) is :class:`~strangler.errors.BrokerError`.

kafka-python blocks: every method here is called from a worker thread, never
on the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from strangler.errors import BrokerError, BrokerUnavailable
from strangler.events.envelope import CONTENT_TYPE
from strangler.spec.events import KafkaSpec

__all__ = ["Message", "Publisher", "producer_settings", "translate"]

log = logging.getLogger(__name__)

_HEADERS = [("content-type", CONTENT_TYPE.encode())]
_REFUSED_IDEMPOTENCE = ("UnsupportedVersionError", "ClusterAuthorizationFailedError")


class Message(NamedTuple):
    """One record to publish: the CloudEvent's JSON under the entity key."""

    topic: str
    key: str
    value: bytes


def producer_settings(spec: KafkaSpec, *, idempotent: bool = True) -> dict[str, Any]:
    """``KafkaProducer`` keyword arguments for ``spec`` (see the table above)."""
    request_ms = int(spec.request_timeout_s * 1000)
    idempotent = idempotent and spec.idempotence and spec.acks == "all"
    return {
        "bootstrap_servers": [s.strip() for s in spec.bootstrap.split(",") if s.strip()],
        "client_id": spec.client_id,
        "acks": spec.acks,
        "enable_idempotence": idempotent,
        "max_in_flight_requests_per_connection": 5 if idempotent else 1,
        "compression_type": None if spec.compression == "none" else spec.compression,
        "linger_ms": spec.linger_ms,
        "batch_size": spec.batch_bytes,
        "request_timeout_ms": request_ms,
        "delivery_timeout_ms": 2 * request_ms + spec.linger_ms,
        "max_block_ms": request_ms,
        "bootstrap_timeout_ms": min(request_ms, 5000),
        "reconnect_backoff_max_ms": 1000,
    }


def translate(exc: BaseException, bootstrap: str) -> BrokerError:
    """The project's error for a kafka-python (or socket) error; the caller raises
    it ``from exc``."""
    from kafka.errors import KafkaError

    retriable = isinstance(exc, OSError) or (
        isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))
    )
    kind = BrokerUnavailable if retriable else BrokerError
    return kind(f"broker {bootstrap}: {exc or type(exc).__name__}", bootstrap=bootstrap)


class Publisher:
    """A producer opened on first use, re-opened after a failed batch. Blocking calls."""

    def __init__(self, spec: KafkaSpec) -> None:
        self.spec = spec
        self.idempotent = spec.idempotence and spec.acks == "all"
        self.producer: Any = None

    def open(self) -> Any:
        """The producer, built now if needed (``BrokerUnavailable`` if no broker answers)."""
        if self.producer is not None:
            return self.producer
        from kafka import KafkaProducer
        from kafka.errors import KafkaConfigurationError, KafkaError

        try:
            try:
                self.producer = KafkaProducer(
                    **producer_settings(self.spec, idempotent=self.idempotent)
                )
            except KafkaConfigurationError as exc:
                if not self.idempotent:
                    raise
                self._without_idempotence(exc)
                self.producer = KafkaProducer(**producer_settings(self.spec, idempotent=False))
        except (KafkaError, OSError) as exc:
            raise translate(exc, self.spec.bootstrap) from exc
        return self.producer

    def publish(
        self,
        messages: Sequence[Message],
        *,
        tick: Callable[[], bool] | None = None,
        tick_s: float = 1.0,
    ) -> list[Any]:
        """Send every message in order, wait until each is acknowledged, and return
        their record metadata; ``BrokerError`` if any failed (then nothing is known
        of the others: the caller sends the whole batch again).

        While waiting, ``tick`` is called every ``tick_s`` seconds (a relay renews
        its lease there); when it answers False the wait is given up.
        """
        from kafka.errors import KafkaError, KafkaTimeoutError

        producer = self.open()
        try:
            futures = [
                producer.send(m.topic, value=m.value, key=m.key.encode(), headers=_HEADERS)
                for m in messages
            ]
            limit = producer.config["delivery_timeout_ms"] / 1000 + 2.0
            deadline = time.monotonic() + limit
            while True:
                try:
                    producer.flush(timeout=max(0.01, min(tick_s, deadline - time.monotonic())))
                    break
                except KafkaTimeoutError:
                    if time.monotonic() >= deadline:
                        raise
                    if tick is not None and not tick():
                        raise BrokerUnavailable(
                            "publish given up: the relay lost its lease",
                            bootstrap=self.spec.bootstrap,
                        ) from None
            results = []
            for future in futures:
                if not future.is_done:
                    raise KafkaTimeoutError("no acknowledgement in time")
                if future.failed():
                    raise future.exception
                results.append(future.value)
            return results
        except (KafkaError, OSError) as exc:
            self.reset()
            if self.idempotent and type(exc).__name__ in _REFUSED_IDEMPOTENCE:
                self._without_idempotence(exc)
            raise translate(exc, self.spec.bootstrap) from exc
        except BrokerError:
            self.reset()
            raise

    def connected(self) -> bool:
        """Whether the open producer is connected to a bootstrap broker now."""
        producer = self.producer
        return producer is not None and bool(producer.bootstrap_connected())

    def reset(self) -> None:
        """Drop the producer (records still queued in it are abandoned)."""
        producer, self.producer = self.producer, None
        if producer is None:
            return
        try:
            producer.close(timeout=0)
        except Exception:  # records still queued: let them expire away from the caller
            limit = producer.config["delivery_timeout_ms"] / 1000
            threading.Thread(
                target=_close_quietly, args=(producer, limit), daemon=True, name="kafka-close"
            ).start()

    def close(self, timeout_s: float = 5.0) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            producer.close(timeout=timeout_s)

    def _without_idempotence(self, exc: BaseException) -> None:
        self.idempotent = False
        log.warning(
            "broker %s refuses the idempotent producer (%s): publishing without it, "
            "one request in flight at a time",
            self.spec.bootstrap,
            exc,
        )


def _close_quietly(producer: Any, timeout_s: float) -> None:
    try:
        producer.close(timeout=timeout_s)
    except Exception:  # a broken producer is dropped all the same
        log.debug("closing the producer failed", exc_info=True)
