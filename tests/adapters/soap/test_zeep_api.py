"""zeep's private API, fenced in ``soap/zeep_api.py``: each name the fence relies on
exists on the installed zeep with the shape it is used with, no other adapter module
touches one, and the empty-string fix holds for the adapter only."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from zeep.transports import Transport
from zeep.xsd import All, Choice, ComplexType, Sequence

from strangler.adapters.soap import zeep_api
from strangler.adapters.soap.adapter import SoapAdapter
from strangler.adapters.soap.catalog import SoapTarget
from strangler.adapters.soap.exchange import Reply, read_reply
from strangler.adapters.soap.zeep_api import PRIVATE_NAMES, PrivateName
from strangler.spec.soap import SoapSystem

ADAPTERS = Path(__file__).parents[3] / "adapters" / "strangler" / "adapters"
FENCE = ADAPTERS / "soap" / "zeep_api.py"
TNS = "urn:strangler:test:empty"

#: zeep modules any adapter module may import: the ones zeep documents or exports.
PUBLIC_MODULES = frozenset(
    {
        "zeep",
        "zeep.cache",
        "zeep.exceptions",
        "zeep.helpers",
        "zeep.plugins",
        "zeep.settings",
        "zeep.transports",
        "zeep.wsdl",
        "zeep.wsdl.bindings",
        "zeep.wsse",
        "zeep.wsse.username",
        "zeep.xsd",
    }
)
#: Private names once used outside the fence and replaced by public API
#: (``Binding.all()``/``get()``, ``client.service``): they must not come back.
RETIRED = ("_operations", "_binding", "_resolve")
#: Private-looking names of other libraries that modules using zeep may touch.
NOT_ZEEP = frozenset({"etree._Element"})

WSDL = f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="{TNS}" targetNamespace="{TNS}">
  <wsdl:types>
    <xsd:schema targetNamespace="{TNS}" elementFormDefault="qualified">
      <xsd:complexType name="Texts">
        <xsd:sequence>
          <xsd:element name="text" type="xsd:string" nillable="true"/>
          <xsd:element name="token" type="xsd:token" minOccurs="0"/>
          <xsd:element name="item" type="xsd:string" minOccurs="0" maxOccurs="unbounded"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:element name="Echo"><xsd:complexType><xsd:sequence>
        <xsd:element name="text" type="xsd:string"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="EchoResponse" type="tns:Texts"/>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="EchoIn"><wsdl:part name="p" element="tns:Echo"/></wsdl:message>
  <wsdl:message name="EchoOut"><wsdl:part name="p" element="tns:EchoResponse"/></wsdl:message>
  <wsdl:portType name="EchoPort">
    <wsdl:operation name="Echo">
      <wsdl:input message="tns:EchoIn"/><wsdl:output message="tns:EchoOut"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="EchoBinding" type="tns:EchoPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Echo">
      <soap:operation soapAction="urn:echo"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="EchoService">
    <wsdl:port name="EchoSoap" binding="tns:EchoBinding">
      <soap:address location="http://legacy.invalid/echo"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def _reply(inner: str) -> bytes:
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<soap:Body><EchoResponse xmlns="{TNS}">{inner}</EchoResponse></soap:Body>'
        "</soap:Envelope>"
    ).encode()


EMPTY = _reply("<text/><token/><item>a</item><item/><item>c</item>")
NIL = _reply('<text xsi:nil="true"/>')


@pytest.fixture(scope="module")
def wsdl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zeep-api") / "echo.wsdl"
    path.write_text(WSDL, encoding="utf-8")
    return path


# -- every private name exists, with the shape the fence uses ---------------------------


def _resolve(owner: str) -> Any:
    module, _, qualname = owner.partition(":")
    found: Any = importlib.import_module(module)
    for part in filter(None, qualname.split(".")):
        found = getattr(found, part)
    return found


def _value_class() -> type[Any]:
    return zeep_api.value_class(ComplexType(Sequence([])))


def _sample(owner: str, wsdl: Path) -> Any:
    """A real instance (or subclass) of ``owner`` to look for an attribute on."""
    samples = {
        "zeep.wsdl.wsdl:Document": lambda: zeep.Client(str(wsdl)).wsdl,
        "zeep.xsd.schema:SchemaDocument": lambda: _resolve(owner)(TNS, "types.xsd", None),
        "zeep.xsd.valueobjects:CompoundValue": _value_class,
        "zeep.xsd.visitor": lambda: zeep.Client(str(wsdl)).wsdl.types,
    }
    assert owner in samples, f"add a sample {owner} to check its attribute on"
    return samples[owner]()


def _check(private: PrivateName, wsdl: Path) -> None:
    where = f"zeep {zeep.__version__}: {private.owner} {private.name} ({private.kind})"
    if private.kind in ("instance attribute", "module name") or private.owner.endswith(
        ":CompoundValue"
    ):
        sample = _sample(private.owner, wsdl)
    else:
        owner = _resolve(private.owner)
    if private.kind in ("method", "function"):
        function = getattr(owner, private.name, None)
        assert callable(function), f"{where}: missing or not callable"
        receiver = (None,) if private.kind == "method" else ()
        try:
            inspect.signature(function).bind(
                *receiver, *[None] * private.arity, **dict.fromkeys(private.keywords)
            )
        except TypeError as exc:
            raise AssertionError(f"{where}: no longer takes the fence's call: {exc}") from None
    elif private.kind == "class":
        assert isinstance(getattr(owner, private.name, None), type), f"{where}: missing"
    elif private.kind == "property":
        found = inspect.getattr_static(owner, private.name, None)
        assert isinstance(found, property), f"{where}: not a property: {found!r}"
    elif private.kind == "cached property":
        # cached in the instance's __dict__ under its own name: what picklable_state drops
        found = inspect.getattr_static(owner, private.name, None)
        assert isinstance(found, functools.cached_property), f"{where}: {found!r}"
        assert found.attrname == private.name, f"{where}: cached as {found.attrname}"
    elif private.kind == "class attribute":
        holder = sample if private.owner.endswith(":CompoundValue") else owner
        assert private.name in vars(holder), f"{where}: not set on {holder!r}"
    elif private.kind == "instance attribute":
        assert hasattr(sample, private.name), f"{where}: missing on {sample!r}"
    elif private.kind == "module name":
        modules = {type(t).__module__ for t in sample.types}
        assert private.name in modules, f"{where}: schema types come from {modules}"
    else:
        raise AssertionError(f"{where}: no check for this kind")


@pytest.mark.parametrize("private", PRIVATE_NAMES, ids=lambda p: f"{p.owner}.{p.name}")
def test_private_name_exists_on_installed_zeep(private: PrivateName, wsdl: Path) -> None:
    _check(private, wsdl)


def test_every_private_name_is_listed_in_the_docstring() -> None:
    doc = zeep_api.__doc__ or ""
    missing = [p.name for p in PRIVATE_NAMES if p.name not in doc]
    assert not missing, f"zeep_api's docstring does not explain {missing}"


def test_private_names_have_the_shapes_the_fence_reads(wsdl: Path) -> None:
    document = zeep.Client(str(wsdl)).wsdl
    assert [d.location for d in zeep_api.wsdl_definitions(document)] == [str(wsdl)]
    assert zeep_api.schema_locations(document) in ([], [str(wsdl)])
    texts = document.types.get_type(f"{{{TNS}}}Texts")
    assert zeep_api.array_type(texts) is None
    assert zeep_api.value_class_owner(zeep_api.value_class(texts)) is texts
    assert "_value_class" in vars(texts)  # cached after first use...
    assert "_value_class" not in zeep_api.picklable_state(texts)  # ...and not pickled
    assert zeep_api.dynamic_type_key(vars(type(texts))) == f"{{{TNS}}}Texts"
    for indicator in (All, Choice, Sequence):
        assert issubclass(indicator, zeep_api.OrderIndicator)


# -- no module but the fence touches a private zeep name ----------------------------------


def _sources() -> Iterator[tuple[Path, str]]:
    for path in sorted(ADAPTERS.rglob("*.py")):
        if path != FENCE:
            yield path, path.read_text(encoding="utf-8")


def test_only_the_fence_uses_zeeps_private_names() -> None:
    names = {p.name for p in PRIVATE_NAMES if p.name.startswith("_")} | set(RETIRED)
    alternatives = "|".join(sorted(map(re.escape, names)))
    access = re.compile(rf"(?<!\bself)(?<!\bcls)\.({alternatives})\b|[\"']({alternatives})[\"']")
    modules = [p.name for p in PRIVATE_NAMES if p.kind == "module name"]
    found = []
    for path, text in _sources():
        for number, line in enumerate(text.splitlines(), 1):
            if access.search(line) or any(m in line for m in modules):
                found.append(f"{path.relative_to(ADAPTERS)}:{number}: {line.strip()}")
    assert not found, "zeep's private names outside zeep_api.py:\n" + "\n".join(found)


def test_only_the_fence_imports_zeeps_unexported_modules() -> None:
    found = []
    for path, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                if module.split(".")[0] == "zeep" and module not in PUBLIC_MODULES:
                    found.append(f"{path.relative_to(ADAPTERS)}:{node.lineno}: {module}")
    assert not found, "import these through zeep_api.py:\n" + "\n".join(found)


def test_modules_using_zeep_touch_no_private_attribute() -> None:
    """Any ``x._name`` on something not our own (``self``/``cls``) in a module that
    imports zeep: catches private names the list above does not know yet."""
    found = []
    for path, text in _sources():
        if not re.search(r"^\s*(from|import) zeep\b", text, re.MULTILINE):
            continue
        for node in ast.walk(ast.parse(text)):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
                continue
            if node.attr.startswith("__") or ast.unparse(node) in NOT_ZEEP:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            found.append(f"{path.relative_to(ADAPTERS)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "private attributes outside zeep_api.py:\n" + "\n".join(found)


# -- the empty-string fix: the adapter's parsing only --------------------------------------


class _Canned(Transport):
    """zeep's transport seam: every POST answers ``content``."""

    def __init__(self, content: bytes) -> None:
        super().__init__()
        self.content = content

    def post(self, address: str, message: Any, headers: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        response.raw = io.BytesIO(self.content)
        return response


def _plain_zeep(wsdl: Path, content: bytes) -> Any:
    """What a plain zeep client in this process makes of the reply ``content``."""
    return zeep.Client(str(wsdl), transport=_Canned(content)).service.Echo(text="x")


def _adapter_reads(adapter: SoapAdapter, content: bytes) -> Any:
    binding = adapter.client.wsdl.services["EchoService"].ports["EchoSoap"].binding
    target = SoapTarget(
        service="EchoService",
        port="EchoSoap",
        operation="Echo",
        address=None,
        soap_version="1.1",
        style="document",
        binding=binding,
        has_header=False,
    )
    body, _ = read_reply(adapter.client, target, Reply(200, "text/xml", content), system="t")
    return body


@pytest.fixture
def adapter(wsdl: Path, tmp_path: Path) -> SoapAdapter:
    return SoapAdapter("t", SoapSystem(kind="soap", wsdl=str(wsdl)), cache_dir=tmp_path)


def test_the_adapter_reads_empty_strings_as_empty_strings(adapter: SoapAdapter) -> None:
    body = _adapter_reads(adapter, EMPTY)
    assert (body.text, body.token, body.item) == ("", "", ["a", "", "c"])
    assert _adapter_reads(adapter, NIL).text is None  # xsi:nil is still no value


def test_plain_zeep_in_the_same_process_keeps_zeeps_reading(
    adapter: SoapAdapter, wsdl: Path
) -> None:
    """After an adapter was built (the fix installed), plain zeep still reads None."""
    assert _adapter_reads(adapter, EMPTY).text == ""
    plain = _plain_zeep(wsdl, EMPTY)
    assert (plain.text, plain.token, plain.item) == (None, None, ["a", None, "c"])
    assert _plain_zeep(wsdl, NIL).text is None


def test_the_fix_is_scoped_to_the_adapters_own_thread(adapter: SoapAdapter, wsdl: Path) -> None:
    """A plain zeep call on another thread while the adapter parses keeps zeep's reading."""
    seen: list[Any] = []
    with zeep_api.adapter_parsing():
        thread = threading.Thread(target=lambda: seen.append(_plain_zeep(wsdl, EMPTY).text))
        thread.start()
        thread.join()
    assert seen == [None]
