"""Incoming envelopes are read safely: every hostile file refused for its reason, within
bounds, touching no file and no network; ordinary envelopes read as they are.

Bounds stated here (structural, not timings):

* Python memory: tracemalloc's peak while refusing a file stays under
  ``4 * its size + 1 MiB`` (a UTF-16 body is decoded once and re-encoded once; nothing
  grows with what the file *describes*: a billion laughs costs what its bytes cost);
* all memory, libxml2's included: a child process refusing the whole corpus ten times
  grows its peak resident size by less than 48 MiB;
* a hang guard of 60 s per file (pytest-timeout), far above the milliseconds a refusal
  takes: a parser that expands or fetches would hit it, a slow machine would not.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import subprocess
import sys
import tracemalloc
import xml.sax
import xml.sax.handler
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from strangler.adapters.soap.safe_xml import ExternalResourceRefused, safe_parser
from strangler.demo.inventory import InventoryServer
from strangler.errors import InvalidInput
from strangler.shim.hardening import EnvelopeRefused, parse_envelope
from strangler.spec.shim import ShimLimits
from tests.shim.secured import running_shim
from tests.shim.traps import FileTrap, HttpTrap, armed, file_trap, http_trap

HOSTILE = Path(__file__).parent / "hostile"
ROOT = Path(__file__).parents[2]
LIMITS = ShimLimits()
MiB = 1024 * 1024


def corpus() -> dict[str, str]:
    """File name → the rule it must be refused for, from the table in SOURCES.md."""
    rules: dict[str, str] = {}
    for line in (HOSTILE / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and (HOSTILE / cells[0]).is_file():
            rules[cells[0]] = cells[2]
    return rules


RULES = corpus()


@pytest.fixture(scope="module")
def http() -> Iterator[HttpTrap]:
    with http_trap() as trap:
        yield trap


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileTrap]:
    with file_trap(tmp_path_factory.mktemp("trap")) as trap:
        yield trap


def test_every_file_is_listed_with_its_source_and_rule() -> None:
    files = {p.name for p in HOSTILE.iterdir() if p.name != "SOURCES.md"}
    assert files == set(RULES), "each corpus file has one row in SOURCES.md, and each row a file"
    assert len(RULES) >= 40


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(RULES))
def test_hostile_file_is_refused_for_its_reason(
    name: str, http: HttpTrap, secret: FileTrap
) -> None:
    body = armed((HOSTILE / name).read_bytes(), http, secret)
    tracemalloc.start()
    try:
        with pytest.raises(EnvelopeRefused) as refused:
            parse_envelope(body, LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.rule == RULES[name], refused.value.message
    assert peak < 4 * len(body) + MiB, f"{peak} bytes traced for a {len(body)}-byte body"
    assert http.connections == 0
    assert secret.opened == 0
    assert b"secret" not in refused.value.message.encode()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(RULES))
def test_the_parser_alone_loads_nothing(name: str, http: HttpTrap, secret: FileTrap) -> None:
    """Behind the checks before parsing, the parser itself fetches and opens nothing,
    even for a DTD handed to it directly."""
    body = armed((HOSTILE / name).read_bytes(), http, secret)
    with contextlib.suppress(etree.XMLSyntaxError, ExternalResourceRefused):
        etree.fromstring(body, safe_parser(None))  # refusing is fine; reaching out is not
    assert http.connections == 0
    assert secret.opened == 0


def test_a_body_over_max_bytes_is_refused_before_it_is_read() -> None:
    body = b"<a>" + b"x" * (2 * MiB) + b"</a>"
    with pytest.raises(EnvelopeRefused) as refused:
        parse_envelope(body, LIMITS)
    assert refused.value.rule == "max_bytes"
    assert "1048576 bytes" in refused.value.message


_PEAK = """
import json, resource, sys
from pathlib import Path
from strangler.errors import InvalidInput
from strangler.shim.hardening import EnvelopeRefused, parse_envelope
from strangler.spec.shim import ShimLimits

def peak_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

bodies = [
    p.read_bytes().replace(b"@HTTP@", b"http://127.0.0.1:9").replace(b"@FILE@", b"/nonexistent")
    for p in sorted(Path(sys.argv[1]).iterdir()) if p.name != "SOURCES.md"
]
limits = ShimLimits()
try:
    parse_envelope(b"<warm-up/>", limits)
except EnvelopeRefused:
    pass
before = peak_kib()
refused = 0
for _ in range(10):
    for body in bodies:
        try:
            parse_envelope(body, limits)
        except EnvelopeRefused:
            refused += 1
print(json.dumps({"before": before, "after": peak_kib(), "refused": refused}))
"""


@pytest.mark.timeout(600)
def test_refusing_the_corpus_grows_no_process_memory() -> None:
    """libxml2 allocates outside tracemalloc's sight: the whole process is measured."""
    result = subprocess.run(
        [sys.executable, "-c", _PEAK, str(HOSTILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["refused"] == 10 * len(RULES)
    assert (figures["after"] - figures["before"]) * 1024 < 48 * MiB, figures


SOAP11 = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    b'xmlns:inv="urn:strangler:demo:inventory"><soapenv:Header/><soapenv:Body>'
    b"<inv:GetStock><inv:sku>SKU-1</inv:sku></inv:GetStock></soapenv:Body></soapenv:Envelope>"
)
SOAP12 = SOAP11.replace(
    b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"
)


def _sku(root: etree._Element) -> str | None:
    return root.findtext(".//{urn:strangler:demo:inventory}sku")


@pytest.mark.parametrize(
    ("body", "charset", "sku"),
    [
        (SOAP11, None, "SKU-1"),
        (SOAP12, None, "SKU-1"),
        (b'<?xml version="1.0" encoding="utf-8"?>\n' + SOAP11, "utf-8", "SKU-1"),
        (b"\xef\xbb\xbf" + SOAP11, None, "SKU-1"),  # a UTF-8 byte order mark
        (("\ufeff" + SOAP11.decode()).encode("utf-16-le"), None, "SKU-1"),
        (
            ('<?xml version="1.0" encoding="UTF-16"?>' + SOAP11.decode()).encode("utf-16"),
            None,
            "SKU-1",
        ),
        (
            b'<?xml version="1.0" encoding="ISO-8859-1"?>'
            + SOAP11.replace(b"SKU-1", "Größe".encode("latin-1")),
            None,
            "Größe",
        ),
        (SOAP11.replace(b"SKU-1", "Größe".encode("latin-1")), "iso-8859-1", "Größe"),
        (
            SOAP11.replace(b"SKU-1", b"<![CDATA[<!DOCTYPE html><p>x</p>]]>"),
            None,
            "<!DOCTYPE html><p>x</p>",
        ),
        (b"<!-- <!DOCTYPE x> in a comment -->\n" + SOAP11, None, "SKU-1"),
        (SOAP11.replace(b"SKU-1", b"SKU&#x2D;1 &amp; &lt;more&gt;"), None, "SKU-1 & <more>"),
    ],
    ids=[
        "soap11",
        "soap12",
        "declared-utf8",
        "utf8-bom",
        "utf16le-bom",
        "utf16-declared",
        "latin1-declared",
        "latin1-charset",
        "doctype-in-cdata",
        "comment-before-root",
        "character-references",
    ],
)
def test_ordinary_envelopes_are_read(body: bytes, charset: str | None, sku: str) -> None:
    assert _sku(parse_envelope(body, LIMITS, charset=charset)) == sku


@pytest.mark.parametrize(
    ("declared", "charset"),
    [(b"utf\x008", None), (b"\x00", None), (b"utf-8", "utf\x008"), (b"x" * 300, None)],
    ids=["nul-in-declaration", "only-nul", "nul-in-charset", "long-name"],
)
def test_a_mangled_encoding_name_is_refused(declared: bytes, charset: str | None) -> None:
    body = b'<?xml version="1.0" encoding="' + declared + b'"?>' + SOAP11
    with pytest.raises(EnvelopeRefused) as refused:
        parse_envelope(body, LIMITS, charset=charset)
    assert refused.value.rule in ("encoding", "not_xml")


def test_a_charset_that_contradicts_the_bytes_is_refused() -> None:
    with pytest.raises(EnvelopeRefused) as refused:
        parse_envelope(SOAP11, LIMITS, charset="utf-16")
    assert refused.value.rule == "encoding"
    assert "charset" in refused.value.message


TIGHT = ShimLimits(
    max_bytes=512 * 1024,
    max_depth=8,
    max_elements=50,
    max_attributes=4,
    max_name_length=16,
    max_attribute_length=32,
    max_text_length=64,
)
_PAD = "<!--" + "p" * (70 * 1024) + "-->"
"""A comment that makes a body large enough to be counted before its tree is built."""


def _inside(xml: str) -> str:
    return f'<e:Envelope xmlns:e="urn:e"><e:Body>{xml}</e:Body></e:Envelope>'


@pytest.mark.parametrize("padded", [False, True], ids=["tree-checked", "counted-first"])
@pytest.mark.parametrize(
    ("xml", "rule"),
    [
        ("<a>" * 8 + "</a>" * 8, "max_depth"),
        ("<a/>" * 60, "max_elements"),
        ('<a b="1" c="2" d="3" e="4" f="5"/>', "max_attributes"),
        ("<" + "n" * 17 + "/>", "max_name_length"),
        ("<a " + "n" * 17 + '="1"/>', "max_name_length"),
        ("<a xmlns:" + "p" * 17 + '="urn:x"/>', "max_name_length"),
        ('<a b="' + "v" * 33 + '"/>', "max_attribute_length"),
        ('<a xmlns:p="urn:' + "u" * 33 + '"/>', "max_attribute_length"),
        ("<a>" + "t" * 65 + "</a>", "max_text_length"),
        ("<a><b/>" + "t" * 65 + "</a>", "max_text_length"),  # a tail
        ("<a>" + "t" * 40 + "<![CDATA[" + "c" * 40 + "]]></a>", "max_text_length"),
        ("<a " + " ".join(f'xmlns:p{i}="urn:{i}"' for i in range(65)) + "/>", "max_namespaces"),
    ],
)
def test_each_limit_is_named_when_broken(xml: str, rule: str, padded: bool) -> None:
    body = _inside(xml)
    if padded:
        body = _PAD + body
    with pytest.raises(EnvelopeRefused) as refused:
        parse_envelope(body.encode(), TIGHT)
    assert refused.value.rule == rule
    assert rule in refused.value.message


@pytest.mark.parametrize("padded", [False, True], ids=["tree-checked", "counted-first"])
def test_a_namespace_declared_again_on_every_item_counts_once(padded: bool) -> None:
    """zeep declares its prefixes on each item of a SOAP-encoded array: 300 items are
    read, while 65 distinct declarations (the corpus's many-namespaces file) are not."""
    items = "".join(
        f'<item xmlns:xsi="urn:i" xmlns:xsd="urn:d" xmlns:p{i % 3}="urn:{i % 3}">{i}</item>'
        for i in range(300)
    )
    body = _inside(f"<a>{items}</a>")
    if padded:
        body = _PAD + body
    root = parse_envelope(body.encode(), LIMITS)
    assert len(root[0][0]) == 300


@pytest.mark.parametrize("padded", [False, True], ids=["tree-checked", "counted-first"])
def test_a_body_just_within_the_limits_is_read(padded: bool) -> None:
    xml = "<a>" * 5 + "</a>" * 5 + '<b w="1" x="2" y="3" z="' + "v" * 32 + '">' + "t" * 64 + "</b>"
    body = _inside(xml)
    if padded:
        body = _PAD + body
    root = parse_envelope(body.encode(), TIGHT)
    assert root.tag == "{urn:e}Envelope"


def test_a_refusal_is_a_client_error() -> None:
    with pytest.raises(InvalidInput):
        parse_envelope(b"<a>&x;</a>", LIMITS)


@pytest.mark.timeout(60)
def test_the_traps_catch_a_careless_parser(tmp_path: Path) -> None:
    """The traps are live: lxml resolving entities opens the file; Python's SAX parser
    with external entities on fetches the DTD (libxml2 2.14 has no HTTP client left)."""
    with http_trap() as http, file_trap(tmp_path) as secret:
        body = armed((HOSTILE / "xxe-file.xml").read_bytes(), http, secret)
        with contextlib.suppress(etree.XMLSyntaxError):
            etree.fromstring(body, etree.XMLParser(resolve_entities=True, load_dtd=True))
        assert secret.opened >= 1

        sax = xml.sax.make_parser()
        sax.setFeature(xml.sax.handler.feature_external_ges, True)
        body = armed((HOSTILE / "external-dtd.xml").read_bytes(), http, secret)
        with contextlib.suppress(xml.sax.SAXException):
            sax.parse(io.BytesIO(body))
        assert http.connections >= 1


# -- the running shim ---------------------------------------------------------

SOAP_VERSIONS = {
    # version: (content type, status of a client Fault, its code's namespace and local name)
    "1.1": ("text/xml; charset=utf-8", 500, "http://schemas.xmlsoap.org/soap/envelope/"),
    "1.2": ("application/soap+xml; charset=utf-8", 400, "http://www.w3.org/2003/05/soap-envelope"),
}


@pytest.fixture(scope="module")
def shim(inventory: InventoryServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_shim(inventory, tmp_path_factory.mktemp("shim-hardening")) as url:
        yield url


def client_fault_code(body: bytes, version: str | None = None) -> str:
    """The Fault's code as ``local`` (1.1: faultcode's local part; 1.2: Code/Value's);
    ``version``: the SOAP version the Fault must have (``None``: whichever it has)."""
    root = etree.fromstring(body, safe_parser(None))
    namespace = etree.QName(root).namespace or ""
    expected = {SOAP_VERSIONS[v][2] for v in ([version] if version else SOAP_VERSIONS)}
    assert namespace in expected and etree.QName(root).localname == "Envelope", body[:300]
    fault = root.find(f"{{{namespace}}}Body/{{{namespace}}}Fault")
    assert fault is not None, body[:300]
    if namespace == SOAP_VERSIONS["1.1"][2]:
        code = fault.findtext("faultcode") or ""
    else:
        code = fault.findtext(f"{{{namespace}}}Code/{{{namespace}}}Value") or ""
    return code.rpartition(":")[2]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("version", sorted(SOAP_VERSIONS))
@pytest.mark.parametrize("path", ["/InventoryService", "/SecuredInventory"])
def test_the_running_shim_answers_every_hostile_file_with_a_client_fault(
    shim: str, version: str, path: str, http: HttpTrap, secret: FileTrap
) -> None:
    """Each file POSTed as it is; each answer a client Fault of the request's SOAP version
    (1.1: HTTP 500 and ``Client``; 1.2: HTTP 400 and ``Sender``), never an error page."""
    content_type, status, _ = SOAP_VERSIONS[version]
    headers = {"content-type": content_type}
    if version == "1.1":
        headers["soapaction"] = '"urn:strangler:demo:inventory/GetStock"'
    bodies = {name: armed((HOSTILE / name).read_bytes(), http, secret) for name in RULES}
    bodies["over-max-bytes"] = b"<a>" + b"x" * (2 * MiB) + b"</a>"
    with httpx.Client(base_url=shim, timeout=60) as client:
        for name, body in bodies.items():
            reply = client.post(path, content=body, headers=headers)
            assert reply.status_code == status, (name, reply.status_code, reply.text[:300])
            assert reply.headers["content-type"].startswith(content_type.partition(";")[0])
            expected = "Client" if version == "1.1" else "Sender"
            assert client_fault_code(reply.content, version) == expected, name
            assert b"root:x:0:0" not in reply.content
    assert http.connections == 0
    assert secret.opened == 0


def test_refusals_leave_each_threads_parser_usable() -> None:
    """The tree parser is kept per thread: a refusal mid-parse must not spoil the next."""
    hostile = [
        (HOSTILE / name).read_bytes()
        for name in ("entity-in-envelope-no-dtd.xml", "truncated-envelope.xml", "pi-in-body.xml")
    ]

    def alternate() -> int:
        read = 0
        for _ in range(50):
            for body in hostile:
                with pytest.raises(EnvelopeRefused):
                    parse_envelope(body, LIMITS)
                read += _sku(parse_envelope(SOAP11, LIMITS)) == "SKU-1"
        return read

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda _: alternate(), range(4))) == [150] * 4


_SEEDS = [SOAP11, SOAP12] + [
    (HOSTILE / name).read_bytes()
    for name in sorted(RULES)
    if (HOSTILE / name).stat().st_size < 4096
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_SEEDS),
    cut=st.integers(min_value=0, max_value=4096),
    edits=st.lists(st.tuples(st.integers(0, 4095), st.binary(min_size=0, max_size=8)), max_size=4),
)
def test_mangled_bodies_are_read_or_refused_never_crash(
    seed: bytes, cut: int, edits: list[tuple[int, bytes]]
) -> None:
    """Cut and spliced bodies: each is an element or an EnvelopeRefused, nothing else."""
    body = bytearray(seed[: max(cut, 1)])
    for at, chunk in edits:
        at %= len(body) + 1
        body[at : at + len(chunk)] = chunk
    try:
        root = parse_envelope(bytes(body), LIMITS)
    except EnvelopeRefused as refused:
        assert refused.rule and refused.message
    else:
        assert isinstance(root.tag, str)


_SPLICES = [b"<", b">", b"<!", b"<?", b"?>", b"&", b"&#x0;", b'xmlns:x="u"', b"\x00", b"\xff\xfe"]
_SPLICES += [b"\xef\xbb\xbf", b"]]>", b"<![CDATA[", b"<!--", b'"', b"=", b"\xc3", b"</inv:sku>"]
_SPLICES += [b'xsi:type="xsd:int"', b'soapenv:mustUnderstand="1"']


@pytest.mark.timeout(300)
def test_the_running_shim_answers_mangled_bodies_with_faults(shim: str) -> None:
    """Envelopes and corpus files spliced at random (a fixed seed): every answer is the
    legacy answer or a client Fault, never a server Fault or a page without one."""
    rng = random.Random(20261204)
    with httpx.Client(base_url=shim, timeout=60) as client:
        for _ in range(300):
            body = bytearray(rng.choice(_SEEDS))
            for _ in range(rng.randint(1, 4)):
                at, chunk = rng.randint(0, len(body)), rng.choice(_SPLICES)
                body[at : at + (len(chunk) if rng.random() < 0.5 else 0)] = chunk
            version = "1.2" if b"2003/05/soap-envelope" in body else "1.1"
            headers = {"content-type": SOAP_VERSIONS[version][0]}
            path = rng.choice(["/InventoryService", "/SecuredInventory"])
            reply = client.post(path, content=bytes(body), headers=headers)
            if reply.status_code == 200:
                continue
            assert reply.status_code in (400, 401, 500), reply.status_code
            code = client_fault_code(reply.content)
            assert code in ("Client", "Sender", "VersionMismatch", "MustUnderstand") or (
                ":" not in code and code.endswith(("Authentication", "Security"))
            ), (bytes(body)[:300], reply.text[:400])


def test_the_running_shim_fetches_no_schema_an_envelope_points_at(
    shim: str, http: HttpTrap
) -> None:
    """``xsi:schemaLocation`` and friends are hints a validator might follow: the shim
    answers such an envelope and never connects to where it points."""
    hints = (
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="urn:strangler:demo:inventory {http.url}/inventory.xsd" '
        f'xsi:noNamespaceSchemaLocation="{http.url}/none.xsd"'
    ).encode()
    body = SOAP11.replace(b"<inv:GetStock>", b"<inv:GetStock " + hints + b">").replace(
        b"SKU-1", b"SKU-1001"
    )
    reply = httpx.post(
        f"{shim}/InventoryService",
        content=body,
        headers={"content-type": SOAP_VERSIONS["1.1"][0], "soapaction": '""'},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text[:300]
    assert http.connections == 0
