"""Each encoding both ways, broken stored values, and what the database is asked to compare."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from strangler.mapping import BrokenValue, FieldMap, build_codec
from strangler.mapping.codecs import Codec, StoredKind
from strangler.mapping.pushdown import (
    Arithmetic,
    AsInteger,
    Cases,
    Expr,
    NullIf,
    RTrim,
    Slices,
    Stored,
)


def codec(stored: StoredKind, **spec: Any) -> Codec:
    return build_codec(FieldMap.model_validate(spec), stored)


def evaluate(expr: Expr, stored: Any) -> Any:
    """What a database computes for ``expr`` on one stored value (SQL semantics)."""
    if isinstance(expr, Stored):
        return stored
    if isinstance(expr, RTrim):
        return evaluate(expr.inner, stored).rstrip(" ")
    if isinstance(expr, AsInteger):
        return int(evaluate(expr.inner, stored))
    if isinstance(expr, Slices):
        text = evaluate(expr.inner, stored)
        return "".join(text[at : at + width] for at, width in expr.parts)
    if isinstance(expr, Arithmetic):
        number = evaluate(expr.inner, stored)
        return sum((number // d) % m * w for d, m, w in expr.groups)
    if isinstance(expr, Cases):
        value = evaluate(expr.inner, stored)
        return next((result for when, result in expr.pairs if when == value), None)
    if isinstance(expr, NullIf):
        return None if evaluate(expr.inner, stored) in expr.values else evaluate(expr.then, stored)
    raise AssertionError(expr)


DATES = st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31))


@pytest.mark.parametrize(
    ("stored_kind", "fmt", "stored", "value"),
    [
        ("text", "DD.MM.YYYY", "16.05.2024", dt.date(2024, 5, 16)),
        ("text", "YYYY-MM-DD", "2024-05-16", dt.date(2024, 5, 16)),
        ("text", "MM/DD/YYYY", "05/16/2024", dt.date(2024, 5, 16)),
        ("integer", "YYYYMMDD", 20240516, dt.date(2024, 5, 16)),
        ("integer", "DDMMYYYY", 16052024, dt.date(2024, 5, 16)),
        ("text", "YYYYMMDD", "20240516", dt.date(2024, 5, 16)),
    ],
)
def test_dates_both_ways(stored_kind: StoredKind, fmt: str, stored: Any, value: dt.date) -> None:
    c = codec(stored_kind, date=fmt)
    assert c.kind == "date"
    assert c.decode(stored) == value
    assert c.encode(value) == stored


@pytest.mark.parametrize("fmt", ["DD.MM.YYYY", "MM/DD/YYYY", "YYYY-MM-DD"])
@settings(max_examples=200, deadline=None)
@given(a=DATES, b=DATES)
def test_text_dates_compare_in_the_database_as_dates(fmt: str, a: dt.date, b: dt.date) -> None:
    c = codec("text", date=fmt)
    sortable = c.sortable()
    left, right = evaluate(sortable, c.encode(a)), evaluate(sortable, c.encode(b))
    assert (left < right) == (a < b) and (left == right) == (a == b)
    assert evaluate(sortable, c.encode(a)) == c.comparable(a)


@pytest.mark.parametrize("fmt", ["YYYYMMDD", "DDMMYYYY", "MMDDYYYY"])
@settings(max_examples=200, deadline=None)
@given(a=DATES, b=DATES)
def test_integer_dates_compare_in_the_database_as_dates(fmt: str, a: dt.date, b: dt.date) -> None:
    c = codec("integer", date=fmt)
    left, right = evaluate(c.sortable(), c.encode(a)), evaluate(c.sortable(), c.encode(b))
    assert (left < right) == (a < b)
    assert left == c.comparable(a)


def test_times_and_text_timestamps() -> None:
    t = codec("integer", time="HHMMSS")
    assert t.decode(93015) == dt.time(9, 30, 15) and t.encode(dt.time(9, 30, 15)) == 93015
    hm = codec("text", time="HH:MM")
    assert hm.decode("07:05") == dt.time(7, 5) and hm.encode(dt.time(7, 5)) == "07:05"
    stamp = codec("text", datetime="DD.MM.YYYY HH:MI:SS")
    assert stamp.kind == "datetime"
    assert stamp.decode("16.05.2024 10:30:00") == dt.datetime(2024, 5, 16, 10, 30)
    assert stamp.encode(dt.datetime(2024, 5, 16, 10, 30)) == "16.05.2024 10:30:00"


def test_local_timestamps_gain_their_offset_and_are_written_back_in_local_time() -> None:
    c = codec("datetime", timezone="Europe/Berlin")
    assert c.kind == "datetime_tz"
    summer, winter = c.decode(dt.datetime(2024, 7, 1, 12)), c.decode(dt.datetime(2024, 1, 1, 12))
    assert summer.isoformat() == "2024-07-01T12:00:00+02:00"
    assert winter.isoformat() == "2024-01-01T12:00:00+01:00"
    utc = dt.datetime(2024, 7, 1, 10, tzinfo=dt.UTC)
    assert c.encode(utc) == dt.datetime(2024, 7, 1, 12)
    with pytest.raises(ValueError, match="offset"):
        c.encode(dt.datetime(2024, 7, 1, 12))  # which zone was meant cannot be guessed
    text = codec("text", datetime="YYYYMMDDHHMISS", timezone="America/New_York")
    assert text.decode("20240701120000").isoformat() == "2024-07-01T12:00:00-04:00"
    assert text.encode(utc) == "20240701060000"


def test_minor_units_are_exact_decimals_both_ways() -> None:
    c = codec("integer", minor_units=2)
    assert (c.kind, c.scale) == ("decimal", 2)
    assert str(c.decode(439010)) == "4390.10" and str(c.decode(-5)) == "-0.05"
    assert c.decode(10**20 + 1) == Decimal("1000000000000000000.01")  # never through a float
    assert c.encode(Decimal("4390.1")) == 439010
    with pytest.raises(ValueError, match="2 decimal places"):
        c.encode(Decimal("1.005"))
    assert c.comparable(Decimal("12.34")) == 1234 and c.sortable() == Stored()


@settings(max_examples=200, deadline=None)
@given(a=st.integers(-(10**12), 10**12), b=st.integers(-(10**12), 10**12))
def test_minor_units_kept_as_text_compare_in_the_database_as_numbers(a: int, b: int) -> None:
    c = codec("text", minor_units=2)
    x, y = Decimal(a).scaleb(-2), Decimal(b).scaleb(-2)
    left, right = evaluate(c.sortable(), c.encode(x)), evaluate(c.sortable(), c.encode(y))
    assert (left < right) == (x < y) and left == c.comparable(x)


def test_flags_read_every_declared_value_and_write_the_first() -> None:
    c = codec("text", flag={"true": ["Y", "J"], "false": ["N"]}, width=1)
    assert [c.decode(v) for v in ("Y", "J", "N")] == [True, True, False]
    assert c.encode(True) == "Y" and c.encode(False) == "N"
    with pytest.raises(ValueError, match="true or false"):
        c.encode("Y")
    numeric = codec("integer", flag={"true": 1, "false": 0})
    assert numeric.decode(1) is True and numeric.encode(False) == 0
    assert evaluate(numeric.sortable(), 0) == numeric.comparable(False)


def test_yaml_booleans_as_flag_and_enum_keys_are_read_as_text() -> None:
    # YAML 1.1 readers turn Y/N/yes/no into booleans; the codes are text all the same
    spec = FieldMap.model_validate({"flag": {True: ["Y"], False: ["N"]}, "enum": None})
    assert spec.flag == {"true": ("Y",), "false": ("N",)}
    assert FieldMap.model_validate({"enum": {1: "one", False: "no"}}).enum == {
        "1": "one",
        "false": "no",
    }


def test_enums_map_codes_to_labels_and_labels_back() -> None:
    c = codec("text", enum={"N": "new", "S": "shipped", "C": "cancelled"})
    assert c.labels == ("new", "shipped", "cancelled")
    assert c.decode("S") == "shipped" and c.encode("cancelled") == "C"
    with pytest.raises(ValueError, match="one of new, shipped, cancelled"):
        c.encode("lost")
    sortable = c.sortable()
    assert evaluate(sortable, "S") == c.comparable("shipped") == "shipped"
    labels = build_codec(FieldMap.model_validate({"enum_table": {"table": "T", "code": "C",
                         "label": "L"}}), "integer", labels={"1": "one", "2": "two"})  # fmt: skip
    assert labels.decode(2) == "two" and labels.encode("one") == 1


def test_fixed_width_codes_are_padded_on_the_way_back() -> None:
    c = codec("text", width=12)
    assert c.decode("SKU-1001    ") == "SKU-1001"
    assert c.encode("SKU-1001") == "SKU-1001    "
    with pytest.raises(ValueError, match="12 characters"):
        c.encode("SKU-1001-LONGER")
    zeros = codec("text", width=6, fill="0", align="right")
    assert zeros.decode("000123") == "123" and zeros.encode("123") == "000123"


def test_sentinels_read_as_null_and_null_is_written_as_the_first_sentinel() -> None:
    c = codec("integer", date="YYYYMMDD", null_values=[0, 19000101])
    assert c.decode(0) is None and c.decode(19000101) is None
    assert c.encode(None) == 0
    assert evaluate(c.sortable(), 19000101) is None
    assert evaluate(c.sortable(), 20240101) == 20240101
    text = codec("text", null_values=["", "9999-12-31"], date="YYYY-MM-DD")
    assert text.decode("") is None and text.decode("9999-12-31") is None


@pytest.mark.parametrize(
    ("spec", "stored", "bad"),
    [
        ({"date": "DD.MM.YYYY"}, "text", "31.02.2019"),
        ({"date": "DD.MM.YYYY"}, "text", "2019-02-01"),
        ({"date": "YYYYMMDD"}, "integer", 20191301),
        ({"date": "YYYYMMDD"}, "integer", 123),
        ({"time": "HHMMSS"}, "integer", 246000),
        ({"flag": {"true": "Y", "false": "N"}}, "text", "X"),
        ({"enum": {"A": "active"}}, "text", "Z"),
        ({"minor_units": 2}, "integer", "12.5"),
        ({"date": "DD.MM.YYYY"}, "text", "١٦.05.2024"),  # not ASCII digits
    ],
)
def test_a_stored_value_breaking_its_encoding_is_reported(
    spec: dict[str, Any], stored: StoredKind, bad: Any
) -> None:
    with pytest.raises(BrokenValue, match="is not"):
        codec(stored, **spec).decode(bad)


@pytest.mark.parametrize(
    ("spec", "stored", "message"),
    [
        ({"date": "DD.MM.YYYY", "flag": {"true": "Y", "false": "N"}}, "text", "at most one"),
        ({"date": "DD.MM"}, "text", "needs"),
        ({"date": "DD.MM.YYYY"}, "integer", "separators"),
        ({"minor_units": 2}, "date", "integer"),
        ({"timezone": "Mars/Olympus"}, "datetime", "unknown time zone"),
        ({"flag": {"true": "Y", "false": "Y"}}, "text", "both true and false"),
        ({"enum": {"A": "x", "B": "x"}}, "text", "distinct labels"),
        ({"width": 3}, "integer", "text fields"),
    ],
)
def test_a_mapping_that_cannot_work_is_refused_when_built(
    spec: dict[str, Any], stored: StoredKind, message: str
) -> None:
    with pytest.raises((ValueError, ValidationError), match=message):
        codec(stored, **spec)


def test_descriptions_name_the_legacy_field_and_its_encoding() -> None:
    c = codec("text", date="DD.MM.YYYY", null_values=[""])
    assert c.describe("ORDER_DATE") == (
        "Legacy field ORDER_DATE, stored as a date as text DD.MM.YYYY; null when stored as ''."
    )
