"""Schemathesis over the closed demo's OpenAPI document, authenticated, over real HTTP.

The demo estate is served with a ``security:`` section that closes every operation
but health, and its features loaded, as ``strangler demo`` serves them. Every
operation of the document (the list ``tests/rest/test_fuzz_demo.py`` keeps, checked
here against the closed document) is its own test: its explicit examples, its
coverage cases and ``MAX_EXAMPLES`` fuzzed cases, valid and invalid, derandomized
from ``SEED``, carrying a key that grants everything. Every answer must:

* not be a 5xx;
* conform to the document (which declares 401/403/429 and the security schemes);
* be problem+json when it is an error.

Schemathesis' ``ignored_auth`` check sends each succeeding case again without the
key and with a wrong one and expects a refusal; besides, the first case of every
operation is sent without credentials and must be a 401 problem (health answers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate

from strangler.demo.estate import Estate
from strangler.demo.features import load_features
from strangler.rest.app import create_app
from strangler.rest.problems import MEDIA_TYPE
from tests.rest.conftest import serving
from tests.rest.test_fuzz_demo import OPERATIONS, STREAMED, fuzz, fuzz_config, problem_json_errors
from tests.security.conftest import KEYS_SECTION, Keys, secured_spec, sqlite_url

MAX_EXAMPLES = 25
"""Fuzzed cases per operation, on top of its examples and coverage cases (the open
document is fuzzed at length in ``tests/rest/test_fuzz_demo.py``)."""

OPEN = ["GET /healthz", "GET /readyz"]
"""The operations that answer without credentials."""

CASES: Counter[str] = Counter()
"""Cases sent, operations fuzzed and answers by status (for docs/security.md)."""


@pytest.fixture(scope="module")
def secured_url(
    estate: Estate, api_keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("fuzz-secured")
    section = KEYS_SECTION + f"  audit: {{database: '{sqlite_url(folder, 'audit.sqlite')}'}}\n"
    spec = secured_spec(estate, section, api_keys.env)
    load_features(spec)
    with serving(create_app(spec, cache_dir=folder / "cache")) as url:
        yield url


@pytest.fixture(scope="module")
def auth(api_keys: Keys) -> dict[str, str]:
    return {"X-API-Key": api_keys.clear["all"]}


@pytest.fixture(scope="module")
def secured_schema(secured_url: str, auth: dict[str, str]) -> Any:
    config = fuzz_config(MAX_EXAMPLES, **{"with-security-parameters": False})
    return schemathesis.openapi.from_url(f"{secured_url}/openapi.json", config=config, headers=auth)


def test_the_secured_document_is_valid_openapi(secured_schema: Any) -> None:
    validate(secured_schema.raw_schema)


def test_every_operation_is_fuzzed(secured_schema: Any) -> None:
    labels = [result.ok().label for result in secured_schema.get_all_operations()]
    assert len(OPERATIONS) == len(set(OPERATIONS))
    assert sorted(labels) == sorted([*OPERATIONS, *STREAMED])


def test_nothing_is_open_but_health(secured_schema: Any) -> None:
    open_operations = [
        result.ok().label
        for result in secured_schema.get_all_operations()
        if result.ok().definition.raw.get("security", None) == []
    ]
    assert sorted(open_operations) == OPEN


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation(label: str, secured_schema: Any, secured_url: str, auth: dict[str, str]) -> None:
    unauthenticated: list[int] = []
    mine: Counter[str] = Counter()

    def check(case: Any) -> None:
        if not unauthenticated:
            bare = case.call(base_url=secured_url)
            unauthenticated.append(bare.status_code)
            if label not in OPEN:
                media_type = bare.headers.get("content-type", [""])[0].split(";")[0].strip()
                assert (bare.status_code, media_type) == (401, MEDIA_TYPE), bare.text
        response = case.call_and_validate(
            base_url=secured_url, headers=auth, additional_checks=[problem_json_errors]
        )
        mine[str(response.status_code)] += 1
        mine[f"{response.status_code // 100}xx"] += 1
        mine["cases"] += 1
        assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"

    fuzz(secured_schema, label, check)
    assert unauthenticated, "no case was generated"
    assert mine["cases"] > 0 and mine["5xx"] == 0, mine  # this operation's own figures
    CASES.update(mine)
    CASES["operations"] += 1
    CASES["401 without credentials"] += unauthenticated[0] == 401


def test_the_fuzzing_figures_add_up() -> None:
    """The figures of the operations fuzzed in this run (each checked its own), for
    docs/security.md; the whole file fuzzes every operation."""
    print(f"\nauthenticated fuzzing: {dict(sorted(CASES.items()))}")
    assert CASES["operations"] <= len(OPERATIONS)
    assert CASES["5xx"] == 0
    if CASES["operations"] == len(OPERATIONS):  # the whole file ran
        assert CASES["401 without credentials"] == len(OPERATIONS) - len(OPEN)
        assert CASES["cases"] >= len(OPERATIONS) * MAX_EXAMPLES
