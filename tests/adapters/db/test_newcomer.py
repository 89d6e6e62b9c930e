"""The done-criterion, as a newcomer would try it.

"List Chinook's invoices over REST from MariaDB via ODBC, with a filter and a
cursor": a ``strangler.yaml`` naming the ODBC connection string and the
table, served by the same ``create_app`` as ``strangler serve``, then plain
HTTP GETs following ``next_cursor`` until it is null.
"""

from __future__ import annotations

import httpx
import pytest

from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.adapters.db.conftest import Backend
from tests.servers import run_app

SPEC = """
systems:
  chinook:
    kind: database
    odbc: "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;DATABASE=${CHINOOK_DB};UID=root;PWD="
    tables: [Invoice]
"""


@pytest.mark.needs("newcomer")
def test_newcomer_lists_invoices_from_mariadb_over_odbc_with_filter_and_cursor(
    backend: Backend,
) -> None:
    spec = parse_spec(SPEC, filename="strangler.yaml", env={"CHINOOK_DB": backend.database})
    with run_app(create_app(spec)) as url:
        first = httpx.get(
            f"{url}/database/chinook/Invoice?BillingCountry=eq.Germany&sort=-Total&limit=10"
        )
        assert first.status_code == 200, first.text
        page = first.json()
        assert len(page["items"]) == 10 and page["next_cursor"]
        invoices = list(page["items"])
        while page["next_cursor"]:
            answer = httpx.get(
                f"{url}/database/chinook/Invoice",
                params={"BillingCountry": "eq.Germany", "sort": "-Total", "limit": "10",
                        "cursor": page["next_cursor"]},
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
            page = answer.json()
            invoices.extend(page["items"])
    expected = backend.scalar("SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'Germany'")
    assert len({i["InvoiceId"] for i in invoices}) == len(invoices) == expected
    assert all(i["BillingCountry"] == "Germany" for i in invoices)
    totals = [float(i["Total"]) for i in invoices]
    assert totals == sorted(totals, reverse=True)
    assert invoices[0]["InvoiceDate"].count("T") == 1 and isinstance(invoices[0]["Total"], str)
