"""The ``events:`` section: streams of changes, command topics, Kafka, the state database.

.. code-block:: yaml

    events:
      state: postgresql+psycopg://strangler@db/strangler   # default: SQLite in the cache dir
      kafka: {bootstrap: "${KAFKA_BOOTSTRAP}", acks: all}    # absent: no broker (REST and SSE)
      streams:
        orders:
          from: erp.orders               # a table of a database system (its API name)
          poll: {watermark: updatedAt, lookback_s: 60, deletes_every_s: 300}
        stock-adjustments:
          from: inventory.AdjustStock    # an operation: each successful call is an event
          key: sku                       # the input field that is the entity key
      commands:
        adjust-stock:
          topic: commands.inventory.adjust-stock
          operation: inventory.AdjustStock

Every stream has an outbox in the state database: polling change capture and
the adapters' writes append to it, a relay publishes it to Kafka, and the REST
and SSE readers page through it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from strangler.spec.common import Frozen

__all__ = [
    "ROLES",
    "CommandSpec",
    "EventsSpec",
    "KafkaSpec",
    "PollSpec",
    "RelaySpec",
    "Role",
    "StreamSpec",
    "parse_roles",
]

_TOPIC = r"^[A-Za-z0-9._-]{1,249}$"


class KafkaSpec(Frozen):
    """The broker and the producer's settings (safe defaults: every replica acknowledges)."""

    bootstrap: str = Field(description="host:port[,host:port...] of the brokers.")
    client_id: str = "strangler"
    acks: Literal["all", 0, 1] = Field(
        default="all", description="Acknowledgements a send waits for ('all' loses nothing)."
    )
    idempotence: bool = Field(
        default=True,
        description="Idempotent producer where the broker allows it (no duplicates on retry).",
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"
    linger_ms: Annotated[int, Field(ge=0, le=60_000)] = 5
    batch_bytes: PositiveInt = 64 * 1024
    request_timeout_s: PositiveFloat = 30.0


class PollSpec(Frozen):
    """Polling change capture of a database table, by a watermark column."""

    watermark: str = Field(
        description="The column (API name) that grows with every change: a timestamp, "
        "a date-time text or a row version; the key breaks ties."
    )
    timezone: str | None = Field(
        default=None,
        description="The zone of a watermark stored as local time without a zone "
        "(e.g. Europe/Berlin); default: the stored value is UTC or carries its zone.",
    )
    lookback_s: Annotated[float, Field(ge=0)] = Field(
        default=60.0,
        description="Rows are re-read this far behind the watermark, so a transaction "
        "that commits late with an older value is still seen (re-read rows are not repeated).",
    )
    lookback_versions: Annotated[int, Field(ge=0)] = Field(
        default=1000,
        description="For an integer watermark (a row version): rows are re-read this many "
        "versions behind the highest seen (lookback_s applies to time watermarks).",
    )
    interval_s: PositiveFloat = 1.0
    batch_size: PositiveInt = 500
    deletes_every_s: PositiveFloat | None = Field(
        default=300.0,
        description="How often the table's keys are compared with the last snapshot to "
        "find deleted rows (and rows changed beyond the lookback); null: never.",
    )


class StreamSpec(Frozen):
    """One stream of events: a table's changes, or an operation's successful calls."""

    source: str = Field(
        alias="from",
        description="system.table (a database table by its API name) or system.operation.",
    )
    topic: str | None = Field(
        default=None, pattern=_TOPIC, description="Kafka topic; default: system.table."
    )
    key: str | None = Field(
        default=None,
        description="For an operation stream: the input field that is the entity key.",
    )
    poll: PollSpec | None = None
    outbox: bool = Field(
        default=True,
        description="Writes through the adapter (POST/PATCH/DELETE, or the operation) are "
        "recorded in the outbox.",
    )

    @field_validator("source")
    @classmethod
    def _dotted(cls, value: str) -> str:
        system, dot, name = value.partition(".")
        if not dot or not system or not name:
            raise ValueError(f"{value!r} is not system.table or system.operation")
        return value


class CommandSpec(Frozen):
    """A command topic: each message calls an operation; the answer goes to the reply topic."""

    topic: str = Field(pattern=_TOPIC)
    operation: str = Field(description="system.operation, as the REST route calls it.")
    reply_topic: str | None = Field(default=None, pattern=_TOPIC)
    dead_letter_topic: str | None = Field(default=None, pattern=_TOPIC)
    group: str = Field(
        default="strangler-commands", description="Consumer group; replicas share partitions."
    )
    max_bytes: PositiveInt = Field(
        default=1024 * 1024,
        description="Larger command messages go to the dead-letter topic, never decoded.",
    )

    @property
    def replies(self) -> str:
        return self.reply_topic or f"{self.topic}.reply"

    @property
    def dead_letters(self) -> str:
        return self.dead_letter_topic or f"{self.topic}.dlq"


class RelaySpec(Frozen):
    """How the outbox is published to Kafka."""

    batch_size: PositiveInt = 500
    interval_s: PositiveFloat = 0.2
    lease_s: PositiveFloat = Field(
        default=10.0,
        description="A relay holds its stream's lease this long without renewing it; "
        "then another replica takes over.",
    )
    retention_s: PositiveFloat | None = Field(
        default=7 * 24 * 3600.0,
        description="Published events older than this are removed from the outbox; null: kept.",
    )


Role = Literal["capture", "relay"]
ROLES: tuple[Role, ...] = ("capture", "relay")


def parse_roles(text: str) -> tuple[str, ...]:
    """``"capture,relay"`` (commas or spaces) as roles; unknown names are left to the model."""
    roles = tuple(part for part in text.replace(",", " ").split() if part)
    if not roles:
        raise ValueError("name at least one role: capture, relay")
    return roles


class EventsSpec(Frozen):
    """The event side of the adapters."""

    state: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the state database (outbox, offsets, leases, "
        "command keys); default: a SQLite file in the cache dir.",
    )
    source: str = Field(
        default="/strangler",
        description="CloudEvents source prefix; events get <source>/<system>/<table>.",
    )
    kafka: KafkaSpec | None = None
    relay: RelaySpec = RelaySpec()
    streams: dict[str, StreamSpec] = Field(default_factory=dict)
    commands: dict[str, CommandSpec] = Field(default_factory=dict)
    run: tuple[Role, ...] = Field(
        default=("capture", "relay"),
        description="The event roles this process runs: 'capture' (polling change capture "
        "into the outbox) and 'relay' (outbox to Kafka); a list or 'capture,relay'. "
        "STRANGLER_EVENTS_RUN overrides it, so replicas can run one role each.",
    )

    @field_validator("run", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        return parse_roles(value) if isinstance(value, str) else value

    @field_validator("streams", "commands")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not name.replace("-", "_").replace(".", "_").isidentifier():
                raise ValueError(f"name {name!r} must be letters, digits, '_', '-' or '.'")
        return value

    @model_validator(mode="after")
    def _commands_need_kafka(self) -> EventsSpec:
        if self.commands and self.kafka is None:
            raise ValueError("commands need a broker: add events.kafka")
        return self

    @model_validator(mode="after")
    def _relay_needs_kafka(self) -> EventsSpec:
        # the default roles serve the outbox over REST and SSE alone; a relay named
        # on purpose without a broker would publish nothing, silently
        if "run" in self.model_fields_set and "relay" in self.run and self.kafka is None:
            raise ValueError(
                "run names 'relay', which publishes the outbox to Kafka: add events.kafka "
                "(or leave 'relay' out: the streams are read over REST and SSE without it)"
            )
        return self
