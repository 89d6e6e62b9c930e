"""An operation the shim passes on unchanged: the legacy system sees the client's envelope.

The legacy side here is a real HTTP server that records each envelope it is sent and
answers ``GetStock`` with a reply written the way a legacy server may write it (a
leading-zero ``xs:int``, a header block of its own). The shim is secured with a
UsernameToken and calls the legacy side with the adapter's own WS-Security
credentials, so the test sees which token reaches it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from lxml import etree

from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.servers import run_app, serve_http
from tests.shim.secured import CLERK, ENV, WSDL

TNS = "urn:strangler:demo:inventory"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
MEDIA12 = "application/soap+xml"
LEGACY_USER = ("shim-svc", "l3gacy-pass")

REPLY = f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<e:Envelope xmlns:e="{SOAP11}" xmlns:i="{TNS}"><e:Header>
<i:RequestContext><i:tenant>legacy-side</i:tenant><i:correlationId>r-1</i:correlationId></i:RequestContext>
</e:Header><e:Body><i:GetStockResponse><i:GetStockResult><i:sku>SKU-1001</i:sku>
<i:warehouse>M\xfcnchen</i:warehouse><i:quantity>007</i:quantity><i:reorderPoint>+5</i:reorderPoint>
<i:updatedAt>2024-05-16T10:00:00.000+00:00</i:updatedAt></i:GetStockResult></i:GetStockResponse>
</e:Body></e:Envelope>""".encode("latin-1")

SPEC = """
systems:
  inventory:
    kind: soap
    wsdl: {wsdl}
    address: "{address}"
    timeout_s: 5
    auth: {{kind: wsse, username: {user}, password: "${{LEGACY_PASSWORD}}"}}
shim:
  services:
    inventory:
      path: /InventoryService
      security:
        username_token: {{users: {{clerk: "${{CLERK_PASSWORD}}"}}, digest: true, text: true}}
"""


class Recorder:
    """The legacy side: the envelopes it was sent, the same reply to each."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.lock = threading.Lock()


@pytest.fixture(scope="module")
def legacy() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with recorder.lock:
                recorder.received.append(body)
            reply, media = REPLY, "text/xml"
            if SOAP12.encode() in body:  # answered in the version it was asked in
                reply, media = REPLY.replace(SOAP11.encode(), SOAP12.encode()), MEDIA12
            self.send_response(200)
            self.send_header("content-type", f"{media}; charset=ISO-8859-1")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield f"{url}/soap11", recorder


@pytest.fixture(scope="module")
def shim(legacy: tuple[str, Recorder], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("shim-passthrough")
    text = SPEC.format(wsdl=WSDL, address=legacy[0], user=LEGACY_USER[0])
    env = {**ENV, "LEGACY_PASSWORD": LEGACY_USER[1]}
    spec = parse_spec(text, filename="shim.yaml", base_dir=folder, env=env)
    with run_app(create_app(spec, cache_dir=folder)) as url:
        yield url


def request(version: str) -> bytes:
    namespace = SOAP11 if version == "1.1" else SOAP12
    return (
        f'<s:Envelope xmlns:s="{namespace}" xmlns:inv="{TNS}" xmlns:w="{WSSE}"><s:Header>'
        f"<w:Security><w:UsernameToken><w:Username>{CLERK[0]}</w:Username>"
        f"<w:Password>{CLERK[1]}</w:Password></w:UsernameToken></w:Security>"
        "<inv:RequestContext><inv:tenant>north</inv:tenant></inv:RequestContext>"
        "<x:Unknown xmlns:x='urn:other'>dropped</x:Unknown></s:Header>"
        "<s:Body><inv:GetStock><inv:sku>  SKU-1001\t</inv:sku></inv:GetStock></s:Body></s:Envelope>"
    ).encode()


def post(shim: str, version: str) -> httpx.Response:
    if version == "1.1":
        headers = {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{TNS}/GetStock"'}
    else:
        headers = {"content-type": f'application/soap+xml; charset=utf-8; action="{TNS}/GetStock"'}
    return httpx.post(
        f"{shim}/InventoryService", content=request(version), headers=headers, timeout=30
    )


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_the_legacy_system_gets_the_clients_envelope_with_its_own_token(
    shim: str, legacy: tuple[str, Recorder], version: str
) -> None:
    _, recorder = legacy
    with recorder.lock:
        recorder.received.clear()
    answer = post(shim, version)
    assert answer.status_code == 200, answer.text
    with recorder.lock:
        (sent,) = recorder.received
    root = etree.fromstring(sent)
    assert root.tag == f"{{{SOAP11 if version == '1.1' else SOAP12}}}Envelope"
    # the Body as the client wrote it, whitespace and all
    assert root.findtext(f".//{{{TNS}}}sku") == "  SKU-1001\t"
    # the client's own token was the shim's; the adapter's token is the legacy side's
    users = [e.text for e in root.iter(f"{{{WSSE}}}Username")]
    assert users == [LEGACY_USER[0]]
    # the declared header block went on, the undeclared one was dropped
    assert root.findtext(f".//{{{TNS}}}tenant") == "north"
    assert root.find(".//{urn:other}Unknown") is None


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_the_client_gets_the_legacy_reply_as_written(shim: str, version: str) -> None:
    answer = post(shim, version)
    assert answer.status_code == 200, answer.text
    root = etree.fromstring(answer.content)
    namespace = SOAP11 if version == "1.1" else SOAP12
    assert root.tag == f"{{{namespace}}}Envelope"  # in the client's version
    assert root.findtext(f".//{{{TNS}}}quantity") == "007"
    assert root.findtext(f".//{{{TNS}}}reorderPoint") == "+5"
    assert root.findtext(f".//{{{TNS}}}updatedAt") == "2024-05-16T10:00:00.000+00:00"
    assert root.findtext(f".//{{{TNS}}}warehouse") == "M\xfcnchen"  # re-encoded as UTF-8
    assert answer.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    # the legacy side's header block reaches the client
    assert root.findtext(f"{{{namespace}}}Header/{{{TNS}}}RequestContext/{{{TNS}}}tenant") == (
        "legacy-side"
    )
