"""``strangler record`` and ``strangler replay`` on the demo estate.

Real traffic (zeep over SOAP 1.1 and 1.2, with a header, a declared fault, a
state change) is recorded by the real command, a subprocess proxying the demo's
legacy InventoryService. The recording is then replayed:

* against a fresh legacy server: every answer is equivalent (exit 0);
* through a rewriting endpoint that makes harmless changes (other prefixes, a
  default namespace, pretty-printing, another lexical form of a typed value,
  ``xs:all`` members in another order): still equivalent;
* through one that makes breaking changes (a renamed field, a changed type,
  reordered ``xs:sequence`` members, another namespace, a lost fault): exit 1,
  each difference named by its path.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import zeep
from lxml import etree
from typer.testing import CliRunner

from strangler.cli import app
from strangler.demo.inventory import InventoryServer, start_inventory_server
from strangler.shim.canonical import (
    PathPattern,
    Rules,
    ValueKind,
    XmlError,
    canonical,
    compare,
)
from tests.adapters.soap.legacy_servers import soapbuilders
from tests.servers import serve_http
from tests.shim.conftest import DemoShim

DEMO_SPEC = Path(__file__).parents[2] / "core/strangler/demo/strangler.yaml"
DEMO_WSDL = DEMO_SPEC.parent / "inventory/inventory.wsdl"
CORPUS = Path(__file__).parents[1] / "data" / "wsdl"
TNS = "urn:strangler:demo:inventory"
Transform = Callable[[bytes], bytes]


# -- the recording -------------------------------------------------------------------


@contextlib.contextmanager
def recorder(folder: Path, target: str, *extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``strangler record`` as a subprocess; yields its URL once it listens."""
    cmd = [sys.executable, "-m", "strangler.cli", "record", str(folder), "--to", target]
    proc = subprocess.Popen(
        [*cmd, "--listen", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # returns "" if the process dies
        found = re.search(r"recording on (http://\S+)", first)
        assert found, f"no ready line: {first!r} {proc.stderr.read() if proc.stderr else ''}"
        yield found.group(1), proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGINT, as Ctrl-C; the rest of stdout and stderr."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out, err


def demo_traffic(proxy: str) -> None:
    """Every demo operation through the proxy, SOAP 1.1 and 1.2, a header, faults."""
    client = zeep.Client(str(DEMO_WSDL))  # type: ignore[no-untyped-call]
    soap11 = client.create_service(f"{{{TNS}}}InventorySoap11Binding", proxy + "/soap11")
    soap12 = client.create_service(f"{{{TNS}}}InventorySoap12Binding", proxy + "/soap12")
    assert soap11.GetStock("SKU-1001").quantity == 240
    context = {"RequestContext": {"tenant": "north", "correlationId": "corr-7"}}
    assert soap11.GetStock("SKU-1002", _soapheaders=context).warehouse == "WH-NORTH"
    assert len(soap11.ListItems()) == 14
    assert len(soap12.ListItems("apparel")) == 3
    advice = soap11.GetReorderAdvice("C-100", "SKU-1003", 3, "4.5", 7)
    assert advice.reorder is True
    assert soap12.GetReorderAdvice("C-100", "SKU-1001", 500, "1.0", 3).reorder is False
    assert soap11.AdjustStock("SKU-1002", 5, "count").quantity == 885
    assert soap12.GetStock("SKU-1002").quantity == 885
    with pytest.raises(zeep.exceptions.Fault):
        soap11.GetStock("SKU-9999")
    with pytest.raises(zeep.exceptions.Fault):
        soap12.AdjustStock("SKU-1003", -1000, "too many")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recording")
    with start_inventory_server() as legacy, recorder(folder, legacy.base_url) as (proxy, proc):
        wsdl = httpx.get(proxy + "/soap11?wsdl", timeout=10)  # passes through, unrecorded
        assert wsdl.status_code == 200 and b"definitions" in wsdl.content
        demo_traffic(proxy)
        out, err = stop(proc)
    assert "recorded 10 exchanges" in out, (out, err)
    assert re.search(r"recorded #1 GetStock → 200 in [\d.]+ ms", err), err  # the progress line
    assert "recorded #10 AdjustStock → 400" in err, err
    return folder


@pytest.fixture
def fresh() -> Iterator[InventoryServer]:
    """A legacy server in its initial state (the recording adjusts stock)."""
    with start_inventory_server() as server:
        yield server


def test_record_writes_each_exchange_with_headers(recording: Path) -> None:
    metas = sorted(recording.glob("*.json"))
    assert [m.name for m in metas] == [f"{i:06d}.json" for i in range(1, 11)]
    exchanges = [json.loads(m.read_text()) for m in metas]
    assert [e["operation"] for e in exchanges] == [
        "GetStock", "GetStock", "ListItems", "ListItems", "GetReorderAdvice",
        "GetReorderAdvice", "AdjustStock", "GetStock", "GetStock", "AdjustStock",
    ]  # fmt: skip
    assert [e["soap_version"] for e in exchanges[2:4]] == ["1.1", "1.2"]
    assert [e["status"] for e in exchanges][-2:] == [500, 400]  # SOAP 1.2: a Sender fault
    first = exchanges[0]
    assert first["path"] == "/soap11" and first["method"] == "POST"
    assert dict(first["request_headers"])["SOAPAction"] == '"GetStock"'
    headers = {k.lower(): v for k, v in exchanges[1]["response_headers"]}
    assert headers["x-correlation-id"] == "corr-7"  # the legacy answer's headers, as sent
    assert headers["content-type"].startswith("text/xml")
    answer = (recording / first["response_file"]).read_bytes()
    assert b"<tns:quantity>240</tns:quantity>" in answer
    request = etree.fromstring((recording / exchanges[1]["request_file"]).read_bytes())
    assert request.find(f".//{{{TNS}}}correlationId").text == "corr-7"


def test_record_stops_after_count(tmp_path: Path, fresh: InventoryServer) -> None:
    """A legacy URL with a path takes every request at that path."""
    with recorder(tmp_path, fresh.url("/soap11"), "--count", "2") as (proxy, proc):
        client = zeep.Client(str(DEMO_WSDL))  # type: ignore[no-untyped-call]
        service = client.create_service(f"{{{TNS}}}InventorySoap11Binding", proxy + "/")
        service.GetStock("SKU-1001")
        service.GetStock("SKU-1002")
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "recorded 2 exchanges" in out
    metas = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
    assert [(m["path"], m["status"]) for m in metas] == [("/", 200), ("/", 200)]


def test_record_refuses_a_bad_legacy_address(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["record", str(tmp_path), "--to", "ftp://legacy"])
    assert result.exit_code == 2
    assert "http(s) URL" in result.output


# -- replay ----------------------------------------------------------------------------


# A stock change stamps the time it happened: never the same twice.
NOW = ("--ignore", "//updatedAt")


def replay(folder: Path, target: str, *options: str) -> tuple[int, dict[str, Any], str]:
    """Run ``strangler replay`` in-process; the exit code, the JSON report, the output."""
    report = folder.parent / f"{folder.name}-report.json"
    args = ["replay", str(folder), "--to", target, "--json", str(report), "--quiet", *options]
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    data = json.loads(report.read_text()) if report.exists() else {}
    report.unlink(missing_ok=True)
    return result.exit_code, data, result.output


def differences(report: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [
        (o["operation"], d["path"], d["kind"]) for o in report["outcomes"] for d in o["differences"]
    ]


def test_replay_against_the_legacy_system_is_equivalent(
    recording: Path, fresh: InventoryServer
) -> None:
    code, report, output = replay(recording, fresh.base_url, *NOW)
    assert code == 0, output
    assert report["exchanges"] == 10 and report["equivalent"] == 10
    assert "10 exchanges: 10 equivalent, 0 different" in output


def test_replay_shows_progress_and_a_summary(recording: Path, fresh: InventoryServer) -> None:
    args = ["replay", str(recording), "--to", fresh.base_url, *NOW]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("10 exchanges: 10 equivalent, 0 different")


def test_replay_catches_state_drift(recording: Path, fresh: InventoryServer) -> None:
    """Replayed twice on one server, AdjustStock finds 885 on hand, not 880."""
    assert replay(recording, fresh.base_url, *NOW)[0] == 0
    code, report, _ = replay(recording, fresh.base_url, *NOW)
    assert code == 1
    assert ("AdjustStock", "/Envelope/Body/AdjustStockResponse/AdjustStockResult/quantity",
            "value") in differences(report)  # fmt: skip


@contextlib.contextmanager
def rewriting(target: str, transform: Transform) -> Iterator[str]:
    """A SOAP endpoint answering with the legacy answer passed through ``transform``."""
    parts = urlsplit(target)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
            keep = ("content-type", "soapaction")
            conn.request(
                "POST",
                self.path,
                body,
                {k: v for k, v in self.headers.items() if k.lower() in keep},
            )
            answer = conn.getresponse()
            data = transform(answer.read())
            self.send_response(answer.status)
            self.send_header("content-type", answer.getheader("content-type") or "text/xml")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url


def _sub(pattern: str, repl: str) -> Transform:
    return lambda data: re.sub(pattern.encode(), repl.encode(), data)


def _pretty(data: bytes) -> bytes:
    root = etree.fromstring(data)
    etree.indent(root, space="    ")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _default_namespace(data: bytes) -> bytes:
    """The demo's elements in a default namespace declared where they start, the
    envelope's prefix renamed (in QName values too)."""
    old = etree.fromstring(data)
    prefix = old.prefix

    def copy(node: etree._Element, parent: etree._Element | None) -> etree._Element:
        namespace = etree.QName(node).namespace
        if parent is None:
            new = etree.Element(node.tag, nsmap={"S": namespace})
        elif namespace == TNS and etree.QName(parent).namespace != TNS:
            new = etree.SubElement(parent, node.tag, nsmap={None: TNS})
        else:
            new = etree.SubElement(parent, node.tag)
        for key, value in node.attrib.items():
            new.set(key, value)
        new.text, new.tail = node.text, node.tail
        if new.text and prefix and new.text.startswith(f"{prefix}:"):
            new.text = "S:" + new.text[len(prefix) + 1 :]
        for kid in node:
            if isinstance(kid.tag, str):
                copy(kid, new)
        return new

    return bytes(etree.tostring(copy(old, None), xml_declaration=True, encoding="utf-8"))


def _chain(*steps: Transform) -> Transform:
    def run(data: bytes) -> bytes:
        for step in steps:
            data = step(data)
        return data

    return run


HARMLESS: dict[str, Transform] = {
    "other prefixes": _sub(r"(xmlns:|</?)tns\b", r"\1inv"),
    "default namespace": _default_namespace,
    "pretty-printed": _pretty,
    "boolean as 1/0": _chain(
        _sub(r"<tns:reorder>true<", "<tns:reorder>1<"),
        _sub(r"<tns:reorder>false<", "<tns:reorder>0<"),
    ),
    "decimal with trailing zeros, integer with spaces": _chain(
        _sub(r"(<tns:unitPrice>)([\d.]+)(<)", r"\g<1>\g<2>000\3"),
        _sub(r"(<tns:quantity>)(\d+)(<)", r"\1 \2 \3"),
    ),
    "all of them": _chain(_pretty, _default_namespace),
}


@pytest.mark.parametrize("change", HARMLESS, ids=list(HARMLESS))
def test_replay_does_not_flag_a_harmless_change(
    recording: Path, fresh: InventoryServer, change: str
) -> None:
    with rewriting(fresh.base_url, HARMLESS[change]) as url:
        code, report, output = replay(recording, url, "--wsdl", str(DEMO_WSDL), *NOW)
    assert code == 0, output
    assert report["equivalent"] == 10


def _reverse(tag: str) -> Transform:
    def run(data: bytes) -> bytes:
        root = etree.fromstring(data)
        for node in root.iter(tag):
            node[:] = list(reversed(node))
        return bytes(etree.tostring(root))

    return run


BREAKING: dict[str, tuple[Transform, set[tuple[str, str]]]] = {
    "renamed field": (
        _sub(r"(</?tns:)ruleId>", r"\1rule>"),
        {
            ("/Envelope/Body/GetReorderAdviceResponse/GetReorderAdviceResult/ruleId", "missing"),
            ("/Envelope/Body/GetReorderAdviceResponse/GetReorderAdviceResult/rule", "unexpected"),
        },
    ),
    "int became decimal": (
        _sub(r"(<tns:quantity>)(\d+)(<)", r"\1\2.5\3"),
        {("/Envelope/Body/GetStockResponse/GetStockResult/quantity", "value")},
    ),
    "sequence reordered": (
        _reverse(f"{{{TNS}}}GetStockResult"),
        {
            ("/Envelope/Body/GetStockResponse/GetStockResult/warehouse", "order"),
            ("/Envelope/Body/GetStockResponse/GetStockResult/reorderPoint", "order"),
        },
    ),
    "another namespace": (
        _sub(r'xmlns:tns="urn:strangler:demo:inventory"', 'xmlns:tns="urn:modern:inventory"'),
        {("/Envelope/Body/GetStockResponse", "name")},
    ),
    "fault code changed": (
        _sub(r"Client\.UnknownSku", "Server.UnknownSku"),
        {("/Envelope/Body/Fault/faultcode", "value")},
    ),
}


@pytest.mark.parametrize("change", BREAKING, ids=list(BREAKING))
def test_replay_catches_a_breaking_change(
    recording: Path, fresh: InventoryServer, change: str
) -> None:
    transform, expected = BREAKING[change]
    with rewriting(fresh.base_url, transform) as url:
        code, report, output = replay(recording, url, "--wsdl", str(DEMO_WSDL), *NOW)
    assert code == 1, output
    found = {(path, kind) for _, path, kind in differences(report)}
    assert expected <= found, found
    assert "different" in output


def test_a_changed_type_is_named_in_the_report(recording: Path, fresh: InventoryServer) -> None:
    with rewriting(fresh.base_url, BREAKING["int became decimal"][0]) as url:
        _, report, output = replay(recording, url, "--wsdl", str(DEMO_WSDL), *NOW)
    quantity = next(
        d
        for o in report["outcomes"]
        for d in o["differences"]
        if d["path"].endswith("GetStockResult/quantity")
    )
    assert quantity["expected"] == "240"
    assert quantity["actual"] == "240.5 (not a valid integer)"
    assert "GetStockResult/quantity: value '240' became '240.5 (not a valid integer)'" in output


def test_ignore_paths_are_honoured(recording: Path, fresh: InventoryServer) -> None:
    renamed = BREAKING["renamed field"][0]
    with rewriting(fresh.base_url, renamed) as url:
        code, _, output = replay(recording, url, *NOW, "--ignore", "//ruleId", "--ignore", "rule")
        assert code == 0, output
        assert replay(recording, url, *NOW, "--ignore", "//ruleId")[0] == 1


def test_the_specs_ignore_paths_are_honoured(
    recording: Path, fresh: InventoryServer, tmp_path: Path
) -> None:
    """The shim's route for GetReorderAdvice ignores reason and ruleId in shadow comparisons."""
    spec = tmp_path / "strangler.yaml"
    spec.write_text(
        "systems:\n"
        f"  inventory: {{kind: soap, wsdl: {DEMO_WSDL}, address: {fresh.base_url}/soap11}}\n"
        "routes:\n"
        "  items:\n"
        "    reorder-advice:\n"
        "      path: /api/reorder-advice\n"
        "      legacy: inventory.GetReorderAdvice\n"
        "      modern: {url: 'http://127.0.0.1:9/advice'}\n"
        "      shadow: {ignore: [/reason, /ruleId]}\n"
        "shim:\n"
        "  services:\n"
        "    inventory: {routes: {GetReorderAdvice: reorder-advice}}\n"
    )
    modern = _chain(
        _sub(r"(<tns:ruleId>)[^<]*", r"\1MODEL-reorder-3"),
        _sub(r"(<tns:reason>)[^<]*", r"\1the reorder model says yes"),
    )
    with rewriting(fresh.base_url, modern) as url:
        code, _, output = replay(recording, url, *NOW, "--spec", str(spec))
        assert code == 0, output
        assert replay(recording, url, *NOW)[0] == 1


def test_xs_all_members_may_come_in_any_order(tmp_path: Path) -> None:
    """round 2's SOAPStruct is an xs:all group: reordered, it is the same struct."""
    envelope = (
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:s="http://soapinterop.org/xsd">'
        '<e:Body><m:echoStruct xmlns:m="http://soapinterop.org/">'
        '<inputStruct xsi:type="s:SOAPStruct">'
        '<varString xsi:type="xsd:string">abc</varString><varInt xsi:type="xsd:int">7</varInt>'
        '<varFloat xsi:type="xsd:float">0.5</varFloat>'
        "</inputStruct></m:echoStruct></e:Body></e:Envelope>"
    )
    wsdl = str(CORPUS / soapbuilders.R2_WSDL)
    with soapbuilders.running() as legacy, recorder(tmp_path, legacy.url) as (proxy, proc):
        answer = httpx.post(
            proxy + "/",
            content=envelope,
            headers={"content-type": "text/xml; charset=utf-8", "soapaction": '"echoStruct"'},
        )
        assert answer.status_code == 200, answer.text
        stop(proc)
        with rewriting(legacy.url, _reverse("outputStruct")) as url:
            code, _, output = replay(tmp_path, url, "--wsdl", wsdl)
            assert code == 0, output
            # Without the schema, order counts, unless the caller says otherwise.
            assert replay(tmp_path, url, "--wsdl", "none")[0] == 1
            assert replay(tmp_path, url, "--wsdl", "none", "--unordered", "//outputStruct")[0] == 0
        with rewriting(legacy.url, _sub(r">7<", ">7.0<")) as url:
            code, report, _ = replay(tmp_path, url, "--wsdl", wsdl)
            assert code == 1
            assert differences(report) == [
                ("echoStruct", "/Envelope/Body/echoStructResponse/outputStruct/varInt", "value")
            ]


def test_an_endpoint_that_does_not_answer_is_a_difference(recording: Path) -> None:
    code, report, output = replay(recording, "http://127.0.0.1:9", "--wsdl", "none")
    assert code == 1, output
    assert all(o["error"] and o["error"].startswith("no answer") for o in report["outcomes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "{missing}", "--to", "http://127.0.0.1:9"], "not a folder"),
        (["replay", "{empty}", "--to", "http://127.0.0.1:9"], "no recorded exchanges"),
        (["replay", "{recording}", "--to", "127.0.0.1:9"], "http(s) URL"),
        (["replay", "{recording}", "--to", "http://127.0.0.1:9", "--ignore", "a/@b/c"], "last"),
        (["replay", "{recording}", "--to", "http://127.0.0.1:9", "--wsdl", "{missing}"], "WSDL"),
        (["replay", "{recording}"], "--to"),
    ],
)
def test_usage_errors_exit_2(
    recording: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    names = {"missing": tmp_path / "nothing", "empty": tmp_path / "empty", "recording": recording}
    result = CliRunner().invoke(app, [a.format(**names) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output


# -- against the shim ------------------------------------------------------------------


def test_replay_against_the_shim_through_a_canary(demo_shim: DemoShim, tmp_path: Path) -> None:
    """Recorded at the legacy server, replayed at the shim: equivalent while the rules
    engine answers; once the model answers GetReorderAdvice, its own reason, rule and
    quantity differ, and the spec's shadow ignore paths are what replay needs to pass."""
    legacy = demo_shim.legacy["1.1"].removesuffix("/soap11")
    with recorder(tmp_path, legacy) as (proxy, proc):
        client = zeep.Client(str(DEMO_WSDL))  # type: ignore[no-untyped-call]
        service = client.create_service(f"{{{TNS}}}InventorySoap11Binding", proxy + "/soap11")
        context = {"RequestContext": {"tenant": "north", "correlationId": "replay-1"}}
        service.GetStock("SKU-1001", _soapheaders=context)
        service.ListItems("grocery")
        service.GetReorderAdvice("C-1", "SKU-1003", 2, "4.5", 7)
        service.GetReorderAdvice("C-2", "SKU-1002", 5000, "1.0", 3)
        with pytest.raises(zeep.exceptions.Fault):
            service.GetStock("SKU-9999")
        stop(proc)
    shim = demo_shim.wsdl.removesuffix("?wsdl")
    code, report, output = replay(tmp_path, shim)
    assert code == 0, output
    assert report["equivalent"] == 5
    route = "/admin/routes/reorder-advice"
    before = demo_shim.admin.get(route).json()
    assert demo_shim.admin.put(route, json={"mode": "modern"}).status_code == 200
    try:
        code, report, output = replay(tmp_path, shim)
        assert code == 1, output
        changed = {
            d["path"].rsplit("/", 1)[-1] for o in report["outcomes"] for d in o["differences"]
        }
        assert {"reason", "ruleId"} <= changed, output
        assert {o["operation"] for o in report["outcomes"] if not o["equivalent"]} == {
            "GetReorderAdvice"
        }
        code, _, output = replay(tmp_path, shim, "--spec", str(DEMO_SPEC))
        assert code == 0, output
    finally:
        demo_shim.admin.put(route, json={"mode": before["mode"], "weight": before["weight"]})


# -- the comparison by itself ----------------------------------------------------------


def _env(body: str, extra: str = "") -> bytes:
    return (
        f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" {extra}>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


@pytest.mark.parametrize(
    ("path", "selected", "not_selected"),
    [
        ("//updatedAt", "/Envelope[1]/Body[1]/R[1]/updatedAt[1]", "/Envelope[1]/Body[1]/R[1]"),
        ("updatedAt", "/Envelope[1]/updatedAt[1]", "/Envelope[1]/updatedAtX[1]"),
        ("/Envelope/Body/*/q", "/Envelope[1]/Body[1]/Any[1]/q[1]", "/Envelope[1]/Body[1]/q[1]"),
        ("//item[2]/price", "/a[1]/item[2]/price[1]", "/a[1]/item[1]/price[1]"),
        ("//item/@id", "/a[1]/item[3]/@id", "/a[1]/item[3]/id[1]"),
        ("//tns:item", "/a[1]/item[1]", "/a[1]/items[1]"),
        ("//{urn:x}item", "/a[1]/item[1]", "/a[1]/b[1]"),
    ],
)
def test_path_patterns(path: str, selected: str, not_selected: str) -> None:
    pattern = PathPattern.parse(path)
    assert pattern.matches(selected)
    assert not pattern.matches(not_selected)


@pytest.mark.parametrize("path", ["", "a[", "//@id/b", "a//b c", "a[x]"])
def test_bad_path_patterns_are_refused(path: str) -> None:
    with pytest.raises(ValueError):
        PathPattern.parse(path)


@pytest.mark.parametrize(
    ("kind", "recorded", "answered", "same"),
    [
        ("boolean", "true", "1", True),
        ("boolean", "true", "yes", False),
        ("integer", "240", " 240 ", True),
        ("integer", "240", "240.0", False),
        ("decimal", "18.90", "18.9", True),
        ("float", "1.5E0", "1.5", True),
        ("float", "NaN", "NaN", True),
        ("datetime", "2024-01-02T06:00:00+00:00", "2024-01-02T07:00:00+01:00", True),
        ("datetime", "2024-01-02T06:00:00", "2024-01-02T06:00:00Z", False),
        ("string", "a b", "a  b", False),
        ("string", " x", "x", False),
    ],
)
def test_typed_values(kind: ValueKind, recorded: str, answered: str, same: bool) -> None:
    rules = Rules(value_kinds={"{urn:x}v": kind})
    found = compare(
        _env(f'<v xmlns="urn:x">{recorded}</v>'), _env(f'<v xmlns="urn:x">{answered}</v>'), rules
    )
    assert (found == []) is same, found


def test_qname_values_are_compared_by_namespace() -> None:
    recorded = _env('<s:Fault><faultcode>s:Client</faultcode><v xsi:type="xsd:int">1</v></s:Fault>',
                    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                    'xmlns:xsd="http://www.w3.org/2001/XMLSchema"')  # fmt: skip
    answered = (
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:i="http://www.w3.org/2001/XMLSchema-instance" '
        b'xmlns:x="http://www.w3.org/2001/XMLSchema"><e:Body><e:Fault>'
        b'<faultcode>e:Client</faultcode><v i:type="x:int">1</v></e:Fault></e:Body></e:Envelope>'
    )
    assert compare(recorded, answered) == []
    other = answered.replace(b"e:Client</", b"e:Server</")
    assert [d.path for d in compare(recorded, other)] == ["/Envelope/Body/Fault/faultcode"]


def test_canonical_form_rewrites_prefixes_and_drops_blank_text() -> None:
    a = _env('<t:R xmlns:t="urn:x"><t:q>1</t:q></t:R>')
    b = _env('\n  <R xmlns="urn:x">\n    <q>1</q>\n  </R>\n')
    assert canonical(a) == canonical(b)
    assert canonical(a).startswith(
        '<n0:Envelope xmlns:n0="http://schemas.xmlsoap.org/soap/envelope/">'
    )


def test_a_dtd_in_an_answer_is_refused() -> None:
    with pytest.raises(XmlError):
        compare(_env("<a/>"), b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>')
