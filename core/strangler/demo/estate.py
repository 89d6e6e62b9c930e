"""The demo estate: start the legacy servers that ship with strangler, then the REST API.

The estate is a SOAP ``InventoryService``, an XML-RPC pricing service and an
ERP database (SQLite); ``strangler demo`` is the one way to see them all work.
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from strangler.errors import StranglerError
from strangler.spec import Spec, load_spec

__all__ = ["DEMO_SPEC", "Estate", "run_demo", "running_estate", "shim_lines"]

DEMO_SPEC = Path(__file__).with_name("strangler.yaml")


@dataclass(frozen=True)
class Estate:
    """The running legacy servers and the spec that points at them."""

    spec: Spec
    inventory_url: str
    pricing_url: str
    erp_url: str
    erp_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    """The addresses the demo spec was loaded with (its ``${DEMO_...}`` variables)."""


@contextlib.contextmanager
def running_estate(host: str = "127.0.0.1", state_dir: Path | None = None) -> Iterator[Estate]:
    """Start every legacy demo server on a free port; stop them on exit.

    The ERP database is built in ``state_dir`` (a fresh temporary folder if not given),
    and the event side's state database beside it (its outbox and capture offsets
    belong to this ERP file, not to an earlier run's).
    """
    from strangler.demo.erp import build_erp_database, erp_url
    from strangler.demo.inventory import start_inventory_server
    from strangler.demo.pricing import start_pricing_server

    with contextlib.ExitStack() as stack:
        folder = state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory("-strangler")))
        erp_path = build_erp_database(folder / "erp.sqlite")
        erp = erp_url(erp_path)
        inventory = stack.enter_context(start_inventory_server(host=host, port=0))
        pricing = stack.enter_context(start_pricing_server(host=host, port=0))
        env = {
            "DEMO_INVENTORY_URL": inventory.base_url,
            "DEMO_PRICING_URL": pricing.url,
            "DEMO_ERP_URL": erp,
            "DEMO_EVENTS_STATE": f"sqlite:///{(folder / 'events-state.sqlite').resolve()}",
            "DEMO_FEATURES_URL": f"sqlite:///{(folder / 'features.sqlite').resolve()}",
            "DEMO_GATEWAY_STATE": f"sqlite:///{(folder / 'gateway-state.sqlite').resolve()}",
        }
        spec = load_spec(DEMO_SPEC, env=env)
        yield Estate(
            spec=spec,
            inventory_url=inventory.base_url,
            pricing_url=pricing.url,
            erp_url=erp,
            erp_path=erp_path,
            env=env,
        )


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _examples(api: str) -> list[str]:
    json = "-H 'content-type: application/json'"
    return [
        f'curl -s -X POST {api}/soap/inventory/GetStock {json} -d \'{{"sku": "SKU-1001"}}\'',
        f"curl -s -X POST {api}/xmlrpc/pricing/pricing.quote {json} "
        '-d \'{"sku": "SKU-1001", "quantity": 30, "customer_no": "K10001"}\'',
        f"curl -s '{api}/database/erp/orders?orderDate=ge.2024-06-01&sort=-total&limit=3'",
        f"curl -s '{api}/database/erp_legacy/ORDERS?TOTAL=gt.100&sort=-TOTAL&limit=3'",
    ]


def _event_lines(api: str) -> list[str]:
    return [
        f"curl -N {api}/events/orders/sse",
        f"strangler events tail orders --url {api}",
        f"curl -s '{api}/events/orders?after=0&limit=5'   (AsyncAPI: {api}/asyncapi.json)",
    ]


def shim_lines(api: str) -> list[str]:
    """What to paste to see an old SOAP client on InventoryService's original WSDL,
    served by the shim at the legacy path (its addresses pointing at the shim)."""
    call = (
        "import zeep; c = zeep.Client('" + api + "/InventoryService?wsdl'); "
        "print(c.service.GetReorderAdvice(customerId='C-7', sku='SKU-1001', "
        "quantityOnHand=3, averageDailySales='4.5', leadTimeDays=7))"
    )
    return [
        f"curl -s '{api}/InventoryService?wsdl' | grep address",
        f'{shlex.quote(sys.executable)} -c "{call}"',
    ]


def _section(console: Console, heading: str, lines: Iterable[str]) -> None:
    """A heading of the demo's banner and the lines to paste under it."""
    console.print(f"  {heading}", highlight=False)
    for line in lines:
        console.print(f"    {line}", highlight=False, soft_wrap=True)


def run_demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    console: Console | None = None,
    *,
    nginx: bool = False,
) -> None:
    """Run the demo until Ctrl-C, printing where everything is (``nginx``: Debian's
    nginx carries the route's split, :mod:`strangler.demo.nginx`)."""
    from strangler.rest.app import create_app
    from strangler.serve import run

    console = console or Console()
    if not _port_free(host, port):
        console.print(
            f"[red]port {port} on {host} is taken[/red]: try 'strangler demo --port 8080'"
        )
        raise SystemExit(1)
    from strangler.demo.activity import LegacyActivity
    from strangler.demo.features import feature_lines, load_features
    from strangler.demo.predictions import prediction_lines
    from strangler.demo.reorder_route import route_lines
    from strangler.demo.rollout import rollout_lines
    from strangler.demo.traffic import ReorderTraffic, reorder_skus

    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    with running_estate() as estate, contextlib.ExitStack() as stack:
        with console.status("loading the feature tables from the legacy systems"):
            loaded = load_features(estate.spec, console)
        assert estate.erp_path is not None
        spec, nginx_url = estate.spec, None
        if nginx:
            from strangler.demo.nginx import nginx_plane

            spec, nginx_url = stack.enter_context(
                nginx_plane(spec, estate.erp_path.parent, f"http://{local}:{port}")
            )
        app = create_app(spec)
        api = f"http://{host}:{port}"
        console.print("[bold]strangler demo[/bold] — the demo estate is running", highlight=False)
        console.print(
            f"  legacy SOAP InventoryService  {estate.inventory_url}/soap11  "
            f"(WSDL: {estate.inventory_url}/inventory.wsdl)",
            highlight=False,
        )
        console.print(f"  legacy XML-RPC pricing        {estate.pricing_url}", highlight=False)
        console.print(f"  legacy ERP database           {estate.erp_url}", highlight=False)
        console.print(f"  REST API                      {api}", highlight=False)
        console.print(
            f"  OpenAPI docs                  {api}/docs  ({api}/openapi.json)", highlight=False
        )
        _section(console, "try:", _examples(api))
        _section(
            console,
            "legacy activity: the ERP application keeps writing orders and stock; "
            "watch the order changes arrive as CloudEvents:",
            _event_lines(api),
        )
        rows = ", ".join(f"{view} {n:,}" for view, n in loaded.items())
        _section(
            console,
            f"feature tables loaded by ETL ({rows} rows); read them:",
            feature_lines(api, estate.env),
        )
        _section(
            console,
            "the reorder model (GetReorderAdvice's rules learnt from item_features), "
            "by SKU and over the v2 protocol:",
            prediction_lines(api),
        )
        _section(
            console,
            "the gateway route /api/reorder-advice: the rules answer, the model is asked "
            "too (shadow); where it disagrees:",
            route_lines(api),
        )
        _section(
            console,
            "the rollout: demo customers keep asking the route, and the canary controller "
            "moves it from the rules to the model step by step (shadow, 10%, 50%, 100%), "
            "rolling back by itself when the model fails:",
            rollout_lines(api),
        )
        _section(
            console,
            "old SOAP clients keep InventoryService's original WSDL; the shim answers them, "
            "GetReorderAdvice following the same rollout:",
            shim_lines(api),
        )
        if nginx_url is not None:
            console.print(
                f"  nginx carries the route's split: {nginx_url}/api/reorder-advice "
                "(the controller reloads it at each step; the demo traffic goes through it)",
                highlight=False,
                soft_wrap=True,
            )
        console.print("  Ctrl-C stops everything.", highlight=False)
        try:
            skus = reorder_skus(estate.env["DEMO_FEATURES_URL"])
        except StranglerError as exc:
            console.print(f"  [red]no demo traffic[/red]: {exc}", highlight=False)
            skus = []
        own = f"http://{local}:{port}"
        traffic = ReorderTraffic(nginx_url or own, skus, warm_url=own) if skus else None
        with LegacyActivity(estate.erp_path), traffic or contextlib.nullcontext():
            run(spec, host=host, port=port, app=app)
