"""The CloudEvent JSON written from a stream's template is the dict path's, byte for byte."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from strangler.events.envelope import Template, cloud_event, encode, new_id

TIMES = [
    None,
    dt.datetime(2024, 5, 16, 8, 12, 3),
    dt.datetime(2024, 5, 16, 8, 12, 3, 4),
    dt.datetime(2024, 5, 16, 8, 12, 3, tzinfo=dt.UTC),
    dt.datetime(2024, 5, 16, 8, 12, 3, 999999, tzinfo=ZoneInfo("UTC")),
    dt.datetime(2024, 5, 16, 8, 12, 3, 120, tzinfo=ZoneInfo("Europe/Berlin")),
    dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
]
DATA: list[Any] = [
    {"orderNumber": 101880, "status": "Shipped", "amount": "12.50", "note": None},
    {"name": 'Crème "brûlée"\n\u2028', "tags": ["a", "b"], "nested": {"x": 1.5}},
    {},
    None,
]


@pytest.mark.parametrize("moment", TIMES)
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("subject", ["101880", '"A,1",2', "Größe/ü"])
@pytest.mark.parametrize("dataschema", [None, "/asyncapi.json#/components/schemas/erp.OrdersRow"])
def test_template_matches_the_dict(
    moment: dt.datetime | None, data: Any, subject: str, dataschema: str | None
) -> None:
    template = Template(
        source="/strangler/erp/orders", type="strangler.erp.orders.updated", dataschema=dataschema
    )
    event_id = new_id()
    expected = encode(
        cloud_event(
            source="/strangler/erp/orders",
            type="strangler.erp.orders.updated",
            subject=subject,
            data=data,
            time=moment,
            dataschema=dataschema,
            id=event_id,
        )
    )
    written = template.encode(id=event_id, subject=subject, data=data, time=moment)
    if moment is None:  # now: the two clocks differ; everything else must not
        parsed, wanted = orjson.loads(written), orjson.loads(expected)
        assert parsed.pop("time").endswith("Z")
        wanted.pop("time")
        assert parsed == wanted
        assert list(parsed) == list(wanted)
    else:
        assert written == expected


def test_source_and_type_are_escaped() -> None:
    template = Template(source='/a"b', type="t\\u")
    written = template.encode(id="1", subject="s", data=[1], time=dt.datetime(2024, 1, 1))
    assert orjson.loads(written) == {
        "specversion": "1.0",
        "id": "1",
        "source": '/a"b',
        "type": "t\\u",
        "subject": "s",
        "time": "2024-01-01T00:00:00Z",
        "datacontenttype": "application/json",
        "data": [1],
    }
