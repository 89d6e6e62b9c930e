"""Schemathesis over the demo estate's whole OpenAPI document, over real HTTP.

The demo estate (SOAP inventory, XML-RPC pricing, ERP SQLite) runs once for the
module, in a fresh state folder (the STOCK table takes writes), behind the app
``strangler demo`` serves, with the server config of ``strangler serve``.

Every operation gets its explicit examples, the coverage cases (boundaries,
missing and wrong-typed values, other methods) and ``MAX_EXAMPLES`` fuzzed
cases, valid and invalid, derandomized from ``SEED`` with no example database
(about 100 s for the 30 operations on 2 cores). Every answer must:

* not be a 5xx;
* conform to the document: a documented status, content type and headers, a
  body matching its schema; a 405 with ``Allow`` naming the documented methods;
* be ``application/problem+json`` whenever it is an error (4xx and 5xx);
* refuse input that breaks the schema (schemathesis' ``negative_data_rejection``).

Off: ``positive_data_acceptance``, since schema-valid input is refused by design
where the document cannot say what exists (an unknown SKU is the legacy
system's 400 fault, a filter is ``op.value`` text: 400 ``bad-query``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)

from strangler.demo.estate import running_estate
from strangler.demo.features import load_features
from strangler.rest.app import create_app
from strangler.rest.problems import MEDIA_TYPE
from tests.rest.conftest import serving

SEED = 20261204
MAX_EXAMPLES = 150

SOAP = "/soap/inventory"
SOAP11 = f"{SOAP}/InventoryService/InventorySoap11"
SOAP12 = f"{SOAP}/InventoryService/InventorySoap12"
ERP = "/database/erp"
ERP_LEGACY = "/database/erp_legacy"

OPERATIONS = [
    *(
        f"POST {base}/{name}"
        for base in (SOAP11, SOAP, SOAP12)
        for name in ("GetStock", "ListItems", "GetReorderAdvice", "AdjustStock")
    ),
    *(
        f"POST /xmlrpc/pricing/pricing.{name}"
        for name in ("list_price", "ping", "price_list", "quote", "valid_until")
    ),
    *(
        f"GET {ERP}/{table}{key}"
        for table in ("customers", "orders", "orderLines", "stock")
        for key in ("", "/{key}")
    ),
    *(
        f"{verb} {ERP}/{table}{key}"
        for table in ("customers", "orders", "stock")
        for verb, key in (("POST", ""), ("PATCH", "/{key}"), ("DELETE", "/{key}"))
    ),
    *(
        f"GET {ERP_LEGACY}/{table}{key}"
        for table in ("CUSTOMERS", "ORDERS", "ORDER_LINES", "STOCK")
        for key in ("", "/{key}")
    ),
    f"POST {ERP_LEGACY}/STOCK",
    f"PATCH {ERP_LEGACY}/STOCK/{{key}}",
    f"DELETE {ERP_LEGACY}/STOCK/{{key}}",
    "GET /events",
    "GET /events/orders",
    "GET /events/stock",
    "GET /asyncapi.json",
    "GET /features",
    *(
        f"{verb} /features/{name}/{route}"
        for name in (
            "item_sales",
            "item_stock",
            "item_catalogue",
            "customer_orders",
            "customer_profile",
            "item_features",
            "customer_features",
        )
        for verb, route in (("GET", "latest"), ("POST", "latest"), ("POST", "as-of"))
    ),
    "POST /predict/{model}",
    "GET /v2",
    "GET /v2/health/live",
    "GET /v2/health/ready",
    *(
        f"{verb} /v2/models/{{name}}{version}{route}"
        for version in ("", "/versions/{version}")
        for verb, route in (("GET", ""), ("GET", "/ready"), ("GET", "/config"), ("POST", "/infer"))
    ),
    "POST /v2/repository/index",
    "POST /v2/repository/models/{name}/load",
    "POST /api/reorder-advice",
    *(f"POST /_strangler/sides/reorder-advice/{side}" for side in ("legacy", "modern")),
    "GET /admin/routes",
    "GET /admin/routes/{route}",
    "PUT /admin/routes/{route}",
    "GET /admin/routes/{route}/disagreements",
    "GET /admin/canary",
    "GET /admin/canary/{route}",
    "GET /admin/canary/{route}/analyses",
    "GET /admin/canary/{route}/audit",
    "GET /healthz",
    "GET /readyz",
    # last: they change what the model answers (an unknown model is a 404 problem)
    *(f"{verb} /admin/models/{{model}}/faults" for verb in ("GET", "PUT", "DELETE")),
    # may pause or roll back the demo's rollout
    *(f"POST /admin/canary/{{route}}/{a}" for a in ("pause", "resume", "promote", "rollback")),
]
"""Every fuzzed operation of the demo document."""

STREAMED = ["GET /events/orders/sse", "GET /events/stock/sse"]
"""Server-Sent Events: an answer that never ends cannot be fuzzed; tests/events/test_http.py
checks their refusals (400 and 404 problems) and what they carry."""


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("fuzz-estate")
    with running_estate(state_dir=Path(state)) as estate:
        load_features(estate.spec)
        with serving(create_app(estate.spec)) as url:
            yield url


def fuzz_config(max_examples: int, **generation: Any) -> Any:
    """Seeded, derandomized, no example database, valid and invalid cases, no stateful phase."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
                "mode": "all",
                **generation,
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"positive_data_acceptance": {"enabled": False}},
        }
    )


def fuzz(schema: Any, label: str, check: Callable[[Any], None]) -> None:
    """Run ``check`` on the explicit examples, the coverage cases and the fuzzed cases of
    the operation ``label`` (``"METHOD /path"``)."""
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    project = schema.config
    modes = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]
    test = create_test(
        operation=operation,
        test_func=check,
        config=HypothesisTestConfig(
            project=project,
            modes=modes,
            settings=project.get_hypothesis_settings(operation=operation, phase="fuzzing"),
            seed=SEED,
        ),
    )
    test()


@pytest.fixture(scope="module")
def demo_schema(demo_url: str) -> Any:
    config = fuzz_config(MAX_EXAMPLES)
    return schemathesis.openapi.from_url(f"{demo_url}/openapi.json", config=config)


def problem_json_errors(ctx: Any, response: Any, case: Any) -> None:
    """Every error answer is RFC 9457 problem+json."""
    if response.status_code >= 400:
        media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
        assert media_type == MEDIA_TYPE, (
            f"{response.status_code} answered as {media_type or 'no content type'}, "
            f"not {MEDIA_TYPE}"
        )


def test_every_operation_is_fuzzed(demo_schema: Any) -> None:
    labels = {result.ok().label for result in demo_schema.get_all_operations()}
    assert labels == set(OPERATIONS) | set(STREAMED)


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation(label: str, demo_schema: Any, demo_url: str) -> None:
    def check(case: Any) -> None:
        case.call_and_validate(base_url=demo_url, additional_checks=[problem_json_errors])

    fuzz(demo_schema, label, check)
