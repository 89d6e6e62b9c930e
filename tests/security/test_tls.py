"""TLS towards a legacy system: a real HTTPS XML-RPC server, and a real HTTPS server of
the demo's WSDL, that ask for a client certificate, with a CA, server and client
certificates made here with ``cryptography``. Calls go through, and the WSDL loads,
only with the spec's CA bundle, client certificate and a TLS version the server speaks;
anything else is refused (the legacy system unreachable; the WSDL not loaded)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xmlrpc.server import SimpleXMLRPCServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from strangler.demo.inventory import WSDL_PATH, InventoryServer
from strangler.errors import SystemLoadError
from strangler.platform import build_platform
from strangler.rest.app import build_app, create_app
from strangler.serve import server_config
from strangler.spec import parse_spec
from strangler.spec.models import ServerTlsSpec
from tests.rest.conftest import serving
from tests.servers import free_port, run_config


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey]
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if subject == issuer[0]:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, False)
    return builder.sign(issuer[1], hashes.SHA256())


def _write(
    folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = ("test-ca", ca_key)
    _write(folder, "ca", _certificate("test-ca", ca_key, ca), ca_key)
    for name in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(folder, name, _certificate(name, key, ca), key)
    return folder


@pytest.fixture(scope="module")
def https_pricing(pki: Path) -> Iterator[str]:
    """An XML-RPC server over TLS 1.2 only, refusing clients without a certificate of the CA."""
    server = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True)
    server.register_function(lambda: "pong", "pricing.ping")
    server.register_introspection_functions()
    server.register_multicall_functions()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    context.load_verify_locations(pki / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/RPC2"
    finally:
        server.shutdown()
        server.server_close()


def _ping(url: str, tls: str, folder: Path) -> httpx.Response:
    text = f"""
version: 1
systems:
  pricing:
    kind: xmlrpc
    url: {url}
    timeout_s: 5
    introspect_timeout_s: 5
    tls: {tls}
    methods: {{pricing.ping: {{params: {{}}, result: string, safe: true}}}}
    retry: {{attempts: 1}}
"""
    spec = parse_spec(text, filename="tls.yaml", base_dir=folder, env={})
    with serving(create_app(spec, cache_dir=folder / "cache")) as served:
        return httpx.post(f"{served}/xmlrpc/pricing/pricing.ping", json={}, timeout=30)


def test_calls_go_through_with_the_ca_and_a_client_certificate(
    https_pricing: str, pki: Path, tmp_path: Path
) -> None:
    tls = (
        f"{{ca_bundle: {pki}/ca.pem, client_cert: {pki}/client.pem, client_key: {pki}/client.key}}"
    )
    answer = _ping(https_pricing, tls, tmp_path)
    assert answer.status_code == 200, answer.text
    assert "pong" in answer.text


@pytest.mark.parametrize(
    "tls",
    [
        "{ca_bundle: PKI/ca.pem}",  # no client certificate
        "{client_cert: PKI/client.pem, client_key: PKI/client.key}",  # the server's CA unknown
        "{ca_bundle: PKI/ca.pem, client_cert: PKI/client.pem, client_key: PKI/client.key, "
        "min_version: '1.3'}",  # the server speaks 1.2 at most
    ],
    ids=["no client certificate", "unknown CA", "TLS 1.3 required"],
)
def test_calls_are_refused_without_what_tls_needs(
    https_pricing: str, pki: Path, tmp_path: Path, tls: str
) -> None:
    answer = _ping(https_pricing, tls.replace("PKI", str(pki)), tmp_path)
    assert answer.status_code == 502, answer.text
    assert answer.json()["type"] == "urn:strangler:problem:legacy-unavailable"


def test_serving_over_tls_with_client_certificates(pki: Path) -> None:
    tls = ServerTlsSpec(
        certfile=str(pki / "server.pem"),
        keyfile=str(pki / "server.key"),
        client_ca=str(pki / "ca.pem"),
        client_certs="required",
    )
    config = server_config(build_app([]), host="127.0.0.1", port=free_port(), tls=tls)
    with run_config(config) as url:
        base = url.replace("http://", "https://")
        trusting = ssl.create_default_context(cafile=pki / "ca.pem")
        with_cert = ssl.create_default_context(cafile=pki / "ca.pem")
        with_cert.load_cert_chain(pki / "client.pem", pki / "client.key")
        assert httpx.get(f"{base}/healthz", verify=with_cert).status_code == 200
        with pytest.raises(httpx.TransportError):  # no client certificate: no handshake
            httpx.get(f"{base}/healthz", verify=trusting).raise_for_status()
        with pytest.raises(httpx.ConnectError):  # our CA unknown to the client
            httpx.get(f"{base}/healthz")


@pytest.fixture(scope="module")
def https_wsdl(pki: Path) -> Iterator[str]:
    """The demo's WSDL served over TLS 1.2 only, to clients with a certificate of the CA."""
    folder = WSDL_PATH.parent

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    context.load_verify_locations(pki / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/{WSDL_PATH.name}"
    finally:
        server.shutdown()
        server.server_close()


def _soap_spec(wsdl: str, address: str, tls: str, folder: Path) -> Any:
    text = f"""
version: 1
systems:
  inventory:
    kind: soap
    wsdl: {wsdl}
    address: {address}
    timeout_s: 5
    safe_operations: [GetStock]
    tls: {tls}
"""
    return parse_spec(text, filename="tls.yaml", base_dir=folder, env={})


def test_the_wsdl_is_fetched_with_the_systems_tls_options(
    https_wsdl: str, pki: Path, tmp_path: Path, inventory: InventoryServer
) -> None:
    tls = (
        f"{{ca_bundle: {pki}/ca.pem, client_cert: {pki}/client.pem, client_key: {pki}/client.key}}"
    )
    spec = _soap_spec(https_wsdl, inventory.base_url, tls, tmp_path)
    with serving(create_app(spec, cache_dir=tmp_path / "cache")) as served:
        answer = httpx.post(f"{served}/soap/inventory/GetStock", json={"sku": "SKU-1001"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["GetStockResult"]["sku"] == "SKU-1001"


@pytest.mark.parametrize(
    "tls",
    [
        "{ca_bundle: PKI/ca.pem}",  # no client certificate
        "{client_cert: PKI/client.pem, client_key: PKI/client.key}",  # the server's CA unknown
        "{ca_bundle: PKI/ca.pem, client_cert: PKI/client.pem, client_key: PKI/client.key, "
        "min_version: '1.3'}",  # the server speaks 1.2 at most
    ],
    ids=["no client certificate", "unknown CA", "TLS 1.3 required"],
)
def test_the_wsdl_is_not_fetched_without_what_tls_needs(
    https_wsdl: str, pki: Path, tmp_path: Path, tls: str
) -> None:
    spec = _soap_spec(https_wsdl, "http://127.0.0.1:9/soap", tls.replace("PKI", str(pki)), tmp_path)
    with pytest.raises(SystemLoadError) as refused:
        build_platform(spec, cache_dir=tmp_path / "cache")
    assert refused.value.system == "inventory"
