"""Records renamed and converted as a whole, and the policies for broken stored values."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest

from strangler.errors import LegacyDataError
from strangler.mapping import BROKEN_VALUES, FieldMap, Shape, StoredKind, apply_naming, build_shape

FIELDS: list[tuple[str, StoredKind]] = [
    ("ORDER_NO", "integer"),
    ("ORDER_DATE", "text"),
    ("STATUS", "text"),
    ("TOTAL", "decimal"),
]


def orders(on_broken: str = "error") -> Shape:
    return build_shape(
        "erp",
        "ORDERS",
        FIELDS,
        {
            "ORDER_NO": FieldMap.model_validate({"as": "orderNumber"}),
            "ORDER_DATE": FieldMap.model_validate({"date": "DD.MM.YYYY", "on_broken": on_broken}),
            "STATUS": FieldMap.model_validate({"enum": {"N": "new", "S": "shipped"}}),
        },
        naming="camelCase",
    )


def test_a_record_comes_out_modern_and_goes_back_legacy() -> None:
    shape = orders()
    stored = {"ORDER_NO": 101880, "ORDER_DATE": "16.05.2024", "STATUS": "S", "TOTAL": "4390.10"}
    modern = shape.decode(stored)
    assert modern == {
        "orderNumber": 101880,
        "orderDate": dt.date(2024, 5, 16),
        "status": "shipped",
        "total": "4390.10",
    }
    assert shape.encode(modern) == stored


def test_a_value_that_cannot_be_written_back_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"^status: must be one of new, shipped"):
        orders().encode({"status": "lost"})
    with pytest.raises(ValueError, match=r"^price: unknown field"):
        orders().encode({"price": Decimal(1)})


def test_broken_value_under_error_is_a_legacy_data_error_naming_row_and_field() -> None:
    with pytest.raises(LegacyDataError) as caught:
        orders("error").decode({"ORDER_DATE": "31.02.2019"}, row="101880")
    assert caught.value.where == "ORDERS 101880, field ORDER_DATE"
    assert "'31.02.2019' is not a date as text DD.MM.YYYY" in str(caught.value)


def test_broken_value_under_null_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    counter = BROKEN_VALUES.labels("erp", "ORDERS", "ORDER_DATE", "null")
    before = counter._value.get()
    out = orders("null").decode({"ORDER_DATE": "31.02.2019"}, row="7")
    assert out == {"orderDate": None}
    assert counter._value.get() == before + 1
    assert (
        "ORDERS 7, field ORDER_DATE" in caplog.text
        and caplog.records[-1].levelno == logging.WARNING
    )


def test_broken_value_under_raw_goes_to_its_side_field() -> None:
    shape = orders("raw")
    assert shape.decode({"ORDER_DATE": "31.02.2019"}) == {
        "orderDate": None,
        "orderDateRaw": "31.02.2019",
    }
    assert shape.decode({"ORDER_DATE": "01.02.2019"}) == {
        "orderDate": dt.date(2019, 2, 1),
        "orderDateRaw": None,
    }


def test_a_shape_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError, match="no field 'PRICE'"):
        build_shape("erp", "ORDERS", FIELDS, {"PRICE": FieldMap()})
    with pytest.raises(ValueError, match="would both be called 'total'"):
        build_shape(
            "erp", "ORDERS", FIELDS, {"ORDER_NO": FieldMap.model_validate({"as": "total"})},
            naming="camelCase",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "camel", "snake"),
    [
        ("ORDER_NO", "orderNo", "order_no"),
        ("GetStockResult", "getStockResult", "get_stock_result"),
        ("XMLHttpRequest", "xmlHttpRequest", "xml_http_request"),
        ("cust-no", "custNo", "cust_no"),
        ("CREATED_YYYYMMDD", "createdYyyymmdd", "created_yyyymmdd"),
    ],
)
def test_naming_conventions(name: str, camel: str, snake: str) -> None:
    assert apply_naming(name, "camelCase") == camel
    assert apply_naming(name, "snake_case") == snake
    assert apply_naming(name, "keep") == name
