"""Schemathesis over the closed demo's OpenAPI document, authenticated, over real HTTP.

The whole document is fuzzed open in ``tests/rest/test_fuzz_demo.py``; here a sample
of operations (every kind of route: SOAP, XML-RPC, tables read and written, streams,
models, the gateway route, the admin API, health) is fuzzed with the guard in front,
carrying a key that grants everything. Every answer must not be a 5xx, must conform
to the document (which now declares 401/403/429 and the security schemes), and be
problem+json when it is an error; schemathesis' ``ignored_auth`` check sends each
case again without the key and expects a refusal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)

from strangler.demo.estate import Estate
from strangler.rest.app import create_app
from tests.rest.conftest import serving
from tests.rest.test_fuzz_demo import problem_json_errors
from tests.security.conftest import KEYS_SECTION, Keys, secured_spec, sqlite_url

SEED = 20261204
MAX_EXAMPLES = 25

SAMPLE = [
    "POST /soap/inventory/GetStock",
    "POST /soap/inventory/InventoryService/InventorySoap12/AdjustStock",
    "POST /xmlrpc/pricing/pricing.quote",
    "GET /database/erp/orders",
    "GET /database/erp/orders/{key}",
    "POST /database/erp/customers",
    "PATCH /database/erp/stock/{key}",
    "DELETE /database/erp_legacy/STOCK/{key}",
    "GET /events/orders",
    "POST /predict/{model}",
    "POST /v2/models/{name}/infer",
    "POST /api/reorder-advice",
    "GET /admin/routes",
    "PUT /admin/routes/{route}",
    "GET /healthz",
]
"""One or more operations of every kind of route the guard stands in front of."""

CASES: Counter[str] = Counter()
"""Cases sent and answers by status class (for docs/security.md)."""


@pytest.fixture(scope="module")
def secured_url(
    estate: Estate, api_keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("fuzz-secured")
    section = KEYS_SECTION + f"  audit: {{database: '{sqlite_url(folder, 'audit.sqlite')}'}}\n"
    spec = secured_spec(estate, section, api_keys.env)
    with serving(create_app(spec, cache_dir=folder / "cache")) as url:
        yield url


@pytest.fixture(scope="module")
def auth(api_keys: Keys) -> dict[str, str]:
    return {"X-API-Key": api_keys.clear["all"]}


@pytest.fixture(scope="module")
def secured_schema(secured_url: str, auth: dict[str, str]) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "mode": "all",
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"positive_data_acceptance": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{secured_url}/openapi.json", config=config, headers=auth)


def test_the_secured_document_is_valid_openapi(secured_schema: Any) -> None:
    validate(secured_schema.raw_schema)
    labels = {result.ok().label for result in secured_schema.get_all_operations()}
    assert set(SAMPLE) <= labels


@pytest.mark.parametrize("label", SAMPLE)
def test_operation(label: str, secured_schema: Any, secured_url: str, auth: dict[str, str]) -> None:
    method, path = label.split(" ", 1)
    operation = secured_schema[path][method]
    project = secured_schema.config

    def check(case: Any) -> None:
        response = case.call_and_validate(
            base_url=secured_url, headers=auth, additional_checks=[problem_json_errors]
        )
        CASES["cases"] += 1
        CASES[f"{response.status_code // 100}xx"] += 1

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


def test_nothing_is_open_but_health(secured_schema: Any) -> None:
    open_operations = [
        result.ok().label
        for result in secured_schema.get_all_operations()
        if result.ok().definition.raw.get("security", None) == []
    ]
    assert sorted(open_operations) == ["GET /healthz", "GET /readyz"]


def test_the_fuzzing_saw_no_5xx() -> None:
    print(f"\nauthenticated fuzzing: {dict(sorted(CASES.items()))}")
    assert CASES["cases"] >= len(SAMPLE) * 10
    assert CASES["5xx"] == 0
