"""How a legacy field is declared modern in the spec: its name, its encoding, what to do
when a stored value breaks that encoding.

One :class:`FieldMap` per field (a table's column, an operation's parameter or
answer field). Written in YAML either as the modern name alone
(``ORDER_NO: orderNumber``) or as a mapping::

    ORDER_DATE:   {as: orderDate, date: DD.MM.YYYY}
    CREATED:      {as: createdOn, date: YYYYMMDD, null_values: [0, 19000101]}
    PICKED_AT:    {as: pickedAt, time: HHMMSS}
    BOOKED_AT:    {as: bookedAt, timezone: Europe/Berlin}     # a local timestamp
    CREDIT_LIMIT: {as: creditLimit, minor_units: 2}            # cents → decimal
    ACTIVE:       {as: active, flag: {"true": [Y, J], "false": [N]}}
    STATUS:       {as: status, enum: {N: new, S: shipped, C: cancelled}}
    SEGMENT:      {as: segment, enum_table: {table: SEGMENTS, code: CODE, label: NAME}}
    SKU:          {as: sku, width: 12}                         # fixed-width code
    NOTE:         {as: note, null_values: [""], on_broken: raw}

At most one encoding (``date``, ``time``, ``datetime``, ``timezone``,
``minor_units``, ``flag``, ``enum``, ``enum_table``) per field; ``width``,
``null_values`` and ``on_broken`` combine with any of them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    field_validator,
    model_validator,
)

__all__ = [
    "ENCODINGS",
    "BrokenPolicy",
    "EnumTable",
    "FieldMap",
    "FieldMaps",
    "ObjectMap",
]

BrokenPolicy = Literal["error", "null", "raw"]
"""A stored value that breaks its declared encoding: ``error`` answers 502 naming the
row and field; ``null`` answers null, logs a warning and counts it; ``raw`` answers
null and puts the stored value in a side field (``<name>Raw``)."""

ENCODINGS = ("date", "time", "datetime", "timezone", "minor_units", "flag", "enum", "enum_table")
"""The keys of a :class:`FieldMap` that declare an encoding; at most one per field."""

_Scalar = str | int | float | bool


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class EnumTable(_Frozen):
    """Code values and their labels read from a code table of the same database."""

    table: str
    code: str = Field(description="The column holding the stored codes.")
    label: str = Field(description="The column holding the modern labels.")


def _text_keys(value: Any) -> Any:
    """YAML reads ``Y``/``N``/``1`` keys as booleans or numbers; codes are text."""
    if isinstance(value, dict):
        return {_text(k): v for k, v in value.items()}
    return value


def _text(value: Any) -> Any:
    if isinstance(value, bool):  # YAML 1.1 reads Y, N, yes, no, on, off as booleans
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


class FieldMap(_Frozen):
    """One legacy field made modern (see the module's docstring for the YAML forms)."""

    name: str | None = Field(default=None, alias="as", description="The modern name.")
    date: str | None = Field(
        default=None, description="A date stored as text or an integer in this format."
    )
    time: str | None = Field(default=None, description="A time of day in this format (HHMMSS).")
    datetime: str | None = Field(
        default=None, description="A timestamp stored as text in this format."
    )
    timezone: str | None = Field(
        default=None,
        description="The zone of a local timestamp: answered with its offset (ISO 8601).",
    )
    minor_units: Annotated[int, Field(ge=0, le=18)] | None = Field(
        default=None, description="An integer amount in minor units (2: cents) → a decimal."
    )
    flag: dict[Literal["true", "false"], tuple[_Scalar, ...]] | None = Field(
        default=None, description="Stored values read as true and as false (the first is written)."
    )
    enum: Annotated[dict[str, str], BeforeValidator(_text_keys)] | None = Field(
        default=None, description="Stored code → label."
    )
    enum_table: EnumTable | None = None
    width: PositiveInt | None = Field(
        default=None, description="A fixed-width code: padded to this width when written."
    )
    fill: Literal[" ", "0"] = Field(default=" ", description="The padding character.")
    align: Literal["left", "right"] = Field(
        default="left", description="left: padding follows the value; right: it precedes."
    )
    null_values: tuple[_Scalar, ...] = Field(
        default=(), description="Stored sentinels that mean 'no value' (0, 19000101, '')."
    )
    on_broken: BrokenPolicy = "error"
    description: str | None = None
    max_length: NonNegativeInt | None = None

    @field_validator("flag", mode="before")
    @classmethod
    def _flag_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, items in value.items():
                items = items if isinstance(items, list | tuple) else [items]
                out[_text(key)] = tuple(_text(i) for i in items)
            return out
        return value

    @field_validator("null_values", mode="before")
    @classmethod
    def _null_texts(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_encoding(self) -> FieldMap:
        given = [key for key in ENCODINGS if getattr(self, key) is not None]
        if len(given) > 1 and set(given) != {"datetime", "timezone"}:
            raise ValueError(f"give at most one encoding per field, not {' and '.join(given)}")
        if self.flag is not None:
            if set(self.flag) != {"true", "false"} or not all(self.flag.values()):
                raise ValueError("flag needs stored values for both 'true' and 'false'")
            if set(self.flag["true"]) & set(self.flag["false"]):
                raise ValueError("a stored value cannot be both true and false")
        if self.enum is not None:
            labels = list(self.enum.values())
            if not labels or len(set(labels)) != len(labels):
                raise ValueError("enum needs at least one code, and distinct labels")
        return self

    @property
    def encoding(self) -> str | None:
        """The declared encoding's key, if any."""
        for key in ENCODINGS:
            if getattr(self, key) is not None:
                return key
        return None


def _field_map(value: Any) -> Any:
    return {"as": value} if isinstance(value, str) else value


FieldMaps = dict[str, Annotated[FieldMap, BeforeValidator(_field_map)]]
"""Legacy field name → how it is made modern."""


class ObjectMap(_Frozen):
    """A table, a complex type or an operation's message: its modern name and fields."""

    name: str | None = Field(default=None, alias="as", description="The modern name.")
    fields: FieldMaps = Field(default_factory=dict)
