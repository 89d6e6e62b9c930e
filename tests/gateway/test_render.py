"""strangler render: nginx runs the rendered split (shares, stickiness); Kong gets its shape."""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from typer.testing import CliRunner

from strangler.cli import app
from strangler.errors import SpecError
from strangler.gateway.kong_conf import kong_config
from strangler.gateway.nginx_conf import render_nginx
from strangler.gateway.render import plan_routes, write_files
from strangler.gateway.state import RouteState
from strangler.spec import load_spec
from tests.gateway.nginx import check_config, run_nginx
from tests.servers import free_port, serve_http

KONG_SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "kong-declarative-3.0.schema.json").read_text()
)


def spec_text(weight: float) -> str:
    return f"""
routes:
  items:
    by-header:
      path: /api/reorder-advice
      legacy: inventory.GetReorderAdvice
      modern: {{model: reorder}}
      mode: canary
      weight: {weight}
      sticky: {{header: X-Customer}}
    by-cookie:
      path: /api/stock
      legacy: inventory.GetStock
      modern: {{model: reorder}}
      mode: canary
      weight: {weight}
      sticky: {{cookie: cust-id}}
    unkeyed:
      path: /api/plain
      legacy: inventory.GetStock
      modern: {{model: reorder}}
      mode: canary
      weight: {weight}
"""


@contextlib.contextmanager
def side_server(side: str) -> Iterator[str]:
    """A tiny upstream (HTTP/1.1 keep-alive) that answers which side and path it is."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            body = json.dumps({"side": side, "path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url


@pytest.fixture(scope="module")
def sides() -> Iterator[dict[str, str]]:
    with side_server("legacy") as legacy, side_server("modern") as modern:
        yield {"legacy": legacy, "modern": modern}


def upstream_options(sides: dict[str, str]) -> list[str]:
    options = []
    for route, path in (("by-header", "/api/reorder-advice"), ("by-cookie", "/api/stock"),
                        ("unkeyed", "/api/plain")):  # fmt: skip
        options += ["--upstream", f"{route}.legacy={sides['legacy']}{path}"]
        options += ["--upstream", f"{route}.modern={sides['modern']}/v2/predict/reorder"]
    return options


@contextlib.contextmanager
def nginx_at(weight: float, sides: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Render the spec at ``weight`` with the CLI, and run nginx on what it wrote."""
    folder = tmp_path / f"w{weight}"
    folder.mkdir()
    spec = folder / "strangler.yaml"
    spec.write_text(spec_text(weight))
    port = free_port()
    out = folder / "generated"
    result = CliRunner().invoke(
        app,
        ["render", "nginx", str(spec), "-o", str(out), "--listen", f"127.0.0.1:{port}",
         *upstream_options(sides)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "by-header: /api/reorder-advice mode canary" in result.output
    with run_nginx(out / "nginx" / "nginx.conf", folder / "prefix", port) as url:
        yield url


def ask(client: httpx.Client, path: str, **options: Any) -> str:
    response = client.post(path, json={"sku": "A-1"}, **options)
    assert response.status_code == 200, response.text
    answer = response.json()
    side = response.headers["x-strangler-side"]
    assert answer["side"] == side  # the side named is the side that answered
    expected = "/v2/predict/reorder" if side == "modern" else path
    assert answer["path"] == expected
    return side


def within_binomial(count: int, n: int, p: float) -> bool:
    """Whether ``count`` of ``n`` lies within 4.5 standard deviations of ``n * p``."""
    return abs(count - n * p) <= 4.5 * math.sqrt(n * p * (1 - p))


def test_nginx_carries_the_split_and_header_and_cookie_stickiness(
    sides: dict[str, str], tmp_path: Path
) -> None:
    keys = [str(uuid.uuid4()) for _ in range(800)]
    modern_by_weight: dict[float, set[str]] = {}
    for weight in (0.1, 0.3, 0.6):
        with nginx_at(weight, sides, tmp_path) as url, httpx.Client(base_url=url) as client:
            on_modern = {
                key
                for key in keys
                if ask(client, "/api/reorder-advice", headers={"X-Customer": key}) == "modern"
            }
            assert within_binomial(len(on_modern), len(keys), weight), (weight, len(on_modern))
            for key in keys[:150]:  # the same key, the same side
                again = ask(client, "/api/reorder-advice", headers={"X-Customer": key})
                assert again == ("modern" if key in on_modern else "legacy")
            cookies = {}
            for key in keys[:300]:
                first = ask(client, "/api/stock", headers={"Cookie": f"other=x; cust-id={key}"})
                assert ask(client, "/api/stock", headers={"Cookie": f"cust-id={key}"}) == first
                cookies[key] = first
            share = sum(side == "modern" for side in cookies.values())
            assert within_binomial(share, len(cookies), weight), (weight, share)
            unkeyed = [ask(client, "/api/plain") for _ in range(400)]
            assert within_binomial(unkeyed.count("modern"), len(unkeyed), weight)
            keyless = [ask(client, "/api/reorder-advice") for _ in range(400)]
            assert within_binomial(keyless.count("modern"), len(keyless), weight)
        modern_by_weight[weight] = on_modern
    # as the weight grows, no key moves back to legacy
    assert modern_by_weight[0.1] <= modern_by_weight[0.3] <= modern_by_weight[0.6]


def test_modes_give_the_modern_share(sides: dict[str, str]) -> None:
    spec = load_spec_text(spec_text(0.25))
    upstreams = dict(
        option.split("=", 1) for option in upstream_options(sides)[1::2]
    )  # fmt: skip
    states = {
        "by-header": RouteState("modern", 0.0),
        "by-cookie": RouteState("shadow", 0.9),
        "unkeyed": RouteState("legacy", 1.0),
    }
    shares = {p.name: p.modern_share for p in plan_routes(spec, upstreams)}
    assert shares == {"by-header": 0.25, "by-cookie": 0.25, "unkeyed": 0.25}
    live = {p.name: (p.modern_share, p.notes) for p in plan_routes(spec, upstreams, states)}
    assert live["by-header"][0] == 1.0 and live["unkeyed"][0] == 0.0
    assert live["by-cookie"][0] == 0.0 and "shadow" in live["by-cookie"][1][0]
    text = render_nginx(plan_routes(spec, upstreams, states))["nginx/strangler-http.conf"]
    assert split_clients(text, "by-header") == ["* modern;"]
    assert split_clients(text, "by-cookie") == split_clients(text, "unkeyed") == ["* legacy;"]
    text = render_nginx(plan_routes(spec, upstreams))["nginx/strangler-http.conf"]
    assert split_clients(text, "unkeyed") == ["25% modern;", "* legacy;"]


def split_clients(text: str, route: str) -> list[str]:
    """The lines of a route's split_clients block."""
    block = text.split(f'split_clients "{route} ', 1)[1].split(" {\n", 1)[1].split("}", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def load_spec_text(text: str) -> Any:
    from strangler.spec import parse_spec

    return parse_spec(text, filename="strangler.yaml").section("routes")


def test_a_route_without_addresses_or_with_a_body_key_says_so(tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(
        spec_text(0.5)
        + """    by-body:
      path: /api/body
      legacy: inventory.GetStock
      modern: {url: "http://127.0.0.1:1/predict"}
      mode: canary
      weight: 0.5
      sticky: {body: /customerId}
"""
    )
    result = CliRunner().invoke(app, ["render", "nginx", str(spec), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "routes.items.by-header.legacy: give its address: --upstream by-header.legacy=" in (
        result.output
    )
    assert "by-body.modern" not in result.output  # a {url} target is its own address
    assert not (tmp_path / "o").exists()
    routes = load_spec(spec).section("routes")
    addresses = {
        f"{r}.{s}": "http://127.0.0.1:1/x" for r in routes.items for s in ("legacy", "modern")
    }
    plans = {p.name: p for p in plan_routes(routes, addresses)}
    assert plans["by-body"].sticky == "none"
    assert "inside the body" in plans["by-body"].notes[0]
    with pytest.raises(SpecError, match=r"--upstream nope\.legacy: not ROUTE\.legacy"):
        plan_routes(routes, {**addresses, "nope.legacy": "http://a/"})
    with pytest.raises(SpecError, match="is not an http:// or https:// URL"):
        plan_routes(routes, {**addresses, "by-body.legacy": "ftp://a/"})


def test_kong_config_has_kongs_shape(sides: dict[str, str], tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(spec_text(0.3))
    same_path = []
    for route, path in (("by-header", "/a"), ("by-cookie", "/b"), ("unkeyed", "/c")):
        same_path += ["-u", f"{route}.legacy=http://legacy.internal:8080{path}"]
        same_path += ["-u", f"{route}.modern=http://10.0.0.7:9000{path}"]
    out = tmp_path / "generated"
    result = CliRunner().invoke(app, ["render", "kong", str(spec), "-o", str(out), *same_path])
    assert result.exit_code == 0, result.output
    from ruamel.yaml import YAML

    config = YAML(typ="safe").load((out / "kong" / "kong.yaml").read_text())
    jsonschema.validate(config, KONG_SCHEMA)
    upstreams = {u["name"]: u for u in config["upstreams"]}
    for service in config["services"]:
        upstream = upstreams[service["host"]]  # a service's host names its upstream
        weights = {t["tags"][0]: t["weight"] for t in upstream["targets"]}
        assert weights == {"legacy": 700, "modern": 300}
    by_header = upstreams["strangler-by-header.upstream"]
    assert (by_header["hash_on"], by_header["hash_on_header"]) == ("header", "X-Customer")
    assert upstreams["strangler-by-cookie.upstream"]["hash_on_cookie"] == "cust-id"
    assert upstreams["strangler-unkeyed.upstream"]["algorithm"] == "round-robin"
    # the schema is able to refuse: a weight out of range, a header hash without its header
    broken = json.loads(json.dumps(config))
    broken["upstreams"][0]["targets"][0]["weight"] = 70000
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, KONG_SCHEMA)
    broken = json.loads(json.dumps(config))
    del broken["upstreams"][0]["hash_on_header"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, KONG_SCHEMA)


def test_kong_refuses_sides_on_different_paths(sides: dict[str, str]) -> None:
    routes = load_spec_text(spec_text(0.3))
    upstreams = dict(option.split("=", 1) for option in upstream_options(sides)[1::2])
    with pytest.raises(SpecError, match="Kong balances over hosts"):
        kong_config(plan_routes(routes, upstreams))


def test_an_https_side_is_asked_for_its_own_host_name(tmp_path: Path) -> None:
    routes = load_spec_text(spec_text(0.3))
    ports = {"legacy": 8443, "modern": 9443}
    upstreams = {  # nginx resolves upstream host names when it loads its configuration
        f"{route}.{side}": f"https://localhost:{ports[side]}/{route}"
        for route in routes.items
        for side in ("legacy", "modern")
    }
    upstreams["unkeyed.legacy"] = "http://127.0.0.1:8081/unkeyed"
    files = render_nginx(plan_routes(routes, upstreams), listen=f"127.0.0.1:{free_port()}")
    text = files["nginx/strangler-http.conf"]
    assert 'modern "https://strangler_by_header_modern/by-header";' in text
    assert 'modern "localhost:9443";' in text  # the Host header
    assert 'modern "localhost";' in text and 'default "127.0.0.1";' in text  # the TLS name
    assert "proxy_ssl_name $strangler_sni_by_header;" in files["nginx/strangler-locations.conf"]
    write_files(files, tmp_path / "generated")
    check_config(tmp_path / "generated" / "nginx" / "nginx.conf", tmp_path / "prefix")


def test_the_example_route_file_renders_for_nginx(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "gateway_config" / "routes.example.yaml"
    routes = load_spec(example).section("routes")
    plans = {plan.name: plan for plan in plan_routes(routes, {})}
    assert any("mapped in the spec" in note for note in plans["quote"].notes)
    assert not any("mapped" in note for note in plans["session-pages"].notes)
    assert plans["quote"].percent == "5%" and plans["session-pages"].sticky == "cookie"
    write_files(render_nginx(list(plans.values())), tmp_path / "generated")
    check_config(tmp_path / "generated" / "nginx" / "nginx.conf", tmp_path / "prefix")


def test_the_committed_example_output_is_what_render_writes_today(tmp_path: Path) -> None:
    root = Path(__file__).parents[2]
    generated = root / "gateway_config" / "generated"
    for args in (
        ["nginx"],
        ["kong", "--upstream", "quote.modern=http://127.0.0.1:8102/quote"],
    ):
        command = [args[0], "gateway_config/routes.example.yaml", "-o", str(tmp_path), *args[1:]]
        with contextlib.chdir(root):
            result = CliRunner().invoke(app, ["render", *command], env={})
        assert result.exit_code == 0, result.output
    for path in tmp_path.rglob("*.*"):
        committed = generated / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), f"{committed}: run the README's commands"


def test_the_live_state_gives_the_shares(sides: dict[str, str], tmp_path: Path) -> None:
    from strangler.gateway.state import StateStore

    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = StateStore(url)
    store.open({"by-header": RouteState("canary", 0.25)})  # the others: the spec's
    store.put("by-header", "canary", 0.4)
    store.close()
    spec = tmp_path / "strangler.yaml"
    spec.write_text(spec_text(0.1))
    out = tmp_path / "generated"
    args = ["render", "nginx", str(spec), "-o", str(out), "--state", url]
    result = CliRunner().invoke(app, [*args, *upstream_options(sides)])
    assert result.exit_code == 0, result.output
    assert "by-header: /api/reorder-advice mode canary, modern 40%" in result.output
    assert "by-cookie: /api/stock mode canary, modern 10%" in result.output
    text = (out / "nginx" / "strangler-http.conf").read_text()
    assert split_clients(text, "by-header") == ["40% modern;", "* legacy;"]
