"""A WSDL that cannot be loaded, through the real CLI: one line naming the system, the
WSDL and why, exit code 1, no traceback, for ``wsdl2openapi`` and ``serve`` alike."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.servers import free_port

CORPUS_DIR = Path(__file__).parents[2] / "data" / "wsdl"
BLZ = (CORPUS_DIR / "blz_service" / "BLZService.wsdl").read_text()
ORDERS = CORPUS_DIR / "gap_import_chain" / "orders.wsdl"
STRANGLER = [sys.executable, "-m", "strangler.cli"]


def _header_in_binding(text: str) -> str:
    at = text.index("<wsdl:input>", text.index("BLZServiceSOAP11Binding")) + len("<wsdl:input>")
    dangling = '<soap:header message="tns:noSuchHeader" part="h" use="literal"/>'
    return text[:at] + dangling + text[at:]


#: case → (writes the broken WSDL into a folder and returns its path, part of the reason).
BROKEN: dict[str, tuple[Callable[[Path], Path], str]] = {}


def _case(name: str, reason: str) -> Callable[[Callable[[Path], Path]], Callable[[Path], Path]]:
    def register(write: Callable[[Path], Path]) -> Callable[[Path], Path]:
        BROKEN[name] = (write, reason)
        return write

    return register


def _file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@_case("truncated", "line 19, column 46")
def _truncated(folder: Path) -> Path:
    return _file(folder, "truncated.wsdl", BLZ[:1500])


@_case("empty", "Document is empty")
def _empty(folder: Path) -> Path:
    return _file(folder, "empty.wsdl", "")


@_case("wrong-root-html", "its root element is <html>")
def _html(folder: Path) -> Path:
    return _file(folder, "error_page.wsdl", "<html><body>502 Bad Gateway</body></html>")


@_case("wrong-root-xsd", "its root element is <schema>")
def _xsd(folder: Path) -> Path:
    schema = '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x"/>'
    return _file(folder, "types.wsdl", schema)


@_case("wsdl-2.0", "WSDL 2.0")
def _wsdl20(folder: Path) -> Path:
    return _file(folder, "v2.wsdl", '<description xmlns="http://www.w3.org/ns/wsdl"/>')


@_case("dangling-message", "noSuchHeader")
def _dangling_message(folder: Path) -> Path:
    return _file(folder, "dangling_message.wsdl", _header_in_binding(BLZ))


@_case("dangling-porttype", "NoSuchPortType")
def _dangling_port_type(folder: Path) -> Path:
    text = BLZ.replace('type="tns:BLZServicePortType"', 'type="tns:NoSuchPortType"', 1)
    return _file(folder, "dangling_porttype.wsdl", text)


@_case("dangling-type", "noSuchType")
def _dangling_type(folder: Path) -> Path:
    text = BLZ.replace('type="tns:detailsType"', 'type="tns:noSuchType"')
    return _file(folder, "dangling_type.wsdl", text)


@_case("missing-import", "interface.wsdl")
def _missing_import(folder: Path) -> Path:
    return _file(folder, "orders.wsdl", ORDERS.read_text())  # without interface.wsdl


@_case("include-without-location", "schemaLocation is required")
def _include_without_location(folder: Path) -> Path:
    text = BLZ.replace(
        '<xsd:element name="getBank" ', '<xsd:include/><xsd:element name="getBank" ', 1
    )
    return _file(folder, "include.wsdl", text)


def _run(args: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STRANGLER_CACHE_DIR": str(cache), "COLUMNS": "60", "TERM": "dumb"}
    return subprocess.run([*STRANGLER, *args], capture_output=True, text=True, timeout=120, env=env)


def _assert_one_clear_line(
    result: subprocess.CompletedProcess[str], system: str, wsdl: Path, reason: str
) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith(f"error {system}: cannot load {wsdl}: "), line
    assert reason in line, line


@pytest.mark.parametrize("case", BROKEN)
def test_wsdl2openapi_says_why_in_one_line(case: str, tmp_path: Path) -> None:
    write, reason = BROKEN[case]
    wsdl = write(tmp_path)
    result = _run(["wsdl2openapi", str(wsdl), "--system", "legacy_erp"], tmp_path / "cache")
    _assert_one_clear_line(result, "legacy_erp", wsdl, reason)
    assert result.stdout == ""


@pytest.mark.parametrize("case", BROKEN)
def test_serve_says_why_in_one_line(case: str, tmp_path: Path) -> None:
    write, reason = BROKEN[case]
    wsdl = write(tmp_path)
    spec = tmp_path / "strangler.yaml"
    spec.write_text(f"systems:\n  billing:\n    kind: soap\n    wsdl: {wsdl}\n")
    result = _run(["serve", "-c", str(spec), "--port", str(free_port())], tmp_path / "cache")
    _assert_one_clear_line(result, "billing", wsdl, reason)


def test_an_operation_zeep_drops_is_one_log_line_not_a_python_warning(tmp_path: Path) -> None:
    """A dangling message in a portType: zeep drops the operation and warns, once per
    binding; the document is still served, and the warning is one line, once."""
    text = BLZ.replace(
        '<wsdl:output message="tns:getBankResponse"', '<wsdl:output message="tns:noSuchMessage"'
    )
    wsdl = _file(tmp_path, "dropped.wsdl", text)
    result = _run(["wsdl2openapi", str(wsdl), "--system", "blz"], tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "warnings.warn" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"blz: {wsdl}: ") and "'getBank'" in lines[0]
