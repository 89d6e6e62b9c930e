"""The ``features:`` section: feature views filled by ETL from the legacy systems.

.. code-block:: yaml

    features:
      store: ${FEATURES_URL:-}          # SQLAlchemy URL of the feature tables; empty: SQLite
      views:                            #   in the cache dir
        customer_features:
          source:
            from: erp.orders            # a database system's table, by its API name
          entity: customerNumber        # the entity key (API names, after the mapping)
          timestamp: orderDate          # the event time of each row
          watermark: updatedAt          # incremental loads: rows whose watermark grew
          lookback_s: 86400             # re-read this far behind the last watermark
          schedule: "@hourly"
          checks:
            - {column: total, max_null_rate: 0.01, min: 0}
            - {unique: [customerNumber, orderDate]}
            - {max_row_change: 0.5}
        item_sales:
          source:
            from: erp                   # a database system: a SQL query on it
            query: >
              SELECT l.SKU, o.ORDER_DATE, SUM(l.QTY) AS QTY
              FROM ORDER_LINES l JOIN ORDERS o ON o.ORDER_NO = l.ORDER_NO
              GROUP BY l.SKU, o.ORDER_DATE
            fields:                     # the query's columns, decoded by the mapping layer
              SKU: {as: sku, width: 12}
              ORDER_DATE: {as: day, date: DD.MM.YYYY}
              QTY: quantity
          entity: sku
          timestamp: day
          transform: myproject.features:rolling_sales   # a callable over batches of rows
        catalogue:
          source:
            from: inventory.ListItems   # an operation of a SOAP or RPC system
            items: items                # the list inside its answer
          entity: sku
      services:                         # views read together by entity, each point-in-time
        item_features: [item_sales, catalogue]

A view's rows land in a history table (entity, event time, features, ingested at)
and a latest table kept in step; see :mod:`strangler.etl`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from strangler.mapping.spec import FieldMaps
from strangler.spec.common import Frozen

__all__ = ["CheckSpec", "FeatureViewSpec", "FeaturesSpec", "PagingSpec", "SourceSpec"]


class PagingSpec(Frozen):
    """How an operation is paged: a page-number or offset parameter, and a page size."""

    param: str = Field(description="The input field that selects the page (number or offset).")
    size_param: str | None = Field(
        default=None, description="The input field that sets the page size."
    )
    size: PositiveInt = 500
    offsets: bool = Field(
        default=False, description="``param`` is a row offset (0, size, 2·size…), not a page."
    )
    first: int = Field(default=1, description="The first page's number (ignored for offsets).")


class SourceSpec(Frozen):
    """Where a view's rows come from: a table, a SQL query or an operation."""

    source: str = Field(
        alias="from",
        description="system.table (a database table by its API name), system (with "
        "``query``) or system.operation (a SOAP or RPC operation).",
    )
    query: str | None = Field(
        default=None, description="SQL run on the database system named by ``from``."
    )
    fields: FieldMaps = Field(
        default_factory=dict,
        description="The query's columns by their stored names, as in a table's ``fields`` "
        "(names, dates, minor units, enums, widths); columns not named keep their name.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="The operation's input (besides paging)."
    )
    items: str | None = Field(
        default=None,
        description="Dotted path of the list of rows in an operation's answer; "
        "default: the answer is the list, or its only list field.",
    )
    paging: PagingSpec | None = None
    chunk_rows: PositiveInt = Field(
        default=10_000, description="Rows fetched, transformed and loaded per chunk."
    )

    @property
    def system(self) -> str:
        return self.source.partition(".")[0]

    @property
    def name(self) -> str | None:
        """The table or operation; ``None`` for a query."""
        return self.source.partition(".")[2] or None


class CheckSpec(Frozen):
    """One data-quality check; a run that breaks one fails with a report and loads nothing
    of the failing chunk onward (what was loaded before stays, as after a kill)."""

    column: str | None = Field(default=None, description="The column checked.")
    max_null_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    min: float | None = None
    max: float | None = None
    unique: list[str] | None = Field(
        default=None, description="These columns together are unique within the run."
    )
    max_row_change: PositiveFloat | None = Field(
        default=None,
        description="Fail when the run's row count differs from the last run's by more "
        "than this fraction (0.5: half more or half fewer).",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> CheckSpec:
        per_column = (self.max_null_rate, self.min, self.max)
        if any(v is not None for v in per_column) and self.column is None:
            raise ValueError("max_null_rate, min and max need a column")
        if not any(v is not None for v in (*per_column, self.unique, self.max_row_change)):
            raise ValueError("a check needs max_null_rate, min, max, unique or max_row_change")
        return self


class FeatureViewSpec(Frozen):
    """A feature view: one source, an entity, an event time, a feature table."""

    source: SourceSpec
    entity: list[str] = Field(description="The entity key's columns (API names).")
    timestamp: str | None = Field(
        default=None,
        description="The event-time column; default: the ingestion time (a snapshot).",
    )
    watermark: str | None = Field(
        default=None,
        description="Incremental loads: only rows whose watermark column is past the last "
        "run's (less the lookback) are read; default: the timestamp, else full loads.",
    )
    lookback_s: Annotated[float, Field(ge=0)] = Field(
        default=0.0, description="Rows this far behind the last watermark are read again."
    )
    features: list[str] | None = Field(
        default=None, description="The feature columns; default: every other column."
    )
    transform: str | None = Field(
        default=None,
        description="module:function over each chunk (a list of dicts → a list of dicts).",
    )
    table: str | None = Field(default=None, description="The feature table; default: the name.")
    version: PositiveInt = 1
    ttl_s: PositiveFloat | None = Field(
        default=None, description="A value older than this is not served by as-of or latest."
    )
    schedule: str | None = Field(default=None, description="Cron or @preset for the DAG.")
    retries: Annotated[int, Field(ge=0)] = 2
    retry_delay_s: PositiveFloat = 300.0
    sla_s: PositiveFloat | None = Field(
        default=None, description="The DAG run should end within this many seconds."
    )
    checks: list[CheckSpec] = Field(default_factory=list)

    @field_validator("entity", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class FeaturesSpec(Frozen):
    """Feature views and where their tables live."""

    store: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the feature tables and the ETL state; "
        "default: a SQLite file in the cache dir.",
    )
    views: dict[str, FeatureViewSpec] = Field(default_factory=dict)
    services: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Named groups of views with the same entity, read together: each "
        "view's values are taken point-in-time on its own, then joined by entity.",
    )

    @model_validator(mode="after")
    def _services(self) -> FeaturesSpec:
        for name, members in self.services.items():
            if name in self.views:
                raise ValueError(f"service {name!r} has the name of a view")
            unknown = [m for m in members if m not in self.views]
            if unknown or not members:
                raise ValueError(f"service {name!r} names no view or unknown views {unknown}")
            entities = {tuple(self.views[m].entity) for m in members}
            if len(entities) > 1:
                raise ValueError(f"service {name!r} joins views with different entities")
        return self

    @field_validator("views")
    @classmethod
    def _names(cls, value: dict[str, FeatureViewSpec]) -> dict[str, FeatureViewSpec]:
        for name in value:
            if not name.isidentifier():
                raise ValueError(f"view name {name!r} must be letters, digits and '_'")
        return value
