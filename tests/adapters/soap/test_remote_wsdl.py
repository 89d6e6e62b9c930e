"""A WSDL loaded by URL: its own-origin imports load, other origins only when trusted."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from strangler.adapters.soap.adapter import SoapAdapter
from strangler.errors import SystemLoadError
from strangler.spec.soap import SoapSystem
from tests.servers import serve_http

RIO2 = Path(__file__).parents[2] / "data" / "wsdl" / "wcf_rio2_security_service"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(folder))
    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url


def test_wsdl_by_url_with_imports_from_its_own_origin(tmp_path: Path) -> None:
    with serve_folder(RIO2) as base:
        adapter = SoapAdapter(
            "rio2", SoapSystem(kind="soap", wsdl=f"{base}/rio2.wsdl"), cache_dir=tmp_path
        )
    assert len(adapter.operations()) >= 4


def test_imports_from_another_origin_need_trust(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    with serve_folder(RIO2) as schemas:
        text = (RIO2 / "rio2.wsdl").read_text()
        (site / "rio2.wsdl").write_text(
            text.replace('location="rio2_0.wsdl"', f'location="{schemas}/rio2_0.wsdl"').replace(
                'schemaLocation="rio2_', f'schemaLocation="{schemas}/rio2_'
            )
        )
        with serve_folder(site) as base:
            url = f"{base}/rio2.wsdl"
            with pytest.raises(SystemLoadError, match="trusted_origins"):
                SoapAdapter("rio2", SoapSystem(kind="soap", wsdl=url), cache_dir=tmp_path / "a")
            trusted = SoapSystem(kind="soap", wsdl=url, trusted_origins=frozenset({schemas}))
            adapter = SoapAdapter("rio2", trusted, cache_dir=tmp_path / "b")
    assert len(adapter.operations()) >= 4
