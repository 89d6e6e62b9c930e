"""Who may call a shimmed service: UsernameToken (digest and text) and HTTP basic.

Tokens come from zeep's own ``UsernameToken`` (a real client's) where it can make them,
and are written by hand where a test needs a given nonce or created time. The nonce
store is tested in memory, in SQLite and in PostgreSQL (the shared one: two
authenticators over one database stand for two replicas).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import sqlalchemy as sa
import zeep
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from suds import WebFault
from suds.client import Client as SudsClient
from suds.wsse import Security as SudsSecurity
from suds.wsse import UsernameToken as SudsToken
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from strangler.demo.inventory import InventoryServer
from strangler.shim.security import (
    WSSE,
    WSU,
    AuthenticationFailed,
    Authenticator,
    DatabaseNonces,
    MemoryNonces,
    NoncesFull,
    password_digest,
    remove_security_header,
)
from strangler.spec.shim import ShimSecuritySpec
from tests.servers import postgres_database
from tests.shim.secured import BASIC, CLERK, WSDL, running_shim

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"

SPEC = ShimSecuritySpec.model_validate(
    {
        "username_token": {
            "users": {"clerk": "c1erk-pass", "auditor": "äudit-pass"},
            "digest": True,
            "text": True,
            "max_age_s": 300,
        },
        "basic": {"users": {"batch": "b4tch:pass"}},
    }
)
DIGEST_ONLY = ShimSecuritySpec.model_validate(
    {"username_token": {"users": {"clerk": "c1erk-pass"}}}
)


def now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def zeep_header(user: str, password: str, *, digest: bool = True) -> etree._Element:
    """The SOAP header zeep's ``UsernameToken`` writes into a real request."""
    envelope = etree.fromstring(
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Header/><soap:Body/></soap:Envelope>'
    )
    token = UsernameToken(user, password, use_digest=digest)  # type: ignore[no-untyped-call]
    token.apply(envelope, {})  # type: ignore[no-untyped-call]
    header = envelope.find(f"{{{SOAP11}}}Header")
    assert header is not None
    return header


def token_header(
    user: str,
    password: str | None,
    *,
    kind: str | None = "PasswordDigest",
    nonce: bytes | None = None,
    created: str | None = None,
    with_nonce: bool = True,
    with_created: bool = True,
) -> etree._Element:
    """A header with a UsernameToken written by hand (for pinned nonces and times)."""
    nonce = os.urandom(16) if nonce is None else nonce
    created = stamp(now()) if created is None else created
    value = password or ""
    if kind == "PasswordDigest" and password is not None:
        value = password_digest(nonce, created, password)
    type_attr = f' Type="{PROFILE}#{kind}"' if kind else ""
    parts = [f"<wsse:Username>{user}</wsse:Username>"] if user else []
    if password is not None:
        parts.append(f"<wsse:Password{type_attr}>{value}</wsse:Password>")
    if with_nonce:
        parts.append(f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>")
    if with_created:
        parts.append(f"<wsu:Created>{created}</wsu:Created>")
    return etree.fromstring(
        f'<soap:Header xmlns:soap="{SOAP11}" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
        f"<wsse:Security><wsse:UsernameToken>{''.join(parts)}</wsse:UsernameToken>"
        "</wsse:Security></soap:Header>"
    )


def _with_nonce_text(text: str) -> etree._Element:
    header = token_header("clerk", "c1erk-pass")
    nonce = header.find(f".//{{{WSSE}}}Nonce")
    assert nonce is not None
    nonce.text = text
    return header


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def refused(call: Callable[..., object], *args: object) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        call(*args)
    return caught.value


# -- UsernameToken ------------------------------------------------------------


def test_zeep_digest_token_is_accepted() -> None:
    assert Authenticator(SPEC).authenticate(None, zeep_header("clerk", "c1erk-pass")) == "clerk"


def test_zeep_text_token_is_accepted_when_text_is() -> None:
    header = zeep_header("clerk", "c1erk-pass", digest=False)
    assert Authenticator(SPEC).authenticate(None, header) == "clerk"


def test_a_non_ascii_password_digests_as_utf8() -> None:
    assert Authenticator(SPEC).authenticate(None, zeep_header("auditor", "äudit-pass")) == "auditor"


def test_text_is_refused_when_only_digest_is_accepted() -> None:
    header = zeep_header("clerk", "c1erk-pass", digest=False)
    failure = refused(Authenticator(DIGEST_ONLY).authenticate, None, header)
    assert failure.code == f"{{{WSSE}}}UnsupportedSecurityToken"


def test_a_missing_type_means_text() -> None:
    """The profile: a Password without Type is PasswordText."""
    header = token_header("clerk", "c1erk-pass", kind=None)
    assert Authenticator(SPEC).authenticate(None, header) == "clerk"
    failure = refused(
        Authenticator(DIGEST_ONLY).authenticate,
        None,
        token_header("clerk", "c1erk-pass", kind=None),
    )
    assert failure.local == "UnsupportedSecurityToken"


@pytest.mark.parametrize("digest", [True, False], ids=["digest", "text"])
def test_wrong_password_and_unknown_user_get_one_answer(digest: bool) -> None:
    """Neither the code nor the message tells which part was wrong."""
    authenticator = Authenticator(SPEC)
    wrong = refused(authenticator.authenticate, None, zeep_header("clerk", "nope", digest=digest))
    unknown = refused(
        authenticator.authenticate, None, zeep_header("nobody", "c1erk-pass", digest=digest)
    )
    assert wrong.code == unknown.code == f"{{{WSSE}}}FailedAuthentication"
    assert (
        wrong.message
        == unknown.message
        == ("The security token could not be authenticated or authorized")
    )
    assert wrong.challenge == unknown.challenge


def test_a_replayed_nonce_is_refused_like_a_wrong_password() -> None:
    authenticator = Authenticator(SPEC)
    header = zeep_header("clerk", "c1erk-pass")
    assert authenticator.authenticate(None, header) == "clerk"
    again = refused(authenticator.authenticate, None, header)
    assert again.local == "FailedAuthentication"
    assert again.message == "The security token could not be authenticated or authorized"


def test_the_same_nonce_from_two_users_is_no_replay() -> None:
    authenticator = Authenticator(SPEC)
    nonce, created = os.urandom(16), stamp(now())
    for user, password in (("clerk", "c1erk-pass"), ("auditor", "äudit-pass")):
        header = token_header(user, password, nonce=nonce, created=created)
        assert authenticator.authenticate(None, header) == user


def test_a_refused_token_does_not_spend_its_nonce() -> None:
    """Only accepted tokens are remembered: a wrong guess cannot block the real call."""
    authenticator = Authenticator(SPEC)
    nonce, created = os.urandom(16), stamp(now())
    wrong = token_header("clerk", "nope", nonce=nonce, created=created)
    refused(authenticator.authenticate, None, wrong)
    right = token_header("clerk", "c1erk-pass", nonce=nonce, created=created)
    assert authenticator.authenticate(None, right) == "clerk"


@pytest.mark.parametrize("offset_s", [-301, 301, -3600 * 24], ids=["stale", "future", "a-day"])
def test_created_outside_the_window_has_expired(offset_s: int) -> None:
    header = token_header("clerk", "c1erk-pass", created=stamp(now() + timedelta(seconds=offset_s)))
    failure = refused(Authenticator(SPEC).authenticate, None, header)
    assert failure.code == f"{{{WSU}}}MessageExpired"


@pytest.mark.parametrize(
    "created",
    ["2026-12-04T16:30:00.123Z", "2026-12-04T17:30:00+01:00", "2026-12-04T16:30:00"],
    ids=["fraction", "offset", "no-zone-is-utc"],
)
def test_created_in_any_xsd_datetime_form(created: str) -> None:
    moment = datetime.fromisoformat(created)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    clock = moment.timestamp
    header = token_header("clerk", "c1erk-pass", created=created)
    assert Authenticator(SPEC, clock=clock).authenticate(None, header) == "clerk"


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda: token_header("", "c1erk-pass"), id="no-username"),
        pytest.param(lambda: token_header("clerk", None), id="no-password"),
        pytest.param(
            lambda: token_header("clerk", "c1erk-pass", with_nonce=False), id="digest-no-nonce"
        ),
        pytest.param(
            lambda: token_header("clerk", "c1erk-pass", with_created=False), id="digest-no-created"
        ),
        pytest.param(
            lambda: token_header("clerk", "c1erk-pass", created="yesterday"), id="bad-created"
        ),
        pytest.param(lambda: token_header("clerk", "c1erk-pass", nonce=b"short"), id="short-nonce"),
        pytest.param(lambda: _with_nonce_text("\u00e9t\u00e9t\u00e9"), id="non-ascii-nonce"),
    ],
)
def test_a_token_that_cannot_be_read_is_invalid(header: Callable[[], etree._Element]) -> None:
    failure = refused(Authenticator(SPEC).authenticate, None, header())
    assert failure.local == "InvalidSecurityToken"


def test_an_unknown_password_type_is_unsupported() -> None:
    header = token_header("clerk", "c1erk-pass", kind="PasswordSHA256")
    assert (
        refused(Authenticator(SPEC).authenticate, None, header).local == "UnsupportedSecurityToken"
    )


@pytest.mark.parametrize(
    "header",
    [
        None,
        etree.fromstring(f'<soap:Header xmlns:soap="{SOAP11}"/>'),
        etree.fromstring(
            f'<soap:Header xmlns:soap="{SOAP11}" xmlns:wsse="{WSSE}"><wsse:Security/></soap:Header>'
        ),
    ],
    ids=["no-header", "empty-header", "empty-security"],
)
def test_no_credentials_is_invalid_security(header: etree._Element | None) -> None:
    failure = refused(Authenticator(SPEC).authenticate, None, header)
    assert failure.code == f"{{{WSSE}}}InvalidSecurity"
    assert failure.challenge == 'Basic realm="strangler", charset="UTF-8"'
    assert refused(Authenticator(DIGEST_ONLY).authenticate, None, header).challenge is None


def test_the_consumed_security_header_is_removed() -> None:
    header = zeep_header("clerk", "c1erk-pass")
    etree.SubElement(header, "{urn:strangler:demo:inventory}RequestContext")
    remove_security_header(header)
    assert [child.tag for child in header] == ["{urn:strangler:demo:inventory}RequestContext"]
    remove_security_header(None)


# -- HTTP basic ---------------------------------------------------------------


def test_basic_credentials_are_accepted_and_decide_alone() -> None:
    """A colon in the password is the password's (only the first one splits)."""
    authenticator = Authenticator(SPEC)
    assert authenticator.authenticate(basic("batch", "b4tch:pass"), None) == "batch"
    assert authenticator.authenticate("basic " + basic("batch", "b4tch:pass")[6:], None) == "batch"


@pytest.mark.parametrize(
    "authorization",
    [
        basic("batch", "wrong"),
        basic("nobody", "b4tch:pass"),
        basic("clerk", "c1erk-pass"),  # a UsernameToken user is no basic user
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic ***not-base64***",
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic \u00e9t\u00e9",
        "Basic",
    ],
    ids=[
        "wrong-password",
        "unknown-user",
        "other-scheme-user",
        "no-colon",
        "not-base64",
        "not-utf8",
        "not-ascii",
        "nothing",
    ],
)
def test_wrong_basic_credentials_fail_with_a_challenge(authorization: str) -> None:
    failure = refused(Authenticator(SPEC).authenticate, authorization, None)
    assert failure.local == "FailedAuthentication"
    assert failure.challenge == 'Basic realm="strangler", charset="UTF-8"'


def test_another_scheme_falls_back_to_the_token() -> None:
    authenticator = Authenticator(SPEC)
    assert authenticator.authenticate("Bearer abc", zeep_header("clerk", "c1erk-pass")) == "clerk"
    assert refused(authenticator.authenticate, "Bearer abc", None).local == "InvalidSecurity"


def test_basic_is_not_taken_when_the_spec_has_none() -> None:
    failure = refused(Authenticator(DIGEST_ONLY).authenticate, basic("batch", "b4tch:pass"), None)
    assert failure.local == "InvalidSecurity"


# -- the nonce stores ----------------------------------------------------------


def test_the_memory_store_is_bounded_and_forgets_what_expired() -> None:
    clock = [1000.0]
    store = MemoryNonces(capacity=3, clock=lambda: clock[0])
    for key in "abc":
        assert store.add(key, expires_at=1010.0)
    assert not store.add("a", expires_at=1010.0)
    with pytest.raises(NoncesFull):
        store.add("d", expires_at=1010.0)
    clock[0] = 1011.0  # a, b and c have left the window
    assert store.add("d", expires_at=1020.0)
    assert len(store) == 1


def test_a_full_store_refuses_as_the_server() -> None:
    """A full store is no client's fault: it is not an AuthenticationFailed."""
    authenticator = Authenticator(SPEC, nonces=MemoryNonces(capacity=1))
    authenticator.authenticate(None, zeep_header("clerk", "c1erk-pass"))
    with pytest.raises(NoncesFull):
        authenticator.authenticate(None, zeep_header("clerk", "c1erk-pass"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nonces.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own on the machine's PostgreSQL, dropped afterwards."""
    with postgres_database("shim_nonces") as url:
        yield url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_replicas_share_the_nonces_through_the_state_database(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    spec = SPEC.model_copy(update={"state": url})
    first, second = Authenticator(spec), Authenticator(spec)
    try:
        assert first.blocking and second.blocking
        header = zeep_header("clerk", "c1erk-pass")
        assert first.authenticate(None, header) == "clerk"
        assert refused(second.authenticate, None, header).local == "FailedAuthentication"
        assert refused(first.authenticate, None, header).local == "FailedAuthentication"
        assert second.authenticate(None, zeep_header("clerk", "c1erk-pass")) == "clerk"
    finally:
        first.close()
        second.close()


def test_the_database_store_prunes_what_expired(sqlite_url: str) -> None:
    clock = [1000.0]
    store = DatabaseNonces(sqlite_url, prune_every=2, clock=lambda: clock[0])
    try:
        assert store.add("old", expires_at=1005.0)
        clock[0] = 1010.0
        assert store.add("new", expires_at=1020.0)  # the second addition prunes
        with store.engine.connect() as connection:
            keys = connection.execute(sa.select(store.table.c.key)).scalars().all()
        assert keys == ["new"]
        assert not store.add("new", expires_at=1020.0)
    finally:
        store.close()


# -- the running shim ---------------------------------------------------------

TNS = "urn:strangler:demo:inventory"
CONTEXT = {"RequestContext": {"tenant": "north", "correlationId": "corr-7"}}
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
CLIENT_STATUS = {"1.1": 500, "1.2": 400}
"""The HTTP status of a client Fault (SOAP 1.1's HTTP binding; SOAP 1.2 part 2, 7.5.2.2)."""


@pytest.fixture(scope="module")
def shim(inventory: InventoryServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_shim(inventory, tmp_path_factory.mktemp("shim-security")) as url:
        yield url


def shim_client(shim: str, **options: Any) -> Any:
    """zeep built from the shim's own WSDL, calling the secured service."""
    client = zeep.Client(f"{shim}/SecuredInventory?wsdl", **options)  # type: ignore[no-untyped-call]
    binding = f"{{{TNS}}}InventorySoap11Binding"
    return client.create_service(binding, f"{shim}/SecuredInventory")  # type: ignore[no-untyped-call]


def legacy_stock(inventory: InventoryServer, sku: str) -> Any:
    client = zeep.Client(str(WSDL))  # type: ignore[no-untyped-call]
    binding = f"{{{TNS}}}InventorySoap11Binding"
    service = client.create_service(binding, inventory.url("/soap11"))  # type: ignore[no-untyped-call]
    return serialize_object(service.GetStock(sku, _soapheaders=CONTEXT))  # type: ignore[no-untyped-call]


def envelope(header: etree._Element, version: str = "1.1") -> bytes:
    """A GetStock call carrying ``header``'s children and the demo's RequestContext."""
    namespace = SOAP11 if version == "1.1" else SOAP12
    root = etree.fromstring(
        f'<s:Envelope xmlns:s="{namespace}" xmlns:inv="{TNS}"><s:Header>'
        "<inv:RequestContext><inv:tenant>north</inv:tenant>"
        "<inv:correlationId>corr-7</inv:correlationId></inv:RequestContext></s:Header>"
        "<s:Body><inv:GetStock><inv:sku>SKU-1002</inv:sku></inv:GetStock></s:Body></s:Envelope>"
    )
    soap_header = root[0]
    for child in header:
        soap_header.append(child)
    return etree.tostring(root)


def post(url: str, body: bytes, version: str = "1.1", **headers: str) -> httpx.Response:
    if version == "1.1":
        headers |= {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{TNS}/GetStock"'}
    else:
        headers |= {"content-type": f'application/soap+xml; charset=utf-8; action="{TNS}/GetStock"'}
    return httpx.post(f"{url}/SecuredInventory", content=body, headers=headers, timeout=30)


def fault_code(reply: httpx.Response) -> str:
    """The WS-Security code as ``{namespace}local``: 1.1's faultcode, 1.2's Subcode."""
    root = etree.fromstring(reply.content)
    if root.tag == f"{{{SOAP11}}}Envelope":
        element = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault/faultcode")
    else:
        element = root.find(f".//{{{SOAP12}}}Subcode/{{{SOAP12}}}Value")
        code = root.findtext(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Value") or ""
        assert code.endswith(":Sender")
    assert element is not None and element.text, reply.text[:400]
    prefix, _, local = element.text.strip().rpartition(":")
    return f"{{{element.nsmap[prefix or None]}}}{local}"


def test_zeep_with_a_digest_token_gets_the_legacy_answer(
    shim: str, inventory: InventoryServer
) -> None:
    token = UsernameToken(*CLERK, use_digest=True)  # type: ignore[no-untyped-call]
    answer = shim_client(shim, wsse=token).GetStock("SKU-1001", _soapheaders=CONTEXT)
    assert serialize_object(answer) == legacy_stock(inventory, "SKU-1001")  # type: ignore[no-untyped-call]


def test_zeep_with_a_text_token_gets_through(shim: str) -> None:
    token = UsernameToken(*CLERK)  # type: ignore[no-untyped-call]
    assert (
        shim_client(shim, wsse=token).GetStock("SKU-1001", _soapheaders=CONTEXT).sku == "SKU-1001"
    )


def test_zeep_with_basic_auth_gets_through(shim: str) -> None:
    session = requests.Session()
    session.auth = BASIC
    transport = Transport(session=session)  # type: ignore[no-untyped-call]
    service = shim_client(shim, transport=transport)
    assert service.GetStock("SKU-1001", _soapheaders=CONTEXT).sku == "SKU-1001"


def test_zeep_with_a_wrong_password_gets_failed_authentication(shim: str) -> None:
    token = UsernameToken(CLERK[0], "wrong", use_digest=True)  # type: ignore[no-untyped-call]
    with pytest.raises(zeep.exceptions.Fault) as fault:
        shim_client(shim, wsse=token).GetStock("SKU-1001", _soapheaders=CONTEXT)
    assert fault.value.message == "The security token could not be authenticated or authorized"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_wrong_password_and_unknown_user_look_the_same_on_the_wire(shim: str, version: str) -> None:
    wrong = post(shim, envelope(token_header(CLERK[0], "wrong"), version), version)
    unknown = post(shim, envelope(token_header("nobody", CLERK[1]), version), version)
    # a token refused is a client Fault of the SOAP version; no HTTP challenge for a token
    assert wrong.status_code == unknown.status_code == CLIENT_STATUS[version]
    assert "www-authenticate" not in wrong.headers
    assert fault_code(wrong) == fault_code(unknown) == f"{{{WSSE}}}FailedAuthentication"
    assert wrong.content.replace(b"corr-7", b"") == unknown.content.replace(b"corr-7", b"")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_replayed_envelope_is_refused(shim: str, version: str) -> None:
    body = envelope(token_header(*CLERK), version)
    first = post(shim, body, version)
    assert first.status_code == 200, first.text[:400]
    again = post(shim, body, version)
    assert again.status_code == CLIENT_STATUS[version]
    assert fault_code(again) == f"{{{WSSE}}}FailedAuthentication"


def test_a_stale_token_has_expired(shim: str) -> None:
    stale = stamp(now() - timedelta(minutes=10))
    reply = post(shim, envelope(token_header(*CLERK, created=stale)))
    assert fault_code(reply) == f"{{{WSU}}}MessageExpired"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_no_credentials_is_a_401_challenge_with_a_fault(shim: str, version: str) -> None:
    empty = etree.fromstring(f'<h xmlns="{SOAP11}"/>')
    reply = post(shim, envelope(empty, version), version)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Basic ")
    assert fault_code(reply) == f"{{{WSSE}}}InvalidSecurity"


def test_wrong_basic_credentials_are_a_challenge_and_a_fault(shim: str) -> None:
    empty = etree.fromstring(f'<h xmlns="{SOAP11}"/>')
    reply = post(shim, envelope(empty), authorization=basic(BASIC[0], "wrong"))
    assert reply.status_code == 401
    assert fault_code(reply) == f"{{{WSSE}}}FailedAuthentication"


def test_the_open_service_asks_for_nothing(shim: str) -> None:
    reply = httpx.post(
        f"{shim}/InventoryService",
        content=envelope(etree.fromstring(f'<h xmlns="{SOAP11}"/>')),
        headers={"content-type": "text/xml; charset=utf-8", "soapaction": f'"{TNS}/GetStock"'},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text[:400]


def test_two_replicas_over_one_database_refuse_each_others_replays(
    inventory: InventoryServer, postgres_url: str, tmp_path: Path
) -> None:
    with (
        running_shim(inventory, tmp_path / "a", state=postgres_url) as first,
        running_shim(inventory, tmp_path / "b", state=postgres_url) as second,
    ):
        body = envelope(token_header(*CLERK))
        assert post(first, body).status_code == 200
        replayed = post(second, body)
        assert replayed.status_code == CLIENT_STATUS["1.1"]
        assert fault_code(replayed) == f"{{{WSSE}}}FailedAuthentication"
        assert post(second, envelope(token_header(*CLERK))).status_code == 200


# -- other clients' own WS-Security -------------------------------------------

NODE_DIR = Path(__file__).parent / "node"
NODE_HEADER = (
    f'<tns:RequestContext xmlns:tns="{TNS}"><tns:tenant>north</tns:tenant>'
    "<tns:correlationId>node-1</tns:correlationId></tns:RequestContext>"
)


@pytest.fixture(scope="module")
def node_wsse() -> Path:
    """``wsse_node.js``, with node-soap installed from its lock file when it is not yet."""
    assert shutil.which("node"), "Node is needed: ./run setup"
    if not (NODE_DIR / "node_modules" / "soap" / "package.json").exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to install node-soap: ./run setup"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    return Path(__file__).parent / "wsse_node.js"


def node_get_stock(script: Path, shim: str, password: str, *, digest: bool) -> dict[str, Any]:
    job = {
        "wsdl": f"{shim}/SecuredInventory?wsdl",
        "endpoint": f"{shim}/SecuredInventory",
        "user": CLERK[0],
        "password": password,
        "digest": digest,
        "sku": "SKU-1001",
        "headers": [NODE_HEADER],
    }
    done = subprocess.run(
        ["node", str(script)], input=json.dumps(job), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("digest", [True, False], ids=["digest", "text"])
def test_node_soap_with_its_own_token_gets_through(
    node_wsse: Path, shim: str, digest: bool
) -> None:
    """node-soap writes the token and computes the digest itself: an independent check."""
    got = node_get_stock(node_wsse, shim, CLERK[1], digest=digest)
    assert got["kind"] == "answer", got
    assert got["result"]["GetStockResult"]["quantity"] == 240


def test_node_soap_with_a_wrong_password_reads_failed_authentication(
    node_wsse: Path, shim: str
) -> None:
    got = node_get_stock(node_wsse, shim, "wrong", digest=True)
    assert got["kind"] == "fault", got
    assert got["status"] == 500
    assert got["fault"]["faultcode"].endswith(":FailedAuthentication")


def suds_get_stock(shim: str, password: str) -> Any:
    client = SudsClient(f"{shim}/SecuredInventory?wsdl", cache=None)
    token = SudsToken(CLERK[0], password)
    token.setnonce()
    token.setcreated()
    security = SudsSecurity()
    security.tokens.append(token)
    context = client.factory.create(f"{{{TNS}}}RequestContext")
    context.tenant, context.correlationId = "north", "suds-1"
    client.set_options(wsse=security, soapheaders=context)
    return client.service.GetStock("SKU-1001")


def test_suds_with_its_text_token_gets_through(shim: str) -> None:
    assert suds_get_stock(shim, CLERK[1]).quantity == 240


def test_suds_with_a_wrong_password_gets_a_fault(shim: str) -> None:
    with pytest.raises(WebFault) as fault:
        suds_get_stock(shim, "wrong")
    assert "could not be authenticated" in str(fault.value)


_FIELD = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(["clerk", "c1erk-pass", "AAAAAAAAAAA=", "2026-12-04T17:00:00Z", "===="]),
)


@settings(max_examples=300, deadline=None)
@given(
    user=_FIELD,
    password=_FIELD,
    kind=st.sampled_from([None, "PasswordText", "PasswordDigest", "Other", ""]),
    nonce=_FIELD,
    created=_FIELD,
    authorization=st.one_of(
        st.none(), st.text(max_size=40), st.text(max_size=40).map("Basic ".__add__)
    ),
)
def test_any_token_is_a_user_or_an_authentication_failure(
    user: str | None,
    password: str | None,
    kind: str | None,
    nonce: str | None,
    created: str | None,
    authorization: str | None,
) -> None:
    """Whatever the fields hold, the answer is a user or AuthenticationFailed, nothing else."""
    token = etree.Element(f"{{{WSSE}}}UsernameToken")
    for namespace, name, value in (
        (WSSE, "Username", user),
        (WSSE, "Password", password),
        (WSSE, "Nonce", nonce),
        (WSU, "Created", created),
    ):
        if value is not None:
            with contextlib.suppress(ValueError):  # lxml refuses control characters
                etree.SubElement(token, f"{{{namespace}}}{name}").text = value
    password_element = token.find(f"{{{WSSE}}}Password")
    if password_element is not None and kind is not None:
        password_element.set("Type", f"{PROFILE}#{kind}")
    header = etree.Element(f"{{{SOAP11}}}Header")
    etree.SubElement(header, f"{{{WSSE}}}Security").append(token)
    try:
        assert isinstance(Authenticator(SPEC).authenticate(authorization, header), str)
    except AuthenticationFailed as failure:
        assert failure.code.startswith("{http://docs.oasis-open.org/wss/")
