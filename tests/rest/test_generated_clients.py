"""Clients generated from the demo's OpenAPI document, as a modern app makes them.

* Python: ``openapi-python-client`` generates a package with no warning (no
  operation or schema dropped); the package calls the running demo: a SOAP
  operation, XML-RPC methods (one without parameters), a table page with a
  typed ``limit`` and a filter, and a problem answer parsed into ``Problem``.
* TypeScript: npm's ``openapi-typescript`` writes the types and ``tsc --strict``
  checks a program using them (``limit`` a number, a string refused). The npm
  packages are installed by the test into ``.cache/npm-clients`` at the repo root
  (kept between runs).
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_python_client.strings import snake_case

from strangler.demo.estate import running_estate
from strangler.rest.app import create_app
from tests.rest.conftest import serving

ROOT = Path(__file__).resolve().parents[2]
NPM_DIR = ROOT / ".cache" / "npm-clients"
NPM_PACKAGES = {"openapi-typescript": "7.13.0", "typescript": "5.9.3"}
PACKAGE = "strangler_demo_client"
GENERATOR_CONFIG = "post_hooks: []\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    state = tmp_path_factory.mktemp("client-estate")
    with running_estate(state_dir=Path(state)) as estate, serving(create_app(estate.spec)) as url:
        yield url, httpx.get(f"{url}/openapi.json").json()


@pytest.fixture(scope="module")
def document_file(
    demo: tuple[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(json.dumps(demo[1]))
    return path


@pytest.fixture(scope="module")
def python_client(document_file: Path) -> Iterator[tuple[Any, str]]:
    """The generated package (imported) and the generator's output."""
    out = document_file.parent / "python"
    out.mkdir()
    config = out / "config.yml"
    config.write_text(GENERATOR_CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [
            *(str(generator), "generate", "--path", str(document_file), "--meta", "none"),
            *("--output-path", str(out / PACKAGE), "--config", str(config)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE), result.stdout + result.stderr
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(document: dict[str, Any], path: str, method: str, tag: str) -> str:
    operation_id = document["paths"][path][method]["operationId"]
    return f"{PACKAGE}.api.{snake_case(tag)}.{snake_case(operation_id)}"


def _table_path(document: dict[str, Any], system: str, table: str) -> str:
    """The list path of ``table`` of ``system``, whatever case the spec gives it."""
    prefix = f"/database/{system}/"
    found = [
        p for p in document["paths"] if p.startswith(prefix) and p[len(prefix) :].lower() == table
    ]
    assert len(found) == 1, found
    return found[0]


def test_the_python_client_generates_without_warnings(python_client: tuple[Any, str]) -> None:
    _, output = python_client
    assert "Warning" not in output and "WARNING" not in output, output
    assert "will not be generated" not in output and "removal of" not in output, output


def test_the_python_client_calls_soap_and_parses_problems(
    demo: tuple[str, dict[str, Any]], python_client: tuple[Any, str]
) -> None:
    url, document = demo
    package, _ = python_client
    get_stock = importlib.import_module(
        _module(document, "/soap/inventory/GetStock", "post", "inventory")
    )
    models = importlib.import_module(f"{PACKAGE}.models")
    client = package.Client(base_url=url)
    answer = get_stock.sync_detailed(client=client, body=models.GetStockRequest(sku="SKU-1001"))
    assert answer.status_code == 200
    assert "SKU-1001" in json.dumps(answer.parsed.to_dict())
    refused = get_stock.sync_detailed(client=client, body=models.GetStockRequest(sku="NOPE"))
    assert refused.status_code == 400
    assert isinstance(refused.parsed, models.Problem)
    assert refused.parsed.type_ == "urn:strangler:problem:legacy-fault"
    assert refused.parsed.status == 400


def test_the_python_client_calls_xmlrpc_methods(
    demo: tuple[str, dict[str, Any]], python_client: tuple[Any, str]
) -> None:
    url, document = demo
    package, _ = python_client
    models = importlib.import_module(f"{PACKAGE}.models")
    client = package.Client(base_url=url)
    base = "/xmlrpc/pricing/pricing."
    ping = importlib.import_module(_module(document, base + "ping", "post", "pricing"))
    assert ping.sync(client=client, body=models.PingParams()).result is True
    quote = importlib.import_module(_module(document, base + "quote", "post", "pricing"))
    params = models.QuoteParams(sku="SKU-1001", quantity=30, customer_no="K10001")
    answer = quote.sync(client=client, body=params)
    assert isinstance(answer, models.QuoteResult), answer
    assert answer.to_dict()


def test_the_python_client_lists_a_table_with_a_typed_limit_and_a_filter(
    demo: tuple[str, dict[str, Any]], python_client: tuple[Any, str]
) -> None:
    url, document = demo
    package, _ = python_client
    path = _table_path(document, "erp", "orders")
    list_orders = importlib.import_module(_module(document, path, "get", "erp"))
    client = package.Client(base_url=url)
    page = list_orders.sync(client=client, limit=3, total=["gt.100"])
    rows = page.to_dict()["items"]
    assert len(rows) == 3
    assert all(float(next(v for k, v in row.items() if k.lower() == "total")) > 100 for row in rows)
    assert page.to_dict()["next_cursor"]
    bad = list_orders.sync_detailed(client=client, limit=3, total=["about.100"])
    assert bad.status_code == 400
    assert bad.parsed.type_ == "urn:strangler:problem:bad-query"


def _npm_tools() -> Path:
    """``openapi-typescript`` and ``tsc`` installed under :data:`NPM_DIR` (once)."""
    npm = shutil.which("npm")
    assert npm is not None, "npm (Node 20) is needed to check the TypeScript client"
    stamp = NPM_DIR / "installed.json"
    if not stamp.exists() or json.loads(stamp.read_text()) != NPM_PACKAGES:
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        (NPM_DIR / "package.json").write_text('{"private": true}\n')
        wanted = [f"{name}@{version}" for name, version in NPM_PACKAGES.items()]
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", *wanted],
            cwd=NPM_DIR,
            check=True,
            timeout=300,
        )
        stamp.write_text(json.dumps(NPM_PACKAGES))
    return NPM_DIR / "node_modules" / ".bin"


TYPESCRIPT_CHECK = """\
import type { components, operations } from "./api";

type Query<Id extends keyof operations> = NonNullable<operations[Id]["parameters"]["query"]>;

const stock: components["schemas"]["GetStockRequest"] = { sku: "SKU-1001" };
const ping: components["schemas"]["PingParams"] = { params: [] };
const quote: components["schemas"]["QuoteParams"] = {
  sku: "SKU-1001", quantity: 30, customer_no: "K10001",
};
const page: Query<"LIST"> = { limit: 3, offset: 0, cursor: "c", sort: "-x", FILTER: ["gt.100"] };
// @ts-expect-error limit is a number
const wrong: Query<"LIST"> = { limit: "3" };
const problem: components["schemas"]["Problem"] = { type: "t", title: "t", status: 400 };

export const all = [stock, ping, quote, page, wrong, problem];
"""


def test_the_typescript_client_type_checks(
    demo: tuple[str, dict[str, Any]], document_file: Path
) -> None:
    _, document = demo
    bin_dir = _npm_tools()
    out = document_file.parent / "typescript"
    out.mkdir()
    subprocess.run(
        [str(bin_dir / "openapi-typescript"), str(document_file), "-o", str(out / "api.ts")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    path = _table_path(document, "erp", "orders")
    operation = document["paths"][path]["get"]
    total = next(p["name"] for p in operation["parameters"] if p["name"].lower() == "total")
    program = TYPESCRIPT_CHECK.replace('"LIST"', json.dumps(operation["operationId"]))
    (out / "check.ts").write_text(program.replace("FILTER", total))
    result = subprocess.run(
        [
            *(str(bin_dir / "tsc"), "--noEmit", "--strict", "--target", "es2020"),
            *("--module", "es2020", "--moduleResolution", "node", str(out / "check.ts")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
